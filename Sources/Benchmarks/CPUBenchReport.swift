// What `bench cpu` prints: a table with one line per row (interpreter, translator, QEMU TCG and
// the translator's speed over QEMU's), then each row's details; or one JSON object.

import Foundation

/// The measured rows and how to print them.
struct CPUBenchReport {
    var rows: [CPUBenchRow]
    /// Rows asked for but not measured, with the reason.
    var skipped: [(CPUBenchRowKind, String)]
    /// /proc/loadavg's three averages when the run ended (the machine may be shared).
    var load: [Double]
    var qemuVersion: String?

    static func currentLoad() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }

    var json: String {
        var rowsObject: [String: Any] = [:]
        for r in rows { rowsObject[r.kind.rawValue] = r.json }
        for (k, why) in skipped { rowsObject[k.rawValue] = ["skipped": why] }
        let object: [String: Any] = [
            "rows": rowsObject, "order": (rows.map(\.kind) + skipped.map(\.0)).map(\.rawValue),
            "load": load, "build": isDebugBuild ? "debug" : "release",
            "qemu": qemuVersion.map { $0 as Any } ?? NSNull(),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    var text: String {
        var out: [String] = []
        let loadText = load.map { String(format: "%.2f", $0) }.joined(separator: " ")
        out.append("bench cpu (\(isDebugBuild ? "DEBUG build: use -c release for real figures" : "release build"), load \(loadText), \(qemuVersion ?? "QEMU not installed"))")
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s.padding(toLength: w, withPad: " ", startingAt: 0) }
        out.append("  " + pad("row", 28) + pad("interpreter", 14) + pad("translator", 14) + pad("QEMU TCG", 14) + "translator/QEMU")
        for r in rows {
            var line = "  " + pad(r.kind.title, 28)
            for e in CPUBenchRow.engines {
                let cell = r.figures[e].flatMap { f in r.kind == .linux ? String(format: "%.2f", f.seconds) : f.mips.map { String(format: "%.1f", $0) } } ?? "-"
                line += pad(cell, 14)
            }
            line += r.translatorOverQEMU.map { String(format: "%.2fx", $0) } ?? "-"
            if r.checksumsAgree == false { line += "  CHECKSUMS DIFFER" }
            out.append(line)
        }
        for (k, why) in skipped { out.append("  " + pad(k.title, 28) + "skipped: " + why) }
        for r in rows {
            out.append("")
            out.append("\(r.kind.rawValue): \(r.kind.guest)")
            out.append("  size: " + r.size.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            for e in CPUBenchRow.engines {
                guard let f = r.figures[e] else { continue }
                var line = "  " + pad(e, 10)
                if r.kind == .linux {
                    line += String(format: "%.2f s to the prompt (median)", f.seconds)
                    if let b = f.extra["boots_prompt_s"] as? [Double] { line += ", boots " + b.map { String(format: "%.2f", $0) }.joined(separator: " ") }
                    if let i = f.extra["instructions_to_init"] { line += ", \(i) instructions to init" }
                } else {
                    line += "\(f.instructions.map(String.init) ?? "?") instructions in \(String(format: "%.3f", f.seconds)) s"
                    if let s = f.extra["startup_seconds"] as? Double { line += String(format: " (start-up %.3f s subtracted)", s) }
                    if let m = f.extra["icount_mips"] as? Double { line += String(format: ", %.1f MIPS with -icount shift=0", m) }
                    if let runs = f.extra["runs_mips"] as? [Double], runs.count > 1 {
                        line += ", runs " + runs.map { String(format: "%.0f", $0) }.joined(separator: " ") + " MIPS"
                    }
                    if let b = f.extra["blocks_translated"] { line += ", \(b) blocks translated" }
                    if let r = f.extra["blocks_run"], let i = f.extra["interpreted"], let x = f.extra["side_exits"],
                       let j = f.extra["jump_cache_fills"] {
                        line += " (\(r) block runs, \(j) from the dispatcher, \(x) side exits, \(i) interpreted)"
                    }
                    if let c = f.checksum { line += ", checksum \(c)" }
                    if let n = f.extra["note"] as? String { line += " (\(n))" }
                }
                out.append(line)
            }
            if let agree = r.checksumsAgree { out.append(agree ? "  checksums agree" : "  CHECKSUMS DIFFER between engines") }
            if let note = r.note { out.append("  " + note) }
        }
        return out.joined(separator: "\n")
    }
}

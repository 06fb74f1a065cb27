// One measured row of `bench cpu`: the figure of each engine and how they compare.

import Foundation

/// A row's figures on the interpreter, the translator and QEMU TCG.
struct CPUBenchRow {
    var kind: CPUBenchRowKind
    /// The workload size the row ran with (its knobs and values).
    var size: [String: Any]
    /// Figures by engine: "interpret", "translate", "qemu" (absent when the engine was not run).
    var figures: [String: CPUBenchFigure]
    /// Why the row (or QEMU's column) was not measured, when it was not.
    var note: String?

    /// The engines every row reports, in table order.
    static let engines = ["interpret", "translate", "qemu"]

    /// Whether every engine printed the same checksum (nil when the row has none).
    var checksumsAgree: Bool? {
        let sums = figures.values.compactMap(\.checksum)
        guard !sums.isEmpty else { return nil }
        return Set(sums).count == 1 && sums.count == figures.count
    }

    /// The translator's speed over QEMU's: MIPS over MIPS, or QEMU's seconds over ours for the
    /// boot, so above 1 is faster than QEMU in every row.
    var translatorOverQEMU: Double? {
        guard let t = figures["translate"], let q = figures["qemu"] else { return nil }
        if let tm = t.mips, let qm = q.mips { return qm > 0 ? tm / qm : nil }
        return t.seconds > 0 ? q.seconds / t.seconds : nil
    }

    var json: [String: Any] {
        var d: [String: Any] = ["guest": kind.guest, "size": size, "unit": kind == .linux ? "seconds" : "MIPS"]
        var engines: [String: Any] = [:]
        for e in Self.engines { engines[e] = figures[e].map { $0.json as Any } ?? NSNull() }
        d["engines"] = engines
        d["translator_over_qemu"] = translatorOverQEMU.map { round3($0) as Any } ?? NSNull()
        if let agree = checksumsAgree { d["checksums_agree"] = agree }
        if let note { d["note"] = note }
        return d
    }
}

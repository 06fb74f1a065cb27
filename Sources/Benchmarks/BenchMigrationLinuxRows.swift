// `bench migration --linux`: the rows (a link rate, a guest size and a workload), what each
// system measured in one, and the table and JSON they print as. Rows whose migration option
// this build does not implement say so instead of showing a figure.

import ArgumentParser
import Foundation
import Frames

/// The workload of a Linux migration row and the options its migrations use.
enum LinuxBenchWorkload: String, CaseIterable {
    /// An idle guest (its shell, nothing running).
    case idle
    /// A guest receiving a paced TCP stream (Tools/tcp-stream -> sb-tcpsink).
    case stream
    /// The stream, a guest root on a qcow2 overlay that a loop writes and syncs, disks copied.
    case disk
    /// sb-dirty rewriting memory faster than the link carries it, with auto-converge.
    case fastwriterAutoConverge = "fastwriter-autoconverge"
    /// The same writer, with post-copy.
    case fastwriterPostcopy = "fastwriter-postcopy"

    /// The workloads a `--rows` name selects.
    static func selected(by name: String) -> [LinuxBenchWorkload]? {
        switch name {
        case "idle": return [.idle]
        case "stream": return [.stream]
        case "disk": return [.disk]
        case "fastwriter": return [.fastwriterAutoConverge, .fastwriterPostcopy]
        default: return nil
        }
    }

    /// Whether the guest receives the TCP stream.
    var streams: Bool { self == .stream || self == .disk }
    /// Whether the guest boots from the disk image (a qcow2 overlay over rootfs.ext4).
    var usesDisk: Bool { self == .disk }
    /// Whether sb-dirty runs at a rate above the link's.
    var writesFast: Bool { self == .fastwriterAutoConverge || self == .fastwriterPostcopy }
}

/// One row: a link rate, a guest size and a workload.
struct LinuxBenchRow {
    var rateMbit: Int
    var memoryMiB: Int
    var workload: LinuxBenchWorkload

    /// The row's name in the table.
    var name: String { "\(rateMbit) Mbit/s, \(memoryMiB) MiB, \(workload.rawValue)" }
    /// The row's key in the JSON object.
    var key: String { "\(rateMbit)_\(memoryMiB)_\(workload.rawValue)" }
    /// The MiB sb-dirty rewrites (a quarter of the guest, at most 64).
    var dirtyMiB: Int { max(4, min(64, memoryMiB / 4)) }
    /// sb-dirty's rate: twice what the link carries, in MiB/s.
    var dirtyRateMiB: Int { max(8, rateMbit * 2 / 8) }
}

/// One migration, as a system reported it.
struct LinuxMigrationFigures {
    var totalMs: Double
    /// nil: the system reported an impossible figure (QEMU 7.2's post-copy downtime can
    /// exceed the total time by orders of magnitude).
    var downtimeMs: Double?
    var bytes: Int
    /// Frames the switch lost (ours; QEMU has no such count: nil).
    var framesLost: Int?
    var diskBytes: Int?
    var throttlePct: Int?
    var postcopyFaults: Int?
}

/// What one system measured in one row: every migration of the shared boot, and the stream's
/// and the pinger's view of them all. `failure` set: the row failed (and how);
/// `unsupported` set: this build lacks the row's option.
struct LinuxRowOutcome {
    var migrations: [LinuxMigrationFigures] = []
    /// The longest gap at the receiver over the whole row (ms), from sb-tcpsink's last line.
    var tcpStallMs: Double?
    /// The gaps over 20 ms sb-tcpsink printed (ms).
    var tcpGapsMs: [Double] = []
    var retransmits: Int?
    /// Bytes the sender wrote and the receiver got.
    var streamSent: Int?
    var streamReceived: Int?
    var pingsAnswered = 0
    var pingsLost = 0
    var failure: String?
    var unsupported: String?

    /// Whether the row produced figures to print.
    var measured: Bool { failure == nil && unsupported == nil && !migrations.isEmpty }
}

extension BenchMigrationCommand {
    /// The rows `--rates`, `--sizes` and `--rows` select, in that nesting order.
    func linuxRows() throws -> [LinuxBenchRow] {
        let rates = try parsedList(rates, option: "rates", range: 1...100_000)
        let sizeList = try parsedList(sizes ?? "256,1024", option: "sizes", range: 64...4096)
        var workloads: [LinuxBenchWorkload] = []
        for name in rows.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let selected = LinuxBenchWorkload.selected(by: name) else {
                throw ValidationError("--rows: unknown row '\(name.escapedForTerminal)' (idle, stream, disk, fastwriter)")
            }
            workloads += selected.filter { !workloads.contains($0) }
        }
        guard !workloads.isEmpty else { throw ValidationError("--rows: name at least one of idle, stream, disk, fastwriter") }
        return rates.flatMap { rate in sizeList.flatMap { size in workloads.map { LinuxBenchRow(rateMbit: rate, memoryMiB: size, workload: $0) } } }
    }

    /// The JSON object of one system's outcome in a row.
    func linuxObject(_ o: LinuxRowOutcome) -> Any {
        if let failure = o.failure { return ["failed": failure] }
        if let unsupported = o.unsupported { return ["unsupported": unsupported] }
        let m = o.migrations
        let downtimes = m.compactMap(\.downtimeMs)
        var object: [String: Any] = [
            "migrations": m.count,
            "total_ms": round2(median(m.map(\.totalMs))), "total_max_ms": round2(m.map(\.totalMs).max() ?? 0),
            "downtime_ms": downtimes.isEmpty ? "not reported" : round2(median(downtimes)) as Any,
            "downtime_max_ms": downtimes.isEmpty ? "not reported" : round2(downtimes.max() ?? 0) as Any,
            "bytes": Int(median(m.map { Double($0.bytes) })),
            "pings_answered": o.pingsAnswered, "pings_lost": o.pingsLost,
        ]
        let lost = m.compactMap(\.framesLost)
        if !lost.isEmpty { object["frames_lost"] = lost.reduce(0, +) }
        if let v = o.tcpStallMs { object["tcp_stall_ms"] = v }
        if !o.tcpGapsMs.isEmpty { object["tcp_gaps_ms"] = o.tcpGapsMs }
        if let v = o.retransmits { object["retransmits"] = v }
        if let v = o.streamSent { object["stream_sent"] = v }
        if let v = o.streamReceived { object["stream_received"] = v }
        let disk = m.compactMap(\.diskBytes), throttle = m.compactMap(\.throttlePct), faults = m.compactMap(\.postcopyFaults)
        if !disk.isEmpty { object["disk_bytes"] = Int(median(disk.map(Double.init))) }
        if !throttle.isEmpty { object["throttle_pct"] = throttle.max() ?? 0 }
        if !faults.isEmpty { object["postcopy_faults"] = Int(median(faults.map(Double.init))) }
        return object
    }

    /// The table's cells of one system's outcome in a row.
    func linuxCells(_ o: LinuxRowOutcome) -> String {
        if let failure = o.failure { return "failed: " + failure }
        if let unsupported = o.unsupported { return "not supported by this build (" + unsupported + ")" }
        let m = o.migrations
        func optional(_ values: [Int], _ format: (Double) -> String) -> String {
            values.isEmpty ? "-" : format(median(values.map(Double.init)))
        }
        let lost = m.compactMap(\.framesLost)
        var cells: [String] = []
        cells.append(String(format: "%.0f", median(m.map(\.totalMs))))
        let downtimes = m.compactMap(\.downtimeMs)
        cells.append(downtimes.isEmpty ? "?" : String(format: "%.1f", median(downtimes)))
        cells.append(o.tcpStallMs.map { String(format: "%.1f", $0) } ?? "-")
        cells.append(o.retransmits.map(String.init) ?? "-")
        cells.append((lost.isEmpty ? "-" : String(lost.reduce(0, +))) + "/" + String(o.pingsLost))
        cells.append(String(format: "%.1f", median(m.map { Double($0.bytes) }) / 1_048_576))
        cells.append(optional(m.compactMap(\.diskBytes)) { String(format: "%.1f", $0 / 1_048_576) })
        cells.append(m.compactMap(\.throttlePct).max().map(String.init) ?? "-")
        cells.append(optional(m.compactMap(\.postcopyFaults)) { String(Int($0)) })
        return Self.padded(cells)
    }

    /// Table cells padded to their columns' widths.
    static func padded(_ cells: [String]) -> String {
        let widths = [9, 9, 9, 8, 9, 8, 9, 6, 6]
        return zip(cells, widths).map { cell, width in cell.padding(toLength: max(width, cell.count + 1), withPad: " ", startingAt: 0) }.joined()
    }

    /// Prints the table or the JSON object of every row.
    func printLinux(_ results: [(LinuxBenchRow, LinuxRowOutcome, LinuxRowOutcome?)], haveQEMU: Bool, loadBefore: String) throws {
        if json {
            var object: [String: Any] = ["benchmark": "migration-linux", "build": isDebugBuild ? "debug" : "release",
                                         "migrations_per_row": rounds, "load_average": loadBefore]
            for (row, ours, theirs) in results {
                object["switchboard_" + row.key] = linuxObject(ours)
                if let theirs { object["qemu_" + row.key] = linuxObject(theirs) } else if !haveQEMU { object["qemu_" + row.key] = ["failed": "qemu-system-riscv64 not installed"] }
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("switchboard bench migration --linux (\(isDebugBuild ? "DEBUG build: use -c release" : "release build")), "
              + "hypervisors in namespaces on a tc tbf underlay, \(rounds) migration(s) per row (a->b->a... on one boot), medians; load average \(loadBefore)")
        let header = Self.padded(["total ms", "down ms", "stall ms", "retrans", "lost f/p", "MiB", "disk MiB", "thr %", "pc flt"])
        print("  " + "row".padding(toLength: 48, withPad: " ", startingAt: 0) + "system".padding(toLength: 13, withPad: " ", startingAt: 0) + header)
        for (row, ours, theirs) in results {
            print("  " + row.name.padding(toLength: 48, withPad: " ", startingAt: 0) + "switchboard  " + linuxCells(ours))
            let qemuCells = theirs.map(linuxCells) ?? "failed: qemu-system-riscv64 not installed"
            print("  " + "".padding(toLength: 48, withPad: " ", startingAt: 0) + "qemu 7.2     " + qemuCells)
        }
        print("  lost f/p: frames the switch lost / pings (every 10 ms from a namespace host) unanswered; stall: the longest gap "
              + "between reads at sb-tcpsink over the row; MiB: RAM bytes moved per migration")
    }
}

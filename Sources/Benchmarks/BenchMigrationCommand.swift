// `switchboard bench migration`: live migration of the appliance (idle, and dirtying memory at
// set rates) over loopback TCP, beside QEMU migrating the same appliance in the same run, with
// the network outage a UDP echo probe sees during each migration.

import ArgumentParser
import Foundation
import Hypervisor
import Migration

/// Benchmarks Switchboard's live migration against QEMU's.
struct BenchMigrationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migration",
        abstract: "Live migration of appliance VMs over loopback TCP, beside QEMU, with the network outage measured.")

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "VM memory sizes in MiB of the idle rows, comma separated (default 64,256,1024; with --linux 256,1024).")
    var sizes: String?

    @Flag(help: "Linux guests between hypervisors in network namespaces over a rate-limited underlay, beside QEMU (root).")
    var linux = false

    @Option(help: "With --linux: the underlay's link rates in Mbit/s, comma separated.")
    var rates = "1000,100"

    @Option(help: "With --linux: the workloads, comma separated: idle, stream, disk, fastwriter.")
    var rows = "idle,stream,disk,fastwriter"

    @Option(help: "Migrations per row and system; each figure is the median of its own.")
    var rounds = 1

    @Option(help: "QEMU binary (its columns are skipped when missing).")
    var qemu = "/usr/bin/qemu-system-riscv64"

    @Option(help: ArgumentHelp("The guest appliance ELF (default: built from Tools/appliance).", valueName: "path"))
    var appliance: String?

    @Option(help: "Milliseconds between the outage probe's echo requests.")
    var intervalMs = 1.0

    @Option(help: "Rates (MiB/s) of the dirtying rows, comma separated: the appliance's dirty= bootarg.")
    var dirtyRates = "50,1000"

    @Option(help: "VM memory (MiB) of the dirtying rows.")
    var dirtySize = 64

    @Option(help: "The dirtied window (MiB): the appliance's dirty_window= bootarg.")
    var dirtyWindow = 8

    @Flag(help: "Skip the dirtying rows.")
    var noDirty = false

    static let bootargs = "ip=10.0.0.1/24 role=echo"

    /// One row of the table: a VM size and its bootargs.
    struct Row {
        var name: String
        var key: String
        var memoryMiB: Int
        var bootargs: String
    }

    func parsedList(_ text: String, option: String, range: ClosedRange<Int>) throws -> [Int] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard !values.isEmpty, values.count == parts.count, values.allSatisfy({ range.contains($0) }) else {
            throw ValidationError("--\(option) must be comma-separated values in \(range.lowerBound)...\(range.upperBound)")
        }
        return values
    }

    func parsedRows() throws -> [Row] {
        var rows = try parsedList(sizes ?? "64,256,1024", option: "sizes", range: 16...4096).map {
            Row(name: "\($0) MiB idle", key: "\($0)", memoryMiB: $0, bootargs: Self.bootargs)
        }
        if !noDirty {
            guard (16...4096).contains(dirtySize) else { throw ValidationError("--dirty-size must be 16...4096") }
            guard dirtyWindow >= 1 && dirtyWindow <= dirtySize / 2 else { throw ValidationError("--dirty-window must be 1...half of --dirty-size") }
            rows += try parsedList(dirtyRates, option: "dirty-rates", range: 1...4096).map {
                Row(name: "\(dirtySize) MiB, \($0) MiB/s over \(dirtyWindow)", key: "dirty_\(dirtySize)_\($0)", memoryMiB: dirtySize,
                    bootargs: Self.bootargs + " dirty=\($0) dirty_window=\(dirtyWindow)")
            }
        }
        return rows
    }

    func run() throws {
        keepLargeAllocationsInTheHeap()
        if linux { return try runLinux() }
        let rows = try parsedRows()
        guard rounds >= 1 && rounds <= 20 else { throw ValidationError("--rounds must be 1...20") }
        guard intervalMs >= 0.1 && intervalMs <= 100 else { throw ValidationError("--interval-ms must be 0.1...100") }
        let elfPath: String
        switch ApplianceLocator.locate(explicit: appliance) {
        case .success(let path): elfPath = path
        case .failure(let error): throw ValidationError("\(error)")
        }
        guard let elfData = FileManager.default.contents(atPath: elfPath) else { throw ValidationError("cannot read \(elfPath)") }
        let elf = [UInt8](elfData)
        let haveQEMU = FileManager.default.isExecutableFile(atPath: qemu)
        let timing = ProbeTiming(interval: Int64(intervalMs * 1e6))
        var results: [String: Any] = ["build": isDebugBuild ? "debug" : "release", "network_outage": "measured",
                                      "probe_interval_ms": intervalMs, "median_of": rounds]
        var lines: [(String, String, String)] = []

        for row in rows {
            let ours = try (0..<rounds).map { _ in
                try switchboardMigration(kernel: elf, memoryMiB: row.memoryMiB, bootargs: row.bootargs, timing: timing)
            }
            results["switchboard_\(row.key)"] = object(ours)
            trace("switchboard", row, ours.map { ($0.report.totalMs, $0.report.downtimeMs, $0.probe) })
            var theirs: [QEMUResult] = []
            if haveQEMU {
                theirs = try (0..<rounds).compactMap { _ in
                    try qemuMigration(elf: elfPath, memoryMiB: row.memoryMiB, bootargs: row.bootargs, timing: timing)
                }
                results["qemu_\(row.key)"] = theirs.isEmpty ? "failed" : object(theirs)
                trace("qemu", row, theirs.map { ($0.totalMs, $0.downtimeMs, $0.probe) })
            }
            lines.append((row.name, describe(ours), theirs.isEmpty ? (haveQEMU ? "failed" : "-") : describe(theirs)))
        }

        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("switchboard bench migration (\(isDebugBuild ? "DEBUG build: use -c release" : "release build")), loopback TCP, "
                  + "median of \(rounds); outage: UDP echo to the VM every \(intervalMs) ms")
            print("  " + "row".padding(toLength: 30, withPad: " ", startingAt: 0)
                  + "switchboard total / downtime / outage / rounds / pages (zero) / lost".padding(toLength: 72, withPad: " ", startingAt: 0)
                  + "qemu total / downtime / outage / lost " + (haveQEMU ? "(same appliance, NIC on a UDP socket, defaults)" : "(not installed)"))
            for (name, a, b) in lines {
                print("  " + name.padding(toLength: 30, withPad: " ", startingAt: 0) + a.padding(toLength: 72, withPad: " ", startingAt: 0) + b)
            }
        }
    }

    // MARK: Figures

    /// `SWITCHBOARD_BENCH_TRACE=1`: every run's figures and where its outage fell, on stderr.
    func trace(_ system: String, _ row: Row, _ runs: [(total: Double, downtime: Double, probe: ProbeResult)]) {
        guard ProcessInfo.processInfo.environment["SWITCHBOARD_BENCH_TRACE"] == "1" else { return }
        for r in runs {
            let line = String(format: "bench migration %@ %@: total %.2f ms, downtime %.2f ms, outage %.2f ms from +%.2f ms, before it %.2f ms, sent %d, lost %d\n",
                              system, row.name, r.total, r.downtime, r.probe.outageMs, r.probe.outageAtMs, r.probe.baselineMs,
                              r.probe.sent, r.probe.lost)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// The median of `values` (the upper one of an even count).
    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// The run with the median total time (for the figures that belong together: rounds, pages).
    func medianRun(_ runs: [SwitchboardRun]) -> SwitchboardRun { runs.sorted { $0.report.totalMs < $1.report.totalMs }[runs.count / 2] }

    func object(_ runs: [SwitchboardRun]) -> [String: Any] {
        let r = medianRun(runs).report
        return ["total_ms": round2(median(runs.map(\.report.totalMs))), "downtime_ms": round2(median(runs.map(\.report.downtimeMs))),
                "outage_ms": round2(median(runs.map(\.probe.outageMs))), "outage_max_ms": round2(runs.map(\.probe.outageMs).max() ?? 0),
                "baseline_gap_ms": round2(median(runs.map(\.probe.baselineMs))),
                "probe_lost": Int(median(runs.map { Double($0.probe.lost) })), "probe_sent": Int(median(runs.map { Double($0.probe.sent) })),
                "rounds": r.rounds, "pages": r.pages, "zero_pages": r.zeroPages, "bytes": r.bytes, "queued": r.queued,
                "lost": runs.map(\.report.lost).max() ?? 0, "stalled": r.stalled]
    }

    func object(_ runs: [QEMUResult]) -> [String: Any] {
        let q = runs.sorted { $0.totalMs < $1.totalMs }[runs.count / 2]
        return ["total_ms": round2(median(runs.map(\.totalMs))), "downtime_ms": round2(median(runs.map(\.downtimeMs))),
                "outage_ms": round2(median(runs.map(\.probe.outageMs))), "outage_max_ms": round2(runs.map(\.probe.outageMs).max() ?? 0),
                "baseline_gap_ms": round2(median(runs.map(\.probe.baselineMs))),
                "probe_lost": Int(median(runs.map { Double($0.probe.lost) })), "probe_sent": Int(median(runs.map { Double($0.probe.sent) })),
                "rounds": q.rounds, "pages": q.pages, "zero_pages": q.zeroPages]
    }

    func describe(_ runs: [SwitchboardRun]) -> String {
        let r = medianRun(runs).report
        return String(format: "%.1f ms / %.2f ms / %.2f ms / %d / %d (%d) / %d", median(runs.map(\.report.totalMs)),
                      median(runs.map(\.report.downtimeMs)), median(runs.map(\.probe.outageMs)), r.rounds, r.pages, r.zeroPages,
                      Int(median(runs.map { Double($0.probe.lost) })))
    }

    func describe(_ runs: [QEMUResult]) -> String {
        String(format: "%.0f ms / %.0f ms / %.2f ms / %d", median(runs.map(\.totalMs)), median(runs.map(\.downtimeMs)),
               median(runs.map(\.probe.outageMs)), Int(median(runs.map { Double($0.probe.lost) })))
    }

    func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
}

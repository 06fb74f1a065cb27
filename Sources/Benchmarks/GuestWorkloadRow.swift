// The integer, floating-point and memory rows of `bench cpu`: each one guest program (built by
// CPUBenchGuests) run on the interpreter, the translator and QEMU TCG in turn.

import Foundation
import RISCVTranslator

/// Measures one guest-workload row on every engine.
struct GuestWorkloadRow {
    var kind: CPUBenchRowKind
    var guests: (full: CPUBenchGuests.Build, empty: CPUBenchGuests.Build)
    var size: [String: Any]
    /// Guest RAM in MiB.
    var memoryMiB: Int
    /// QEMU binary, or nil when it is not installed.
    var qemu: String?
    /// Runs per engine; each engine's fastest is kept. The runs interleave (every engine once,
    /// then again), so a burst of load from elsewhere slows one run of each, not one engine.
    var repeats: Int = 1

    func measure() throws -> CPUBenchRow {
        let (program, cpu): (String, String)
        switch kind {
        case .integer: (program, cpu) = ("bench", "rv64,f=false,d=false,h=false")
        case .fp: (program, cpu) = ("fpbench", "rv64,h=false")
        case .memory: (program, cpu) = ("membench", "rv64,f=false,d=false,h=false")
        case .linux: throw CPUBenchError("the Linux row is not a guest workload")
        }
        let bench = GuestProgramBench(full: guests.full.elf(program), empty: guests.empty.elf(program),
                                      memoryMiB: memoryMiB, qemuCPU: cpu, qemu: qemu ?? "")
        var figures: [String: CPUBenchFigure] = [:]
        let haveQEMU = qemu.map { FileManager.default.isExecutableFile(atPath: $0) } ?? false
        func keep(_ name: String, _ f: CPUBenchFigure) {
            var f = f
            let runs = (figures[name]?.extra["runs_mips"] as? [Double] ?? []) + [f.mips ?? 0]
            if let best = figures[name], (best.mips ?? 0) >= (f.mips ?? 0) { f = best }
            f.extra["runs_mips"] = runs
            figures[name] = f
        }
        // QEMU's time is a difference (the full program's run minus the empty one's), so its
        // best is the fastest full run minus the fastest empty run, not the largest of the
        // per-round differences (which a slow empty run inflates).
        var qemuRuns: [CPUBenchFigure] = []
        for _ in 0..<repeats {
            for engine in CPUEngine.allCases where engine.isAvailable {
                keep(engine.rawValue, try bench.run(on: engine))
            }
            if haveQEMU { qemuRuns.append(try bench.runQEMU()) }
        }
        if var best = qemuRuns.first {
            let full = qemuRuns.map(\.seconds).min()!
            let empty = qemuRuns.compactMap { $0.extra["startup_seconds"] as? Double }.min() ?? 0
            let n = Double(best.extra["workload_instructions"] as? UInt64 ?? 0)
            best.seconds = full
            best.extra["startup_seconds"] = round3(empty)
            best.mips = full > empty ? n / (full - empty) / 1e6 : nil
            best.extra["runs_mips"] = qemuRuns.map { $0.mips ?? 0 }
            figures["qemu"] = best
        }
        let note: String? = haveQEMU ? (repeats > 1 ? "fastest of \(repeats) interleaved runs per engine" : nil)
                                     : "QEMU not installed: its column skipped"
        return CPUBenchRow(kind: kind, size: size, figures: figures, note: note)
    }
}

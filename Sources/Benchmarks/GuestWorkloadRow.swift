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
        for _ in 0..<repeats {
            for engine in CPUEngine.allCases where engine.isAvailable {
                keep(engine.rawValue, try bench.run(on: engine))
            }
            if haveQEMU { keep("qemu", try bench.runQEMU()) }
        }
        let note: String? = haveQEMU ? (repeats > 1 ? "fastest of \(repeats) interleaved runs per engine" : nil)
                                     : "QEMU not installed: its column skipped"
        return CPUBenchRow(kind: kind, size: size, figures: figures, note: note)
    }
}

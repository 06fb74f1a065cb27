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
        for engine in CPUEngine.allCases where engine.isAvailable {
            figures[engine.rawValue] = try bench.run(on: engine)
        }
        var note: String?
        if let qemu, FileManager.default.isExecutableFile(atPath: qemu) {
            figures["qemu"] = try bench.runQEMU()
        } else {
            note = "QEMU not installed: its column skipped"
        }
        return CPUBenchRow(kind: kind, size: size, figures: figures, note: note)
    }
}

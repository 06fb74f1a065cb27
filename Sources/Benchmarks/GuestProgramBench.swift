// Runs one bench guest (an ELF that prints "checksum ..." and "instret N" and powers off) on
// Switchboard's engines in process and on QEMU TCG in a child process. Our MIPS: the guest's
// instructions retired (the hart's count) over the wall time of the run. QEMU's: the guest's
// own minstret from a run with -icount shift=0 (the only mode where QEMU counts instructions)
// over the time of a run without -icount (its normal mode, up to 2x faster on integer code);
// both as the full program minus the same program with an empty workload, which removes QEMU's
// start-up.

import Foundation
import RISCVBoard
import RISCVTranslator

/// One guest program measured on every engine.
struct GuestProgramBench {
    var full: URL
    var empty: URL
    /// Guest RAM (both VMMs).
    var memoryMiB: Int
    /// QEMU's -cpu value (the ISA the guest is built for).
    var qemuCPU: String
    var qemu: String

    /// The program on one of our engines.
    func run(on engine: CPUEngine) throws -> CPUBenchFigure {
        var console: [UInt8] = []
        let board = try VirtBoard(memoryMiB: memoryMiB) { console.append($0) }
        try engine.install(on: board.harts)
        try board.boot(firmware: .none, kernel: [UInt8](try Data(contentsOf: full)))
        let t0 = Date()
        let outcome = board.run(timeout: 600)
        let seconds = Date().timeIntervalSince(t0)
        let text = String(decoding: console, as: UTF8.self)
        guard outcome == .powerOff(0) else {
            throw CPUBenchError("\(full.lastPathComponent) did not finish on \(engine.rawValue): \(outcome); console: \(text.suffix(500))")
        }
        let instructions = board.hart.instructionsRetired
        var figure = CPUBenchFigure(instructions: instructions, seconds: seconds, mips: Double(instructions) / seconds / 1e6,
                                    checksum: Self.line("checksum ", in: text))
        if let own = Self.line("instret ", in: text).flatMap(UInt64.init) { figure.extra["guest_instret"] = own }
        if let t = board.hart.engine as? TranslatingEngine {
            let s = t.statistics
            figure.extra["blocks_translated"] = s.translated
            figure.extra["blocks_run"] = s.blocksRun
            figure.extra["interpreted"] = s.interpreted
            figure.extra["side_exits"] = s.sideExits
            figure.extra["jump_cache_fills"] = s.jumpCacheFills
        }
        return figure
    }

    /// The program on QEMU TCG. Counting runs (-icount shift=0, so the guest's minstret counts
    /// instructions) give the instructions; timing runs without -icount (QEMU's normal, faster
    /// mode, where minstret reads host ticks) give the time; each as the full program minus the
    /// empty one. No MIPS when the workload is too small for the time difference to be positive.
    func runQEMU() throws -> CPUBenchFigure {
        let (outFull, tFullCounted) = try qemuRun(full, icount: true)
        let (outEmpty, tEmptyCounted) = try qemuRun(empty, icount: true)
        guard let nFull = Self.line("instret ", in: outFull).flatMap(UInt64.init),
              let nEmpty = Self.line("instret ", in: outEmpty).flatMap(UInt64.init) else {
            throw CPUBenchError("\(full.lastPathComponent) printed no instruction count on QEMU; console: \(outFull.suffix(500))")
        }
        let (outTimed, tFull) = try qemuRun(full, icount: false)
        let (_, tEmpty) = try qemuRun(empty, icount: false)
        let checksum = Self.line("checksum ", in: outFull)
        guard Self.line("checksum ", in: outTimed) == checksum else {
            throw CPUBenchError("\(full.lastPathComponent): QEMU's checksum differs with and without -icount")
        }
        let n = nFull - min(nEmpty, nFull)
        let dt = tFull - tEmpty, dtCounted = tFullCounted - tEmptyCounted
        var figure = CPUBenchFigure(instructions: nFull, seconds: tFull, mips: dt > 0 ? Double(n) / dt / 1e6 : nil,
                                    checksum: checksum)
        figure.extra["startup_seconds"] = tEmpty
        figure.extra["workload_instructions"] = n
        figure.extra["guest_instret"] = nFull
        if dtCounted > 0 { figure.extra["icount_mips"] = round3(Double(n) / dtCounted / 1e6) }
        if dt <= 0 { figure.extra["note"] = "start-up dominated: no MIPS at this size" }
        return figure
    }

    private func qemuRun(_ elf: URL, icount: Bool) throws -> (String, Double) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-M", "virt", "-cpu", qemuCPU, "-m", String(memoryMiB), "-bios", "none",
                       "-kernel", elf.path, "-nographic", "-monitor", "none", "-serial", "stdio"]
                       + (icount ? ["-icount", "shift=0"] : [])
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        let t0 = Date()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), Date().timeIntervalSince(t0))
    }

    /// The rest of the first console line starting with `prefix`, trimmed.
    static func line(_ prefix: String, in text: String) -> String? {
        text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix(prefix) })
            .map { $0.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces) }
    }
}

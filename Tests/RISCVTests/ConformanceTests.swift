// Runs the self-checking conformance programs (Tools/riscv/tests) on the software CPU and,
// when QEMU is installed, compares console output and exit codes with QEMU's.
import Foundation
import Testing
import Machine
@testable import RISCV
import RISCVBoard
import RISCVTranslator

@Suite("Conformance programs")
struct ConformanceTests {
    static let programs = ["rv64i", "rv64m", "rv64a", "rvc", "traps", "sv39", "pmp", "reset", "misaligned", "counters", "fpu"]
    /// Programs whose behaviour QEMU does not share (none at present: misaligned accesses
    /// complete on both).
    static let qemuDiffers: Set<String> = []

    @Test("passes on Switchboard; on the translator with the interpreter's console and instruction count",
          arguments: GuestPrograms.engines, programs)
    func passes(_ engine: CPUEngine, _ name: String) throws {
        guard case .success = GuestPrograms.built else {
            print("skipping \(name): \(GuestPrograms.built)"); return
        }
        let r = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf(name), engine: engine)
        #expect(r.console == "PASS \(name)\n")
        #expect(r.outcome == .powerOff(0))
        guard engine != .interpret else { return }
        let interpreted = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf(name), engine: .interpret)
        #expect(r.console == interpreted.console)
        #expect(r.instructions == interpreted.instructions)
        if let s = (r.board.hart.engine as? TranslatingEngine)?.statistics {
            print("\(name) on the translator: \(s.translated) blocks translated, \(s.translatedInstructions) of \(r.instructions) instructions in blocks, \(s.sideExits) side exits, \(s.interpreted) interpreted")
            #expect(s.translatedInstructions > 0)
        } else {
            Issue.record("no translating engine on the board")
        }
    }

    @Test("matches QEMU", arguments: GuestPrograms.engines, programs.filter { !qemuDiffers.contains($0) })
    func matchesQEMU(_ engine: CPUEngine, _ name: String) throws {
        guard case .success = GuestPrograms.built else {
            print("skipping \(name): \(GuestPrograms.built)"); return
        }
        guard let (qemuOut, qemuStatus) = try GuestPrograms.runOnQEMU(name) else {
            print("skipping QEMU comparison: qemu-system-riscv64 not installed"); return
        }
        let r = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf(name), engine: engine)
        #expect(r.console == qemuOut.replacingOccurrences(of: "\r\n", with: "\n"))
        if case .powerOff(let code) = r.outcome { #expect(code == qemuStatus) } else { Issue.record("no power off: \(r.outcome)") }
    }

    @Test("a failing check reports its number and exit code", arguments: GuestPrograms.engines)
    func failureIsVisible(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        // rv64m's test 1 expects 6 * 7 = 42 via `li t6, 42`; patch it to 43 in guest RAM.
        let r = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf("rv64m"), engine: engine) { board in
            for off in stride(from: UInt64(0), to: 0x2000, by: 2) {
                let a = GuestPhysicalAddress(0x8000_0000 + off)
                if (try? board.memory.load(UInt32.self, at: a)) == 0x02A0_0F93 {
                    try? board.memory.store(UInt32(0x02B0_0F93), at: a)
                    break
                }
            }
        }
        #expect(r.console == "FAIL 00001\n")
        #expect(r.outcome == .powerOff(1))
        var elf = try GuestPrograms.elf("rv64m")
        elf[0] = 0 // broken magic
        #expect(throws: KernelImageError.self) { _ = try GuestPrograms.run(firmware: .none, kernel: elf, engine: engine) }
    }
}

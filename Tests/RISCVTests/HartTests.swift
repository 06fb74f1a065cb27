// Hart tests that run tiny instruction-word guests (GuestELF) directly: every path through the
// interpreter loop spends budget, so `run(budget:)` and the board's timeout always return, also
// for code at low virtual addresses and for endless trap chains.
import Foundation
import Machine
import Testing
@testable import RISCV
import RISCVBoard
import RISCVTranslator

/// Runs `body` on a thread of its own and reports whether it returned within `seconds`. A
/// wedged vCPU never returns: its thread is then left spinning and the test fails instead of
/// hanging.
func returns(within seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.stackSize = 1 << 20
    thread.start()
    return done.wait(timeout: .now() + seconds) == .success
}

/// A board that may be handed to the helper thread (only one thread uses it at a time).
final class BoardBox: @unchecked Sendable {
    let board: VirtBoard
    init(_ board: VirtBoard) { self.board = board }
}

@Suite("Hart execute loop")
struct HartTests {
    static func boot(_ elf: [UInt8], _ engine: CPUEngine) throws -> BoardBox {
        let board = try GuestPrograms.board(memoryMiB: 16, engine: engine)
        try board.boot(firmware: .none, kernel: elf)
        return BoardBox(board)
    }

    static func boot(engine: CPUEngine, _ elf: [UInt8]) throws -> BoardBox { try boot(elf, engine) }

    @Test("code at virtual page 0, remapped while it runs, spends its budget", arguments: GuestPrograms.engines)
    func lowVirtualAddresses(_ engine: CPUEngine) throws {
        let box = try Self.boot(GuestELF.lowAddressRemapper, engine)
        // The translator keeps one translation per physical offset, made for one virtual pc:
        // this code runs its one physical page at two virtual pages in turn, so every block is
        // translated again each time (~40 us each in a debug build). A tenth of the budget
        // still shows it returns.
        let budget = engine == .interpret ? 200_000 : 20_000
        let finished = returns(within: 60) {
            for _ in 0..<5 { _ = box.board.hart.run(budget: budget) }
        }
        #expect(finished, "run(budget:) did not return: the vCPU thread is wedged")
        guard finished else { return }
        let hart = box.board.hart
        // The loop really ran there: it counted, it is in S-mode at a low address, and every
        // iteration took its two sfence.vma exits.
        let counter = try box.board.memory.load(UInt64.self, at: GuestPhysicalAddress(0x8000_2000))
        #expect(counter > 1000)
        #expect(hart.privilege == .supervisor)
        #expect(hart.pc < 0x2000)
        #expect(hart.stats[.tlbFlush] + 2 >= 2 * counter)
        // 42 set-up instructions, then 14 per iteration.
        let expected = 42 + 14 * counter
        #expect(hart.instructionsRetired + 14 > expected && hart.instructionsRetired < expected + 14)
    }

    @Test("the board's timeout fires for a guest running at low virtual addresses", arguments: GuestPrograms.engines)
    func lowVirtualAddressesTimeOut(_ engine: CPUEngine) throws {
        let box = try Self.boot(GuestELF.lowAddressRemapper, engine)
        final class Result: @unchecked Sendable { var outcome: VirtBoard.Outcome? }
        let result = Result()
        let finished = returns(within: 60) { result.outcome = box.board.run(timeout: 0.5) }
        #expect(finished, "VirtBoard.run(timeout:) did not return")
        #expect(result.outcome == .timeout)
    }

    @Test("an endless chain of fetch faults at 0x800 spends the budget", arguments: GuestPrograms.engines)
    func fetchFaultLoopAtALowAddress(_ engine: CPUEngine) throws {
        let box = try Self.boot(GuestELF.lowFaultLoop, engine)
        let finished = returns(within: 60) {
            for _ in 0..<3 { _ = box.board.hart.run(budget: 100_000) }
        }
        #expect(finished, "run(budget:) did not return: the vCPU thread is wedged")
        guard finished else { return }
        let hart = box.board.hart
        #expect(hart.pc == 0x800)
        #expect(hart.mcause == ExceptionCause.instructionAccessFault.rawValue)
        #expect(hart.mtval == 0x800)
        #expect(hart.stats[.exception] > 1000)
        // Faulting fetches retire nothing: li, slli, csrw and jr did.
        #expect(hart.instructionsRetired == 4)
    }

    @Test("a trap vector that holds an illegal instruction spends the budget", arguments: GuestPrograms.engines)
    func illegalInstructionAtTheTrapVector(_ engine: CPUEngine) throws {
        // mtvec points at a zero word (illegal), which traps to itself forever.
        let elf = GuestELF.image([
            0x0000_0297, // auipc t0, 0
            0x00c2_8293, // addi  t0, t0, 12
            0x3052_9073, // csrw  mtvec, t0
            0x0000_0000, // illegal
        ])
        let box = try Self.boot(elf, engine)
        let finished = returns(within: 60) {
            for _ in 0..<3 { _ = box.board.hart.run(budget: 100_000) }
        }
        #expect(finished, "run(budget:) did not return: the vCPU thread is wedged")
        guard finished else { return }
        let hart = box.board.hart
        #expect(hart.pc == 0x8000_000C)
        #expect(hart.mcause == ExceptionCause.illegalInstruction.rawValue)
        #expect(hart.stats[.exception] > 1000)
        #expect(hart.instructionsRetired == 3)
    }

    @Test("guest writes to minstret and mcycle set those CSRs only, and travel in HartState", arguments: GuestPrograms.engines)
    func counterWrites(_ engine: CPUEngine) throws {
        let box = try Self.boot(engine: engine, GuestELF.image([
            0x1000_02b7, // lui   t0, 0x10000     t0 = 0x1000_0000
            0xb022_9073, // csrw  minstret, t0
            0xb002_9073, // csrw  mcycle, t0
            0x0000_006f, // j     .
        ]))
        let hart = box.board.hart
        _ = hart.run(budget: 1000)
        // The VMM's own count is untouched by the guest's writes.
        #expect(hart.instructionsRetired > 3 && hart.instructionsRetired <= 1000)
        let minstret = try #require(hart.readCSR(CSR.minstret))
        let mcycle = try #require(hart.readCSR(CSR.mcycle))
        #expect(minstret >= 0x1000_0000 && minstret < 0x1000_0000 + 1000)
        #expect(mcycle >= 0x1000_0000 && mcycle < minstret)
        // The offsets are state: a second hart restored from it reads the same counters.
        let state = hart.saveState()
        let json = try JSONDecoder().decode(HartState.self, from: JSONEncoder().encode(state))
        let other = try Self.boot(GuestELF.endlessLoop, engine).board.hart
        try other.restoreState(json)
        #expect(other.readCSR(CSR.minstret) == minstret && other.readCSR(CSR.mcycle) == mcycle)
        #expect(other.instructionsRetired == hart.instructionsRetired)
    }

    @Test("a misaligned MMIO access still traps (RAM accesses complete: misaligned.S)", arguments: GuestPrograms.engines)
    func misalignedMMIOTraps(_ engine: CPUEngine) throws {
        let box = try Self.boot(engine: engine, GuestELF.image([
            0x0000_0317, // auipc t1, 0
            0x0143_0313, // addi  t1, t1, 20
            0x3053_1073, // csrw  mtvec, t1        the `j .` below
            0x1000_02b7, // lui   t0, 0x10000      UART
            0x0012_a503, // lw    a0, 1(t0)
            0x0000_006f, // j     .
        ]))
        let hart = box.board.hart
        _ = hart.run(budget: 1000)
        #expect(hart.mcause == ExceptionCause.loadMisaligned.rawValue)
        #expect(hart.mtval == 0x1000_0001)
        #expect(hart.mepc == 0x8000_0010)
        #expect(hart.pc == 0x8000_0014)
    }
}

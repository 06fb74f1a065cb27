// The translator spends budget exactly as the interpreter does around MMIO: an access that
// exits to the VMM retires nothing in the loop (the VMM completes it), so it spends nothing
// there, and a `run` of N units ends at the same instruction on both engines.

import Machine
import Testing
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator

struct EngineBudgetTests {
    typealias J = JumpCacheTests

    /// `lui x7, 0x10000` (the UART), then a loop that writes and reads the UART's scratch
    /// register (two MMIO exits per round) between ALU instructions.
    static let words: [UInt32] = [
        0x1000_03b7,                                        // lui x7, 0x10000
        5 << 20 | 7 << 15 | 0 << 12 | 7 << 7 | 0x23,        // sb x5, 7(x7)
        J.addi(5, 5, 1),                                    // addi x5, x5, 1
        7 << 20 | 7 << 15 | 4 << 12 | 6 << 7 | 0x03,        // lbu x6, 7(x7)
        J.addi(8, 8, 1),                                    // addi x8, x8, 1
        J.jal(0, -16),                                      // jal x0, loop
    ]

    @Test("a chunk that exits for MMIO spends what the interpreter spends")
    func chunkSpendsLikeTheInterpreter() throws {
        let registers = [UInt64](repeating: 0, count: 32)
        let a = try EngineDifferentialTests.board(Self.words, data: [], registers: registers, translate: false)
        let b = try EngineDifferentialTests.board(Self.words, data: [], registers: registers, translate: true)
        let engine = try #require(b.hart.engine)
        for round in 0..<40 {
            let budget = 1 + round % 7
            let spentA = a.hart.execute(budget: budget)
            let spentB = engine.execute(b.hart, budget: budget)
            #expect(spentA == spentB, "round \(round): spent \(spentA) vs \(spentB)")
            #expect(a.hart.pendingExit == b.hart.pendingExit, "round \(round): exit")
            #expect(a.hart.pc == b.hart.pc && a.hart.instret == b.hart.instret, "round \(round): pc/instret")
            // Complete the exit as the VMM would.
            if let e = a.hart.pendingExit { a.hart.pendingExit = nil; _ = a.hart.handleExit(e) }
            if let e = b.hart.pendingExit { b.hart.pendingExit = nil; _ = b.hart.handleExit(e) }
        }
    }

    @Test("runs of the same budgets over MMIO end at the same pc and instret on both engines")
    func runsAgreeAroundMMIO() throws {
        let registers = [UInt64](repeating: 0, count: 32)
        let a = try EngineDifferentialTests.board(Self.words, data: [], registers: registers, translate: false)
        let b = try EngineDifferentialTests.board(Self.words, data: [], registers: registers, translate: true)
        for budget in [1, 2, 3, 5, 10, 100, 1000, 4321] {
            _ = a.hart.run(budget: budget)
            _ = b.hart.run(budget: budget)
            #expect(a.hart.instructionsRetired == b.hart.instructionsRetired, "budget \(budget): instret \(a.hart.instructionsRetired) vs \(b.hart.instructionsRetired)")
            #expect(a.hart.pc == b.hart.pc, "budget \(budget): pc")
            #expect(a.hart.x[5] == b.hart.x[5] && a.hart.x[6] == b.hart.x[6] && a.hart.x[8] == b.hart.x[8], "budget \(budget): registers")
        }
        #expect(a.hart.x[5] > 100, "the loop ran")
    }
}

// A hostile guest costs only its own speed on the translator: code that thrashes the
// translation cache runs correctly through whole flushes, and a jump into MMIO is the
// interpreter's instruction access fault, as it is without the translator.

import Machine
import Testing
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator

struct ContainmentTests {
    typealias J = JumpCacheTests

    @Test("3,000 distinct blocks looped through 64 KiB of code memory: whole flushes, the interpreter's result")
    func translationCacheThrash() throws {
        // 3,000 blocks of `addi x5, x5, 1; jal x0, +4` (each jumps to the next; every ~512th
        // crosses a page), then `addi x6, x6, -1; beq x6, x0, +8; jal x0, start; jal x0, 0`,
        // 5 rounds.
        var words: [UInt32] = []
        for _ in 0..<3000 { words += [J.addi(5, 5, 1), J.jal(0, 4)] }
        words += [J.addi(6, 6, -1), J.bne(6, 8) ^ (1 << 12), J.jal(0, -Int32(4 * (words.count + 2))), J.jal(0, 0)]
        var registers = [UInt64](repeating: 0, count: 32)
        registers[6] = 5
        let a = try EngineDifferentialTests.board(words, data: [], registers: registers, translate: false)
        let b = try EngineDifferentialTests.board(words, data: [], registers: registers, translate: false)
        let engine = try TranslatingEngine(hart: b.hart, codeCapacity: 64 << 10)
        b.hart.engine = engine
        let budget = 5 * (2 * 3000 + 3) + 10
        _ = a.hart.run(budget: budget)
        _ = b.hart.run(budget: budget)
        #expect(a.hart.x[5] == 15_000)
        #expect(b.hart.x[5] == 15_000)
        #expect(a.hart.pc == b.hart.pc && a.hart.instructionsRetired == b.hart.instructionsRetired)
        #expect(engine.statistics.flushes >= 5, "\(engine.statistics.flushes) flushes")
        #expect(engine.statistics.translatedInstructions * 10 > Int(b.hart.instructionsRetired) * 9, "most of it still ran translated")
    }

    @Test("a jump into MMIO is an instruction access fault on both engines, taken at the same pc and count")
    func jumpIntoMMIO() throws {
        // mtvec = handler; x7 = the UART (0x1000_0000); jalr x1, 0(x7). The handler records
        // mcause and mepc in x10/x11 and spins.
        var words: [UInt32] = []
        words.append(0x0000_0297)                          // auipc x5, 0
        words.append(J.addi(5, 5, 24))                     // addi x5, x5, 24: the handler
        words.append(0x3052_9073)                          // csrw mtvec, x5
        words.append(0x1000_03b7)                          // lui x7, 0x10000
        words.append(0x0003_80e7)                          // jalr x1, 0(x7)
        words.append(J.jal(0, 0))                          // (not reached)
        words.append(0x3420_2573)                          // handler: csrr x10, mcause
        words.append(0x3410_25f3)                          // csrr x11, mepc
        words.append(J.jal(0, 0))
        let registers = [UInt64](repeating: 0, count: 32)
        let a = try EngineDifferentialTests.board(words, data: [], registers: registers, translate: false)
        let b = try EngineDifferentialTests.board(words, data: [], registers: registers, translate: true)
        _ = a.hart.run(budget: 100)
        _ = b.hart.run(budget: 100)
        #expect(a.hart.x[10] == 1 && a.hart.x[11] == 0x1000_0000, "instruction access fault at the UART")
        #expect(b.hart.x[10] == a.hart.x[10] && b.hart.x[11] == a.hart.x[11])
        #expect(a.hart.pc == b.hart.pc && a.hart.instructionsRetired == b.hart.instructionsRetired)
    }
}

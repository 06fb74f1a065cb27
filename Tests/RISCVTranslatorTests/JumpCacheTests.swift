// The jump cache: calls and returns across guest pages go from translation to translation
// without the dispatcher, and an entry is never used once the code it came from changed or the
// fetch TLB maps the pc elsewhere.

import Machine
import Testing
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator

struct JumpCacheTests {
    static func addi(_ rd: UInt32, _ rs1: UInt32, _ imm: Int32) -> UInt32 {
        UInt32(bitPattern: imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13
    }

    static func jal(_ rd: UInt32, _ offset: Int32) -> UInt32 {
        let o = UInt32(bitPattern: offset)
        return ((o >> 20) & 1) << 31 | ((o >> 1) & 0x3ff) << 21 | ((o >> 11) & 1) << 20 | ((o >> 12) & 0xff) << 12 | rd << 7 | 0x6f
    }

    static func bne(_ rs1: UInt32, _ offset: Int32) -> UInt32 {
        let b = UInt32(bitPattern: offset)
        return ((b >> 12) & 1) << 31 | ((b >> 5) & 0x3f) << 25 | rs1 << 15 | 1 << 12 | ((b >> 1) & 0xf) << 8 | ((b >> 11) & 1) << 7 | 0x63
    }

    static let ret: UInt32 = 1 << 15 | 0x67  // jalr x0, 0(x1)
    static let f = 1024                      // word index of the function: the next page

    /// Words at 0x8000_0000: `main`, then `function` at 0x8000_1000 (one page on).
    static func board(main: [UInt32], function: [UInt32], translate: Bool) throws -> VirtBoard {
        var words = main
        while words.count < f { words.append(addi(0, 0, 0)) }
        words += function
        return try EngineDifferentialTests.board(words, data: [], registers: [UInt64](repeating: 0, count: 32), translate: translate)
    }

    @Test("200 calls to a function on another page and their returns run without going back to the dispatcher")
    func callsAcrossPagesStayInTranslatedCode() throws {
        // x6 = 200; loop: jal x1, f; addi x6, x6, -1; bne x6, x0, loop; jal x0, 0.  f: addi x5, x5, 1; ret.
        let main = [Self.addi(6, 0, 200), Self.jal(1, Int32(4 * (Self.f - 1))), Self.addi(6, 6, -1), Self.bne(6, -8), Self.jal(0, 0)]
        let function = [Self.addi(5, 5, 1), Self.ret]
        let a = try Self.board(main: main, function: function, translate: false)
        let b = try Self.board(main: main, function: function, translate: true)
        _ = a.hart.run(budget: 2000)
        _ = b.hart.run(budget: 2000)
        #expect(a.hart.x[5] == 200)
        #expect(b.hart.x[5] == 200)
        #expect(a.hart.pc == b.hart.pc && a.hart.instructionsRetired == b.hart.instructionsRetired)
        let s = try #require(b.hart.engine as? TranslatingEngine).statistics
        // Without the jump cache every call and every return comes back: 400 dispatches at least.
        #expect(s.blocksRun < 40, "\(s.blocksRun) dispatches for 400 cross-page jumps")
    }

    @Test("a function rewritten on its own page after it ran through the jump cache runs its new code")
    func rewrittenTargetIsNotReachedThroughAStaleEntry() throws {
        // 50 calls of f (addi x5, x5, 1), then f's first instruction becomes addi x5, x5, 100
        // (sw + fence.i), then 50 more calls.
        let newInstruction = Self.addi(5, 5, 100)
        var main: [UInt32] = [Self.addi(6, 0, 50), Self.addi(5, 0, 0)]
        main += [Self.jal(1, Int32(4 * (Self.f - 2))), Self.addi(6, 6, -1), Self.bne(6, -8)]     // 2...4
        main += [0x0000_1397, Self.addi(7, 7, -20)]                                                // auipc x7, 1: x7 = f
        main += [UInt32(newInstruction & ~0xfff) | 29 << 7 | 0x37]                                 // lui x29, upper
        main += [Self.addi(29, 29, Int32(newInstruction & 0xfff))]                                 // x29 = the new word (low part < 0x800)
        main += [29 << 20 | 7 << 15 | 2 << 12 | 0x23, 0x0000_100f]                                 // sw x29, 0(x7); fence.i
        main += [Self.addi(6, 0, 50), Self.jal(1, Int32(4 * (Self.f - 12))), Self.addi(6, 6, -1), Self.bne(6, -8), Self.jal(0, 0)]
        #expect(newInstruction & 0x800 == 0)
        let function = [Self.addi(5, 5, 1), Self.ret]
        let a = try Self.board(main: main, function: function, translate: false)
        let b = try Self.board(main: main, function: function, translate: true)
        _ = a.hart.run(budget: 3000)
        _ = b.hart.run(budget: 3000)
        #expect(a.hart.x[5] == 50 + 50 * 100)
        #expect(b.hart.x[5] == 50 + 50 * 100, "the calls after the rewrite ran the new addi")
        #expect(a.hart.pc == b.hart.pc && a.hart.instructionsRetired == b.hart.instructionsRetired)
    }

    @Test("an entry is used only while the fetch TLB maps its pc to the page it was translated from")
    func remappedTargetIsNotReachedThroughAStaleEntry() throws {
        // loop: jal x1, f; jal x0, loop. f (page 1): addi x5, x5, 1; ret. Page 2 holds
        // addi x5, x5, 1000; ret. After 100 calls the fetch TLB maps f's page to page 2, as a
        // new page table would (the hart flushes and refills its TLB; here the entry is set).
        let main = [Self.jal(1, Int32(4 * Self.f)), Self.jal(0, -4)]
        var function = [Self.addi(5, 5, 1), Self.ret]
        while function.count < 1024 { function.append(Self.addi(0, 0, 0)) }
        function += [Self.addi(5, 5, 1000), Self.ret]
        let b = try Self.board(main: main, function: function, translate: true)
        let hart = b.hart
        _ = hart.run(budget: 400)     // 100 rounds of 4 instructions: back at loop
        #expect(hart.x[5] == 100 && hart.pc == EngineDifferentialTests.code)
        let fVA = EngineDifferentialTests.code + 0x1000
        let page2 = try #require(b.memory.pageIndex(fVA + 0x1000))
        let host2 = try #require(b.memory.hostPage(page2))
        hart.fetchTLB.entries[TLB.index(fVA)] = TLBEntry(tag: fVA, addend: UInt64(UInt(bitPattern: host2)) &- fVA, page: page2)
        _ = hart.run(budget: 400)
        #expect(hart.x[5] == 100 + 100 * 1000, "every call after the remap ran page 2's code")
    }
}

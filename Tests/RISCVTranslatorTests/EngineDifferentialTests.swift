// The translating engine against the interpreter on whole programs, in lockstep: two boards
// with the same memory and registers run the same random loop (ALU, multiply/divide, loads and
// stores of every width at aligned and misaligned offsets, a counted backward branch), one on
// the interpreter and one on `TranslatingEngine`, in the same random budgets; after every
// budget, pc, instret, every register and the data memory must agree. Side exits (TLB misses,
// misaligned accesses), budgets that end inside a block and self-modifying code are covered.

import Machine
import Testing
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator

struct EngineDifferentialTests {
    static let code: UInt64 = 0x8000_0000
    static let data: UInt64 = 0x8010_0000

    static func load(_ rd: UInt32, _ f3: UInt32, _ offset: Int32) -> UInt32 {
        UInt32(bitPattern: offset & 0xfff) << 20 | 31 << 15 | f3 << 12 | rd << 7 | 0x03
    }

    static func store(_ rs2: UInt32, _ f3: UInt32, _ offset: Int32) -> UInt32 {
        let imm = UInt32(bitPattern: offset & 0xfff)
        return (imm >> 5) << 25 | rs2 << 20 | 31 << 15 | f3 << 12 | (imm & 0x1f) << 7 | 0x23
    }

    /// A random loop body, then `addi x30, x30, -1; bne x30, x0, start; jal x0, 0`.
    static func program(_ g: inout some RandomNumberGenerator) -> [UInt32] {
        var words: [UInt32] = []
        for _ in 0..<Int.random(in: 1...60, using: &g) {
            switch Int.random(in: 0..<10, using: &g) {
            case 0...2:
                let size = Int32(1) << Int32.random(in: 0...3, using: &g)
                var offset = Int32.random(in: -2048...(2047 - 8), using: &g)
                if Int.random(in: 0..<4, using: &g) != 0 { offset &= ~(size - 1) }
                let f3 = UInt32(size.trailingZeroBitCount) | (size < 8 && Bool.random(using: &g) ? 4 : 0)
                words.append(load(UInt32.random(in: 0...29, using: &g), f3, offset))
            case 3...4:
                let size = Int32(1) << Int32.random(in: 0...3, using: &g)
                var offset = Int32.random(in: -2048...(2047 - 8), using: &g)
                if Int.random(in: 0..<4, using: &g) != 0 { offset &= ~(size - 1) }
                words.append(store(UInt32.random(in: 0...31, using: &g), UInt32(size.trailingZeroBitCount), offset))
            default:
                var w: UInt32
                repeat { w = BlockTranslatorDifferentialTests.randomInstruction(last: false, &g) } while [30, 31].contains((w >> 7) & 31)
                words.append(w)
            }
        }
        let back = Int32(-4 * (words.count + 1))
        words.append(0xfff_f0f13)  // addi x30, x30, -1
        // bne x30, x0, back
        let b = UInt32(bitPattern: back)
        words.append(((b >> 12) & 1) << 31 | ((b >> 5) & 0x3f) << 25 | 0 << 20 | 30 << 15 | 1 << 12 | ((b >> 1) & 0xf) << 8 | ((b >> 11) & 1) << 7 | 0x63)
        words.append(0x0000_006f)  // jal x0, 0
        return words
    }

    static func board(_ words: [UInt32], data: [UInt8], registers: [UInt64], translate: Bool) throws -> VirtBoard {
        let board = try VirtBoard(memoryMiB: 16) { _ in }
        for (i, w) in words.enumerated() { try board.memory.store(w, at: GuestPhysicalAddress(code + UInt64(4 * i))) }
        if !data.isEmpty { try board.memory.write(data, at: GuestPhysicalAddress(Self.data)) }
        let hart = board.hart
        hart.pc = code
        for r in 1..<32 { hart.x[r] = registers[r] }
        if translate { hart.engine = try TranslatingEngine(hart: hart) }
        return board
    }

    @Test("300 random loops run in random budgets agree with the interpreter after every budget")
    func randomLoops() throws {
        var g = SystemRandomNumberGenerator()
        var totals = TranslatingEngine.Statistics()
        var instructions: UInt64 = 0
        for round in 0..<300 {
            let words = Self.program(&g)
            let data = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &g) }
            var registers = (0..<32).map { _ in g.next() as UInt64 }
            registers[0] = 0
            registers[30] = UInt64.random(in: 1...40, using: &g)
            registers[31] = Self.data + 2048
            let a = try Self.board(words, data: data, registers: registers, translate: false)
            let b = try Self.board(words, data: data, registers: registers, translate: true)
            for _ in 0..<6 {
                let budget = Int.random(in: 1...800, using: &g)
                _ = a.hart.run(budget: budget)
                _ = b.hart.run(budget: budget)
                #expect(a.hart.pc == b.hart.pc, "round \(round): pc")
                #expect(a.hart.instructionsRetired == b.hart.instructionsRetired, "round \(round): instret")
                for r in 1..<32 where a.hart.x[r] != b.hart.x[r] {
                    Issue.record("round \(round): x\(r) 0x\(String(a.hart.x[r], radix: 16)) vs 0x\(String(b.hart.x[r], radix: 16))")
                }
            }
            let da = try a.memory.read(at: GuestPhysicalAddress(Self.data), count: 4096)
            let db = try b.memory.read(at: GuestPhysicalAddress(Self.data), count: 4096)
            #expect(da == db, "round \(round): data memory differs")
            let s = (b.hart.engine as! TranslatingEngine).statistics
            totals.translated += s.translated
            totals.translatedInstructions += s.translatedInstructions
            totals.sideExits += s.sideExits
            totals.interpreted += s.interpreted
            totals.linked += s.linked
            instructions += b.hart.instructionsRetired
        }
        print("engine differential: \(instructions) instructions, \(totals.translatedInstructions) in translated blocks, \(totals.translated) blocks, \(totals.sideExits) side exits, \(totals.interpreted) interpreted, \(totals.linked) links")
        #expect(totals.linked > 0, "loops chain their blocks")
        #expect(totals.translatedInstructions * 2 > Int(instructions), "most instructions ran translated")
        #expect(totals.sideExits > 0)
    }

    @Test("self-modifying code: a loop that rewrites its own addi runs the new instruction each time")
    func selfModifyingCode() throws {
        func i(_ imm: Int32, _ rs1: UInt32, _ f3: UInt32, _ rd: UInt32, _ op: UInt32 = 0x13) -> UInt32 {
            UInt32(bitPattern: imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
        }
        func bne(_ rs1: UInt32, from: Int, to: Int) -> UInt32 {
            let b = UInt32(bitPattern: Int32(4 * (to - from)))
            return ((b >> 12) & 1) << 31 | ((b >> 5) & 0x3f) << 25 | rs1 << 15 | 1 << 12 | ((b >> 1) & 0xf) << 8 | ((b >> 11) & 1) << 7 | 0x63
        }
        // x5 = sum, x6 = i (20 down to 1), x7 = address of the patched instruction, x29 =
        // `addi x5, x5, 0`. Each iteration stores `addi x5, x5, i` over the instruction at x7,
        // runs FENCE.I, and runs it.
        let patched = 16
        var p: [UInt32] = []
        p.append(0x0000_0397)                               // auipc x7, 0
        p.append(i(Int32(4 * patched), 7, 0, 7))            // addi x7, x7, 4 * patched
        p.append(i(0, 0, 0, 5))                             // addi x5, x0, 0
        p.append(i(20, 0, 0, 6))                            // addi x6, x0, 20
        p.append(0x0002_8eb7)                               // lui x29, 0x28
        p.append(i(0x293, 29, 0, 29))                       // addi x29, x29, 0x293: x29 = addi x5, x5, 0
        let loop = p.count
        p.append(i(20, 6, 1, 28))                           // slli x28, x6, 20
        p.append(0 << 25 | 29 << 20 | 28 << 15 | 6 << 12 | 28 << 7 | 0x33)  // or x28, x28, x29
        p.append(28 << 20 | 7 << 15 | 2 << 12 | 0x23)       // sw x28, 0(x7)
        p.append(0x0000_100f)                               // fence.i
        while p.count < patched { p.append(i(0, 0, 0, 0)) } // nops
        p.append(i(0, 0, 0, 0))                             // the patched instruction
        p.append(i(-1, 6, 0, 6))                            // addi x6, x6, -1
        p.append(bne(6, from: p.count, to: loop))           // bne x6, x0, loop
        p.append(0x0000_006f)                               // jal x0, 0
        let registers = [UInt64](repeating: 0, count: 32)
        let a = try Self.board(p, data: [], registers: registers, translate: false)
        let b = try Self.board(p, data: [], registers: registers, translate: true)
        _ = a.hart.run(budget: 2000)
        _ = b.hart.run(budget: 2000)
        #expect(a.hart.x[5] == 210, "the interpreter ran each patched addi: 20 + 19 + ... + 1")
        #expect(b.hart.x[5] == 210, "the translator ran each patched addi, not a stale translation")
        #expect(a.hart.instructionsRetired == b.hart.instructionsRetired)
        #expect(a.hart.pc == b.hart.pc)
    }

    @Test("code another hart rewrote runs once a FENCE.I reaches this hart; unchanged pages keep their translations")
    func remoteFenceIValidatesPages() throws {
        // loop: addi x5, x5, 1; jal x0, loop  -- then rewritten to addi x5, x5, 100.
        let addi1: UInt32 = 1 << 20 | 5 << 15 | 5 << 7 | 0x13
        let addi100: UInt32 = 100 << 20 | 5 << 15 | 5 << 7 | 0x13
        let back: UInt32 = 0xffdf_f06f  // jal x0, -4
        let board = try Self.board([addi1, back], data: [], registers: [UInt64](repeating: 0, count: 32), translate: true)
        let hart = board.hart
        let engine = try #require(hart.engine as? TranslatingEngine)
        _ = hart.run(budget: 1000)
        #expect(hart.x[5] == 500)
        let translated = engine.statistics.translated
        // A FENCE.I from another hart that changed nothing: the page is checked and kept.
        engine.invalidateAll()
        _ = hart.run(budget: 1000)
        #expect(hart.x[5] == 1000)
        #expect(engine.statistics.validated >= 1)
        #expect(engine.statistics.translated == translated, "nothing was translated again")
        // Another hart rewrites the addi behind this hart's back (no store through it), then
        // its FENCE.I arrives: the new instruction runs.
        try board.memory.store(addi100, at: GuestPhysicalAddress(Self.code))
        engine.invalidateAll()
        _ = hart.run(budget: 1000)
        #expect(hart.x[5] == 1000 + 500 * 100, "the rewritten addi ran, not the stale translation")
        #expect(engine.statistics.dropped >= 1)
    }
}

// The block translator against the interpreter, in lockstep: random blocks of RV64IM integer
// instructions (every translated opcode, x0 as source and destination, division by zero and
// MIN / -1, shift amounts over the width) ending in a random branch, jal, jalr or nothing are
// run by the interpreter (`Hart.execute`) on a board and by their translation on a copy of the
// same registers; every register and the next pc must agree.

import Machine
import Testing
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator
import X86

struct BlockTranslatorDifferentialTests {
    /// `fence`: an instruction the translator leaves to the interpreter.
    static let untranslated: UInt32 = 0x0ff0_000f

    static let edgeValues: [UInt64] = [0, 1, 2, 31, 32, 63, 64, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000,
                                       0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff, 0xffff_ffff_ffff_fffe]

    /// A random 32-bit instruction whose decoding the translator handles; `last` picks a
    /// control transfer.
    static func randomInstruction(last: Bool, _ g: inout some RandomNumberGenerator) -> UInt32 {
        func reg() -> UInt32 { UInt32.random(in: 0...31, using: &g) }
        let top = UInt32.random(in: 0...UInt32.max, using: &g)
        while true {
            let word: UInt32
            if last {
                switch Int.random(in: 0..<3, using: &g) {
                case 0: word = (top & ~0x707f) | [0, 1, 4, 5, 6, 7].randomElement(using: &g)! << 12 | 0x63
                case 1: word = (top & ~0x7f) | 0x6f
                default: word = (top & 0xfff0_0000) | reg() << 15 | reg() << 7 | 0x67
                }
            } else {
                let rd = reg(), rs1 = reg(), rs2 = reg()
                switch Int.random(in: 0..<7, using: &g) {
                case 0: // OP-IMM, shifts with their legal upper bits
                    let f3 = UInt32.random(in: 0...7, using: &g)
                    var imm = top >> 20
                    if f3 == 1 { imm &= 0x3f } else if f3 == 5 { imm = (imm & 0x3f) | (Bool.random(using: &g) ? 0x400 : 0) }
                    word = imm << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x13
                case 1, 2: // OP and M
                    let f7: UInt32 = [0, 0x20, 0x01].randomElement(using: &g)!
                    word = f7 << 25 | rs2 << 20 | rs1 << 15 | UInt32.random(in: 0...7, using: &g) << 12 | rd << 7 | 0x33
                case 3: // OP-IMM-32
                    let f3: UInt32 = [0, 1, 5].randomElement(using: &g)!
                    var imm = top >> 20
                    if f3 != 0 { imm = (imm & 0x1f) | (f3 == 5 && Bool.random(using: &g) ? 0x400 : 0) }
                    word = imm << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x1b
                case 4, 5: // OP-32 and M-32
                    let f7: UInt32 = [0, 0x20, 0x01].randomElement(using: &g)!
                    word = f7 << 25 | rs2 << 20 | rs1 << 15 | UInt32.random(in: 0...7, using: &g) << 12 | rd << 7 | 0x3b
                default: // LUI / AUIPC
                    word = (top & 0xffff_f000) | rd << 7 | (Bool.random(using: &g) ? 0x37 : 0x17)
                }
            }
            let d = Decoder.decode32(word)
            let control = BlockTranslator.endsBlock(d.op)
            if BlockTranslator.translates(d.op) && control == last { return word }
        }
    }

    @Test("10,000 random blocks: the translation and the interpreter agree on every register and the next pc")
    func randomBlocks() throws {
        let board = try VirtBoard(memoryMiB: 16) { _ in }
        let hart = board.hart
        let code = try ExecutableMemory(capacity: 1 << 20)
        var entryCode = Assembler()
        BlockTranslator.emitEntry(into: &entryCode)
        let trampolines = try ExecutableMemory(capacity: 4096)
        try trampolines.unseal()
        let enter = unsafeBitCast(try trampolines.append(entryCode.bytes), to: BlockTranslator.Entry.self)
        try trampolines.seal()
        let jumpCache = JumpCache(pageCount: hart.memory.pageCount)  // empty: every lookup returns
        var g = SystemRandomNumberGenerator()
        let base: UInt64 = 0x8000_0000
        var instructions = 0
        var exits = [false: 0, true: 0]
        for round in 0..<10_000 {
            let body = Int.random(in: 0...40, using: &g)
            let ends = Bool.random(using: &g) || body == 0
            var words = (0..<body).map { _ in Self.randomInstruction(last: false, &g) }
            if ends {
                // Not back to the block's own start: a self-looping block runs on to the end of
                // its budget (the lockstep runner covers those loops).
                var last: UInt32
                repeat {
                    last = Self.randomInstruction(last: true, &g)
                } while Decoder.decode32(last).op != .jalr && UInt64(4 * body) &+ UInt64(bitPattern: Decoder.decode32(last).imm) == 0
                words.append(last)
            }
            for (i, w) in words.enumerated() { try board.memory.store(w, at: GuestPhysicalAddress(base + UInt64(4 * i))) }
            // An instruction the translator leaves to the interpreter ends a block without a jump.
            try board.memory.store(Self.untranslated, at: GuestPhysicalAddress(base + UInt64(4 * words.count)))
            hart.invalidateCode(GuestPhysicalAddress(base), length: 4096)

            var registers = [UInt64](repeating: 0, count: 33)
            for r in 1..<32 {
                registers[r] = Int.random(in: 0..<3, using: &g) == 0 ? Self.edgeValues.randomElement(using: &g)! : g.next()
            }
            for r in 0..<33 { hart.x[r] = registers[r] }
            hart.pc = base

            // The translation, on a copy.
            var asm = Assembler()
            let decoded = words.map { Decoder.decode32($0) } + [Decoder.decode32(Self.untranslated)]
            let t = try #require(BlockTranslator.translate(decoded, pc: base, into: &asm))
            #expect(t.instructions == words.count)
            #expect(t.endsInJump == ends)
            if code.free < asm.count + 64 { try code.reset() }
            try code.unseal()
            let entry = try code.append(asm.bytes)
            try code.seal()
            var context = TranslationContext(readTLB: hart.readTLB.entries, writeTLB: hart.writeTLB.entries,
                                             fetchTLB: hart.fetchTLB.entries, jumpCache: jumpCache,
                                             controlWords: hart.controlWords, f: hart.f)
            context.left = 1000
            let next = registers.withUnsafeMutableBufferPointer { r in
                withUnsafeMutablePointer(to: &context) { enter(r.baseAddress!, UnsafeMutableRawPointer($0), entry) }
            }
            #expect(context.left == 1000 - Int64(words.count))
            #expect(context.sideExit == 0)

            // The interpreter.
            let retired = hart.execute(budget: words.count)
            #expect(retired == words.count)
            #expect(next == hart.pc, "round \(round): next pc 0x\(String(next, radix: 16)) vs the interpreter's 0x\(String(hart.pc, radix: 16))")
            for r in 1..<32 where registers[r] != hart.x[r] {
                let listing = words.map { "\(Decoder.decode32($0))" }.joined(separator: "\n")
                Issue.record("round \(round): x\(r) = 0x\(String(registers[r], radix: 16)), interpreter 0x\(String(hart.x[r], radix: 16))\n\(listing)")
                break
            }
            instructions += words.count
            exits[ends, default: 0] += 1
        }
        print("differential: \(instructions) instructions in 10,000 blocks (\(exits[true]!) end in a jump or branch) agree")
    }

    @Test("a block starts only at a translated instruction and stops before the first untranslated one")
    func blockBoundaries() {
        var asm = Assembler()
        #expect(BlockTranslator.translate([Decoder.decode32(Self.untranslated)], pc: 0x8000_0000, into: &asm) == nil)
        #expect(asm.count == 0)
        let addi = Decoder.decode32(0x0010_0093)  // addi x1, x0, 1
        let t = BlockTranslator.translate([addi, addi, Decoder.decode32(Self.untranslated), addi], pc: 0x8000_0000, into: &asm)
        #expect(t == BlockTranslation(instructions: 2, guestBytes: 8, endsInJump: false))
        #expect(t?.links.isEmpty == true, "an exit before an untranslated instruction is not linked")
    }
}

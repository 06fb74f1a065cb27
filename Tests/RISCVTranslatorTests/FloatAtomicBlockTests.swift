// Directed tests of F, D and A instructions inside translated blocks: an FS = Off trap in the
// middle of a block leaves pc, the trap CSRs and instret as the interpreter does; NaN-boxing and
// fflags accumulation come out as the specification says on both engines; an FP store or an AMO
// that rewrites the next instruction of its own block makes the new instruction run; LR/SC and
// AMOs keep exact totals across two harts running translated code on their own threads.

import Machine
import Testing
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator

struct FloatAtomicBlockTests {
    typealias T = FloatAtomicDifferentialTests
    let code = T.code, data = T.data

    /// Both engines over the same straight-line `words` (from `code`, then `jal x0, 0`).
    static func pair(_ words: [UInt32], x: [Int: UInt64] = [:], f: [Int: UInt64] = [:], fs: UInt64 = 1) throws -> (VirtBoard, VirtBoard) {
        var registers = [UInt64](repeating: 0, count: 32)
        for (r, v) in x { registers[r] = v }
        registers[31] = T.data + 2048
        var fr = [UInt64](repeating: 0, count: 32)
        for (r, v) in f { fr[r] = v }
        let program = words + [0x0000_006f]
        let a = try T.board(program, data: [], registers: registers, f: fr, mstatusFS: fs, frm: 0, translate: false)
        let b = try T.board(program, data: [], registers: registers, f: fr, mstatusFS: fs, frm: 0, translate: true)
        return (a, b)
    }

    @Test("an FP instruction with FS = Off traps in the middle of a block: pc, mepc, mtval and instret as on the interpreter")
    func fsOffTrapInBlock() throws {
        let fadd = T.opFP(0x00, fmt: 1, rs2: 3, rs1: 2, rm: 0, rd: 1)      // fadd.d f1, f2, f3
        let words = [T.iType(5, 0, 0, 1, 0x13), T.iType(7, 0, 0, 2, 0x13), fadd, T.iType(9, 0, 0, 3, 0x13)]
        let (a, b) = try Self.pair(words, f: [2: 0x3ff0_0000_0000_0000, 3: 0x3ff0_0000_0000_0000], fs: 0)
        // The block (5 instructions) fits the budget: two retire, the fadd traps (a unit of
        // budget, not retired), the handler runs on.
        _ = a.hart.run(budget: 5)
        _ = b.hart.run(budget: 5)
        for h in [a.hart, b.hart] {
            #expect(h.pc >= T.handler && h.pc < T.handler + 16, "in the handler")
            #expect(h.mepc == code + 8 && h.mcause == 2 && h.mtval == UInt64(fadd))
            #expect(h.x[1] == 5 && h.x[2] == 7 && h.x[3] == 0 && h.f[1] == 0)
            #expect(h.mstatus & CSRBits.fs == 0)
        }
        #expect(a.hart.saveState() == b.hart.saveState())
        let s = (b.hart.engine as! TranslatingEngine).statistics
        #expect(s.outOfLineExits == 1 && s.translatedInstructions >= 2, "the fadd ran inside the block and left it")
    }

    @Test("NaN-boxing, raw fmv.x.w and fsw, sign injection and accumulated fflags agree with the specification on both engines")
    func nanBoxingAndFlags() throws {
        let words: [UInt32] = [
            T.opFP(0x1E, fmt: 1, rs2: 0, rs1: 5, rm: 0, rd: 1),       // fmv.d.x f1, x5 (1.0f, not boxed)
            T.opFP(0x00, fmt: 0, rs2: 1, rs1: 1, rm: 0, rd: 2),       // fadd.s f2, f1, f1: canonical NaN, quiet
            T.opFP(0x1C, fmt: 0, rs2: 0, rs1: 1, rm: 0, rd: 6),       // fmv.x.w x6, f1: the raw low bits
            T.csr(0x001, 2, rs1: 0, rd: 10),                          // csrr x10, fflags: still 0
            T.opFP(0x1E, fmt: 0, rs2: 0, rs1: 7, rm: 0, rd: 3),       // fmv.w.x f3, x7 (2.0f, boxed)
            T.opFP(0x04, fmt: 0, rs2: 3, rs1: 3, rm: 1, rd: 4),       // fsgnjn.s f4, f3, f3: -2.0f
            T.opFP(0x04, fmt: 0, rs2: 4, rs1: 1, rm: 0, rd: 12),      // fsgnj.s f12, f1, f4: f1 unboxed: -NaN
            T.opFP(0x03, fmt: 0, rs2: 0, rs1: 3, rm: 0, rd: 5),       // fdiv.s f5, f3, f0: f0 = 0 is not boxed: NaN, no DZ
            T.opFP(0x03, fmt: 0, rs2: 9, rs1: 3, rm: 0, rd: 5),       // fdiv.s f5, f3, f9 (+0 boxed): DZ
            T.opFP(0x0B, fmt: 0, rs2: 0, rs1: 4, rm: 0, rd: 6),       // fsqrt.s f6, f4: NV
            T.opFP(0x03, fmt: 1, rs2: 8, rs1: 7, rm: 7, rd: 7),       // fdiv.d f7, f7, f8 (1/3, dyn = RNE): NX
            T.sType(0, 3, 31, 2, 0x27),                               // fsw f3, 0(x31)
            T.iType(0, 31, 2, 8, 0x07),                               // flw f8, 0(x31): boxed
            T.iType(0, 31, 3, 11, 0x07),                              // fld f11, 0(x31): raw 8 bytes
            T.csr(0x001, 2, rs1: 0, rd: 8),                           // csrr x8, fflags
        ]
        let (a, b) = try Self.pair(words, x: [5: 0x3f80_0000, 7: 0xffff_ffff_4000_0000],
                                   f: [7: 0x3ff0_0000_0000_0000, 8: 0x4008_0000_0000_0000, 9: 0xffff_ffff_0000_0000,
                                       11: 0xdead_beef_dead_beef])
        let high = UInt64(try a.memory.load(UInt32.self, at: GuestPhysicalAddress(data + 2048 + 4)))
        _ = a.hart.run(budget: words.count)
        _ = b.hart.run(budget: words.count)
        for h in [a.hart, b.hart] {
            #expect(h.f[2] == 0xffff_ffff_7fc0_0000)
            #expect(h.x[6] == 0x3f80_0000)
            #expect(h.x[10] == 0)
            #expect(h.f[3] == 0xffff_ffff_4000_0000 && h.f[4] == 0xffff_ffff_c000_0000)
            #expect(h.f[12] == 0xffff_ffff_ffc0_0000, "the canonical NaN's bits with f4's sign")
            #expect(h.f[5] == 0xffff_ffff_7f80_0000 && h.f[6] == 0xffff_ffff_7fc0_0000)
            #expect(h.f[8] == 0xffff_ffff_4000_0000)
            #expect(h.f[11] == high << 32 | 0x4000_0000)
            #expect(h.x[8] == 0x19, "NV | DZ | NX")
            #expect(h.mstatus & CSRBits.fs == CSRBits.fsDirty && h.mstatus & CSRBits.sd != 0)
            #expect(h.instructionsRetired == UInt64(words.count))
        }
        #expect(a.hart.saveState() == b.hart.saveState())
        let s = (b.hart.engine as! TranslatingEngine).statistics
        #expect(s.translatedInstructions >= 8, "the FP instructions ran in blocks: \(s)")
    }

    @Test("an FP store and an AMO that rewrite the next instruction of their own block make it run", arguments: [false, true])
    func storeIntoOwnBlock(amo: Bool) throws {
        let addi1: UInt32 = T.iType(1, 5, 0, 5, 0x13), addi100: UInt32 = T.iType(100, 5, 0, 5, 0x13)
        // x7 = the address of the instruction after the store.
        let store = amo ? T.amo(0x01, word: true, rs2: 8, rs1: 7, rd: 0)   // amoswap.w x0, x8, (x7)
                        : T.sType(0, 1, 7, 2, 0x27)                         // fsw f1, 0(x7)
        let words: [UInt32] = [T.iType(0, 5, 0, 5, 0x13), store, addi1, addi1]
        let (a, b) = try Self.pair(words, x: [7: code + 8, 8: UInt64(addi100)], f: [1: 0xffff_ffff_0000_0000 | UInt64(addi100)])
        // The whole block (with the final jal) fits the budget, so it starts translated.
        _ = a.hart.run(budget: words.count + 1)
        _ = b.hart.run(budget: words.count + 1)
        #expect(a.hart.x[5] == 101, "the interpreter ran the rewritten addi")
        #expect(b.hart.x[5] == 101, "the translator ran the rewritten addi, not its stale translation")
        #expect(a.hart.saveState() == b.hart.saveState())
    }

    @Test("LR/SC and AMOs in translated blocks keep exact totals across two harts on their own threads")
    func atomicsAcrossHarts() throws {
        let n: UInt64 = 20_000
        // x10 = LR/SC counter, x11 = iterations, x12 = AMO counter, x13 = finished harts,
        // x14 = n, x15 = 1.
        let loop1 = 0, loop2 = 6, wait = 10
        func bne(_ rs1: UInt32, _ rs2: UInt32, from: Int, to: Int) -> UInt32 {
            let b = UInt32(bitPattern: Int32(4 * (to - from)))
            return ((b >> 12) & 1) << 31 | ((b >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12 | ((b >> 1) & 0xf) << 8 | ((b >> 11) & 1) << 7 | 0x63
        }
        var p: [UInt32] = []
        p.append(T.amo(0x02, word: false, rs2: 0, rs1: 10, rd: 5))          // loop1: lr.d x5, (x10)
        p.append(T.iType(1, 5, 0, 5, 0x13))                                 // addi x5, x5, 1
        p.append(T.amo(0x03, word: false, rs2: 5, rs1: 10, rd: 6))          // sc.d x6, x5, (x10)
        p.append(bne(6, 0, from: p.count, to: loop1))                        // bne x6, x0, loop1
        p.append(T.iType(-1, 11, 0, 11, 0x13))                              // addi x11, x11, -1
        p.append(bne(11, 0, from: p.count, to: loop1))                       // bne x11, x0, loop1
        precondition(p.count == loop2)
        p.append(T.amo(0x00, word: true, rs2: 15, rs1: 12, rd: 0))          // loop2: amoadd.w x0, x15, (x12)
        p.append(T.iType(-1, 14, 0, 14, 0x13))                              // addi x14, x14, -1
        p.append(bne(14, 0, from: p.count, to: loop2))                       // bne x14, x0, loop2
        p.append(T.amo(0x00, word: false, rs2: 15, rs1: 13, rd: 0))         // amoadd.d x0, x15, (x13)
        precondition(p.count == wait)
        p.append(T.iType(0, 13, 3, 7, 0x03))                                // wait: ld x7, 0(x13)
        p.append(T.iType(2, 0, 0, 8, 0x13))                                 // addi x8, x0, 2
        p.append(bne(7, 8, from: p.count, to: wait))                         // bne x7, x8, wait
        p.append(T.csr(0xF14, 2, rs1: 0, rd: 9))                            // csrr x9, mhartid
        p.append(bne(9, 0, from: p.count, to: p.count + 5))                  // bne x9, x0, spin
        p.append(0x0010_0f37)                                               // lui x30, 0x100 (the SiFive test device)
        p.append(0x0000_5fb7)                                               // lui x31, 5
        p.append(T.iType(0x555, 31, 0, 31, 0x13))                           // addi x31, x31, 0x555
        p.append(T.sType(0, 31, 30, 2, 0x23))                               // sw x31, 0(x30): power off
        p.append(0x0000_006f)                                               // spin: jal x0, 0
        let board = try VirtBoard(memoryMiB: 16, harts: 2) { _ in }
        for (i, w) in p.enumerated() { try board.memory.store(w, at: GuestPhysicalAddress(code + UInt64(4 * i))) }
        for hart in board.harts {
            hart.pc = code
            hart.x[10] = data; hart.x[11] = n; hart.x[12] = data + 64; hart.x[13] = data + 128; hart.x[14] = n; hart.x[15] = 1
            hart.engine = try TranslatingEngine(hart: hart)
        }
        let outcome = board.run(timeout: 120)
        #expect(outcome == .powerOff(0))
        let counter = try board.memory.load(UInt64.self, at: GuestPhysicalAddress(data))
        let amo = try board.memory.load(UInt32.self, at: GuestPhysicalAddress(data + 64))
        #expect(counter == 2 * n, "LR/SC increments: \(counter)")
        #expect(amo == UInt32(2 * n), "AMO increments: \(amo)")
        for hart in board.harts {
            let s = (hart.engine as! TranslatingEngine).statistics
            #expect(s.translatedInstructions > Int(4 * n), "the loops ran translated")
        }
    }
}

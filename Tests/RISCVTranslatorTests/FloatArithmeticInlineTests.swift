// The inline SSE arithmetic (fadd/fsub/fmul/fdiv/fsqrt, single and double) against the
// interpreter's SoftFloat, operand by operand: one instruction per (operation, precision,
// rounding mode) block, run on both engines from the same f registers, fflags and frm, over
// operands chosen where x86 and RISC-V could part: results at the underflow boundary (tininess
// is detected after rounding on both), subnormals, overflow, signalling and quiet NaNs (RISC-V
// returns the canonical NaN), unboxed singles, inf - inf, 0 / 0, sqrt of negatives, and
// significands near all ones whose products round across a binade.

import Machine
import Testing
import TestSupport
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator

struct FloatArithmeticInlineTests {
    typealias T = FloatAtomicDifferentialTests

    /// A random operand of `single` or double precision with exponent near `exponent`.
    static func operand(_ g: inout SeededRandom, single: Bool, exponent: Int) -> UInt64 {
        let fractionBits = single ? 23 : 52, bias = single ? 127 : 1023, maxExp = single ? 254 : 2046
        let fraction: UInt64
        switch Int.random(in: 0..<4, using: &g) {
        case 0: fraction = g.next() & ((1 << UInt64(fractionBits)) - 1)
        case 1: fraction = ((1 << UInt64(fractionBits)) - 1) - UInt64.random(in: 0...3, using: &g)
        case 2: fraction = UInt64.random(in: 0...3, using: &g)
        default: fraction = (1 << UInt64(fractionBits - 1)) | UInt64.random(in: 0...1, using: &g)
        }
        let e = UInt64(max(0, min(maxExp, exponent + bias)))
        let sign: UInt64 = Bool.random(using: &g) ? 1 << UInt64(fractionBits + (single ? 8 : 11)) : 0
        let bits = sign | e << UInt64(fractionBits) | fraction
        return single ? 0xFFFF_FFFF_0000_0000 | bits : bits
    }

    static func special(_ g: inout SeededRandom, single: Bool) -> UInt64 {
        if single {
            let v: [UInt64] = [0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7fa0_0001, 0xffc0_1234, 0, 0x8000_0000, 0x3f80_0000, 0x1]
            return Int.random(in: 0..<10, using: &g) == 0 ? g.next() : 0xFFFF_FFFF_0000_0000 | v.randomElement(using: &g)!
        }
        return T.specialDoubles.randomElement(using: &g)!
    }

    /// Runs the instruction at `pc` (and the `jal` after it) on the interpreter's board `a` and
    /// the translator's `b` after `setup` on each hart; whether their whole states agree.
    static func runBoth(_ a: VirtBoard, _ b: VirtBoard, at pc: UInt64, setup: (Hart) -> Void) -> Bool {
        for h in [a.hart, b.hart] {
            h.pc = pc
            setup(h)
        }
        _ = a.hart.run(budget: 2)
        _ = b.hart.run(budget: 2)
        return a.hart.saveState() == b.hart.saveState()
    }

    /// Counts a disagreement and records the first ten: the case, then f`result` and fflags on
    /// each engine.
    static func tally(_ agree: Bool, _ disagreements: inout Int, _ a: VirtBoard, _ b: VirtBoard, result: Int, _ what: String) {
        guard !agree else { return }
        disagreements += 1
        guard disagreements <= 10 else { return }
        Issue.record("\(what): 0x\(String(a.hart.f[result], radix: 16)) flags \(a.hart.fflags) vs 0x\(String(b.hart.f[result], radix: 16)) flags \(b.hart.fflags)")
    }

    @Test("inline SSE add, sub, mul, div and sqrt give SoftFloat's bits and flags in every rounding mode, at the edges")
    func matchesSoftFloat() throws {
        // (funct5, single): add sub mul div sqrt.
        var words: [UInt32] = []
        var kinds: [(funct5: UInt32, single: Bool, rm: UInt32)] = []
        for funct5: UInt32 in [0, 1, 2, 3, 0x0B] {
            for single in [true, false] {
                for rm: UInt32 in [0, 1, 2, 3, 4, 7] {
                    words.append(T.opFP(funct5, fmt: single ? 0 : 1, rs2: funct5 == 0x0B ? 0 : 2, rs1: 1, rm: rm, rd: 3))
                    words.append(0x0000_006f)   // jal x0, 0
                    kinds.append((funct5, single, rm))
                }
            }
        }
        let zero = [UInt64](repeating: 0, count: 32)
        let a = try T.board(words, data: [], registers: zero, f: zero, mstatusFS: 3, frm: 0, translate: false)
        let b = try T.board(words, data: [], registers: zero, f: zero, mstatusFS: 3, frm: 0, translate: true)
        var g = SeededRandom(seed: 0xA71_7E57)
        var disagreements = 0, cases = 0, underflows = 0, nans = 0
        for (k, kind) in kinds.enumerated() {
            for _ in 0..<400 {
                let maxExp = kind.single ? 127 : 1023
                let e1 = Int.random(in: -maxExp...maxExp, using: &g)
                let e2: Int
                switch kind.funct5 {
                case 2: e2 = -maxExp + 1 - e1 + Int.random(in: -2...2, using: &g)     // products near the smallest normal
                case 3: e2 = e1 + maxExp - 1 + Int.random(in: -2...2, using: &g)      // quotients there too
                default: e2 = e1 + Int.random(in: -3...3, using: &g)
                }
                var f1 = Self.operand(&g, single: kind.single, exponent: Bool.random(using: &g) ? e1 : -maxExp + Int.random(in: -1...2, using: &g))
                var f2 = Self.operand(&g, single: kind.single, exponent: e2)
                if Int.random(in: 0..<6, using: &g) == 0 { f1 = Self.special(&g, single: kind.single) }
                if Int.random(in: 0..<6, using: &g) == 0 { f2 = Self.special(&g, single: kind.single) }
                let frm = UInt8([0, 1, 2, 3, 0, 1, 2, 3, 4].randomElement(using: &g)!)
                let fflags = UInt8.random(in: 0...31, using: &g) & (Bool.random(using: &g) ? 0 : 0x1F)
                let agree = Self.runBoth(a, b, at: T.code + UInt64(8 * k)) { h in
                    h.f[1] = f1; h.f[2] = f2; h.f[3] = 0
                    h.frm = frm; h.fflags = fflags
                }
                cases += 1
                if a.hart.fflags & 2 != 0 { underflows += 1 }
                if a.hart.f[3] == 0x7ff8_0000_0000_0000 || a.hart.f[3] == 0xffff_ffff_7fc0_0000 { nans += 1 }
                Self.tally(agree, &disagreements, a, b, result: 3,
                           "funct5 \(kind.funct5) \(kind.single ? "s" : "d") rm \(kind.rm) frm \(frm): f1 0x\(String(f1, radix: 16)) f2 0x\(String(f2, radix: 16))")
            }
        }
        print("inline FP arithmetic: \(cases) cases, \(underflows) underflows, \(nans) NaN results, \(disagreements) disagreements")
        #expect(disagreements == 0)
        #expect(underflows > 500 && nans > 500, "the edges were reached")
        let s = (b.hart.engine as! TranslatingEngine).statistics
        #expect(s.translatedInstructions >= 2 * cases - 10, "the operations ran in blocks")
    }

    /// fmadd/fmsub/fnmsub/fnmadd (R4 format): f`rd` = ±(f`rs1` * f`rs2`) ± f`rs3`.
    static func fused(_ opcode: UInt32, single: Bool, rm: UInt32) -> UInt32 {
        3 << 27 | (single ? 0 : 1) << 25 | 2 << 20 | 1 << 15 | rm << 12 | 4 << 7 | opcode
    }

    @Test("inline FMA3 fmadd, fmsub, fnmsub and fnmadd give SoftFloat's bits and flags in every rounding mode, at the edges")
    func fusedMatchesSoftFloat() throws {
        var words: [UInt32] = []
        var kinds: [(opcode: UInt32, single: Bool)] = []
        for opcode: UInt32 in [0x43, 0x47, 0x4B, 0x4F] {
            for single in [true, false] {
                for rm: UInt32 in [0, 1, 2, 3, 4, 7] {
                    words.append(Self.fused(opcode, single: single, rm: rm))
                    words.append(0x0000_006f)   // jal x0, 0
                    kinds.append((opcode, single))
                }
            }
        }
        let zero = [UInt64](repeating: 0, count: 32)
        let a = try T.board(words, data: [], registers: zero, f: zero, mstatusFS: 3, frm: 0, translate: false)
        let b = try T.board(words, data: [], registers: zero, f: zero, mstatusFS: 3, frm: 0, translate: true)
        var g = SeededRandom(seed: 0xF3A_7E57)
        var disagreements = 0, cases = 0, underflows = 0, nans = 0, cancellations = 0, invalid = 0
        for (k, kind) in kinds.enumerated() {
            for _ in 0..<300 {
                let maxExp = kind.single ? 127 : 1023
                let e1 = Int.random(in: -maxExp...maxExp, using: &g)
                let e2: Int, e3: Int
                switch Int.random(in: 0..<4, using: &g) {
                case 0: e2 = -maxExp + 1 - e1 + Int.random(in: -2...2, using: &g); e3 = -maxExp + Int.random(in: 0...3, using: &g)  // near underflow
                case 1: e2 = Int.random(in: -3...3, using: &g); e3 = e1 + e2 + Int.random(in: -1...1, using: &g)                    // cancellation
                case 2: e2 = maxExp - e1 + Int.random(in: -1...1, using: &g); e3 = maxExp - Int.random(in: 0...2, using: &g)        // near overflow
                default: e2 = Int.random(in: -maxExp...maxExp, using: &g); e3 = Int.random(in: -maxExp...maxExp, using: &g)
                }
                var f1 = Self.operand(&g, single: kind.single, exponent: e1)
                var f2 = Self.operand(&g, single: kind.single, exponent: e2)
                var f3 = Self.operand(&g, single: kind.single, exponent: e3)
                if Int.random(in: 0..<8, using: &g) == 0 { f1 = Self.special(&g, single: kind.single) }
                if Int.random(in: 0..<8, using: &g) == 0 { f2 = Self.special(&g, single: kind.single) }
                if Int.random(in: 0..<8, using: &g) == 0 { f3 = Self.special(&g, single: kind.single) }
                if Int.random(in: 0..<6, using: &g) == 0 {
                    // The addend is ± the product rounded: the result is the product's rounding
                    // error (or zero), which only a fused operation gets right.
                    let product: UInt64
                    if kind.single {
                        let p = Float(bitPattern: UInt32(truncatingIfNeeded: f1)) * Float(bitPattern: UInt32(truncatingIfNeeded: f2))
                        product = 0xFFFF_FFFF_0000_0000 | UInt64(p.bitPattern)
                    } else {
                        product = (Double(bitPattern: f1) * Double(bitPattern: f2)).bitPattern
                    }
                    f3 = Bool.random(using: &g) ? product : product ^ (kind.single ? 0x8000_0000 : 1 << 63)
                    cancellations += 1
                }
                if Int.random(in: 0..<40, using: &g) == 0 {
                    // inf * 0 + qNaN: NV on RISC-V.
                    f1 = kind.single ? 0xFFFF_FFFF_7f80_0000 : 0x7ff0_0000_0000_0000
                    f2 = kind.single ? 0xFFFF_FFFF_0000_0000 : 0
                    f3 = kind.single ? 0xFFFF_FFFF_7fc0_0000 : 0x7ff8_0000_0000_0000
                }
                let frm = UInt8([0, 1, 2, 3, 0, 1, 2, 3, 4].randomElement(using: &g)!)
                let fflags = UInt8.random(in: 0...31, using: &g) & (Bool.random(using: &g) ? 0 : 0x1F)
                let agree = Self.runBoth(a, b, at: T.code + UInt64(8 * k)) { h in
                    h.f[1] = f1; h.f[2] = f2; h.f[3] = f3; h.f[4] = 0
                    h.frm = frm; h.fflags = fflags
                }
                cases += 1
                if a.hart.fflags & 2 != 0 && fflags & 2 == 0 { underflows += 1 }
                if a.hart.fflags & 0x10 != 0 && fflags & 0x10 == 0 { invalid += 1 }
                let result = a.hart.f[4]
                if result == 0x7ff8_0000_0000_0000 || result == 0xffff_ffff_7fc0_0000 { nans += 1 }
                Self.tally(agree, &disagreements, a, b, result: 4,
                           "opcode 0x\(String(kind.opcode, radix: 16)) \(kind.single ? "s" : "d") frm \(frm): f1 0x\(String(f1, radix: 16)) f2 0x\(String(f2, radix: 16)) f3 0x\(String(f3, radix: 16))")
            }
        }
        print("inline FMA: \(cases) cases, \(underflows) underflows, \(invalid) invalid, \(nans) NaN results, \(cancellations) addends cancelling the product, \(disagreements) disagreements")
        #expect(disagreements == 0)
        #expect(underflows > 100 && nans > 200 && invalid > 50 && cancellations > 1000, "the edges were reached")
        let s = (b.hart.engine as! TranslatingEngine).statistics
        #expect(s.translatedInstructions >= 2 * cases - 10, "the operations ran in blocks")
    }

    @Test("a product tiny before rounding but not after rounds to the smallest normal with NX only, on both engines", arguments: [false, true])
    func tininessAfterRounding(single: Bool) throws {
        // (1 + ulp) x the largest subnormal = smallest normal x (1 - 2^-104 / 2^-46): rounded
        // with an unbounded exponent it is the smallest normal, so RISC-V raises no UF.
        let mul = T.opFP(2, fmt: single ? 0 : 1, rs2: 2, rs1: 1, rm: 0, rd: 3)
        let (f1, f2, want): (UInt64, UInt64, UInt64) = single
            ? (0xFFFF_FFFF_3F80_0001, 0xFFFF_FFFF_007F_FFFF, 0xFFFF_FFFF_0080_0000)
            : (0x3FF0_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000)
        let zero = [UInt64](repeating: 0, count: 32)
        var f = zero
        f[1] = f1; f[2] = f2
        // A nop first: a fresh hart's first instruction runs on the interpreter (it fills the
        // fetch TLB), the block after it holds the fmul.
        let program: [UInt32] = [0x0000_0013, mul, 0x0000_006f]
        let a = try T.board(program, data: [], registers: zero, f: f, mstatusFS: 3, frm: 0, translate: false)
        let b = try T.board(program, data: [], registers: zero, f: f, mstatusFS: 3, frm: 0, translate: true)
        _ = a.hart.run(budget: 3)
        _ = b.hart.run(budget: 3)
        for h in [a.hart, b.hart] {
            #expect(h.f[3] == want)
            #expect(h.fflags == 0x01, "NX only")
        }
        let s = (b.hart.engine as! TranslatingEngine).statistics
        #expect(s.translatedInstructions == 2 && s.outOfLineExits == 0, "the fmul ran inline in a block: \(s)")
    }
}

// F and D rules one at a time: rounding of ties under each mode, tininess after rounding,
// overflow per mode, the canonical NaN, FMA's single rounding, fcvt saturation and flags,
// fmin/fmax on signed zeros and NaNs, quiet and signalling compares, fclass, and the hart
// side: decoding (compressed FP, reserved rounding modes and formats), misa, state save and
// restore of f0-f31 and fcsr, reset, and an FP loop that allocates nothing.
import CAllocationCounter
import Foundation
import Machine
import Testing
@testable import RISCV
import RISCVBoard

@Suite("F and D")
struct FloatingPointTests {
    let s = FPFormat.single, d = FPFormat.double
    static let rne = FPRounding.rne, rtz = FPRounding.rtz, rdn = FPRounding.rdn, rup = FPRounding.rup, rmm = FPRounding.rmm

    @Test("a tie rounds by mode: 1 + 2^-24 in single precision")
    func tiesByMode() {
        // 1.0f + 2^-24 lies halfway between 1.0f and its successor.
        let expected: [(UInt8, UInt64)] = [(Self.rne, 0x3F80_0000), (Self.rtz, 0x3F80_0000), (Self.rdn, 0x3F80_0000),
                                           (Self.rup, 0x3F80_0001), (Self.rmm, 0x3F80_0001)]
        for (rm, want) in expected {
            var fl: UInt8 = 0
            #expect(SoftFloat.add(0x3F80_0000, 0x3380_0000, subtract: false, s, rm, &fl) == want, "rm \(rm)")
            #expect(fl == FPFlags.nx)
            // Negated: the directed modes swap.
            var nfl: UInt8 = 0
            let neg = SoftFloat.add(0xBF80_0000, 0xB380_0000, subtract: false, s, rm, &nfl)
            let negWant: UInt64 = rm == Self.rdn ? 0xBF80_0001 : rm == Self.rup ? 0xBF80_0000 : want | 0x8000_0000
            #expect(neg == negWant, "rm \(rm) negative")
        }
        // An odd lsb: RNE rounds the tie up to even.
        var fl: UInt8 = 0
        #expect(SoftFloat.add(0x3F80_0001, 0x3380_0000, subtract: false, s, Self.rne, &fl) == 0x3F80_0002)
    }

    @Test("tininess is detected after rounding")
    func tininessAfterRounding() {
        // 2^-126 * (1 - 2^-25) as a double, to single: rounds to the smallest normal under RNE
        // (not tiny after rounding: NX only) but stays subnormal under RTZ (UF and NX).
        var fl: UInt8 = 0
        #expect(SoftFloat.convert(0x380F_FFFF_F000_0000, from: d, to: s, Self.rne, &fl) == 0x0080_0000)
        #expect(fl == FPFlags.nx)
        fl = 0
        #expect(SoftFloat.convert(0x380F_FFFF_F000_0000, from: d, to: s, Self.rtz, &fl) == 0x007F_FFFF)
        #expect(fl == FPFlags.uf | FPFlags.nx)
        // An exact subnormal result raises nothing.
        fl = 0
        #expect(SoftFloat.mul(0x0000_0002, 0x3F00_0000, s, Self.rne, &fl) == 0x0000_0001)
        #expect(fl == 0)
    }

    @Test("overflow gives infinity or the largest finite value by mode and sign")
    func overflowByMode() {
        let max: UInt64 = 0x7FEF_FFFF_FFFF_FFFF, two: UInt64 = 0x4000_0000_0000_0000
        let cases: [(UInt8, UInt64, UInt64)] = [ // rm, +max*2, -max*2
            (Self.rne, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000), (Self.rtz, max, max | d.signBit),
            (Self.rdn, max, 0xFFF0_0000_0000_0000), (Self.rup, 0x7FF0_0000_0000_0000, max | d.signBit),
            (Self.rmm, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000)]
        for (rm, pos, neg) in cases {
            var fl: UInt8 = 0
            #expect(SoftFloat.mul(max, two, d, rm, &fl) == pos, "rm \(rm)")
            #expect(fl == FPFlags.of | FPFlags.nx)
            #expect(SoftFloat.mul(max | d.signBit, two, d, rm, &fl) == neg, "rm \(rm)")
        }
    }

    @Test("NaN results are canonical; only signalling NaNs raise NV; inf - inf and 0/0 are invalid")
    func nans() {
        var fl: UInt8 = 0
        #expect(SoftFloat.add(0x7FC1_2345, 0x3F80_0000, subtract: false, s, Self.rne, &fl) == 0x7FC0_0000)
        #expect(fl == 0)
        #expect(SoftFloat.mul(0xFFF8_0000_0000_0001, 0x3FF0_0000_0000_0000, d, Self.rne, &fl) == 0x7FF8_0000_0000_0000)
        #expect(fl == 0)
        #expect(SoftFloat.add(0x7F80_0001, 0x3F80_0000, subtract: false, s, Self.rne, &fl) == 0x7FC0_0000)
        #expect(fl == FPFlags.nv)
        fl = 0
        #expect(SoftFloat.add(0x7F80_0000, 0x7F80_0000, subtract: true, s, Self.rne, &fl) == 0x7FC0_0000)
        #expect(fl == FPFlags.nv)
        fl = 0
        #expect(SoftFloat.div(0, 0, d, Self.rne, &fl) == 0x7FF8_0000_0000_0000)
        #expect(fl == FPFlags.nv)
        fl = 0
        #expect(SoftFloat.div(0x3FF0_0000_0000_0000, 0x8000_0000_0000_0000, d, Self.rne, &fl) == 0xFFF0_0000_0000_0000)
        #expect(fl == FPFlags.dz)
        fl = 0
        #expect(SoftFloat.sqrt(0x8000_0000, s, Self.rne, &fl) == 0x8000_0000) // sqrt(-0) = -0
        #expect(SoftFloat.sqrt(0xBF80_0000, s, Self.rne, &fl) == 0x7FC0_0000)
        #expect(fl == FPFlags.nv)
        // inf * 0 + qNaN is invalid too (RISC-V).
        fl = 0
        #expect(SoftFloat.fma(0x7F80_0000, 0, 0x7FC0_0000, negateProduct: false, negateAddend: false, s, Self.rne, &fl) == 0x7FC0_0000)
        #expect(fl == FPFlags.nv)
    }

    @Test("fused multiply-add rounds once")
    func fmaSingleRounding() {
        // (1 + 2^-27)^2 - (1 + 2^-26) = 2^-54 exactly; rounding the product first gives 0.
        var fl: UInt8 = 0
        let a: UInt64 = 0x3FF0_0000_0200_0000, c: UInt64 = 0x3FF0_0000_0400_0000
        #expect(SoftFloat.fma(a, a, c, negateProduct: false, negateAddend: true, d, Self.rne, &fl) == 0x3C90_0000_0000_0000)
        #expect(fl == 0)
        // fnmadd: -(a*b) - c; exact zero sums are +0, or -0 when rounding down.
        #expect(SoftFloat.fma(0x3F80_0000, 0x3F80_0000, 0xBF80_0000, negateProduct: false, negateAddend: false, s, Self.rne, &fl) == 0)
        #expect(SoftFloat.fma(0x3F80_0000, 0x3F80_0000, 0xBF80_0000, negateProduct: false, negateAddend: false, s, Self.rdn, &fl) == 0x8000_0000)
        #expect(SoftFloat.fma(0, 0, 0, negateProduct: true, negateAddend: true, s, Self.rne, &fl) == 0x8000_0000)
    }

    @Test("fcvt to integers saturates with NV and sign-extends 32-bit results")
    func conversionSaturation() {
        func cvt(_ v: UInt64, signed: Bool, width: Int, _ rm: UInt8 = FPRounding.rtz) -> (UInt64, UInt8) {
            var fl: UInt8 = 0
            let r = SoftFloat.toInteger(v, FPFormat.double, signed: signed, width: width, rm, &fl)
            return (r, fl)
        }
        let nan: UInt64 = 0x7FF8_0000_0000_0000, minusInf: UInt64 = 0xFFF0_0000_0000_0000
        #expect(cvt(nan, signed: true, width: 32) == (0x7FFF_FFFF, FPFlags.nv))
        #expect(cvt(nan, signed: false, width: 32) == (UInt64.max, FPFlags.nv))
        #expect(cvt(nan, signed: true, width: 64) == (0x7FFF_FFFF_FFFF_FFFF, FPFlags.nv))
        #expect(cvt(minusInf, signed: true, width: 32) == (0xFFFF_FFFF_8000_0000, FPFlags.nv))
        #expect(cvt(minusInf, signed: false, width: 64) == (0, FPFlags.nv))
        #expect(cvt(0xBFF0_0000_0000_0000, signed: false, width: 32) == (0, FPFlags.nv))   // -1.0 to unsigned
        #expect(cvt(0xBFD9_9999_9999_999A, signed: false, width: 32) == (0, FPFlags.nx))   // -0.4 rounds to 0
        #expect(cvt(0xBFE8_0000_0000_0000, signed: false, width: 64, FPRounding.rne) == (0, FPFlags.nv)) // -0.75 -> -1
        #expect(cvt(0x43E0_0000_0000_0000, signed: true, width: 64) == (0x7FFF_FFFF_FFFF_FFFF, FPFlags.nv)) // 2^63
        #expect(cvt(0xC3E0_0000_0000_0000, signed: true, width: 64) == (0x8000_0000_0000_0000, 0))        // -2^63
        #expect(cvt(0x41EF_FFFF_FFE0_0000, signed: false, width: 32) == (UInt64.max, 0))                  // 2^32-1
        #expect(cvt(0x41F0_0000_0000_0000, signed: false, width: 32) == (UInt64.max, FPFlags.nv))         // 2^32
        #expect(cvt(0x4004_0000_0000_0000, signed: true, width: 32, FPRounding.rne) == (2, FPFlags.nx))   // 2.5
        #expect(cvt(0x4004_0000_0000_0000, signed: true, width: 32, FPRounding.rmm) == (3, FPFlags.nx))
        #expect(cvt(0x4330_0000_0000_0001, signed: true, width: 64, FPRounding.rne) == (0x10_0000_0000_0001, 0)) // exact
        // Integers to floats round too: 2^24 + 1 is a tie in single precision.
        var fl: UInt8 = 0
        #expect(SoftFloat.fromInteger(magnitude: 0x100_0001, negative: false, s, Self.rne, &fl) == 0x4B80_0000)
        #expect(SoftFloat.fromInteger(magnitude: 0x100_0001, negative: false, s, Self.rup, &fl) == 0x4B80_0001)
        #expect(fl == FPFlags.nx)
    }

    @Test("fmin/fmax: -0 < +0, a NaN yields the other operand, two NaNs the canonical NaN, sNaN raises NV")
    func minMax() {
        var fl: UInt8 = 0
        #expect(SoftFloat.minMax(0, 0x8000_0000, max: false, s, &fl) == 0x8000_0000)
        #expect(SoftFloat.minMax(0x8000_0000, 0, max: false, s, &fl) == 0x8000_0000)
        #expect(SoftFloat.minMax(0x8000_0000, 0, max: true, s, &fl) == 0)
        #expect(SoftFloat.minMax(0x7FC0_0000, 0x3F80_0000, max: false, s, &fl) == 0x3F80_0000)
        #expect(fl == 0)
        #expect(SoftFloat.minMax(0x3F80_0000, 0x7F80_0001, max: true, s, &fl) == 0x3F80_0000)
        #expect(fl == FPFlags.nv)
        #expect(SoftFloat.minMax(0x7FF4_0000_0000_0000, 0xFFF8_0000_0000_0001, max: true, d, &fl) == 0x7FF8_0000_0000_0000)
    }

    @Test("feq is quiet, flt and fle signal on any NaN; zeros compare equal")
    func compares() {
        var fl: UInt8 = 0
        #expect(SoftFloat.compare(0x7FC0_0000, 0x3F80_0000, .eq, s, &fl) == 0)
        #expect(fl == 0)
        #expect(SoftFloat.compare(0x7FC0_0000, 0x3F80_0000, .lt, s, &fl) == 0)
        #expect(fl == FPFlags.nv)
        fl = 0
        #expect(SoftFloat.compare(0x7F80_0001, 0x3F80_0000, .eq, s, &fl) == 0)
        #expect(fl == FPFlags.nv)
        fl = 0
        #expect(SoftFloat.compare(0x8000_0000, 0, .eq, s, &fl) == 1)
        #expect(SoftFloat.compare(0x8000_0000, 0, .lt, s, &fl) == 0)
        #expect(SoftFloat.compare(0x8000_0000, 0, .le, s, &fl) == 1)
        #expect(SoftFloat.compare(0xBF80_0000, 0x3F80_0000, .lt, s, &fl) == 1)
        #expect(fl == 0)
    }

    @Test("fclass sets one bit per class")
    func classify() {
        let cases: [(UInt64, UInt64)] = [
            (0xFFF0_0000_0000_0000, 1 << 0), (0xBFF0_0000_0000_0000, 1 << 1), (0x8000_0000_0000_0001, 1 << 2),
            (0x8000_0000_0000_0000, 1 << 3), (0, 1 << 4), (1, 1 << 5), (0x3FF0_0000_0000_0000, 1 << 6),
            (0x7FF0_0000_0000_0000, 1 << 7), (0x7FF0_0000_0000_0001, 1 << 8), (0x7FF8_0000_0000_0000, 1 << 9)]
        for (v, c) in cases { #expect(SoftFloat.classify(v, d) == c, "0x\(String(v, radix: 16))") }
    }

    @Test("decoding: compressed FP loads and stores, reserved rounding modes and formats")
    func decoding() {
        let cfld = Decoder.decode(0x2000) // c.fld f8, 0(s0)
        #expect(cfld.op == .fld && cfld.rd == 8 && cfld.rs1 == 8 && cfld.length == 2)
        let cfsdsp = Decoder.decode(0xA426) // c.fsdsp f9, 8(sp)
        #expect(cfsdsp.op == .fsd && cfsdsp.rs1 == 2 && cfsdsp.rs2 == 9 && Int32(truncatingIfNeeded: cfsdsp.imm) == 8)
        let cfldsp = Decoder.decode(0x2522) // c.fldsp f10, 8(sp)
        #expect(cfldsp.op == .fld && cfldsp.rd == 10 && Int32(truncatingIfNeeded: cfldsp.imm) == 8)
        let cfsd = Decoder.decode(0xA80C) // c.fsd f11, 16(s0)
        #expect(cfsd.op == .fsd && cfsd.rs1 == 8 && cfsd.rs2 == 11 && Int32(truncatingIfNeeded: cfsd.imm) == 16)
        // fadd.s with rm 5 and 6 is illegal; with 7 (DYN) it decodes and frm decides at run time.
        #expect(Decoder.decode(0x0020_D053).op == .illegal)
        #expect(Decoder.decode(0x0020_E053).op == .illegal)
        #expect(Decoder.decode(0x0020_F053).op == .fpu)
        // fsgnj uses funct3 as its operation: 3 is no instruction; formats 2 (H) and 3 (Q) are not implemented.
        #expect(Decoder.decode(0x2020_3053).op == .illegal)
        #expect(Decoder.decode(0x0420_7053).op == .illegal)
        #expect(Decoder.decode(0x0620_7043).op == .illegal)
        // flw a negative offset; the encoding travels in the immediate for mtval.
        let flw = Decoder.decode(0xFFC4_2087) // flw f1, -4(s0)
        #expect(flw.op == .flw && Int32(truncatingIfNeeded: flw.imm) == -4 && UInt64(bitPattern: flw.imm) >> 32 == 0xFFC4_2087)
    }

    @Test("misa reports F and D")
    func misa() {
        #expect(Hart.misa & (1 << 5) != 0 && Hart.misa & (1 << 3) != 0)
        #expect(Hart.misa == 0x8000_0000_0014_112D)
    }

    @Test("f0-f31 and fcsr survive save and restore (through JSON); reset clears them; bad states are refused")
    func stateRoundTrip() throws {
        let a = try VirtBoard(memoryMiB: 16) { _ in }
        for i in 0..<32 { a.hart.f[i] = 0xFFFF_FFFF_0000_0000 | UInt64(i) &* 0x0101_0101 }
        a.hart.fflags = 0x15; a.hart.frm = 4
        let json = try JSONEncoder().encode(a.hart.saveState())
        let b = try VirtBoard(memoryMiB: 16) { _ in }
        try b.hart.restoreState(JSONDecoder().decode(HartState.self, from: json))
        for i in 0..<32 { #expect(b.hart.f[i] == a.hart.f[i]) }
        #expect(b.hart.fflags == 0x15 && b.hart.frm == 4)
        #expect(b.hart.readCSR(CSR.fcsr) == nil) // FS is Off: fcsr is not accessible
        #expect(b.hart.saveState().fcsr == 0x95)
        // The board's binary state form, which live migration sends, carries them too.
        let c = try VirtBoard(memoryMiB: 16) { _ in }
        try c.restoreState(try a.saveState())
        for i in 0..<32 { #expect(c.hart.f[i] == a.hart.f[i]) }
        #expect(c.hart.fflags == 0x15 && c.hart.frm == 4)
        b.hart.reset()
        #expect((0..<32).allSatisfy { b.hart.f[$0] == 0 } && b.hart.fflags == 0 && b.hart.frm == 0)
        var bad = HartState()
        bad.f = [1, 2]
        #expect(throws: HartError.self) { try b.hart.restoreState(bad) }
        bad = HartState()
        bad.fcsr = 0x100
        #expect(throws: HartError.self) { try b.hart.restoreState(bad) }
    }

    static func opFP(_ f7: UInt32, rs2: UInt32, rs1: UInt32, rm: UInt32, rd: UInt32) -> UInt32 {
        (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53
    }

    @Test("an FP loop (arithmetic, FMA, conversions, loads, stores, fcsr) allocates nothing per instruction")
    func fpLoopDoesNotAllocate() throws {
        try #require(sb_allocation_counter_active() == 1, "allocation counter not interposed")
        let words: [UInt32] = [
            0x0000_22B7,                                        // lui t0, 2 (FS = Initial)
            0x3002_A073,                                        // csrs mstatus, t0
            0x8010_0437, 0x0204_1413, 0x0204_5413,              // s0 = 0x8010_0000
            0x0030_0513,                                        // li a0, 3
            Self.opFP(0x69, rs2: 2, rs1: 10, rm: 0, rd: 2),     // fcvt.d.l f2, a0
            Self.opFP(0x79, rs2: 0, rs1: 0, rm: 0, rd: 1),      // fmv.d.x f1, zero
            // loop:
            Self.opFP(0x01, rs2: 2, rs1: 1, rm: 7, rd: 1),      // fadd.d f1, f1, f2, dyn
            Self.opFP(0x09, rs2: 2, rs1: 1, rm: 0, rd: 3),      // fmul.d f3, f1, f2
            Self.opFP(0x0D, rs2: 2, rs1: 3, rm: 1, rd: 4),      // fdiv.d f4, f3, f2, rtz
            Self.opFP(0x2D, rs2: 0, rs1: 4, rm: 4, rd: 5),      // fsqrt.d f5, f4, rmm
            (3 << 27) | (1 << 25) | (2 << 20) | (1 << 15) | (0 << 12) | (6 << 7) | 0x43, // fmadd.d f6, f1, f2, f3
            Self.opFP(0x61, rs2: 0, rs1: 6, rm: 1, rd: 11),     // fcvt.w.d a1, f6, rtz
            Self.opFP(0x20, rs2: 1, rs1: 5, rm: 0, rd: 7),      // fcvt.s.d f7, f5
            0x0064_3027,                                        // fsd f6, 0(s0)
            0x0004_3407,                                        // fld f8, 0(s0)
            0x0074_2427,                                        // fsw f7, 8(s0)
            0x0084_2487,                                        // flw f9, 8(s0)
            0x0010_1073,                                        // fsflags zero (csrw fflags, zero)
            0xFD1F_F06F,                                        // j loop (-48)
        ]
        let board = try VirtBoard(memoryMiB: 16) { _ in }
        try board.boot(firmware: .none, kernel: GuestELF.image(words))
        #expect(board.hart.run(budget: 200_000) == .continue) // warm-up
        var quietest = UInt64.max
        for _ in 0..<50 {
            let before = sb_thread_allocation_count()
            _ = board.hart.run(budget: 20_000)
            quietest = min(quietest, sb_thread_allocation_count() - before)
        }
        #expect(quietest == 0, "\(quietest) allocations in the quietest 20 k FP-heavy instructions")
        // The loop really ran its FP instructions: f1 counts up in threes, f8 == f6, FS Dirty.
        let f1 = Double(bitPattern: board.hart.f[1])
        #expect(f1 > 1000 && f1.truncatingRemainder(dividingBy: 3) == 0)
        #expect(board.hart.f[8] == board.hart.f[6])
        #expect(board.hart.f[9] == board.hart.f[7])
        #expect(board.hart.mstatus & CSRBits.fs == CSRBits.fsDirty && board.hart.mstatus & CSRBits.sd != 0)
        #expect(board.hart.stats[.exception] == 0)
    }
}

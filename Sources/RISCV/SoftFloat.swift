// SoftFloat: IEEE 754 binary32/binary64 arithmetic in software, as the RISC-V F and D
// extensions define it: five rounding modes (RMM included, which x86 lacks), the five
// exception flags, tininess detected after rounding, the canonical NaN for every arithmetic
// NaN result, fused multiply-add with one rounding and fcvt's saturating integer
// conversions. Every operation computes an exact (or exactly-sticky) significand in a
// UInt128 and rounds it once in `roundPack`. Pure functions on bit patterns; no allocation.

/// The floating-point formats of F and D.
public struct FPFormat: Sendable {
    /// Fraction bits (23 or 52).
    public let fracBits: Int
    /// Exponent bits (8 or 11).
    public let expBits: Int

    /// binary32.
    public static let single = FPFormat(fracBits: 23, expBits: 8)
    /// binary64.
    public static let double = FPFormat(fracBits: 52, expBits: 11)

    @inline(__always) var bias: Int { (1 << (expBits - 1)) - 1 }
    /// The all-ones exponent field (infinities and NaNs).
    @inline(__always) var expMax: Int { (1 << expBits) - 1 }
    @inline(__always) var signBit: UInt64 { 1 << UInt64(fracBits + expBits) }
    @inline(__always) var fracMask: UInt64 { (1 << UInt64(fracBits)) - 1 }
    @inline(__always) var quietBit: UInt64 { 1 << UInt64(fracBits - 1) }
    @inline(__always) var infinity: UInt64 { UInt64(expMax) << UInt64(fracBits) }
    /// The canonical NaN (0x7fc00000, 0x7ff8000000000000).
    @inline(__always) public var canonicalNaN: UInt64 { infinity | quietBit }
    /// The biased exponent field of `a`.
    @inline(__always) func exponentField(_ a: UInt64) -> Int { Int((a >> UInt64(fracBits)) & UInt64(expMax)) }
}

/// fflags bits.
public enum FPFlags {
    /// Inexact.
    public static let nx: UInt8 = 1
    /// Underflow.
    public static let uf: UInt8 = 2
    /// Overflow.
    public static let of: UInt8 = 4
    /// Divide by zero.
    public static let dz: UInt8 = 8
    /// Invalid operation.
    public static let nv: UInt8 = 16
}

/// Rounding modes in their RISC-V encoding (7, dynamic, is resolved before these functions).
public enum FPRounding {
    /// Round to nearest, ties to even.
    public static let rne: UInt8 = 0
    /// Round towards zero.
    public static let rtz: UInt8 = 1
    /// Round down (towards -inf).
    public static let rdn: UInt8 = 2
    /// Round up (towards +inf).
    public static let rup: UInt8 = 3
    /// Round to nearest, ties to max magnitude.
    public static let rmm: UInt8 = 4
}

/// IEEE 754 operations on raw bit patterns of a format (a single's 32 bits in the low half).
public enum SoftFloat {
    // MARK: classification

    @inline(__always) static func isNaN(_ a: UInt64, _ f: FPFormat) -> Bool {
        f.exponentField(a) == f.expMax && a & f.fracMask != 0
    }
    @inline(__always) static func isSignalling(_ a: UInt64, _ f: FPFormat) -> Bool {
        isNaN(a, f) && a & f.quietBit == 0
    }
    @inline(__always) static func isInf(_ a: UInt64, _ f: FPFormat) -> Bool {
        f.exponentField(a) == f.expMax && a & f.fracMask == 0
    }
    @inline(__always) static func isZero(_ a: UInt64, _ f: FPFormat) -> Bool { a & ~f.signBit == 0 }
    @inline(__always) static func sign(_ a: UInt64, _ f: FPFormat) -> Bool { a & f.signBit != 0 }

    /// A finite nonzero value as sig * 2^exp, sig normalized to its leading bit at fracBits.
    @inline(__always) static func unpack(_ a: UInt64, _ f: FPFormat) -> (exp: Int, sig: UInt64) {
        let e = f.exponentField(a)
        let frac = a & f.fracMask
        if e != 0 { return (e - f.bias - f.fracBits, frac | (1 << UInt64(f.fracBits))) }
        // Subnormal: normalize.
        let shift = frac.leadingZeroBitCount - (63 - f.fracBits)
        return (1 - f.bias - f.fracBits - shift, frac << UInt64(shift))
    }

    // MARK: rounding

    /// Whether to add one ulp: `lsb` the kept value's low bit, `rem` the dropped bits, `half`
    /// the weight of half an ulp in `rem`'s scale.
    @inline(__always) static func roundsUp(lsb: UInt64, rem: UInt64, half: UInt64, rm: UInt8, negative: Bool) -> Bool {
        switch rm {
        case FPRounding.rne: return rem > half || (rem == half && lsb & 1 != 0)
        case FPRounding.rtz: return false
        case FPRounding.rdn: return rem != 0 && negative
        case FPRounding.rup: return rem != 0 && !negative
        default: return rem >= half
        }
    }

    /// Rounds the exact nonzero value (-1)^negative * mag * 2^exp to format `f` (mag's bit 0
    /// may be a sticky bit standing for anything below it). Raises OF, UF (tiny after
    /// rounding, and inexact), NX.
    static func roundPack(_ negative: Bool, _ exp: Int, _ mag: UInt128, _ f: FPFormat, _ rm: UInt8,
                          _ flags: inout UInt8) -> UInt64 {
        // Normalize to a 64-bit significand with its leading bit at 62 and a sticky bit 0.
        let top = 127 - mag.leadingZeroBitCount
        var sig: UInt64
        if top > 62 {
            let s = top - 62
            let dropped = mag & ((UInt128(1) << UInt128(s)) - 1)
            sig = UInt64(truncatingIfNeeded: mag >> UInt128(s)) | (dropped != 0 ? 1 : 0)
        } else {
            sig = UInt64(truncatingIfNeeded: mag) << UInt64(62 - top)
        }
        let e = exp + top // value = 1.xxx * 2^e
        let biased = e + f.bias
        var shift = 62 - f.fracBits
        let signBits: UInt64 = negative ? f.signBit : 0
        var tiny = false
        if biased <= 0 {
            // Tininess after rounding: tiny unless rounding to the format's precision with an
            // unbounded exponent would carry up to the smallest normal.
            if biased == 0 {
                let q = sig >> UInt64(shift), rem = sig & ((1 << UInt64(shift)) - 1)
                let carries = q == (1 << UInt64(f.fracBits + 1)) - 1
                    && roundsUp(lsb: q, rem: rem, half: 1 << UInt64(shift - 1), rm: rm, negative: negative)
                tiny = !carries
            } else {
                tiny = true
            }
            shift += 1 - biased
            if shift > 63 { sig = 1; shift = 63 }
        }
        let rem = sig & ((1 << UInt64(shift)) - 1)
        var q = sig >> UInt64(shift)
        if roundsUp(lsb: q, rem: rem, half: 1 << UInt64(shift - 1), rm: rm, negative: negative) { q += 1 }
        if rem != 0 { flags |= FPFlags.nx }
        if biased <= 0 {
            if tiny && rem != 0 { flags |= FPFlags.uf }
            return signBits | q // a carry into the hidden bit makes the smallest normal
        }
        let bits = (UInt64(biased - 1) << UInt64(f.fracBits)) &+ q
        if biased >= f.expMax || bits >> UInt64(f.fracBits) >= UInt64(f.expMax) {
            flags |= FPFlags.of | FPFlags.nx
            let toInfinity: Bool
            switch rm {
            case FPRounding.rtz: toInfinity = false
            case FPRounding.rdn: toInfinity = negative
            case FPRounding.rup: toInfinity = !negative
            default: toInfinity = true
            }
            return signBits | (toInfinity ? f.infinity : f.infinity - 1)
        }
        return signBits | bits
    }

    /// The sign of an exact zero sum of operands of different signs.
    @inline(__always) static func zeroSum(_ rm: UInt8, _ f: FPFormat) -> UInt64 { rm == FPRounding.rdn ? f.signBit : 0 }

    /// Shifts right, keeping whether anything nonzero was shifted out in bit 0.
    @inline(__always) static func shiftRightJam(_ v: UInt128, _ n: Int) -> UInt128 {
        if n <= 0 { return v }
        if n >= 127 { return v != 0 ? 1 : 0 }
        let dropped = v & ((UInt128(1) << UInt128(n)) - 1)
        return (v >> UInt128(n)) | (dropped != 0 ? 1 : 0)
    }

    // MARK: arithmetic

    /// a + b (b's sign flipped when `subtract`).
    public static func add(_ a: UInt64, _ b0: UInt64, subtract: Bool, _ f: FPFormat, _ rm: UInt8,
                           _ flags: inout UInt8) -> UInt64 {
        let b = subtract ? b0 ^ f.signBit : b0
        if isNaN(a, f) || isNaN(b, f) {
            if isSignalling(a, f) || isSignalling(b, f) { flags |= FPFlags.nv }
            return f.canonicalNaN
        }
        let sa = sign(a, f), sb = sign(b, f)
        if isInf(a, f) {
            if isInf(b, f) && sa != sb { flags |= FPFlags.nv; return f.canonicalNaN }
            return a
        }
        if isInf(b, f) { return b }
        if isZero(a, f) && isZero(b, f) { return sa == sb ? a : zeroSum(rm, f) }
        if isZero(a, f) { return b }
        if isZero(b, f) { return a }
        var (ea, ma) = unpack(a, f), (eb, mb) = unpack(b, f)
        var la = sa, lb = sb
        if ea < eb || (ea == eb && ma < mb) { swap(&ea, &eb); swap(&ma, &mb); swap(&la, &lb) }
        // |a| >= |b|: align b to a, 66 spare bits below (exact unless b is far smaller).
        let wa = UInt128(ma) << 66
        let wb = shiftRightJam(UInt128(mb) << 66, ea - eb)
        if la == lb { return roundPack(la, ea - 66, wa + wb, f, rm, &flags) }
        let diff = wa - wb
        if diff == 0 { return zeroSum(rm, f) }
        return roundPack(la, ea - 66, diff, f, rm, &flags)
    }

    /// a * b.
    public static func mul(_ a: UInt64, _ b: UInt64, _ f: FPFormat, _ rm: UInt8, _ flags: inout UInt8) -> UInt64 {
        if isNaN(a, f) || isNaN(b, f) {
            if isSignalling(a, f) || isSignalling(b, f) { flags |= FPFlags.nv }
            return f.canonicalNaN
        }
        let s = sign(a, f) != sign(b, f)
        let signBits = s ? f.signBit : 0
        if isInf(a, f) || isInf(b, f) {
            if isZero(a, f) || isZero(b, f) { flags |= FPFlags.nv; return f.canonicalNaN }
            return signBits | f.infinity
        }
        if isZero(a, f) || isZero(b, f) { return signBits }
        let (ea, ma) = unpack(a, f), (eb, mb) = unpack(b, f)
        return roundPack(s, ea + eb, UInt128(ma) * UInt128(mb), f, rm, &flags)
    }

    /// a / b.
    public static func div(_ a: UInt64, _ b: UInt64, _ f: FPFormat, _ rm: UInt8, _ flags: inout UInt8) -> UInt64 {
        if isNaN(a, f) || isNaN(b, f) {
            if isSignalling(a, f) || isSignalling(b, f) { flags |= FPFlags.nv }
            return f.canonicalNaN
        }
        let s = sign(a, f) != sign(b, f)
        let signBits = s ? f.signBit : 0
        if isInf(a, f) {
            if isInf(b, f) { flags |= FPFlags.nv; return f.canonicalNaN }
            return signBits | f.infinity
        }
        if isInf(b, f) { return signBits }
        if isZero(b, f) {
            if isZero(a, f) { flags |= FPFlags.nv; return f.canonicalNaN }
            flags |= FPFlags.dz
            return signBits | f.infinity
        }
        if isZero(a, f) { return signBits }
        let (ea, ma) = unpack(a, f), (eb, mb) = unpack(b, f)
        // Both significands have their leading bit at fracBits: the quotient has >= 73 bits.
        let n = UInt128(ma) << 74
        let q = n / UInt128(mb), r = n % UInt128(mb)
        return roundPack(s, ea - eb - 74, q | (r != 0 ? 1 : 0), f, rm, &flags)
    }

    /// The integer square root of `m` (floor).
    static func isqrt(_ m: UInt128) -> UInt128 {
        if m == 0 { return 0 }
        let hi = UInt64(truncatingIfNeeded: m >> 64), lo = UInt64(truncatingIfNeeded: m)
        let approx = (Double(hi) * 18446744073709551616.0 + Double(lo)).squareRoot()
        var r = approx >= 1.8446744073709552e19 ? UInt128(UInt64.max) : UInt128(max(UInt64(approx), 1))
        // Newton from a close estimate converges in one or two steps; then settle exactly.
        for _ in 0..<2 { r = (r + m / r) >> 1 }
        while r * r > m { r -= 1 }
        while (r + 1) * (r + 1) <= m { r += 1 }
        return r
    }

    /// The square root of a.
    public static func sqrt(_ a: UInt64, _ f: FPFormat, _ rm: UInt8, _ flags: inout UInt8) -> UInt64 {
        if isNaN(a, f) {
            if isSignalling(a, f) { flags |= FPFlags.nv }
            return f.canonicalNaN
        }
        if isZero(a, f) { return a }
        if sign(a, f) { flags |= FPFlags.nv; return f.canonicalNaN }
        if isInf(a, f) { return a }
        var (e, m) = unpack(a, f)
        if e & 1 != 0 { m <<= 1; e -= 1 }
        let wide = UInt128(m) << 72
        let r = isqrt(wide)
        let exact = r * r == wide
        return roundPack(false, (e - 72) / 2, r | (exact ? 0 : 1), f, rm, &flags)
    }

    /// (a * b) + c with one rounding; the product's sign flipped when `negateProduct`, c's
    /// when `negateAddend` (fmsub, fnmsub, fnmadd).
    public static func fma(_ a: UInt64, _ b: UInt64, _ c0: UInt64, negateProduct: Bool, negateAddend: Bool,
                           _ f: FPFormat, _ rm: UInt8, _ flags: inout UInt8) -> UInt64 {
        let infZero = (isInf(a, f) && isZero(b, f)) || (isZero(a, f) && isInf(b, f))
        if isNaN(a, f) || isNaN(b, f) || isNaN(c0, f) {
            // RISC-V: inf * 0 is invalid even when the addend is a quiet NaN.
            if isSignalling(a, f) || isSignalling(b, f) || isSignalling(c0, f) || infZero { flags |= FPFlags.nv }
            return f.canonicalNaN
        }
        if infZero { flags |= FPFlags.nv; return f.canonicalNaN }
        let c = negateAddend ? c0 ^ f.signBit : c0
        let sp = (sign(a, f) != sign(b, f)) != negateProduct, sc = sign(c, f)
        let pSign: UInt64 = sp ? f.signBit : 0
        if isInf(a, f) || isInf(b, f) {
            if isInf(c, f) && sc != sp { flags |= FPFlags.nv; return f.canonicalNaN }
            return pSign | f.infinity
        }
        if isInf(c, f) { return c }
        if isZero(a, f) || isZero(b, f) {
            if isZero(c, f) { return sp == sc ? pSign : zeroSum(rm, f) }
            return c
        }
        let (ea, ma) = unpack(a, f), (eb, mb) = unpack(b, f)
        var p = UInt128(ma) * UInt128(mb)
        var ep = ea + eb
        if isZero(c, f) { return roundPack(sp, ep, p, f, rm, &flags) }
        let (ec0, mc) = unpack(c, f)
        var ec = ec0
        // Both with their leading bit at 125; the smaller one shifted right, sticky kept.
        let sp1 = 125 - (127 - p.leadingZeroBitCount)
        p <<= UInt128(sp1); ep -= sp1
        var cw = UInt128(mc) << UInt128(125 - f.fracBits); ec -= 125 - f.fracBits
        var e = ep
        if ep >= ec { cw = shiftRightJam(cw, ep - ec) } else { p = shiftRightJam(p, ec - ep); e = ec }
        if sp == sc { return roundPack(sp, e, p + cw, f, rm, &flags) }
        if p == cw { return zeroSum(rm, f) }
        return p > cw ? roundPack(sp, e, p - cw, f, rm, &flags) : roundPack(sc, e, cw - p, f, rm, &flags)
    }

    // MARK: conversions

    /// Converts between the formats (single <-> double); NaNs become the canonical NaN.
    public static func convert(_ a: UInt64, from: FPFormat, to: FPFormat, _ rm: UInt8, _ flags: inout UInt8) -> UInt64 {
        if isNaN(a, from) {
            if isSignalling(a, from) { flags |= FPFlags.nv }
            return to.canonicalNaN
        }
        let s = sign(a, from)
        let signBits: UInt64 = s ? to.signBit : 0
        if isInf(a, from) { return signBits | to.infinity }
        if isZero(a, from) { return signBits }
        let (e, m) = unpack(a, from)
        return roundPack(s, e, UInt128(m), to, rm, &flags)
    }

    /// An integer (magnitude and sign) to a format.
    public static func fromInteger(magnitude: UInt64, negative: Bool, _ f: FPFormat, _ rm: UInt8,
                                   _ flags: inout UInt8) -> UInt64 {
        if magnitude == 0 { return 0 }
        return roundPack(negative, 0, UInt128(magnitude), f, rm, &flags)
    }

    /// To an integer of `width` bits (32 or 64), signed or not, with RISC-V saturation: NaN and
    /// too-large values give the largest, too-small ones the smallest, and raise NV (not NX).
    /// A 32-bit result is sign-extended to 64 bits (also for the unsigned conversions).
    public static func toInteger(_ a: UInt64, _ f: FPFormat, signed: Bool, width: Int, _ rm: UInt8,
                                 _ flags: inout UInt8) -> UInt64 {
        let maxU: UInt64 = width == 64 ? .max : (1 << UInt64(width)) - 1
        let maxS: UInt64 = (1 << UInt64(width - 1)) - 1
        let largest = signed ? maxS : maxU
        let negative = sign(a, f)
        func finish(_ v: UInt64) -> UInt64 {
            width == 32 ? UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v))) : v
        }
        // Saturated values: the most negative (signed) or 0 (unsigned) below, `largest` above.
        let smallest: UInt64 = signed ? 0 &- (maxS &+ 1) : 0
        if isNaN(a, f) { flags |= FPFlags.nv; return finish(largest) }
        if isInf(a, f) { flags |= FPFlags.nv; return finish(negative ? smallest : largest) }
        if isZero(a, f) { return 0 }
        let (e, m) = unpack(a, f)
        var q: UInt64, rem: UInt64 = 0, half: UInt64 = 0, below = false
        if e >= 0 {
            if e + f.fracBits >= 64 { // at least 2^64
                flags |= FPFlags.nv; return finish(negative ? smallest : largest)
            }
            q = m << UInt64(e)
        } else if -e < 64 {
            let s = UInt64(-e)
            q = m >> s
            rem = m & ((1 << s) - 1)
            half = 1 << (s - 1)
        } else {
            // |a| < 2^-11: nonzero, below half.
            q = 0; below = true
        }
        let inexact = below || rem != 0
        let up = below ? roundsUp(lsb: 0, rem: 1, half: 2, rm: rm, negative: negative)
                       : rem != 0 && roundsUp(lsb: q, rem: rem, half: half, rm: rm, negative: negative)
        if up {
            if q == .max { flags |= FPFlags.nv; return finish(negative ? smallest : largest) }
            q += 1
        }
        if q == 0 {
            if inexact { flags |= FPFlags.nx }
            return 0
        }
        let fits: Bool
        if negative { fits = signed && q <= maxS &+ 1 } else { fits = q <= largest }
        guard fits else { flags |= FPFlags.nv; return finish(negative ? smallest : largest) }
        if inexact { flags |= FPFlags.nx }
        return finish(negative ? 0 &- q : q)
    }

    // MARK: non-arithmetic

    /// A key that orders non-NaN values numerically (-0 below +0).
    @inline(__always) static func orderKey(_ a: UInt64, _ f: FPFormat) -> UInt64 {
        let wide = a << UInt64(63 - f.fracBits - f.expBits) // sign to bit 63
        return wide >> 63 != 0 ? ~wide : wide | (1 << 63)
    }

    /// fmin/fmax (IEEE 754-2019 minimumNumber/maximumNumber): -0 < +0, a NaN operand yields the
    /// other, two NaNs the canonical NaN; a signalling NaN raises NV.
    public static func minMax(_ a: UInt64, _ b: UInt64, max wantMax: Bool, _ f: FPFormat, _ flags: inout UInt8) -> UInt64 {
        if isSignalling(a, f) || isSignalling(b, f) { flags |= FPFlags.nv }
        let na = isNaN(a, f), nb = isNaN(b, f)
        if na && nb { return f.canonicalNaN }
        if na { return b }
        if nb { return a }
        let aLess = orderKey(a, f) < orderKey(b, f)
        return aLess != wantMax ? a : b
    }

    /// feq (quiet: NV only for signalling NaNs), flt and fle (signalling: NV for any NaN).
    public static func compare(_ a: UInt64, _ b: UInt64, _ kind: FPCompare, _ f: FPFormat, _ flags: inout UInt8) -> UInt64 {
        if isNaN(a, f) || isNaN(b, f) {
            if kind != .eq || isSignalling(a, f) || isSignalling(b, f) { flags |= FPFlags.nv }
            return 0
        }
        // Both zeros compare equal whatever their signs.
        let ka = isZero(a, f) ? orderKey(0, f) : orderKey(a, f)
        let kb = isZero(b, f) ? orderKey(0, f) : orderKey(b, f)
        switch kind {
        case .eq: return ka == kb ? 1 : 0
        case .lt: return ka < kb ? 1 : 0
        case .le: return ka <= kb ? 1 : 0
        }
    }

    /// fclass: one bit of ten (-inf, -normal, -subnormal, -0, +0, +subnormal, +normal, +inf,
    /// signalling NaN, quiet NaN).
    public static func classify(_ a: UInt64, _ f: FPFormat) -> UInt64 {
        let s = sign(a, f)
        if isNaN(a, f) { return isSignalling(a, f) ? 1 << 8 : 1 << 9 }
        if isInf(a, f) { return s ? 1 << 0 : 1 << 7 }
        if isZero(a, f) { return s ? 1 << 3 : 1 << 4 }
        if f.exponentField(a) == 0 { return s ? 1 << 2 : 1 << 5 }
        return s ? 1 << 1 : 1 << 6
    }
}

/// The three comparisons.
public enum FPCompare: Sendable {
    /// feq (quiet).
    case eq
    /// flt (signalling).
    case lt
    /// fle (signalling).
    case le
}

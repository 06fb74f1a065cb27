// Assembler+SSE: the SSE2 instructions scalar floating point needs: moves between general and
// XMM registers, the scalar arithmetic of both precisions and MXCSR loads and stores (rounding
// mode and exception flags). Legacy prefixes (66, F2, F3) come before REX, as the CPU requires.

/// A scalar SSE arithmetic operation (its opcode after 0F).
public enum ScalarOperation: UInt8, CaseIterable, Sendable {
    case sqrt = 0x51, add = 0x58, mul = 0x59, sub = 0x5C, div = 0x5E
}

/// A scalar fused multiply-add of the FMA3 extension in its 231 form (the destination is the
/// addend): its opcode after VEX.66.0F38.
public enum FusedOperation: UInt8, CaseIterable, Sendable {
    /// dst = a * b + dst
    case multiplyAdd = 0xB9
    /// dst = a * b - dst
    case multiplySubtract = 0xBB
    /// dst = -(a * b) + dst
    case negatedMultiplyAdd = 0xBD
    /// dst = -(a * b) - dst
    case negatedMultiplySubtract = 0xBF
}

extension Assembler {
    /// `vfmadd231sd`/`vfmsub231sd`/`vfnmadd231sd`/`vfnmsub231sd dst, a, b` (`double`), or the
    /// `ss` forms: one rounding, as RISC-V's fused instructions. VEX-encoded (three-byte form):
    /// the CPU must have FMA3 (the translator asks CPUID first).
    public mutating func fused(_ op: FusedOperation, double: Bool, _ dst: XMMRegister, _ a: XMMRegister, _ b: XMMRegister) {
        byte(0xC4)
        // R X B inverted, map 0F38 (00010).
        byte((~dst.rawValue >> 3 & 1) << 7 | 1 << 6 | (~b.rawValue >> 3 & 1) << 5 | 0x02)
        // W (double), vvvv = a inverted, L = 0 (scalar), pp = 01 (66).
        byte((double ? 0x80 : 0) | (~a.rawValue & 0xF) << 3 | 0x01)
        byte(op.rawValue)
        byte(0xC0 | (dst.rawValue & 7) << 3 | (b.rawValue & 7))
    }

    /// `movq xmm, r64`.
    public mutating func movq(_ dst: XMMRegister, _ src: Register) {
        byte(0x66)
        rex(w: true, reg: dst.rawValue, base: src.rawValue)
        byte(0x0F); byte(0x6E)
        modRM(reg: dst.rawValue, rm: src)
    }

    /// `movq r64, xmm`.
    public mutating func movq(_ dst: Register, _ src: XMMRegister) {
        byte(0x66)
        rex(w: true, reg: src.rawValue, base: dst.rawValue)
        byte(0x0F); byte(0x7E)
        modRM(reg: src.rawValue, rm: dst)
    }

    /// `addsd`/`subsd`/`mulsd`/`divsd`/`sqrtsd dst, src` (`double`), or the `ss` forms.
    public mutating func scalar(_ op: ScalarOperation, double: Bool, _ dst: XMMRegister, _ src: XMMRegister) {
        byte(double ? 0xF2 : 0xF3)
        rex(w: false, reg: dst.rawValue, base: src.rawValue)
        byte(0x0F); byte(op.rawValue)
        byte(0xC0 | (dst.rawValue & 7) << 3 | (src.rawValue & 7))
    }

    /// `ldmxcsr dword [m]`.
    public mutating func loadMXCSR(_ m: Memory) {
        emit([0x0F, 0xAE], width: .dword, reg: 2, m)
    }

    /// `stmxcsr dword [m]`.
    public mutating func storeMXCSR(_ m: Memory) {
        emit([0x0F, 0xAE], width: .dword, reg: 3, m)
    }
}

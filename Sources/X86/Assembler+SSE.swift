// Assembler+SSE: the SSE2 instructions scalar floating point needs: moves between general and
// XMM registers, the scalar arithmetic of both precisions and MXCSR loads and stores (rounding
// mode and exception flags). Legacy prefixes (66, F2, F3) come before REX, as the CPU requires.

/// A scalar SSE arithmetic operation (its opcode after 0F).
public enum ScalarOperation: UInt8, CaseIterable, Sendable {
    case sqrt = 0x51, add = 0x58, mul = 0x59, sub = 0x5C, div = 0x5E
}

extension Assembler {
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

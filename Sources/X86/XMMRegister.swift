// XMMRegister: the SSE registers xmm0...xmm15, for scalar single- and double-precision
// arithmetic in translated code.

/// An SSE register, numbered as the encoding numbers it (bit 3 goes into a REX prefix).
public enum XMMRegister: UInt8, CaseIterable, Sendable {
    case xmm0 = 0, xmm1, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7
    case xmm8, xmm9, xmm10, xmm11, xmm12, xmm13, xmm14, xmm15
}

// Register: the x86-64 general-purpose registers and condition codes the encoder names.

/// A 64-bit general-purpose register, numbered as the instruction encoding numbers it
/// (bit 3 goes into a REX prefix).
public enum Register: UInt8, CaseIterable, Sendable {
    case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi
    case r8, r9, r10, r11, r12, r13, r14, r15

    /// The low three bits (the ModRM/SIB/opcode field).
    var low: UInt8 { rawValue & 7 }
    /// Whether the register needs a REX extension bit.
    var extended: Bool { rawValue >= 8 }
    /// As an 8-bit operand, rsp...rdi mean spl...dil only with a REX prefix (without one they
    /// are ah...bh, which this encoder never uses).
    var needsREXAsByte: Bool { rawValue >= 4 && rawValue < 8 }

    /// The System V AMD64 argument registers, in order.
    public static let arguments: [Register] = [.rdi, .rsi, .rdx, .rcx, .r8, .r9]
    /// Registers a System V callee must preserve.
    public static let calleeSaved: [Register] = [.rbx, .rbp, .r12, .r13, .r14, .r15]
}

/// An operand width.
public enum Width: Int, Sendable, CaseIterable {
    case byte = 1, word = 2, dword = 4, qword = 8
}

/// A condition code (the low nibble of Jcc, SETcc and CMOVcc).
public enum Condition: UInt8, CaseIterable, Sendable {
    case overflow = 0, noOverflow, below, aboveOrEqual, equal, notEqual, belowOrEqual, above
    case sign, noSign, parity, noParity, less, greaterOrEqual, lessOrEqual, greater

    /// The condition that holds exactly when this one does not.
    public var negated: Condition { Condition(rawValue: rawValue ^ 1)! }
}

/// A memory operand: `[base + index * scale + displacement]` (RIP-relative forms are not
/// needed by the translator and not offered).
public struct Memory: Sendable, Equatable {
    public var base: Register
    public var index: Register?
    /// 1, 2, 4 or 8.
    public var scale: UInt8
    public var displacement: Int32

    /// `[base + displacement]`.
    public init(_ base: Register, _ displacement: Int32 = 0) {
        self.base = base
        self.index = nil
        self.scale = 1
        self.displacement = displacement
    }

    /// `[base + index * scale + displacement]`; `index` must not be rsp (no encoding exists).
    public init(_ base: Register, index: Register, scale: UInt8 = 1, _ displacement: Int32 = 0) {
        precondition(index != .rsp, "rsp cannot be an index register")
        precondition([1, 2, 4, 8].contains(scale), "scale must be 1, 2, 4 or 8")
        self.base = base
        self.index = index
        self.scale = scale
        self.displacement = displacement
    }
}

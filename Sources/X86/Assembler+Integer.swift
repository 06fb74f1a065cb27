// Assembler+Integer: moves, loads and stores, ALU operations, shifts, multiply and divide,
// SETcc/CMOVcc and LEA on general-purpose registers.

/// The eight classic ALU operations (their /digit in opcodes 0x81/0x83 and `op << 3 | 1`).
public enum ALUOperation: UInt8, Sendable, CaseIterable {
    case add = 0, or, adc, sbb, and, sub, xor, cmp
}

/// Shift and rotate operations (their /digit in 0xC1/0xD3).
public enum ShiftOperation: UInt8, Sendable, CaseIterable {
    case rol = 0, ror, shl = 4, shr, sar = 7
}

// Shifts, multiply/divide, neg/not and cmov take 16/32/64-bit operands only (the translator
// never needs their byte forms, whose opcodes differ): a byte width is a programming error.

extension Assembler {
    // MARK: Moves

    /// `mov dst, src` (32-bit moves zero the upper half, as on the CPU).
    public mutating func mov(_ dst: Register, _ src: Register, _ width: Width = .qword) {
        emit([width == .byte ? 0x88 : 0x89], width: width, reg: src.rawValue, rm: dst, byteRegs: true)
    }

    /// `dst = value`, in the shortest encoding: xor for 0, a 32-bit move (zero-extending) for
    /// values below 2^32, a sign-extended imm32, else the 10-byte movabs. Unlike `xor`, the
    /// moves leave the flags alone; pass `keepFlags` to never use xor.
    public mutating func mov(_ dst: Register, imm value: UInt64, keepFlags: Bool = false) {
        if value == 0 && !keepFlags {
            alu(.xor, dst, dst, .dword)
        } else if value <= UInt64(UInt32.max) {
            rex(w: false, base: dst.rawValue)
            byte(0xB8 | dst.low)
            int32(Int32(bitPattern: UInt32(value)))
        } else if let small = Int32(exactly: Int64(bitPattern: value)) {
            rex(w: true, base: dst.rawValue)
            byte(0xC7)
            modRM(reg: 0, rm: dst)
            int32(small)
        } else {
            rex(w: true, base: dst.rawValue)
            byte(0xB8 | dst.low)
            int64(value)
        }
    }

    /// Loads `width` bytes at `m` into `dst`, zero-extended to 64 bits.
    public mutating func load(_ dst: Register, _ m: Memory, _ width: Width) {
        switch width {
        case .byte: emit([0x0F, 0xB6], width: .dword, reg: dst.rawValue, m)
        case .word: emit([0x0F, 0xB7], width: .dword, reg: dst.rawValue, m)
        case .dword: emit([0x8B], width: .dword, reg: dst.rawValue, m)
        case .qword: emit([0x8B], width: .qword, reg: dst.rawValue, m)
        }
    }

    /// Loads `width` bytes at `m` into `dst`, sign-extended to 64 bits.
    public mutating func loadSigned(_ dst: Register, _ m: Memory, _ width: Width) {
        switch width {
        case .byte: emit([0x0F, 0xBE], width: .qword, reg: dst.rawValue, m)
        case .word: emit([0x0F, 0xBF], width: .qword, reg: dst.rawValue, m)
        case .dword: emit([0x63], width: .qword, reg: dst.rawValue, m)
        case .qword: emit([0x8B], width: .qword, reg: dst.rawValue, m)
        }
    }

    /// Stores the low `width` bytes of `src` at `m`.
    public mutating func store(_ m: Memory, _ src: Register, _ width: Width) {
        emit([width == .byte ? 0x88 : 0x89], width: width, reg: src.rawValue, m, byteReg: width == .byte)
    }

    /// Stores a sign-extended 32-bit immediate (`width` bytes of it) at `m`.
    public mutating func store(_ m: Memory, imm: Int32, _ width: Width) {
        emit([width == .byte ? 0xC6 : 0xC7], width: width, reg: 0, m)
        switch width {
        case .byte: byte(UInt8(truncatingIfNeeded: imm))
        case .word: int16(Int16(truncatingIfNeeded: imm))
        case .dword, .qword: int32(imm)
        }
    }

    /// Sign-extends the low 32 bits of `src` into `dst` (movsxd).
    public mutating func signExtend32(_ dst: Register, _ src: Register) {
        emit([0x63], width: .qword, reg: dst.rawValue, rm: src)
    }

    /// Zero-extends the low `width` (byte or word) of `src` into `dst`.
    public mutating func zeroExtend(_ dst: Register, _ src: Register, from width: Width) {
        precondition(width == .byte || width == .word)
        let forByte = width == .byte && src.needsREXAsByte
        rex(w: false, reg: dst.rawValue, base: src.rawValue, forceForByte: forByte)
        byte(0x0F)
        byte(width == .byte ? 0xB6 : 0xB7)
        modRM(reg: dst.rawValue, rm: src)
    }

    /// Sign-extends the low `width` (byte or word) of `src` into all 64 bits of `dst`.
    public mutating func signExtend(_ dst: Register, _ src: Register, from width: Width) {
        precondition(width == .byte || width == .word)
        let forByte = width == .byte && src.needsREXAsByte
        rex(w: true, reg: dst.rawValue, base: src.rawValue, forceForByte: forByte)
        byte(0x0F)
        byte(width == .byte ? 0xBE : 0xBF)
        modRM(reg: dst.rawValue, rm: src)
    }

    /// `lea dst, [m]`.
    public mutating func lea(_ dst: Register, _ m: Memory) {
        emit([0x8D], width: .qword, reg: dst.rawValue, m)
    }

    // MARK: ALU

    /// `op dst, src`.
    public mutating func alu(_ op: ALUOperation, _ dst: Register, _ src: Register, _ width: Width = .qword) {
        emit([op.rawValue << 3 | (width == .byte ? 0 : 1)], width: width, reg: src.rawValue, rm: dst, byteRegs: true)
    }

    /// `op dst, imm` (imm8 form when it fits; for 64-bit operands the immediate is
    /// sign-extended from 32 bits).
    public mutating func alu(_ op: ALUOperation, _ dst: Register, imm: Int32, _ width: Width = .qword) {
        if width == .byte {
            if dst == .rax {
                byte(op.rawValue << 3 | 4)
            } else {
                emit([0x80], width: .byte, reg: op.rawValue, rm: dst, byteRegs: true, digit: true)
            }
            byte(UInt8(truncatingIfNeeded: imm))
        } else if let small = Int8(exactly: imm) {
            emit([0x83], width: width, reg: op.rawValue, rm: dst)
            byte(UInt8(bitPattern: small))
        } else {
            if dst == .rax {
                // The accumulator's short form (no ModRM).
                sizePrefix(width)
                rex(w: width == .qword)
                byte(op.rawValue << 3 | 5)
            } else {
                emit([0x81], width: width, reg: op.rawValue, rm: dst)
            }
            if width == .word { int16(Int16(truncatingIfNeeded: imm)) } else { int32(imm) }
        }
    }

    /// `op [m], imm` (imm8 form when it fits; 64-bit operands sign-extend the immediate).
    public mutating func alu(_ op: ALUOperation, _ m: Memory, imm: Int32, _ width: Width = .qword) {
        precondition(width != .byte)
        if let small = Int8(exactly: imm) {
            emit([0x83], width: width, reg: op.rawValue, m)
            byte(UInt8(bitPattern: small))
        } else {
            emit([0x81], width: width, reg: op.rawValue, m)
            if width == .word { int16(Int16(truncatingIfNeeded: imm)) } else { int32(imm) }
        }
    }

    /// `op reg, [m]`.
    public mutating func alu(_ op: ALUOperation, _ dst: Register, _ m: Memory, _ width: Width = .qword) {
        emit([op.rawValue << 3 | (width == .byte ? 2 : 3)], width: width, reg: dst.rawValue, m, byteReg: width == .byte)
    }

    /// `op [m], reg`.
    public mutating func alu(_ op: ALUOperation, _ m: Memory, _ src: Register, _ width: Width = .qword) {
        emit([op.rawValue << 3 | (width == .byte ? 0 : 1)], width: width, reg: src.rawValue, m, byteReg: width == .byte)
    }

    /// `test a, b`.
    public mutating func test(_ a: Register, _ b: Register, _ width: Width = .qword) {
        emit([width == .byte ? 0x84 : 0x85], width: width, reg: b.rawValue, rm: a, byteRegs: true)
    }

    /// `neg r`.
    public mutating func neg(_ r: Register, _ width: Width = .qword) { precondition(width != .byte); emit([0xF7], width: width, reg: 3, rm: r) }

    /// `not r`.
    public mutating func not(_ r: Register, _ width: Width = .qword) { precondition(width != .byte); emit([0xF7], width: width, reg: 2, rm: r) }

    // MARK: Shifts

    /// `op r, count` (count taken modulo the width by the CPU).
    public mutating func shift(_ op: ShiftOperation, _ r: Register, by count: UInt8, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0xC1], width: width, reg: op.rawValue, rm: r)
        byte(count)
    }

    /// `op r, cl`.
    public mutating func shiftByCL(_ op: ShiftOperation, _ r: Register, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0xD3], width: width, reg: op.rawValue, rm: r)
    }

    // MARK: Multiply and divide

    /// `imul dst, src` (the low half of the product).
    public mutating func imul(_ dst: Register, _ src: Register, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0x0F, 0xAF], width: width, reg: dst.rawValue, rm: src)
    }

    /// `mul src`: rdx:rax = rax * src, unsigned.
    public mutating func mulWide(_ src: Register, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0xF7], width: width, reg: 4, rm: src)
    }

    /// `imul src`: rdx:rax = rax * src, signed.
    public mutating func imulWide(_ src: Register, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0xF7], width: width, reg: 5, rm: src)
    }

    /// `div src`: rax = rdx:rax / src, rdx = remainder, unsigned (faults on 0 or overflow:
    /// the caller handles those cases first).
    public mutating func div(_ src: Register, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0xF7], width: width, reg: 6, rm: src)
    }

    /// `idiv src`, signed (faults on 0 and on MIN / -1: the caller handles those first).
    public mutating func idiv(_ src: Register, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0xF7], width: width, reg: 7, rm: src)
    }

    /// `cqo` (64-bit) or `cdq` (32-bit): sign-extend rax into rdx.
    public mutating func signExtendAccumulator(_ width: Width = .qword) {
        if width == .qword { byte(0x48) }
        byte(0x99)
    }

    // MARK: Conditions

    /// `setcc r8`: the low byte of `r` = 1 when `condition` holds, else 0 (the upper bytes
    /// are kept: zero them first, or zero-extend after).
    public mutating func set(_ condition: Condition, _ r: Register) {
        rex(w: false, base: r.rawValue, forceForByte: r.needsREXAsByte)
        byte(0x0F)
        byte(0x90 | condition.rawValue)
        modRM(reg: 0, rm: r)
    }

    /// `cmovcc dst, src`.
    public mutating func cmov(_ condition: Condition, _ dst: Register, _ src: Register, _ width: Width = .qword) {
        precondition(width != .byte)
        emit([0x0F, 0x40 | condition.rawValue], width: width, reg: dst.rawValue, rm: src)
    }
}

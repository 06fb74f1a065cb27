// Assembler: the x86-64 encoder's core: a growing byte buffer, REX prefixes, ModRM/SIB
// operand encoding, and labels with 32-bit relative fixups. Instructions live in the
// Assembler+*.swift extensions. Encodings follow the Intel SDM, volume 2 (chapter 2).

/// Emits x86-64 machine code into a byte buffer.
public struct Assembler: Sendable {
    /// The code so far.
    public private(set) var bytes: [UInt8] = []
    /// Offsets of bound labels (nil: not bound yet).
    var labelOffsets: [Int?] = []
    /// rel32 fields waiting for their label: (offset of the field, label).
    var fixups: [(field: Int, label: Label)] = []

    /// An empty buffer.
    public init() {
        bytes.reserveCapacity(256)
    }

    /// Bytes emitted so far.
    public var count: Int { bytes.count }

    /// Empties the buffer and forgets every label.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        labelOffsets.removeAll(keepingCapacity: true)
        fixups.removeAll(keepingCapacity: true)
    }

    // MARK: Raw bytes

    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func int16(_ v: Int16) {
        let u = UInt16(bitPattern: v)
        bytes.append(UInt8(truncatingIfNeeded: u))
        bytes.append(UInt8(truncatingIfNeeded: u >> 8))
    }

    mutating func int32(_ v: Int32) {
        let u = UInt32(bitPattern: v)
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: u >> UInt32(shift))) }
    }

    mutating func int64(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// Overwrites a 32-bit field at `offset`.
    mutating func patch32(at offset: Int, _ v: Int32) {
        let u = UInt32(bitPattern: v)
        for k in 0..<4 { bytes[offset + k] = UInt8(truncatingIfNeeded: u >> UInt32(8 * k)) }
    }

    // MARK: Prefixes and operands

    /// The operand-size prefix for 16-bit operations.
    mutating func sizePrefix(_ width: Width) {
        if width == .word { byte(0x66) }
    }

    /// A REX prefix when one is needed: W for 64-bit operands, R/X/B for registers 8-15 in
    /// ModRM.reg, SIB.index and ModRM.rm/SIB.base/opcode, and an empty one so that byte
    /// operands sil/dil/spl/bpl are not read as ah...bh.
    mutating func rex(w: Bool, reg: UInt8 = 0, index: UInt8 = 0, base: UInt8 = 0, forceForByte: Bool = false) {
        let value: UInt8 = 0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 | ((base >> 3) & 1)
        if value != 0x40 || forceForByte { byte(value) }
    }

    /// ModRM with a register operand in rm.
    mutating func modRM(reg: UInt8, rm: Register) {
        byte(0xC0 | (reg & 7) << 3 | rm.low)
    }

    /// ModRM (+ SIB + displacement) for a memory operand.
    mutating func modRM(reg: UInt8, _ m: Memory) {
        let r = (reg & 7) << 3
        let disp = m.displacement
        // [rbp]/[r13] without displacement would mean RIP-relative or no base: use disp8 0.
        let mod: UInt8
        if disp == 0 && m.base.low != 5 { mod = 0x00 } else if Int8(exactly: disp) != nil { mod = 0x40 } else { mod = 0x80 }
        if let index = m.index {
            byte(mod | r | 4)
            let scaleBits: UInt8 = m.scale == 1 ? 0 : m.scale == 2 ? 1 : m.scale == 4 ? 2 : 3
            byte(scaleBits << 6 | index.low << 3 | m.base.low)
        } else if m.base.low == 4 {
            // rsp/r12 as a base needs a SIB byte (index 100 = none).
            byte(mod | r | 4)
            byte(0x24)
        } else {
            byte(mod | r | m.base.low)
        }
        if mod == 0x40 { byte(UInt8(bitPattern: Int8(disp))) } else if mod == 0x80 { int32(disp) }
    }

    /// Prefixes, opcode bytes and ModRM for `op reg, r/m(register)`. `byteRegs`: a byte
    /// operation whose rm (and, unless `digit`, reg) field names a byte register; `digit`:
    /// the reg field is an opcode extension (/0.../7), not a register.
    mutating func emit(_ opcode: [UInt8], width: Width, reg: UInt8, rm: Register, byteRegs: Bool = false, digit: Bool = false) {
        sizePrefix(width)
        let regNeedsREX = !digit && Register(rawValue: reg)?.needsREXAsByte == true
        let forByte = byteRegs && width == .byte && (rm.needsREXAsByte || regNeedsREX)
        rex(w: width == .qword, reg: reg, base: rm.rawValue, forceForByte: forByte)
        for b in opcode { byte(b) }
        modRM(reg: reg, rm: rm)
    }

    /// Prefixes, opcode bytes and ModRM for `op reg, r/m(memory)`.
    mutating func emit(_ opcode: [UInt8], width: Width, reg: UInt8, _ m: Memory, byteReg: Bool = false) {
        sizePrefix(width)
        let forByte = byteReg && (Register(rawValue: reg)?.needsREXAsByte ?? false)
        rex(w: width == .qword, reg: reg, index: m.index?.rawValue ?? 0, base: m.base.rawValue, forceForByte: forByte)
        for b in opcode { byte(b) }
        modRM(reg: reg, m)
    }
}

/// A position in the code, bound once; jumps and calls to it are patched when it is bound
/// (or at once, when it already is).
public struct Label: Sendable, Hashable {
    let id: Int
}

extension Assembler {
    /// A new, unbound label.
    public mutating func newLabel() -> Label {
        labelOffsets.append(nil)
        return Label(id: labelOffsets.count - 1)
    }

    /// Binds `label` here and patches the jumps already aimed at it.
    public mutating func bind(_ label: Label) {
        precondition(labelOffsets[label.id] == nil, "label bound twice")
        labelOffsets[label.id] = count
        var kept: [(field: Int, label: Label)] = []
        for f in fixups {
            if f.label == label { patch32(at: f.field, Int32(count - (f.field + 4))) } else { kept.append(f) }
        }
        fixups = kept
    }

    /// Whether every label used by a jump has been bound.
    public var isResolved: Bool { fixups.isEmpty }

    /// A rel32 field aimed at `label`.
    mutating func rel32(to label: Label) {
        if let target = labelOffsets[label.id] {
            int32(Int32(target - (count + 4)))
        } else {
            fixups.append((count, label))
            int32(0)
        }
    }
}

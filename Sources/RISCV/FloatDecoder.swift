// FloatDecoder: the F and D encodings (LOAD-FP, STORE-FP, the four fused multiply-adds, OP-FP
// and RV64C's c.fld/c.fsd/c.fldsp/c.fsdsp) into `DecodedInstruction`s. An FP instruction keeps
// its raw encoding in the immediate's upper half (FS = Off traps with it as mtval); `fpu`
// carries its `FloatOp`, rounding mode and rs3 in the lower half.

/// The operation of an `fpu` instruction (S = single, D = double).
public enum FloatOp: UInt8, Sendable {
    case addS, subS, mulS, divS, sqrtS, maddS, msubS, nmsubS, nmaddS
    case sgnjS, sgnjnS, sgnjxS, minS, maxS, eqS, ltS, leS, classS, mvXW, mvWX
    case cvtWS, cvtWUS, cvtLS, cvtLUS, cvtSW, cvtSWU, cvtSL, cvtSLU
    case addD, subD, mulD, divD, sqrtD, maddD, msubD, nmsubD, nmaddD
    case sgnjD, sgnjnD, sgnjxD, minD, maxD, eqD, ltD, leD, classD, mvXD, mvDX
    case cvtWD, cvtWUD, cvtLD, cvtLUD, cvtDW, cvtDWU, cvtDL, cvtDLU
    case cvtSD, cvtDS

    /// Whether the instruction has a rounding-mode field (checked when it executes).
    var usesRounding: Bool {
        switch self {
        case .sgnjS, .sgnjnS, .sgnjxS, .minS, .maxS, .eqS, .ltS, .leS, .classS, .mvXW, .mvWX,
             .sgnjD, .sgnjnD, .sgnjxD, .minD, .maxD, .eqD, .ltD, .leD, .classD, .mvXD, .mvDX: return false
        default: return true
        }
    }
}

extension Decoder {
    /// The immediate of an `fpu` instruction.
    @inline(__always) static func floatImmediate(_ op: FloatOp, rm: UInt32, rs3: UInt32, raw: UInt32) -> Int64 {
        Int64(op.rawValue) | Int64(rm) << 8 | Int64(rs3) << 16 | Int64(raw) << 32
    }

    /// The immediate of an FP load or store: the offset in the low 32 bits, the encoding above.
    @inline(__always) static func floatMemoryImmediate(_ offset: Int64, raw: UInt32) -> Int64 {
        (offset & 0xFFFF_FFFF) | Int64(raw) << 32
    }

    static func fpu(_ op: FloatOp, rd: UInt32, rs1: UInt32, rs2: UInt32 = 0, rs3: UInt32 = 0,
                    rm: UInt32 = 0, raw: UInt32) -> DecodedInstruction {
        // A static rounding mode of 5 or 6 is reserved: illegal whatever FS says.
        if op.usesRounding && (rm == 5 || rm == 6) { return illegal(raw, 4) }
        return DecodedInstruction(op: .fpu, rd: UInt8(rd), rs1: UInt8(rs1), rs2: UInt8(rs2), length: 4,
                                  imm: floatImmediate(op, rm: rm, rs3: rs3, raw: raw))
    }

    /// Decodes a 32-bit F/D encoding (major opcodes 0x07, 0x27, 0x43-0x4F, 0x53).
    static func decodeFloat32(_ i: UInt32) -> DecodedInstruction {
        let rd = bits(i, 11, 7), rs1 = bits(i, 19, 15), rs2 = bits(i, 24, 20)
        let f3 = bits(i, 14, 12), f7 = bits(i, 31, 25)
        switch i & 0x7F {
        case 0x07:
            guard f3 == 2 || f3 == 3 else { return illegal(i, 4) }
            return DecodedInstruction(op: f3 == 2 ? .flw : .fld, rd: UInt8(rd), rs1: UInt8(rs1), rs2: 0, length: 4,
                                      imm: floatMemoryImmediate(sext(i >> 20, 12), raw: i))
        case 0x27:
            guard f3 == 2 || f3 == 3 else { return illegal(i, 4) }
            let off = sext((bits(i, 31, 25) << 5) | bits(i, 11, 7), 12)
            return DecodedInstruction(op: f3 == 2 ? .fsw : .fsd, rd: 32, rs1: UInt8(rs1), rs2: UInt8(rs2), length: 4,
                                      imm: floatMemoryImmediate(off, raw: i))
        case 0x43, 0x47, 0x4B, 0x4F:
            let fmt = bits(i, 26, 25)
            guard fmt <= 1 else { return illegal(i, 4) }
            let d = fmt == 1
            let op: FloatOp
            switch i & 0x7F {
            case 0x43: op = d ? .maddD : .maddS
            case 0x47: op = d ? .msubD : .msubS
            case 0x4B: op = d ? .nmsubD : .nmsubS
            default: op = d ? .nmaddD : .nmaddS
            }
            return fpu(op, rd: rd, rs1: rs1, rs2: rs2, rs3: bits(i, 31, 27), rm: f3, raw: i)
        default: // 0x53, OP-FP
            let d = f7 & 1 == 1
            guard f7 & 2 == 0 else { return illegal(i, 4) } // formats H and Q
            var op: FloatOp?
            var usesRS2 = true
            switch f7 >> 2 {
            case 0x00: op = d ? .addD : .addS
            case 0x01: op = d ? .subD : .subS
            case 0x02: op = d ? .mulD : .mulS
            case 0x03: op = d ? .divD : .divS
            case 0x0B: op = rs2 == 0 ? (d ? .sqrtD : .sqrtS) : nil; usesRS2 = false
            case 0x04:
                switch f3 {
                case 0: op = d ? .sgnjD : .sgnjS
                case 1: op = d ? .sgnjnD : .sgnjnS
                case 2: op = d ? .sgnjxD : .sgnjxS
                default: op = nil
                }
            case 0x05:
                switch f3 {
                case 0: op = d ? .minD : .minS
                case 1: op = d ? .maxD : .maxS
                default: op = nil
                }
            case 0x08: // fcvt.s.d (f7 0x20, rs2 1), fcvt.d.s (f7 0x21, rs2 0)
                op = d ? (rs2 == 0 ? .cvtDS : nil) : (rs2 == 1 ? .cvtSD : nil); usesRS2 = false
            case 0x14:
                switch f3 {
                case 0: op = d ? .leD : .leS
                case 1: op = d ? .ltD : .ltS
                case 2: op = d ? .eqD : .eqS
                default: op = nil
                }
            case 0x18:
                let ops: [FloatOp] = d ? [.cvtWD, .cvtWUD, .cvtLD, .cvtLUD] : [.cvtWS, .cvtWUS, .cvtLS, .cvtLUS]
                op = rs2 < 4 ? ops[Int(rs2)] : nil; usesRS2 = false
            case 0x1A:
                let ops: [FloatOp] = d ? [.cvtDW, .cvtDWU, .cvtDL, .cvtDLU] : [.cvtSW, .cvtSWU, .cvtSL, .cvtSLU]
                op = rs2 < 4 ? ops[Int(rs2)] : nil; usesRS2 = false
            case 0x1C:
                guard rs2 == 0 else { return illegal(i, 4) }
                switch f3 {
                case 0: op = d ? .mvXD : .mvXW
                case 1: op = d ? .classD : .classS
                default: op = nil
                }
                usesRS2 = false
            case 0x1E:
                op = rs2 == 0 && f3 == 0 ? (d ? .mvDX : .mvWX) : nil; usesRS2 = false
            default: op = nil
            }
            guard let op else { return illegal(i, 4) }
            return fpu(op, rd: rd, rs1: rs1, rs2: usesRS2 ? rs2 : 0, rm: f3, raw: i)
        }
    }

    /// Decodes c.fld, c.fsd, c.fldsp and c.fsdsp (RV64C has no single-precision forms).
    static func decodeFloat16(_ c: UInt32) -> DecodedInstruction {
        let f3 = bits(c, 15, 13)
        switch (c & 3, f3) {
        case (0, 1): // c.fld
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)
            return DecodedInstruction(op: .fld, rd: UInt8(bits(c, 4, 2) + 8), rs1: UInt8(bits(c, 9, 7) + 8), rs2: 0,
                                      length: 2, imm: floatMemoryImmediate(Int64(imm), raw: c))
        case (0, 5): // c.fsd
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)
            return DecodedInstruction(op: .fsd, rd: 32, rs1: UInt8(bits(c, 9, 7) + 8), rs2: UInt8(bits(c, 4, 2) + 8),
                                      length: 2, imm: floatMemoryImmediate(Int64(imm), raw: c))
        case (2, 1): // c.fldsp
            let imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6)
            return DecodedInstruction(op: .fld, rd: UInt8(bits(c, 11, 7)), rs1: 2, rs2: 0,
                                      length: 2, imm: floatMemoryImmediate(Int64(imm), raw: c))
        default: // (2, 5): c.fsdsp
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6)
            return DecodedInstruction(op: .fsd, rd: 32, rs1: 2, rs2: UInt8(bits(c, 6, 2)),
                                      length: 2, imm: floatMemoryImmediate(Int64(imm), raw: c))
        }
    }
}

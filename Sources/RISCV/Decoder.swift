// Decoder: turns RV64IMAFDC + Zicsr + Zifencei encodings (F and D: FloatDecoder.swift) (32-bit and 16-bit compressed) into
// `DecodedInstruction`. Pure functions, no state.

/// Decodes RISC-V instruction encodings.
public enum Decoder {
    @inline(__always) static func bits(_ v: UInt32, _ hi: Int, _ lo: Int) -> UInt32 {
        (v >> UInt32(lo)) & ((1 << UInt32(hi - lo + 1)) - 1)
    }

    @inline(__always) static func sext(_ v: UInt32, _ width: Int) -> Int64 {
        let s = 64 - width
        return (Int64(v) << Int64(s)) >> Int64(s)
    }

    @inline(__always) static func dest(_ r: UInt32) -> UInt8 { r == 0 ? 32 : UInt8(r) }

    @inline(__always) static func make(_ op: Opcode, rd: UInt32 = 0, rs1: UInt32 = 0, rs2: UInt32 = 0,
                                       imm: Int64 = 0, length: UInt8) -> DecodedInstruction {
        DecodedInstruction(op: op, rd: dest(rd), rs1: UInt8(rs1), rs2: UInt8(rs2), length: length, imm: imm)
    }

    static func illegal(_ raw: UInt32, _ length: UInt8) -> DecodedInstruction {
        DecodedInstruction(op: .illegal, rd: 32, rs1: 0, rs2: 0, length: length, imm: Int64(raw))
    }

    /// Decodes one instruction from its low bits; `raw` holds 16 or 32 bits of encoding.
    public static func decode(_ raw: UInt32) -> DecodedInstruction {
        raw & 3 == 3 ? decode32(raw) : decode16(UInt16(truncatingIfNeeded: raw))
    }

    /// Decodes a 32-bit encoding.
    public static func decode32(_ i: UInt32) -> DecodedInstruction {
        let rd = bits(i, 11, 7), rs1 = bits(i, 19, 15), rs2 = bits(i, 24, 20)
        let f3 = bits(i, 14, 12), f7 = bits(i, 31, 25)
        let immI = sext(i >> 20, 12)
        let immS = sext((bits(i, 31, 25) << 5) | bits(i, 11, 7), 12)
        let immB = sext((bits(i, 31, 31) << 12) | (bits(i, 7, 7) << 11) | (bits(i, 30, 25) << 5) | (bits(i, 11, 8) << 1), 13)
        let immU = Int64(Int32(bitPattern: i & 0xFFFF_F000))
        let immJ = sext((bits(i, 31, 31) << 20) | (bits(i, 19, 12) << 12) | (bits(i, 20, 20) << 11) | (bits(i, 30, 21) << 1), 21)
        switch i & 0x7F {
        case 0x37: return make(.lui, rd: rd, imm: immU, length: 4)
        case 0x17: return make(.auipc, rd: rd, imm: immU, length: 4)
        case 0x6F: return make(.jal, rd: rd, imm: immJ, length: 4)
        case 0x67: return f3 == 0 ? make(.jalr, rd: rd, rs1: rs1, imm: immI, length: 4) : illegal(i, 4)
        case 0x63:
            let ops: [Opcode?] = [.beq, .bne, nil, nil, .blt, .bge, .bltu, .bgeu]
            guard let op = ops[Int(f3)] else { return illegal(i, 4) }
            return make(op, rs1: rs1, rs2: rs2, imm: immB, length: 4)
        case 0x03:
            let ops: [Opcode?] = [.lb, .lh, .lw, .ld, .lbu, .lhu, .lwu, nil]
            guard let op = ops[Int(f3)] else { return illegal(i, 4) }
            return make(op, rd: rd, rs1: rs1, imm: immI, length: 4)
        case 0x23:
            let ops: [Opcode?] = [.sb, .sh, .sw, .sd, nil, nil, nil, nil]
            guard let op = ops[Int(f3)] else { return illegal(i, 4) }
            return make(op, rs1: rs1, rs2: rs2, imm: immS, length: 4)
        case 0x13:
            switch f3 {
            case 0: return make(.addi, rd: rd, rs1: rs1, imm: immI, length: 4)
            case 2: return make(.slti, rd: rd, rs1: rs1, imm: immI, length: 4)
            case 3: return make(.sltiu, rd: rd, rs1: rs1, imm: immI, length: 4)
            case 4: return make(.xori, rd: rd, rs1: rs1, imm: immI, length: 4)
            case 6: return make(.ori, rd: rd, rs1: rs1, imm: immI, length: 4)
            case 7: return make(.andi, rd: rd, rs1: rs1, imm: immI, length: 4)
            case 1:
                guard bits(i, 31, 26) == 0 else { return illegal(i, 4) }
                return make(.slli, rd: rd, rs1: rs1, imm: Int64(bits(i, 25, 20)), length: 4)
            default: // 5
                switch bits(i, 31, 26) {
                case 0: return make(.srli, rd: rd, rs1: rs1, imm: Int64(bits(i, 25, 20)), length: 4)
                case 0x10: return make(.srai, rd: rd, rs1: rs1, imm: Int64(bits(i, 25, 20)), length: 4)
                default: return illegal(i, 4)
                }
            }
        case 0x1B:
            switch (f3, f7) {
            case (0, _): return make(.addiw, rd: rd, rs1: rs1, imm: immI, length: 4)
            case (1, 0): return make(.slliw, rd: rd, rs1: rs1, imm: Int64(rs2), length: 4)
            case (5, 0): return make(.srliw, rd: rd, rs1: rs1, imm: Int64(rs2), length: 4)
            case (5, 0x20): return make(.sraiw, rd: rd, rs1: rs1, imm: Int64(rs2), length: 4)
            default: return illegal(i, 4)
            }
        case 0x33:
            let op: Opcode?
            switch (f7, f3) {
            case (0, 0): op = .add
            case (0x20, 0): op = .sub
            case (0, 1): op = .sll
            case (0, 2): op = .slt
            case (0, 3): op = .sltu
            case (0, 4): op = .xor
            case (0, 5): op = .srl
            case (0x20, 5): op = .sra
            case (0, 6): op = .or
            case (0, 7): op = .and
            case (1, 0): op = .mul
            case (1, 1): op = .mulh
            case (1, 2): op = .mulhsu
            case (1, 3): op = .mulhu
            case (1, 4): op = .div
            case (1, 5): op = .divu
            case (1, 6): op = .rem
            case (1, 7): op = .remu
            default: op = nil
            }
            guard let op else { return illegal(i, 4) }
            return make(op, rd: rd, rs1: rs1, rs2: rs2, length: 4)
        case 0x3B:
            let op: Opcode?
            switch (f7, f3) {
            case (0, 0): op = .addw
            case (0x20, 0): op = .subw
            case (0, 1): op = .sllw
            case (0, 5): op = .srlw
            case (0x20, 5): op = .sraw
            case (1, 0): op = .mulw
            case (1, 4): op = .divw
            case (1, 5): op = .divuw
            case (1, 6): op = .remw
            case (1, 7): op = .remuw
            default: op = nil
            }
            guard let op else { return illegal(i, 4) }
            return make(op, rd: rd, rs1: rs1, rs2: rs2, length: 4)
        case 0x0F:
            switch f3 {
            case 0: return make(.fence, length: 4)
            case 1: return make(.fencei, length: 4)
            default: return illegal(i, 4)
            }
        case 0x2F:
            guard f3 == 2 || f3 == 3 else { return illegal(i, 4) }
            let w = f3 == 2
            let op: Opcode?
            switch bits(i, 31, 27) {
            case 0x02: op = rs2 == 0 ? (w ? .lrw : .lrd) : nil
            case 0x03: op = w ? .scw : .scd
            case 0x01: op = w ? .amoswapw : .amoswapd
            case 0x00: op = w ? .amoaddw : .amoaddd
            case 0x04: op = w ? .amoxorw : .amoxord
            case 0x0C: op = w ? .amoandw : .amoandd
            case 0x08: op = w ? .amoorw : .amoord
            case 0x10: op = w ? .amominw : .amomind
            case 0x14: op = w ? .amomaxw : .amomaxd
            case 0x18: op = w ? .amominuw : .amominud
            case 0x1C: op = w ? .amomaxuw : .amomaxud
            default: op = nil
            }
            guard let op else { return illegal(i, 4) }
            return make(op, rd: rd, rs1: rs1, rs2: rs2, length: 4)
        case 0x07, 0x27, 0x43, 0x47, 0x4B, 0x4F, 0x53:
            return decodeFloat32(i)
        case 0x73:
            let csr = Int64(i >> 20)
            switch f3 {
            case 0:
                switch i {
                case 0x0000_0073: return make(.ecall, length: 4)
                case 0x0010_0073: return make(.ebreak, length: 4)
                case 0x3020_0073: return make(.mret, length: 4)
                case 0x1020_0073: return make(.sret, length: 4)
                case 0x1050_0073: return make(.wfi, length: 4)
                default:
                    if f7 == 0x09 && rd == 0 { return make(.sfencevma, rs1: rs1, rs2: rs2, length: 4) }
                    return illegal(i, 4)
                }
            case 1: return make(.csrrw, rd: rd, rs1: rs1, imm: csr, length: 4)
            case 2:
                // rdtime (csrrs rd, time, x0) runs without an exit (see Execute).
                if csr == 0xC01 && rs1 == 0 { return make(.rdtime, rd: rd, imm: csr, length: 4) }
                return make(.csrrs, rd: rd, rs1: rs1, imm: csr, length: 4)
            case 3: return make(.csrrc, rd: rd, rs1: rs1, imm: csr, length: 4)
            case 5: return make(.csrrwi, rd: rd, rs1: rs1, imm: csr, length: 4)
            case 6: return make(.csrrsi, rd: rd, rs1: rs1, imm: csr, length: 4)
            case 7: return make(.csrrci, rd: rd, rs1: rs1, imm: csr, length: 4)
            default: return illegal(i, 4)
            }
        default:
            return illegal(i, 4)
        }
    }

    /// Decodes a 16-bit compressed (RVC) encoding into its 32-bit equivalent operation.
    public static func decode16(_ h: UInt16) -> DecodedInstruction {
        let c = UInt32(h)
        if c == 0 { return illegal(c, 2) }
        let f3 = bits(c, 15, 13)
        let rdp = bits(c, 4, 2) + 8, rs1p = bits(c, 9, 7) + 8
        let r = bits(c, 11, 7), r2 = bits(c, 6, 2)
        let imm6 = sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6)
        switch (c & 3, f3) {
        case (0, 0): // c.addi4spn
            let imm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 3)
            guard imm != 0 else { return illegal(c, 2) }
            return make(.addi, rd: rdp, rs1: 2, imm: Int64(imm), length: 2)
        case (0, 2): // c.lw
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6)
            return make(.lw, rd: rdp, rs1: rs1p, imm: Int64(imm), length: 2)
        case (0, 3): // c.ld
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)
            return make(.ld, rd: rdp, rs1: rs1p, imm: Int64(imm), length: 2)
        case (0, 6): // c.sw
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6)
            return make(.sw, rs1: rs1p, rs2: rdp, imm: Int64(imm), length: 2)
        case (0, 7): // c.sd
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)
            return make(.sd, rs1: rs1p, rs2: rdp, imm: Int64(imm), length: 2)
        case (1, 0): return make(.addi, rd: r, rs1: r, imm: imm6, length: 2) // c.addi / c.nop
        case (1, 1):
            guard r != 0 else { return illegal(c, 2) }
            return make(.addiw, rd: r, rs1: r, imm: imm6, length: 2)
        case (1, 2): return make(.addi, rd: r, rs1: 0, imm: imm6, length: 2) // c.li
        case (1, 3):
            if r == 2 { // c.addi16sp
                let imm = sext((bits(c, 12, 12) << 9) | (bits(c, 6, 6) << 4) | (bits(c, 5, 5) << 6)
                               | (bits(c, 4, 3) << 7) | (bits(c, 2, 2) << 5), 10)
                guard imm != 0 else { return illegal(c, 2) }
                return make(.addi, rd: 2, rs1: 2, imm: imm, length: 2)
            }
            guard imm6 != 0 else { return illegal(c, 2) }
            return make(.lui, rd: r, imm: imm6 << 12, length: 2)
        case (1, 4):
            let shamt = Int64((bits(c, 12, 12) << 5) | bits(c, 6, 2))
            switch bits(c, 11, 10) {
            case 0: return make(.srli, rd: rs1p, rs1: rs1p, imm: shamt, length: 2)
            case 1: return make(.srai, rd: rs1p, rs1: rs1p, imm: shamt, length: 2)
            case 2: return make(.andi, rd: rs1p, rs1: rs1p, imm: imm6, length: 2)
            default:
                let ops: [Opcode?] = [.sub, .xor, .or, .and, .subw, .addw, nil, nil]
                guard let op = ops[Int((bits(c, 12, 12) << 2) | bits(c, 6, 5))] else { return illegal(c, 2) }
                return make(op, rd: rs1p, rs1: rs1p, rs2: rdp, length: 2)
            }
        case (1, 5): // c.j
            let imm = sext((bits(c, 12, 12) << 11) | (bits(c, 11, 11) << 4) | (bits(c, 10, 9) << 8)
                           | (bits(c, 8, 8) << 10) | (bits(c, 7, 7) << 6) | (bits(c, 6, 6) << 7)
                           | (bits(c, 5, 3) << 1) | (bits(c, 2, 2) << 5), 12)
            return make(.jal, rd: 0, imm: imm, length: 2)
        case (1, 6), (1, 7): // c.beqz / c.bnez
            let imm = sext((bits(c, 12, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6)
                           | (bits(c, 4, 3) << 1) | (bits(c, 2, 2) << 5), 9)
            return make(f3 == 6 ? .beq : .bne, rs1: rs1p, rs2: 0, imm: imm, length: 2)
        case (2, 0): // c.slli
            return make(.slli, rd: r, rs1: r, imm: Int64((bits(c, 12, 12) << 5) | bits(c, 6, 2)), length: 2)
        case (2, 2): // c.lwsp
            guard r != 0 else { return illegal(c, 2) }
            let imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6)
            return make(.lw, rd: r, rs1: 2, imm: Int64(imm), length: 2)
        case (2, 3): // c.ldsp
            guard r != 0 else { return illegal(c, 2) }
            let imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6)
            return make(.ld, rd: r, rs1: 2, imm: Int64(imm), length: 2)
        case (2, 4):
            if bits(c, 12, 12) == 0 {
                if r2 == 0 {
                    guard r != 0 else { return illegal(c, 2) }
                    return make(.jalr, rd: 0, rs1: r, imm: 0, length: 2) // c.jr
                }
                return make(.add, rd: r, rs1: 0, rs2: r2, length: 2) // c.mv
            }
            if r == 0 && r2 == 0 { return make(.ebreak, length: 2) }
            if r2 == 0 { return make(.jalr, rd: 1, rs1: r, imm: 0, length: 2) } // c.jalr
            return make(.add, rd: r, rs1: r, rs2: r2, length: 2)
        case (2, 6): // c.swsp
            let imm = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6)
            return make(.sw, rs1: 2, rs2: r2, imm: Int64(imm), length: 2)
        case (2, 7): // c.sdsp
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6)
            return make(.sd, rs1: 2, rs2: r2, imm: Int64(imm), length: 2)
        case (0, 1), (0, 5), (2, 1), (2, 5): // c.fld, c.fsd, c.fldsp, c.fsdsp
            return decodeFloat16(c)
        default:
            return illegal(c, 2) // includes c.flw/c.fsw slots, which RV64C gives to c.ld/c.sd
        }
    }
}

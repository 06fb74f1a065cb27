// LockstepEncoding: RISC-V instruction encoders for the lockstep runner's program generator,
// written from the ISA manual's formats (R, I, S, B, U, J, AMO, CSR and the compressed jumps
// and branches). Each compressed encoding is checked against the shared decoder as it is made.

@testable import RISCV

/// Instruction word builders.
enum LockstepEncoding {
    static func r(_ f7: UInt32, _ rs2: UInt32, _ rs1: UInt32, _ f3: UInt32, _ rd: UInt32, _ op: UInt32) -> UInt32 {
        f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
    }

    static func i(_ imm: Int32, _ rs1: UInt32, _ f3: UInt32, _ rd: UInt32, _ op: UInt32) -> UInt32 {
        UInt32(bitPattern: imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
    }

    static func s(_ imm: Int32, _ rs2: UInt32, _ rs1: UInt32, _ f3: UInt32, _ op: UInt32) -> UInt32 {
        let u = UInt32(bitPattern: imm & 0xfff)
        return (u >> 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | op
    }

    static func b(_ offset: Int32, _ rs2: UInt32, _ rs1: UInt32, _ f3: UInt32) -> UInt32 {
        let u = UInt32(bitPattern: offset)
        return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12
            | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63
    }

    static func u(_ imm20: UInt32, _ rd: UInt32, _ op: UInt32) -> UInt32 { (imm20 & 0xfffff) << 12 | rd << 7 | op }

    static func j(_ offset: Int32, _ rd: UInt32) -> UInt32 {
        let u = UInt32(bitPattern: offset)
        return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 | ((u >> 12) & 0xff) << 12
            | rd << 7 | 0x6f
    }

    static func addi(_ rd: UInt32, _ rs1: UInt32, _ imm: Int32) -> UInt32 { i(imm, rs1, 0, rd, 0x13) }

    static func csr(_ n: Int, _ rs1: UInt32, _ f3: UInt32, _ rd: UInt32) -> UInt32 {
        UInt32(n) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x73
    }

    static func csrr(_ rd: UInt32, _ n: Int) -> UInt32 { csr(n, 0, 2, rd) }
    static func csrw(_ n: Int, _ rs1: UInt32) -> UInt32 { csr(n, rs1, 1, 0) }
    static func csrc(_ n: Int, _ rs1: UInt32) -> UInt32 { csr(n, rs1, 3, 0) }

    /// An A-extension instruction: `f5` (0x02 LR, 0x03 SC, AMO functions), word or double.
    static func amo(_ f5: UInt32, aq: Bool, rl: Bool, _ rs2: UInt32, _ rs1: UInt32, word: Bool, _ rd: UInt32) -> UInt32 {
        f5 << 27 | (aq ? 1 : 0) << 26 | (rl ? 1 : 0) << 25 | rs2 << 20 | rs1 << 15 | (word ? 2 : 3) << 12 | rd << 7 | 0x2f
    }

    static let mret: UInt32 = 0x3020_0073, sret: UInt32 = 0x1020_0073
    static let ecall: UInt32 = 0x0000_0073, ebreak: UInt32 = 0x0010_0073
    static let fence: UInt32 = 0x0ff0_000f, fenceI: UInt32 = 0x0000_100f

    /// c.j offset.
    static func cj(_ offset: Int32) -> UInt16 {
        let u = UInt32(bitPattern: offset)
        let bits = ((u >> 11) & 1) << 12 | ((u >> 4) & 1) << 11 | ((u >> 8) & 3) << 9 | ((u >> 10) & 1) << 8
            | ((u >> 6) & 1) << 7 | ((u >> 7) & 1) << 6 | ((u >> 1) & 7) << 3 | ((u >> 5) & 1) << 2
        let h = UInt16(0b101 << 13 | bits | 1)
        let d = Decoder.decode16(h)
        precondition(d.op == .jal && d.imm == Int64(offset), "c.j encoding")
        return h
    }

    /// c.beqz / c.bnez rs1' (x8-x15), offset.
    static func cbranch(_ offset: Int32, _ rs1: UInt32, nonzero: Bool) -> UInt16 {
        let u = UInt32(bitPattern: offset)
        let bits = ((u >> 8) & 1) << 12 | ((u >> 3) & 3) << 10 | (rs1 - 8) << 7 | ((u >> 6) & 3) << 5
            | ((u >> 1) & 3) << 3 | ((u >> 5) & 1) << 2
        let h = UInt16((nonzero ? 0b111 : 0b110) << 13 | bits | 1)
        let d = Decoder.decode16(h)
        precondition((d.op == .beq || d.op == .bne) && d.imm == Int64(offset), "c.beqz/c.bnez encoding")
        return h
    }
}

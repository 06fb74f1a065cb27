// DecodedInstruction: the compact predecoded form of one RV64IMAC instruction (compressed
// instructions expand to the same form), stored per guest-physical page by the decode cache.

/// Operation of a predecoded instruction. `undecoded` marks an empty decode-cache slot.
/// F and D (FloatDecoder.swift) add five: their loads, stores and `fpu`, whose operation is a
/// `FloatOp` carried in the immediate.
public enum Opcode: UInt8, Sendable {
    case undecoded, illegal
    case lui, auipc, jal, jalr, beq, bne, blt, bge, bltu, bgeu
    case lb, lh, lw, ld, lbu, lhu, lwu, sb, sh, sw, sd
    case addi, slti, sltiu, xori, ori, andi, slli, srli, srai
    case add, sub, sll, slt, sltu, xor, srl, sra, or, and
    case addiw, slliw, srliw, sraiw, addw, subw, sllw, srlw, sraw
    case mul, mulh, mulhsu, mulhu, div, divu, rem, remu, mulw, divw, divuw, remw, remuw
    case lrw, scw, amoswapw, amoaddw, amoxorw, amoandw, amoorw, amominw, amomaxw, amominuw, amomaxuw
    case lrd, scd, amoswapd, amoaddd, amoxord, amoandd, amoord, amomind, amomaxd, amominud, amomaxud
    case fence, fencei, ecall, ebreak
    case csrrw, csrrs, csrrc, csrrwi, csrrsi, csrrci
    /// `csrrs rd, time, x0`: Linux reads the clock constantly (sched_clock); no exit needed.
    case rdtime
    case mret, sret, wfi, sfencevma
    case flw, fld, fsw, fsd, fpu
}

/// One predecoded instruction: 16 bytes. Register numbers index the register file, where a
/// destination of x0 is redirected to the sink slot 32 so no instruction needs an x0 check.
public struct DecodedInstruction: Sendable, Equatable {
    /// The operation.
    public var op: Opcode
    /// Destination register (32 = discard).
    public var rd: UInt8
    /// First source register (for CSR immediates: the 5-bit immediate).
    public var rs1: UInt8
    /// Second source register.
    public var rs2: UInt8
    /// Encoded length in bytes: 2 (compressed) or 4.
    public var length: UInt8
    /// The immediate (for CSR ops the CSR number; for illegal ones the raw bits).
    public var imm: Int64

    /// An empty decode-cache slot.
    public static let undecoded = DecodedInstruction(op: .undecoded, rd: 32, rs1: 0, rs2: 0, length: 4, imm: 0)

    /// Builds a decoded instruction.
    @inlinable public init(op: Opcode, rd: UInt8, rs1: UInt8, rs2: UInt8, length: UInt8, imm: Int64) {
        self.op = op; self.rd = rd; self.rs1 = rs1; self.rs2 = rs2; self.length = length; self.imm = imm
    }
}

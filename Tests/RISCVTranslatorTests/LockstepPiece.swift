// LockstepPiece: one instruction or fixed sequence of a lockstep program's item, with jumps
// naming a later item until `LockstepProgram.layout` resolves them to offsets.

/// One piece of a lockstep item.
enum LockstepPiece {
    case word(UInt32)
    case half(UInt16)
    /// A conditional branch (funct3) to an item.
    case branch(f3: UInt32, rs1: UInt32, rs2: UInt32, target: Int)
    case jal(rd: UInt32, target: Int)
    case cj(target: Int)
    case cbranch(rs1: UInt32, nonzero: Bool, target: Int)
    /// `auipc x26, 0; jalr rd, off(x26)` to an item.
    case jalr(rd: UInt32, target: Int)
    /// `auipc x26, 0; auipc x30, hi; jalr x0, lo(x30)` to an absolute address (a fetch fault).
    case far(UInt64)
    /// Self-modifying code: `lui x30; addiw x30; auipc x26, 0; sw x30, off(x26)` writes `word`
    /// over the first single-word item from `target` on (nops when there is none in reach).
    case patch(word: UInt32, target: Int)

    var size: Int {
        switch self {
        case .word, .branch, .jal: return 4
        case .half, .cj, .cbranch: return 2
        case .jalr: return 8
        case .far: return 12
        case .patch: return 16
        }
    }
}

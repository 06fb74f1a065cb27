// OutOfLineCall: the C-convention entry translated blocks call for an F, D or A instruction
// they do not emit inline. It runs the interpreter's own code for it (`Hart.executeOutOfLine`:
// the same FS and rounding-mode checks, SoftFloat, NaN-boxing, fflags, LR/SC and AMOs atomic
// across harts, traps), so the result is the interpreter's bit for bit. The block passes the
// context, the instruction's pc and its predecoded form in two words; a zero return means it
// retired and the block goes on. Otherwise the block leaves (giving back its unrun
// instructions) and `sideExit` says why: it trapped (`pc` is the trap vector; not retired), it
// needs the VMM (`pc` is still its own), or it retired but reported a code change (a store to
// a page holding translations): then it has taken its own instruction from the budget and set
// `pc` to the next one, and the dispatcher re-checks the page before running it.

import RISCV

/// The out-of-line entry of translated code.
enum OutOfLineCall {
    /// The predecoded instruction as the block passes it: op, rd, rs1, rs2 and length in the
    /// low five bytes of the first word, the immediate in the second.
    static func head(_ d: DecodedInstruction) -> UInt64 {
        UInt64(d.op.rawValue) | UInt64(d.rd) << 8 | UInt64(d.rs1) << 16 | UInt64(d.rs2) << 24 | UInt64(d.length) << 32
    }

    /// (context, pc, head, immediate) -> 0 to go on, 1 to leave the block.
    static let entry: @convention(c) (UnsafeMutableRawPointer, UInt64, UInt64, UInt64) -> UInt64 = { raw, pc, head, imm in
        let context = raw.assumingMemoryBound(to: TranslationContext.self)
        let d = DecodedInstruction(op: Opcode(rawValue: UInt8(truncatingIfNeeded: head)) ?? .illegal,
                                   rd: UInt8(truncatingIfNeeded: head >> 8), rs1: UInt8(truncatingIfNeeded: head >> 16),
                                   rs2: UInt8(truncatingIfNeeded: head >> 24), length: UInt8(truncatingIfNeeded: head >> 32),
                                   imm: Int64(bitPattern: imm))
        context.pointee.codeChanged = 0
        // SAFETY: the engine sets `hart` to the hart it runs before entering any block, and
        // the hart outlives the run; guaranteed-reference access adds no retain or release.
        let outcome = Unmanaged<Hart>.fromOpaque(context.pointee.hart.unsafelyUnwrapped)
            ._withUnsafeGuaranteedRef { $0.executeOutOfLine(d, at: pc) }
        switch outcome {
        case .retired:
            if context.pointee.codeChanged == 0 { return 0 }
            context.pointee.left -= 1
            context.pointee.sideExit = TranslationContext.codeChangedExit
        case .trapped:
            context.pointee.sideExit = TranslationContext.trapExit
        case .exit:
            context.pointee.sideExit = TranslationContext.vmmExit
        }
        return 1
    }
}

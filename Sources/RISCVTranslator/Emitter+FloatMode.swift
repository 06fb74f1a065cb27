// Emitter+FloatMode: MXCSR across a block. Inline FP arithmetic runs under MXCSR set to the
// instruction's rounding mode with every exception masked, and RISC-V's fflags accrue what
// MXCSR's sticky flags record. Loading and storing MXCSR costs more than the arithmetic, so a
// block sets the mode once, before its first inline FP operation, lets the flags of all its
// operations accumulate there, and folds them into fflags (then restores the host's MXCSR)
// only where control leaves the inline path: at every exit of the block, before every
// out-of-line call (Swift code must run under the host's mode, and the call may read or trap on
// fflags), on a loop's back edge, and when an instruction wants another rounding mode. Nothing
// can read fflags in between: CSR instructions are never part of a block. frm cannot change
// within a block either (only CSR instructions write it), so "rm = 7" names one mode throughout.
//
// The emitter tracks the mode statically (`fpMode`, nil: the host's MXCSR). Where paths with
// different modes meet (an inline instruction's out-of-line fallback), each jump that leaves a
// guest mode goes through a stub that folds and restores first, and the fallback re-enters the
// fast path's mode after its call, so both paths reach the next instruction alike. The same
// holds for two facts a block learns once: mstatus.FS is on (checked at the first FP
// instruction; nothing in a block turns it off) and FS is Dirty (set by the first FP write).

import RISCV
import X86

extension Emitter {
    /// Folds MXCSR's exception flags into fflags and restores the host's MXCSR (uses rcx and
    /// rdx only, so an exit's rax survives). Emits code; does not change `fpMode` (the caller
    /// does, where the path goes on).
    mutating func emitFPFlush() {
        asm.storeMXCSR(Memory(.rsi, TranslationContext.mxcsrAfterOffset))
        asm.loadMXCSR(Memory(.rsi, TranslationContext.mxcsrDefaultOffset))
        asm.load(.rcx, Memory(.rsi, TranslationContext.mxcsrAfterOffset), .dword)
        asm.alu(.and, .rcx, imm: 0x3F, .dword)
        asm.load(.rcx, Memory(.rsi, index: .rcx, scale: 1, TranslationContext.flagMapOffset), .byte)
        asm.load(.rdx, Memory(.rsi, TranslationContext.controlWordsOffset), .qword)
        asm.alu(.or, Memory(.rdx, Int32(ControlWord.fflags * 8)), .rcx)
    }

    /// Where the current instruction jumps to take its out-of-line path from here: straight to
    /// `common` under the host's MXCSR, else through a stub that folds and restores first.
    mutating func slowTarget(_ common: Label) -> Label {
        guard fpMode != nil else { return common }
        let stub = asm.newLabel()
        slowStubs.append(stub)
        return stub
    }

    /// The stubs of `slowTarget`, each ending in a jump to `common`.
    mutating func emitSlowStubs(_ common: Label) {
        for stub in slowStubs {
            asm.bind(stub)
            emitFPFlush()
            asm.jmp(common)
        }
        slowStubs.removeAll()
    }

    /// MXCSR in rounding mode `rm` (0-3, or 7: frm, whose values 4-7 jump to `common`'s path),
    /// keeping the flags of earlier operations of the block when the mode is already that.
    mutating func enterFPMode(_ rm: UInt8, slow common: Label) {
        if fpMode == rm { return }
        if fpMode != nil {
            emitFPFlush()
            fpMode = nil
        }
        if rm == 7 {
            loadFRM()
            asm.alu(.cmp, .rcx, imm: 4, .dword)
            asm.jump(if: .aboveOrEqual, to: common)
        }
        loadMode(rm, frmInRCX: true)
        fpMode = rm
    }

    /// rcx = frm (uses r8).
    private mutating func loadFRM() {
        asm.load(.r8, Memory(.rsi, TranslationContext.controlWordsOffset), .qword)
        asm.load(.rcx, Memory(.r8, Int32(ControlWord.frm * 8)), .dword)
    }

    /// ldmxcsr with the image of `rm` (7: frm's, known below 4 here; read into rcx unless
    /// `frmInRCX`).
    mutating func loadMode(_ rm: UInt8, frmInRCX: Bool = false) {
        guard rm == 7 else {
            asm.loadMXCSR(Memory(.rsi, TranslationContext.mxcsrModesOffset + Int32(rm) * 4))
            return
        }
        if !frmInRCX {
            loadFRM()
            asm.alu(.and, .rcx, imm: 3, .dword)
        }
        asm.loadMXCSR(Memory(.rsi, index: .rcx, scale: 4, TranslationContext.mxcsrModesOffset))
    }

    /// mstatus.FS == Off goes to the out-of-line path (the interpreter's code raises the
    /// trap), unless an earlier instruction of the block found it on.
    mutating func checkFPOn(slow common: Label) {
        guard !fpKnownOn else { return }
        asm.load(.r8, Memory(.rsi, TranslationContext.controlWordsOffset), .qword)
        asm.load(.rdx, Memory(.r8, Int32(ControlWord.mstatus * 8)), .dword)
        asm.alu(.and, .rdx, imm: Int32(CSRBits.fs), .dword)
        asm.jump(if: .equal, to: slowTarget(common))
    }

    /// mstatus |= FS Dirty | SD (uses r8 and rcx), unless the block already set it.
    mutating func markFSDirty() {
        guard !fsKnownDirty else { return }
        asm.load(.r8, Memory(.rsi, TranslationContext.controlWordsOffset), .qword)
        asm.mov(.rcx, imm: CSRBits.fsDirty | CSRBits.sd)
        asm.alu(.or, Memory(.r8, Int32(ControlWord.mstatus * 8)), .rcx)
        fsKnownDirty = true
    }
}

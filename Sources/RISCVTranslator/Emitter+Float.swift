// Emitter+Float: the F and D instructions a block runs inline: FP loads and stores through the
// hart's TLBs (as integer ones), sign injection and the moves between x and f registers. They
// are the interpreter's `executeFloat` spelled in x86-64, mirroring it exactly: mstatus.FS Off
// sends the instruction to the out-of-line call (which raises the illegal-instruction trap), a
// single is read through NaN-boxing (an unboxed register reads as the canonical NaN 0x7fc00000)
// and written boxed, `fmv.x.w` and `fsw` take raw bits, and every instruction that writes an f
// register sets FS = Dirty and SD (stores and moves to x registers do not, as in the
// interpreter). None of them raises an FP exception, so fflags are untouched. A TLB miss leaves
// through a side exit before the access, as for integer loads and stores. Arithmetic stays out
// of line (SoftFloat, bit-exact, every rounding mode).

import RISCV
import X86

extension Emitter {
    /// What an inline F or D instruction does.
    private enum InlineFloat {
        case load(single: Bool), store(single: Bool)
        case signInject(FloatOp), moveToX(single: Bool), moveToF(single: Bool)
    }

    private static func inlineKind(_ d: DecodedInstruction) -> InlineFloat? {
        switch d.op {
        case .flw: return .load(single: true)
        case .fld: return .load(single: false)
        case .fsw: return .store(single: true)
        case .fsd: return .store(single: false)
        case .fpu:
            guard let op = FloatOp(rawValue: UInt8(truncatingIfNeeded: d.imm)) else { return nil }
            switch op {
            case .sgnjS, .sgnjnS, .sgnjxS, .sgnjD, .sgnjnD, .sgnjxD: return .signInject(op)
            case .mvXW: return .moveToX(single: true)
            case .mvXD: return .moveToX(single: false)
            case .mvWX: return .moveToF(single: true)
            case .mvDX: return .moveToF(single: false)
            default: return nil
            }
        default: return nil
        }
    }

    /// f`r` in the hart's f registers (r9 = their address).
    private func fSlot(_ r: UInt8) -> Memory { Memory(.r9, Int32(r) * 8) }

    /// Emits `d` inline when it is one of the F and D instructions done here (falling back to
    /// the out-of-line call when FS is Off); false otherwise.
    mutating func inlineFloat(_ d: DecodedInstruction, pc: UInt64, completed: Int) -> Bool {
        guard let kind = Self.inlineKind(d) else { return false }
        let slow = asm.newLabel(), done = asm.newLabel()
        // mstatus.FS == Off: the interpreter's code raises the trap.
        asm.load(.r8, Memory(.rsi, TranslationContext.controlWordsOffset), .qword)
        asm.load(.rdx, Memory(.r8, Int32(ControlWord.mstatus * 8)), .dword)
        asm.alu(.and, .rdx, imm: Int32(CSRBits.fs), .dword)
        asm.jump(if: .equal, to: slow)
        let offset = Int32(truncatingIfNeeded: d.imm)
        switch kind {
        case .load(let single):
            load(.rax, d.rs1)
            asm.alu(.add, .rax, imm: offset)
            translateAddress(size: single ? 4 : 8, tlbOffset: TranslationContext.readTLBOffset, completed: completed, pc: pc)
            asm.load(.rax, Memory(.rax), single ? .dword : .qword)
            if single { box(.rax) }
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            asm.store(fSlot(d.rd), .rax, .qword)
            markDirty()
        case .store(let single):
            load(.rax, d.rs1)
            asm.alu(.add, .rax, imm: offset)
            translateAddress(size: single ? 4 : 8, tlbOffset: TranslationContext.writeTLBOffset, completed: completed, pc: pc)
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            asm.load(.rcx, fSlot(d.rs2), .qword)
            asm.store(Memory(.rax), .rcx, single ? .dword : .qword)
        case .signInject(let op):
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            let single = op == .sgnjS || op == .sgnjnS || op == .sgnjxS
            if single {
                readSingle(.rax, d.rs1)
                readSingle(.rcx, d.rs2)
            } else {
                asm.load(.rax, fSlot(d.rs1), .qword)
                asm.load(.rcx, fSlot(d.rs2), .qword)
            }
            if op == .sgnjnS || op == .sgnjnD { asm.not(.rcx) }
            if op == .sgnjxS || op == .sgnjxD { asm.alu(.xor, .rcx, .rax) }
            if single {
                asm.alu(.and, .rax, imm: 0x7FFF_FFFF, .dword)
                asm.alu(.and, .rcx, imm: Int32(bitPattern: 0x8000_0000), .dword)
                asm.alu(.or, .rax, .rcx)
                box(.rax)
            } else {
                asm.mov(.rdx, imm: 0x7FFF_FFFF_FFFF_FFFF)
                asm.alu(.and, .rax, .rdx)
                asm.not(.rdx)
                asm.alu(.and, .rcx, .rdx)
                asm.alu(.or, .rax, .rcx)
            }
            asm.store(fSlot(d.rd), .rax, .qword)
            markDirty()
        case .moveToX(let single):
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            asm.load(.rax, fSlot(d.rs1), .qword)
            if single { asm.signExtend32(.rax, .rax) }
            // x0 as destination: the sink.
            store(d.rd == 0 ? 32 : d.rd, .rax)
        case .moveToF(let single):
            load(.rax, d.rs1)
            if single { box(.rax) }
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            asm.store(fSlot(d.rd), .rax, .qword)
            markDirty()
        }
        asm.jmp(done)
        asm.bind(slow)
        outOfLine(d, pc: pc, completed: completed)
        asm.bind(done)
        return true
    }

    /// r = 0xFFFF_FFFF_0000_0000 | the low 32 bits of r (uses rdx).
    private mutating func box(_ r: Register) {
        asm.mov(r, r, .dword)
        asm.mov(.rdx, imm: 0xFFFF_FFFF_0000_0000)
        asm.alu(.or, r, .rdx)
    }

    /// r = the single in f`f` read through NaN-boxing: its low 32 bits when the upper 32 are all
    /// ones, else the canonical NaN (uses rdx and r10; r9 = the f registers).
    private mutating func readSingle(_ r: Register, _ f: UInt8) {
        asm.load(r, fSlot(f), .qword)
        asm.mov(.rdx, r)
        asm.shift(.shr, .rdx, by: 32)
        asm.mov(r, r, .dword)
        asm.mov(.r10, imm: 0x7FC0_0000)
        asm.alu(.cmp, .rdx, imm: -1, .dword)
        asm.cmov(.notEqual, r, .r10)
    }

    /// mstatus |= FS Dirty | SD (uses r8 and rcx).
    private mutating func markDirty() {
        asm.load(.r8, Memory(.rsi, TranslationContext.controlWordsOffset), .qword)
        asm.mov(.rcx, imm: CSRBits.fsDirty | CSRBits.sd)
        asm.alu(.or, Memory(.r8, Int32(ControlWord.mstatus * 8)), .rcx)
    }
}

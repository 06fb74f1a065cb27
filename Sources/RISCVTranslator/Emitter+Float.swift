// Emitter+Float: the F and D instructions a block runs inline: FP loads and stores through the
// hart's TLBs (as integer ones), sign injection and the moves between x and f registers. They
// are the interpreter's `executeFloat` spelled in x86-64, mirroring it exactly: mstatus.FS Off
// sends the instruction to the out-of-line call (which raises the illegal-instruction trap), a
// single is read through NaN-boxing (an unboxed register reads as the canonical NaN 0x7fc00000)
// and written boxed, `fmv.x.w` and `fsw` take raw bits, and every instruction that writes an f
// register sets FS = Dirty and SD (stores and moves to x registers do not, as in the
// interpreter). None of them raises an FP exception, so fflags are untouched. A TLB miss leaves
// through a side exit before the access, as for integer loads and stores. add, sub, mul, div and
// sqrt of both precisions run on SSE under MXCSR set to the instruction's rounding mode, with
// RISC-V's canonical NaN and fflags from MXCSR's flags; the four fused multiply-adds run on FMA3
// when the host has it, leaving a NaN result to the out-of-line path. RMM, conversions, compares
// and the rest stay out of line (SoftFloat, bit-exact, every rounding mode).

import CLinuxShims
import RISCV
import X86

extension Emitter {
    /// What an inline F or D instruction does.
    private enum InlineFloat {
        case load(single: Bool), store(single: Bool)
        case signInject(FloatOp), moveToX(single: Bool), moveToF(single: Bool)
        case arithmetic(ScalarOperation, single: Bool, rm: UInt8)
        case fused(FusedOperation, single: Bool, rm: UInt8)
    }

    /// Whether the host runs FMA3, which the fused multiply-adds need inline.
    static let hostHasFMA = sb_cpu_has_fma() != 0

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
            case .addS, .subS, .mulS, .divS, .sqrtS, .addD, .subD, .mulD, .divD, .sqrtD:
                // Round to nearest, max magnitude has no MXCSR mode: out of line.
                let rm = UInt8((d.imm >> 8) & 7)
                guard rm < 4 || rm == 7 else { return nil }
                let single = op == .addS || op == .subS || op == .mulS || op == .divS || op == .sqrtS
                let scalar: ScalarOperation
                switch op {
                case .addS, .addD: scalar = .add
                case .subS, .subD: scalar = .sub
                case .mulS, .mulD: scalar = .mul
                case .divS, .divD: scalar = .div
                default: scalar = .sqrt
                }
                return .arithmetic(scalar, single: single, rm: rm)
            case .maddS, .msubS, .nmsubS, .nmaddS, .maddD, .msubD, .nmsubD, .nmaddD:
                let rm = UInt8((d.imm >> 8) & 7)
                guard hostHasFMA, rm < 4 || rm == 7 else { return nil }
                let single = op == .maddS || op == .msubS || op == .nmsubS || op == .nmaddS
                // RISC-V's fnmsub is -(a*b) + c and fnmadd -(a*b) - c.
                let fused: FusedOperation
                switch op {
                case .maddS, .maddD: fused = .multiplyAdd
                case .msubS, .msubD: fused = .multiplySubtract
                case .nmsubS, .nmsubD: fused = .negatedMultiplyAdd
                default: fused = .negatedMultiplySubtract
                }
                return .fused(fused, single: single, rm: rm)
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
        checkFPOn(slow: slow)
        let offset = Int32(truncatingIfNeeded: d.imm)
        switch kind {
        case .load(let single):
            address(d.rs1, offset)
            translateAddress(size: single ? 4 : 8, tlbOffset: TranslationContext.readTLBOffset, completed: completed, pc: pc)
            asm.load(.rax, Memory(.rax), single ? .dword : .qword)
            if single { box(.rax) }
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            asm.store(fSlot(d.rd), .rax, .qword)
            markFSDirty()
        case .store(let single):
            address(d.rs1, offset)
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
            markFSDirty()
        case .moveToX(let single):
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            asm.load(.rax, fSlot(d.rs1), .qword)
            if single { asm.signExtend32(.rax, .rax) }
            // x0 as destination: the sink.
            store(d.rd == 0 ? 32 : d.rd, .rax)
        case .arithmetic(let op, let single, let rm):
            arithmetic(op, single: single, rm: rm, d, slow: slow)
        case .fused(let op, let single, let rm):
            fused(op, single: single, rm: rm, d, slow: slow)
        case .moveToF(let single):
            load(.rax, d.rs1)
            if single { box(.rax) }
            asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
            asm.store(fSlot(d.rd), .rax, .qword)
            markFSDirty()
        }
        asm.jmp(done)
        emitSlowStubs(slow)
        asm.bind(slow)
        // The fallback runs under the host's MXCSR and goes on in the fast path's mode.
        let mode = fpMode
        fpMode = nil
        outOfLine(d, pc: pc, completed: completed)
        if let mode { loadMode(mode) }
        fpMode = mode
        asm.bind(done)
        fpKnownOn = true
        return true
    }

    /// f[rd] = rs1 op rs2 (sqrt: op rs1) on SSE under the rounding mode `rm` (7: frm, whose
    /// values 4-7 go to `slow`), with the canonical NaN for any NaN result (x86 returns an
    /// operand's payload or a negative default NaN); the operation's exception flags accrue in
    /// MXCSR until the block folds them into fflags (Emitter+FloatMode). x86 with exceptions masked detects tininess after rounding and raises
    /// UE only when the tiny result is also inexact, as RISC-V does; DE has no counterpart and
    /// is dropped.
    private mutating func arithmetic(_ op: ScalarOperation, single: Bool, rm: UInt8, _ d: DecodedInstruction, slow: Label) {
        enterFPMode(rm, slow: slow)
        asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
        if single {
            readSingle(.rax, d.rs1)
            asm.movq(.xmm0, .rax)
            if op != .sqrt { readSingle(.rax, d.rs2); asm.movq(.xmm1, .rax) }
        } else {
            asm.load(.rax, fSlot(d.rs1), .qword)
            asm.movq(.xmm0, .rax)
            if op != .sqrt { asm.load(.rax, fSlot(d.rs2), .qword); asm.movq(.xmm1, .rax) }
        }
        asm.scalar(op, double: !single, .xmm0, op == .sqrt ? .xmm0 : .xmm1)
        asm.movq(.rax, .xmm0)
        // A NaN (exponent all ones, fraction not zero: twice the bits above twice infinity's)
        // becomes the canonical NaN.
        asm.mov(.rdx, .rax)
        if single {
            asm.alu(.add, .rdx, .rdx, .dword)
            asm.alu(.cmp, .rdx, imm: Int32(bitPattern: 0xFF00_0000), .dword)
            asm.mov(.r10, imm: 0x7FC0_0000, keepFlags: true)
            asm.cmov(.above, .rax, .r10)
            box(.rax)
        } else {
            asm.alu(.add, .rdx, .rdx)
            asm.mov(.rcx, imm: 0xFFE0_0000_0000_0000)
            asm.alu(.cmp, .rdx, .rcx)
            asm.mov(.r10, imm: 0x7FF8_0000_0000_0000, keepFlags: true)
            asm.cmov(.above, .rax, .r10)
        }
        asm.store(fSlot(d.rd), .rax, .qword)
        markFSDirty()
    }

    /// f[rd] = ±(rs1 * rs2) ± rs3 with one rounding (FMA3) under the rounding mode `rm`, and
    /// the operation's flags (accruing in MXCSR). A NaN result leaves for `slow` before anything is written: the
    /// interpreter's SoftFloat decides its flags (RISC-V raises NV for inf * 0 + qNaN, which
    /// x86 need not) and returns the canonical NaN. A finite or infinite result cannot carry
    /// NV, and its OF/UF/NX come from MXCSR as for the other operations.
    private mutating func fused(_ op: FusedOperation, single: Bool, rm: UInt8, _ d: DecodedInstruction, slow: Label) {
        enterFPMode(rm, slow: slow)
        let rs3 = UInt8((d.imm >> 16) & 31)
        asm.load(.r9, Memory(.rsi, TranslationContext.fOffset), .qword)
        for (f, x) in [(d.rs1, XMMRegister.xmm1), (d.rs2, .xmm2), (rs3, .xmm0)] {
            if single { readSingle(.rax, f) } else { asm.load(.rax, fSlot(f), .qword) }
            asm.movq(x, .rax)
        }
        asm.fused(op, double: !single, .xmm0, .xmm1, .xmm2)
        asm.movq(.rax, .xmm0)
        asm.mov(.rdx, .rax)
        if single {
            asm.alu(.add, .rdx, .rdx, .dword)
            asm.alu(.cmp, .rdx, imm: Int32(bitPattern: 0xFF00_0000), .dword)
            asm.jump(if: .above, to: slowTarget(slow))
            box(.rax)
        } else {
            asm.alu(.add, .rdx, .rdx)
            asm.mov(.rcx, imm: 0xFFE0_0000_0000_0000)
            asm.alu(.cmp, .rdx, .rcx)
            asm.jump(if: .above, to: slowTarget(slow))
        }
        asm.store(fSlot(d.rd), .rax, .qword)
        markFSDirty()
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
}

// OutOfLineOutcome: how one F, D or A instruction an engine hands to the interpreter's own code
// (`Hart.executeOutOfLine`) ended. The translator calls it from inside a translated block for
// the instructions it does not emit inline, so they run the very code the interpreter's loop
// runs (FS and rounding-mode checks, SoftFloat, NaN-boxing, fflags, LR/SC reservations, AMOs
// atomic across harts, traps) and leave `pc` where the loop would.

/// The end of an instruction run by `Hart.executeOutOfLine`.
package enum OutOfLineOutcome: UInt8 {
    /// It retired; `pc` is the next instruction's.
    case retired
    /// It trapped (not retired; the interpreter spends one unit of budget on it as a fault);
    /// `pc` is the trap vector.
    case trapped
    /// It needs the VMM: `pendingExit` is set, `pc` is still the instruction's, and the exit
    /// is emulated as the interpreter's would be.
    case exit
}

extension Hart {
    /// Runs the F, D or A instruction `d` at `pc` exactly as the interpreter loop's case for
    /// it does (which calls the same functions).
    @inline(never)
    package func executeOutOfLine(_ d: DecodedInstruction, at pc: UInt64) -> OutOfLineOutcome {
        self.pc = pc
        let ok: Bool
        switch d.op {
        case .flw, .fld, .fsw, .fsd, .fpu: ok = executeFloat(d)
        default: ok = atomic(d)
        }
        if ok {
            self.pc = pc &+ UInt64(d.length)
            return .retired
        }
        if pendingExit != nil {
            exitInstruction = d
            return .exit
        }
        return .trapped
    }
}

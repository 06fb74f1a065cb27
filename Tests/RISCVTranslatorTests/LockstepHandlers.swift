// LockstepHandlers: the trap handlers of a lockstep program. Each records cause, tval, a trap
// count and the trap pc in the log page (M at log+0, S at log+64), then returns:
// - an interrupt: its enable bit (and, from M, its pending bit where writable) is cleared, so
//   it is taken once; a machine software interrupt also clears the CLINT's msip (an MMIO store);
// - a fetch fault (cause 0, 1 or 12): to x26 + 12, after the `auipc x26, 0; auipc x30; jalr`
//   sequence that jumped away;
// - any other exception: past the trapped instruction, whose length the handler reads at mepc
//   (code is identity-mapped, so M-mode reads it untranslated; U code needs sstatus.SUM in S).
// The M handler saves and restores x28/x29 (it may interrupt the S handler); both start behind a
// table of 16 `jal` entries, so mtvec/stvec may be direct (the common entry) or vectored.
// Registers x26-x31 are the generator's own: random code never writes them.

@testable import RISCV

/// Machine code of the two trap handlers.
enum LockstepHandlers {
    typealias E = LockstepEncoding

    /// The handler for `machine` (M) or S mode, to be placed at `base`: a vector table of 16
    /// `jal` to the common entry at `base + 64`.
    static func code(machine: Bool) -> [UInt32] {
        let cause = machine ? CSR.mcause : CSR.scause, tval = machine ? CSR.mtval : CSR.stval
        let epc = machine ? CSR.mepc : CSR.sepc
        let ip = machine ? CSR.mip : CSR.sip, ie = machine ? CSR.mie : CSR.sie
        let slot: Int32 = machine ? 0 : 64
        var w: [UInt32] = []
        for i in 0..<16 { w.append(E.j(Int32(4 * (16 - i)), 0)) }
        // Labels are filled in by index below.
        if machine {
            w.append(E.s(128, 28, 27, 3, 0x23))                  // sd x28, 128(x27)
            w.append(E.s(136, 29, 27, 3, 0x23))                  // sd x29, 136(x27)
        }
        w.append(E.csrr(28, cause))
        w.append(E.s(slot, 28, 27, 3, 0x23))                     // sd x28, slot(x27)
        w.append(E.csrr(29, tval))
        w.append(E.s(slot + 8, 29, 27, 3, 0x23))
        w.append(E.i(slot + 16, 27, 3, 29, 0x03))                // ld x29, slot+16(x27)
        w.append(E.addi(29, 29, 1))
        w.append(E.s(slot + 16, 29, 27, 3, 0x23))
        w.append(E.csrr(29, epc))
        w.append(E.s(slot + 24, 29, 27, 3, 0x23))
        let toIRQ = w.count; w.append(0)                         // blt x28, x0, irq
        w.append(E.i(2, 28, 3, 29, 0x13))                        // sltiu x29, x28, 2
        let toFetch1 = w.count; w.append(0)                      // bne x29, x0, fetch
        w.append(E.addi(29, 28, -12))
        let toFetch2 = w.count; w.append(0)                      // beq x29, x0, fetch
        w.append(E.csrr(29, epc))
        w.append(E.i(0, 29, 5, 28, 0x03))                        // lhu x28, 0(x29)
        w.append(E.i(3, 28, 7, 28, 0x13))                        // andi x28, x28, 3
        w.append(E.addi(28, 28, -3))
        w.append(E.addi(29, 29, 2))
        w.append(E.b(8, 0, 28, 1))                               // bne x28, x0, +8
        w.append(E.addi(29, 29, 2))
        w.append(E.csrw(epc, 29))
        let toReturn1 = w.count; w.append(0)                     // jal x0, return
        let fetch = w.count
        w.append(E.addi(29, 26, 12))
        w.append(E.csrw(epc, 29))
        let toReturn2 = w.count; w.append(0)
        let irq = w.count
        w.append(E.i(63, 28, 7, 28, 0x13))                       // andi x28, x28, 63
        w.append(E.addi(29, 0, 1))
        w.append(E.r(0, 28, 29, 1, 29, 0x33))                    // sll x29, x29, x28
        w.append(E.csrc(ip, 29))
        w.append(E.csrc(ie, 29))
        var toReturn3 = -1
        if machine {
            w.append(E.addi(28, 28, -3))
            toReturn3 = w.count; w.append(0)                     // bne x28, x0, return
            w.append(E.u(0x2000, 28, 0x37))                      // lui x28, 0x2000 (the CLINT)
            w.append(E.s(0, 0, 28, 2, 0x23))                     // sw x0, 0(x28): msip = 0
        }
        let ret = w.count
        if machine {
            w.append(E.i(128, 27, 3, 28, 0x03))                  // ld x28, 128(x27)
            w.append(E.i(136, 27, 3, 29, 0x03))
            w.append(E.mret)
        } else {
            w.append(E.sret)
        }
        func off(_ from: Int, _ to: Int) -> Int32 { Int32(4 * (to - from)) }
        w[toIRQ] = E.b(off(toIRQ, irq), 0, 28, 4)
        w[toFetch1] = E.b(off(toFetch1, fetch), 0, 29, 1)
        w[toFetch2] = E.b(off(toFetch2, fetch), 0, 29, 0)
        w[toReturn1] = E.j(off(toReturn1, ret), 0)
        w[toReturn2] = E.j(off(toReturn2, ret), 0)
        if toReturn3 >= 0 { w[toReturn3] = E.b(off(toReturn3, ret), 0, 28, 1) }
        return w
    }
}

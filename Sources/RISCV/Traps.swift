// Traps: taking exceptions and interrupts with medeleg/mideleg delegation, direct and vectored
// trap vectors, and the mret/sret returns.

extension Hart {
    /// Takes a synchronous exception at `self.pc` (the faulting instruction).
    func takeException(_ cause: ExceptionCause, tval: UInt64) {
        stats.record(.exception)
        if traceExits { print("exception \(cause) pc=0x\(String(pc, radix: 16)) tval=0x\(String(tval, radix: 16))") }
        trap(cause: cause.rawValue, interrupt: false, tval: tval)
    }

    /// Enters the trap handler for `cause` in M- or S-mode per the delegation registers.
    func trap(cause: UInt64, interrupt: Bool, tval: UInt64) {
        reservation = .max
        let deleg = interrupt ? mideleg : medeleg
        let old = privilege
        if privilege <= .supervisor && (deleg >> cause) & 1 != 0 {
            scause = (interrupt ? 1 << 63 : 0) | cause
            sepc = pc
            stval = tval
            var s = mstatus & ~(CSRBits.spie | CSRBits.sie | CSRBits.spp)
            if mstatus & CSRBits.sie != 0 { s |= CSRBits.spie }
            if privilege == .supervisor { s |= CSRBits.spp }
            mstatus = s
            privilege = .supervisor
            pc = (stvec & ~3) &+ (interrupt && stvec & 3 == 1 ? 4 &* cause : 0)
        } else {
            mcause = (interrupt ? 1 << 63 : 0) | cause
            mepc = pc
            mtval = tval
            var s = mstatus & ~(CSRBits.mpie | CSRBits.mie | CSRBits.mpp)
            if mstatus & CSRBits.mie != 0 { s |= CSRBits.mpie }
            s |= UInt64(privilege.rawValue) << CSRBits.mppShift
            mstatus = s
            privilege = .machine
            pc = (mtvec & ~3) &+ (interrupt && mtvec & 3 == 1 ? 4 &* cause : 0)
            if firmwareMode == .builtinSBI && shutdownRequest == nil {
                shutdownRequest = .failed("unhandled M-mode trap (cause \(cause)\(interrupt ? ", interrupt" : ""), " +
                    "tval 0x\(String(tval, radix: 16)), epc 0x\(String(mepc, radix: 16))) with the builtin SBI")
            }
        }
        if old != privilege { flushTLB() }
    }

    /// The highest-priority pending and enabled interrupt, if any.
    func pendingInterrupt() -> UInt64? {
        let pending = mip & mie
        if pending == 0 { return nil }
        let mEnabled = privilege < .machine || mstatus & CSRBits.mie != 0
        let sEnabled = privilege < .supervisor || (privilege == .supervisor && mstatus & CSRBits.sie != 0)
        let m = mEnabled ? pending & ~mideleg : 0
        let s = sEnabled ? pending & mideleg : 0
        // M-level before S-level; within a level MEI, MSI, MTI, SEI, SSI, STI.
        return Hart.highestPriority(m) ?? Hart.highestPriority(s)
    }

    static func highestPriority(_ set: UInt64) -> UInt64? {
        if set == 0 { return nil }
        if set & CSRBits.meip != 0 { return 11 }
        if set & CSRBits.msip != 0 { return 3 }
        if set & CSRBits.mtip != 0 { return 7 }
        if set & CSRBits.seip != 0 { return 9 }
        if set & CSRBits.ssip != 0 { return 1 }
        if set & CSRBits.stip != 0 { return 5 }
        return nil
    }

    /// Takes a pending enabled interrupt, if any. Returns whether one was taken.
    @discardableResult
    func takePendingInterrupt() -> Bool {
        guard let cause = pendingInterrupt() else { return false }
        stats.record(.interrupt)
        trap(cause: cause, interrupt: true, tval: 0)
        return true
    }

    /// mret: back to MPP with MIE restored.
    func doMret() {
        let mpp = PrivilegeMode(rawValue: UInt8((mstatus >> CSRBits.mppShift) & 3)) ?? .user
        var s = mstatus & ~(CSRBits.mie | CSRBits.mpp)
        if mstatus & CSRBits.mpie != 0 { s |= CSRBits.mie }
        s |= CSRBits.mpie
        if mpp != .machine { s &= ~CSRBits.mprv }
        mstatus = s
        privilege = mpp
        pc = mepc
        reservation = .max
        flushTLB()
    }

    /// sret: back to SPP with SIE restored.
    func doSret() {
        let spp: PrivilegeMode = mstatus & CSRBits.spp != 0 ? .supervisor : .user
        var s = mstatus & ~(CSRBits.sie | CSRBits.spp | CSRBits.mprv)
        if mstatus & CSRBits.spie != 0 { s |= CSRBits.sie }
        s |= CSRBits.spie
        mstatus = s
        privilege = spp
        pc = sepc
        reservation = .max
        flushTLB()
    }
}

// SBI: the builtin supervisor binary interface (v1.0 base, TIME, IPI, RFENCE, HSM, SRST and the
// legacy console/timer/IPI/fence/shutdown calls), implemented by the VMM as hypercalls for S-mode
// ecalls. Calls that reach other harts go through the `HartGroup`.
import Machine

/// SBI extension ids and error codes.
public enum SBI {
    public static let base: UInt64 = 0x10, time: UInt64 = 0x5449_4D45, ipi: UInt64 = 0x73_5049
    public static let rfence: UInt64 = 0x5246_4E43, hsm: UInt64 = 0x48_534D, srst: UInt64 = 0x5352_5354
    public static let legacySetTimer: UInt64 = 0, legacyPutchar: UInt64 = 1, legacyGetchar: UInt64 = 2
    public static let legacyClearIPI: UInt64 = 3, legacySendIPI: UInt64 = 4, legacyRemoteFenceI: UInt64 = 5
    public static let legacySfenceVMA: UInt64 = 6, legacySfenceVMAASID: UInt64 = 7, legacyShutdown: UInt64 = 8
    public static let success: Int64 = 0, errFailed: Int64 = -1, errNotSupported: Int64 = -2
    public static let errInvalidParam: Int64 = -3, errInvalidAddress: Int64 = -5, errAlreadyAvailable: Int64 = -6
    /// Implementation id reported by sbi_get_impl_id (not one of the registered ids).
    public static let implementationID: UInt64 = 0x5357
}

extension Hart {
    /// Handles an S-mode ecall as an SBI call: a7 = extension, a6 = function, a0...a5 arguments;
    /// the result goes to a0 (error) and a1 (value).
    func handleSBI() {
        let eid = x[17], fid = x[16], a0 = x[10], a1 = x[11], a2 = x[12]
        var err = SBI.success
        var value: UInt64 = 0
        func legacy(_ v: Int64) { x[10] = UInt64(bitPattern: v) }
        switch eid {
        case SBI.legacySetTimer:
            setTimer(a0); legacy(0); return
        case SBI.legacyPutchar:
            consolePut?(UInt8(truncatingIfNeeded: a0)); legacy(0); return
        case SBI.legacyGetchar:
            legacy(consoleGet?().map { Int64($0) } ?? -1); return
        case SBI.legacyClearIPI:
            mip &= ~CSRBits.ssip; legacy(0); return
        case SBI.legacySendIPI:
            // a0 points at the hart mask (0: every hart).
            sendToHarts(HartRequest.supervisorSoftware, mask: legacyHartMask(a0), base: a0 == 0 ? .max : 0)
            legacy(0); return
        case SBI.legacyRemoteFenceI:
            sendToHarts(HartRequest.flushCode, mask: legacyHartMask(a0), base: a0 == 0 ? .max : 0)
            legacy(0); return
        case SBI.legacySfenceVMA, SBI.legacySfenceVMAASID:
            sendToHarts(HartRequest.flushTLB, mask: legacyHartMask(a0), base: a0 == 0 ? .max : 0)
            legacy(0); return
        case SBI.legacyShutdown:
            requestMachineOutcome(.powerOff(code: 0)); legacy(0); return
        case SBI.base:
            switch fid {
            case 0: value = 1 << 24 // spec version 1.0
            case 1: value = SBI.implementationID
            case 2: value = 1
            case 3:
                let known: [UInt64] = [SBI.base, SBI.time, SBI.ipi, SBI.rfence, SBI.hsm, SBI.srst,
                                       SBI.legacySetTimer, SBI.legacyPutchar, SBI.legacyGetchar, SBI.legacyClearIPI,
                                       SBI.legacySendIPI, SBI.legacyRemoteFenceI, SBI.legacySfenceVMA,
                                       SBI.legacySfenceVMAASID, SBI.legacyShutdown]
                value = known.contains(a0) ? 1 : 0
            case 4, 5, 6: value = 0
            default: err = SBI.errNotSupported
            }
        case SBI.time:
            if fid == 0 { setTimer(a0) } else { err = SBI.errNotSupported }
        case SBI.ipi:
            if fid == 0 {
                if !sendToHarts(HartRequest.supervisorSoftware, mask: a0, base: a1) { err = SBI.errInvalidParam }
            } else { err = SBI.errNotSupported }
        case SBI.rfence:
            // remote_fence_i, remote_sfence_vma, remote_sfence_vma_asid (the hypervisor fences
            // need the H extension). Address ranges and ASIDs only narrow a flush: flush all.
            switch fid {
            case 0: if !sendToHarts(HartRequest.flushCode, mask: a0, base: a1) { err = SBI.errInvalidParam }
            case 1, 2: if !sendToHarts(HartRequest.flushTLB, mask: a0, base: a1) { err = SBI.errInvalidParam }
            default: err = SBI.errNotSupported
            }
        case SBI.hsm:
            switch fid {
            case 0: err = hsmStart(hart: a0, address: a1, opaque: a2)
            case 1:
                runState.store(HartRunState.stopped.rawValue, ordering: .releasing)
                requestExit()
            case 2:
                if let h = group?.hart(a0) ?? (a0 == hartID ? self : nil) { value = UInt64(h.hsmState.rawValue) }
                else { err = SBI.errInvalidParam }
            case 3:
                // hart_suspend: retentive (0) waits like WFI; non-retentive (0x8000_0000)
                // resumes at a1 with a2 as its argument when an interrupt is pending.
                switch UInt32(truncatingIfNeeded: a0) {
                case 0: waitForInterrupt()
                case 0x8000_0000:
                    startParameters.withLock { $0 = (a1, a2, true) }
                    runState.store(HartRunState.suspended.rawValue, ordering: .releasing)
                    requestExit()
                default: err = SBI.errInvalidParam
                }
            default: err = SBI.errNotSupported
            }
        case SBI.srst:
            if fid == 0 {
                switch a0 {
                case 0: requestMachineOutcome(.powerOff(code: a1 == 0 ? 0 : 1))
                case 1, 2: requestMachineOutcome(.reset)
                default: err = SBI.errInvalidParam
                }
            } else { err = SBI.errNotSupported }
        default:
            err = SBI.errNotSupported
        }
        x[10] = UInt64(bitPattern: err)
        if err == SBI.success { x[11] = value }
    }

    private func setTimer(_ deadline: UInt64) {
        sbiTimerDeadline = deadline
        mip &= ~CSRBits.stip
    }

    /// Power off or reset for the whole machine (every hart's `run` returns it).
    func requestMachineOutcome(_ r: VCPURunResult) {
        if let group { group.requestOutcome(r) } else { shutdownRequest = r }
    }

    /// Posts `request` to the harts of an SBI hart mask (`base == .max`: every hart), acting
    /// on this hart's own share at once. False when the mask names a hart that does not exist.
    @discardableResult
    func sendToHarts(_ request: UInt64, mask: UInt64, base: UInt64) -> Bool {
        let mine = base == .max || (hartID >= base && hartID - base < 64 && (mask >> (hartID - base)) & 1 != 0)
        if let group, group.harts.count > 1 {
            guard group.post(request, mask: mask, base: base, from: self) else { return false }
            serviceRequests()
            return true
        }
        if base != .max && (base > hartID || (mask >> (hartID - base)) >> 1 != 0) { return false }
        if mine {
            if request & HartRequest.supervisorSoftware != 0 { mip |= CSRBits.ssip }
            if request & HartRequest.flushTLB != 0 { flushTLB() }
        }
        return true
    }

    /// The hart mask a legacy call's a0 points at (0: every hart); every hart when unreadable.
    private func legacyHartMask(_ address: UInt64) -> UInt64 {
        if address == 0 { return .max }
        guard case .success(let pa) = satp >> 60 == 0 ? .success(address) : walk(address, access: .read, mode: .supervisor),
              let p = memory.hostPointer(GuestPhysicalAddress(pa), length: 8) else { return .max }
        return p.loadUnaligned(as: UInt64.self)
    }

    /// SBI hart_start: a stopped hart starts at `address` in S-mode with a1 = `opaque`.
    private func hsmStart(hart id: UInt64, address: UInt64, opaque: UInt64) -> Int64 {
        guard let target = group?.hart(id) ?? (id == hartID ? self : nil) else { return SBI.errInvalidParam }
        guard address & 1 == 0 else { return SBI.errInvalidAddress }
        var ok = false
        target.startParameters.withLock { p in
            if target.runState.compareExchange(expected: HartRunState.stopped.rawValue,
                                               desired: HartRunState.startPending.rawValue,
                                               ordering: .acquiringAndReleasing).exchanged {
                p = (address, opaque, false)
                ok = true
            }
        }
        guard ok else { return SBI.errAlreadyAvailable }
        target.wakeup.signal()
        return SBI.success
    }
}

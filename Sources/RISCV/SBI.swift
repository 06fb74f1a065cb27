// SBI: the builtin supervisor binary interface (v1.0 base, TIME, IPI, RFENCE, HSM, SRST and the
// legacy console/timer/shutdown calls), implemented by the VMM as hypercalls for S-mode ecalls.

/// SBI extension ids and error codes.
public enum SBI {
    public static let base: UInt64 = 0x10, time: UInt64 = 0x5449_4D45, ipi: UInt64 = 0x73_5049
    public static let rfence: UInt64 = 0x5246_4E43, hsm: UInt64 = 0x48_534D, srst: UInt64 = 0x5352_5354
    public static let legacySetTimer: UInt64 = 0, legacyPutchar: UInt64 = 1, legacyGetchar: UInt64 = 2
    public static let legacyClearIPI: UInt64 = 3, legacySendIPI: UInt64 = 4, legacyRemoteFenceI: UInt64 = 5
    public static let legacySfenceVMA: UInt64 = 6, legacySfenceVMAASID: UInt64 = 7, legacyShutdown: UInt64 = 8
    public static let success: Int64 = 0, errFailed: Int64 = -1, errNotSupported: Int64 = -2
    public static let errInvalidParam: Int64 = -3, errAlreadyAvailable: Int64 = -6
    /// Implementation id reported by sbi_get_impl_id (not one of the registered ids).
    public static let implementationID: UInt64 = 0x5357
}

extension Hart {
    /// Handles an S-mode ecall as an SBI call: a7 = extension, a6 = function, a0...a5 arguments;
    /// the result goes to a0 (error) and a1 (value).
    func handleSBI() {
        let eid = x[17], fid = x[16], a0 = x[10], a1 = x[11]
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
            mip |= CSRBits.ssip; legacy(0); return
        case SBI.legacyRemoteFenceI, SBI.legacySfenceVMA, SBI.legacySfenceVMAASID:
            flushTLB(); legacy(0); return
        case SBI.legacyShutdown:
            shutdownRequest = .powerOff(code: 0); legacy(0); return
        case SBI.base:
            switch fid {
            case 0: value = 1 << 24 // spec version 1.0
            case 1: value = SBI.implementationID
            case 2: value = 1
            case 3:
                let known: [UInt64] = [SBI.base, SBI.time, SBI.ipi, SBI.rfence, SBI.hsm, SBI.srst,
                                       SBI.legacySetTimer, SBI.legacyPutchar, SBI.legacyGetchar, SBI.legacyShutdown]
                value = known.contains(a0) ? 1 : 0
            case 4, 5, 6: value = 0
            default: err = SBI.errNotSupported
            }
        case SBI.time:
            if fid == 0 { setTimer(a0) } else { err = SBI.errNotSupported }
        case SBI.ipi:
            if fid == 0 {
                // hart_mask a0 relative to hart_mask_base a1 (all ones base = all harts).
                if a1 == .max || (a1 <= hartID && hartID - a1 < 64 && (a0 >> (hartID - a1)) & 1 != 0) {
                    mip |= CSRBits.ssip
                }
            } else { err = SBI.errNotSupported }
        case SBI.rfence:
            if fid <= 2 { flushTLB() } else { err = SBI.errNotSupported }
        case SBI.hsm:
            switch fid {
            case 0: err = a0 == hartID ? SBI.errAlreadyAvailable : SBI.errInvalidParam
            case 1: shutdownRequest = .powerOff(code: 0)
            case 2: if a0 == hartID { value = 0 } else { err = SBI.errInvalidParam }
            case 3: waitForInterrupt()
            default: err = SBI.errNotSupported
            }
        case SBI.srst:
            if fid == 0 {
                switch a0 {
                case 0: shutdownRequest = .powerOff(code: a1 == 0 ? 0 : 1)
                case 1, 2: shutdownRequest = .reset
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
}

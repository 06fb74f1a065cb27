// HartBoot: the state a hart starts a boot image in, by firmware mode: M-mode for a firmware
// ELF or no firmware, S-mode behind the builtin SBI with what OpenSBI leaves behind
// (exceptions and S interrupts delegated, counters open to S- and U-mode, PMP open to S-mode).

extension Hart {
    /// Starts the hart at `entry` under firmware `mode`, with a0 = its hart ID and a1 =
    /// `argument` (the device tree's address), as firmware hands over to the next stage.
    public func prepareBoot(mode: FirmwareMode, entry: UInt64, argument: UInt64) {
        firmwareMode = mode
        switch mode {
        case .builtinSBI:
            _ = writeCSR(CSR.medeleg, 0xB1FF)
            _ = writeCSR(CSR.mideleg, CSRBits.sInterrupts)
            _ = writeCSR(CSR.mcounteren, 7)
            // cycle, time and instret open to user mode too (scounteren's reset value is the
            // platform's choice): Linux 6.1 only opens them from its SBI PMU driver, which
            // the builtin SBI does not offer, and user space reads time through the vDSO.
            _ = writeCSR(CSR.scounteren, 7)
            _ = writeCSR(CSR.pmpaddr0, (1 << 54) - 1) // NAPOT over everything
            _ = writeCSR(CSR.pmpcfg0, 0x1F)
            privilege = .supervisor
        case .firmware, .none:
            privilege = .machine
        }
        pc = entry
        setRegister(10, hartID)
        setRegister(11, argument)
        flushTLB()
    }

    /// Leaves the hart stopped (SBI HSM) until another hart starts it with hart_start.
    public func stopForHSM() {
        runState.store(HartRunState.stopped.rawValue, ordering: .releasing)
    }
}

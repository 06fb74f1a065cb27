// InterruptInputs: what a hart samples from the platform it is wired into: the machine timer,
// its timer compare and software-interrupt bit, and its external interrupt lines. On the
// `virt` board a CLINT and a PLIC (module RISCVBoard) drive them; the CPU never knows which
// devices do.

/// The timer and software-interrupt inputs of the harts (a CLINT on `virt`).
public protocol HartTimerInputs: AnyObject {
    /// The machine timer (`mtime`, read through the `time` CSR), in timebase ticks.
    var mtime: UInt64 { get }
    /// The timer compare value of hart `hart` (`mtimecmp`).
    func timerCompare(hart: UInt64) -> UInt64
    /// Whether hart `hart`'s machine software interrupt is raised (`msip`).
    func softwareInterrupt(hart: UInt64) -> Bool
}

/// The external interrupt inputs of the harts (a PLIC on `virt`).
public protocol HartExternalInputs: AnyObject, Sendable {
    /// The MEIP and SEIP bits (as in `mip`) that hart `hart`'s contexts drive now.
    func externalInterrupts(hart: UInt64) -> UInt64
    /// Registers what to call (from any thread) when one of hart `hart`'s outputs rises, to
    /// end its WFI sleep early.
    func onAssert(hart: UInt64, _ wake: @escaping @Sendable () -> Void)
}

// HartState: the plain Codable architectural state of one hart, separate from the live `Hart`
// (snapshots and live migration save and restore this).

/// Everything needed to resume a hart elsewhere.
public struct HartState: Codable, Sendable, Equatable {
    /// x0...x31.
    public var x: [UInt64] = Array(repeating: 0, count: 32)
    /// The program counter.
    public var pc: UInt64 = 0
    /// Current privilege mode.
    public var privilege: PrivilegeMode = .machine
    /// Machine/supervisor CSRs by name.
    public var mstatus: UInt64 = 0, medeleg: UInt64 = 0, mideleg: UInt64 = 0, mie: UInt64 = 0, mip: UInt64 = 0
    public var mtvec: UInt64 = 0, mepc: UInt64 = 0, mcause: UInt64 = 0, mtval: UInt64 = 0, mscratch: UInt64 = 0
    public var mcounteren: UInt64 = 0, scounteren: UInt64 = 0, mcountinhibit: UInt64 = 0
    public var menvcfg: UInt64 = 0, senvcfg: UInt64 = 0
    public var stvec: UInt64 = 0, sepc: UInt64 = 0, scause: UInt64 = 0, stval: UInt64 = 0, sscratch: UInt64 = 0
    public var satp: UInt64 = 0
    /// PMP configuration bytes (16) and addresses (16).
    public var pmpcfg: [UInt8] = Array(repeating: 0, count: 16)
    public var pmpaddr: [UInt64] = Array(repeating: 0, count: 16)
    /// Instructions retired (the VMM's count) and what the guest's mcycle and minstret read
    /// beyond it (set by the guest's writes to those CSRs).
    public var instret: UInt64 = 0, cycleOffset: UInt64 = 0, instretOffset: UInt64 = 0
    /// The hart id.
    public var hartID: UInt64 = 0
    /// The builtin SBI's pending S-mode timer deadline (VMM state that travels with the hart).
    public var sbiTimerDeadline: UInt64 = .max
    /// The SBI HSM state (secondary harts wait stopped until the boot hart starts them).
    public var runState: HartRunState = .started
    /// A pending HSM start or non-retentive suspend: where it enters S-mode and its a1.
    public var startAddress: UInt64 = 0, startOpaque: UInt64 = 0, startResume = false
    /// f0...f31 (raw bits, singles NaN-boxed) and fcsr (frm << 5 | fflags).
    public var f: [UInt64] = Array(repeating: 0, count: 32)
    public var fcsr: UInt64 = 0

    /// A reset state.
    public init() {}
}

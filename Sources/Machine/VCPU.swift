// The VCPU protocol: what the VMM needs from any CPU backend (software RISC-V now, KVM later).

/// How one call to `run` ended.
public enum VCPURunResult: Equatable, Sendable {
    /// The budget ran out or an exit was handled; call `run` again.
    case `continue`
    /// The guest powered off with an exit code (0 = success).
    case powerOff(code: Int32)
    /// The guest asked for a reset.
    case reset
    /// The VMM cannot continue (e.g. a trap with no handler); the message says why.
    case failed(String)
}

/// A virtual CPU that runs guest code until an exit.
public protocol VCPU: AnyObject {
    /// The plain, Codable state saved and restored for snapshots and migration.
    associatedtype State: Codable & Sendable
    /// Runs up to `budget` guest instructions, emulating the exits it meets.
    func run(budget: Int) -> VCPURunResult
    /// Exit counts so far.
    var exitStatistics: ExitStatistics { get }
    /// Instructions retired so far.
    var instructionsRetired: UInt64 { get }
    /// Captures the architectural state.
    func saveState() -> State
    /// Restores a state captured by `saveState`; throws if it is inconsistent.
    func restoreState(_ state: State) throws
    /// Asks a `run` in progress on another thread to return soon (within a few thousand
    /// instructions), as KVM's `immediate_exit` and a signal do; safe from any thread.
    func requestExit()
}

// MigrationOptions: the knobs of the pre-copy loop (downtime budget, round limit, batch size,
// timeout).

/// Knobs of the pre-copy loop.
public struct MigrationOptions: Sendable {
    /// Longest pause aimed for: stop and copy once the remaining dirty pages would take at
    /// most this long at the bandwidth of the previous round (seconds; default 5 ms).
    public var downtimeBudget: Double = 0.005
    /// Rounds after round 0 at most before stopping anyway.
    public var maxRounds = 30
    /// Stop and copy early when the dirty set has not shrunk by a tenth for `stalledRounds`
    /// rounds in a row (the guest dirties memory as fast as it is sent, so the budget cannot
    /// be met by iterating), rather than run up to `maxRounds` (Clark et al. stop likewise).
    public var stopWhenNotConverging = true
    /// See `stopWhenNotConverging`.
    public var stalledRounds = 2
    /// Pages per `pages` message (256: about 1 MiB of data pages a message).
    public var pagesPerMessage = 256
    /// Seconds to wait for any reply.
    public var timeout: Double = 30
    /// The migration's id (default: a fresh UUID), the key of its `MigrationOutcomes` entry.
    public var id: String?
    /// Where this process's listener answers `resolve` ("host:port"); sent in the hello so
    /// a destination that lost the connection after its `ack` can ask what to do.
    public var resolveAddress: String?
    /// Copy the VM's writable disks to the destination too (storage without shared
    /// disks, like QEMU's drive-mirror): pre-copy sends every allocated block and then the
    /// blocks written meanwhile, the stop-and-copy the last ones.
    public var copyDisks = false
    /// Slow the vCPUs down while pre-copy rounds stall (QEMU's auto-converge), so a guest
    /// that writes faster than the link still fits the downtime budget.
    public var autoConverge = false
    /// Switch to post-copy when pre-copy does not converge: the destination runs the VM and
    /// fetches the pages still missing from the source on demand. Once it has switched over,
    /// losing the source or the link loses the VM.
    public var postcopy = false
    /// Where outcomes are recorded (default: the process's registry).
    public var outcomes: MigrationOutcomes = .shared

    /// The defaults.
    public init() {}
}

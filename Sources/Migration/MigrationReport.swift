// MigrationReport: what one migration measured, under the benchmark's JSON keys.

/// The figures of one migration, as `bench migration` prints them.
public struct MigrationReport: Codable, Sendable, Equatable {
    /// From the first message to the destination's acknowledgement, milliseconds.
    public var totalMs: Double = 0
    /// From pausing the source vCPU to the destination's "running" acknowledgement, ms.
    public var downtimeMs: Double = 0
    /// Pre-copy rounds (round 0 included, the stop-and-copy round not).
    public var rounds = 0
    /// Pages sent (zero-page markers included), and how many of them were markers.
    public var pages = 0
    public var zeroPages = 0
    /// Bytes written to the connection.
    public var bytes = 0
    /// Frames addressed to the VM that were queued during the pause and handed over.
    public var queued = 0
    /// Frames the VM should have received but did not (0 by design).
    public var lost = 0
    /// Whether pre-copy stopped because the dirty set stopped shrinking (not the budget, not
    /// the round limit).
    public var stalled = false
    /// Disk bytes sent (nil: the disks were not copied).
    public var diskBytes: Int?
    /// The vCPU throttle reached by auto-converge, percent (nil: auto-converge was off).
    public var throttlePct: Int?
    /// Pages the destination had to fetch on demand after switching to post-copy (nil: the
    /// migration did not switch to post-copy).
    public var postcopyFaults: Int?

    enum CodingKeys: String, CodingKey {
        case totalMs = "total_ms", downtimeMs = "downtime_ms", rounds, pages, zeroPages = "zero_pages", bytes, queued, lost, stalled
        case diskBytes = "disk_bytes", throttlePct = "throttle_pct", postcopyFaults = "postcopy_faults"
    }

    /// An empty report.
    public init() {}
}

// MigrationProgress: what the source reports while a migration runs (the `migrate` command's
// progress bar): the round, bytes and pages sent, dirty pages left and the rate.

/// A progress report from the source side of a migration.
public struct MigrationProgress: Codable, Sendable, Equatable {
    /// The phase (round 0, later rounds, stop-and-copy, ...).
    public var phase: MigrationPhase
    /// The round being sent (0 = all of RAM).
    public var round: Int
    /// Bytes written to the connection so far.
    public var bytesSent: Int
    /// Pages sent so far (zero pages included).
    public var pagesSent: Int
    /// Pages still to send: the rest of round 0, or the dirty pages waiting for the next round.
    public var dirtyPages: Int
    /// Bytes per second over the last round (0 before the first measurement).
    public var rate: Double
    /// Seconds since the migration began.
    public var elapsed: Double
    /// Disk bytes sent so far and still to send (nil: the disks are not being copied).
    public var diskBytesSent: Int?
    public var diskBytesLeft: Int?
    /// The vCPU throttle auto-converge applies now, percent (nil: auto-converge is off).
    public var throttlePct: Int?

    enum CodingKeys: String, CodingKey {
        case phase, round, bytesSent = "bytes_sent", pagesSent = "pages_sent", dirtyPages = "dirty_pages", rate, elapsed
        case diskBytesSent = "disk_bytes_sent", diskBytesLeft = "disk_bytes_left", throttlePct = "throttle_pct"
    }

    /// A progress report.
    public init(phase: MigrationPhase, round: Int, bytesSent: Int, pagesSent: Int, dirtyPages: Int, rate: Double, elapsed: Double,
                diskBytesSent: Int? = nil, diskBytesLeft: Int? = nil, throttlePct: Int? = nil) {
        self.diskBytesSent = diskBytesSent
        self.diskBytesLeft = diskBytesLeft
        self.throttlePct = throttlePct
        self.phase = phase
        self.round = round
        self.bytesSent = bytesSent
        self.pagesSent = pagesSent
        self.dirtyPages = dirtyPages
        self.rate = rate
        self.elapsed = elapsed
    }
}

// MigrationReport: what one migration measured (the benchmark's keys), and MigrationError: a
// failure naming the phase it happened in.

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

    enum CodingKeys: String, CodingKey {
        case totalMs = "total_ms", downtimeMs = "downtime_ms", rounds, pages, zeroPages = "zero_pages", bytes, queued, lost
    }

    /// An empty report.
    public init() {}
}

/// Where a migration was when it failed.
public enum MigrationPhase: String, Codable, Sendable, CustomStringConvertible {
    case connect
    case description
    case round0 = "round 0"
    case rounds = "later rounds"
    case stopAndCopy = "stop-and-copy"
    case commit

    public var description: String { rawValue }
}

/// A failed migration: the phase, and why. The VM keeps running on the source.
public struct MigrationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The phase that failed.
    public var phase: MigrationPhase
    /// What went wrong.
    public var reason: String
    /// True when the destination refused the description (incompatible machine).
    public var refused: Bool

    /// A failure in `phase`.
    public init(_ phase: MigrationPhase, _ reason: String, refused: Bool = false) {
        self.phase = phase
        self.reason = reason
        self.refused = refused
    }

    public var description: String { "migration failed in phase \(phase): \(reason)" }
}

/// Knobs of the pre-copy loop.
public struct MigrationOptions: Sendable {
    /// Longest pause aimed for: stop and copy once the remaining dirty pages would take at
    /// most this long at the bandwidth of the previous round (seconds; default 5 ms).
    public var downtimeBudget: Double = 0.005
    /// Rounds after round 0 at most before stopping anyway.
    public var maxRounds = 30
    /// Pages per `pages` message.
    public var pagesPerMessage = 64
    /// Seconds to wait for any reply.
    public var timeout: Double = 30

    /// The defaults.
    public init() {}
}

// MigrationError: a failed migration, naming the phase (MigrationPhase) it failed in.

/// Where a migration was when it failed.
public enum MigrationPhase: String, Codable, Sendable, CustomStringConvertible {
    case connect
    case description
    case round0 = "round 0"
    case rounds = "later rounds"
    case stopAndCopy = "stop-and-copy"
    case commit
    /// After the destination's `ack`: the source lets go and confirms.
    case switchover

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

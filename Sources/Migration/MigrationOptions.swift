// MigrationOptions: the knobs of the pre-copy loop (downtime budget, round limit, batch size,
// timeout).

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

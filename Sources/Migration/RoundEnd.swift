// RoundEnd: the JSON payload closing each round of pages.

/// The payload of an `endOfRound` message.
public struct RoundEnd: Codable, Sendable, Equatable {
    /// Round number (0 = all of RAM; the stop-and-copy round is the last).
    public var round: Int
    /// Pages sent in the round, of which `zeroPages` as markers.
    public var pages: Int
    public var zeroPages: Int
    /// True for the stop-and-copy round.
    public var final: Bool
}

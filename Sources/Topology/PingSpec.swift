// PingSpec: a ping job of a Linux host: which address it pings, how often, how many times.
import Frames

/// A host pings `to` every `intervalMs` milliseconds, `count` times or until the run ends.
public struct PingSpec: Sendable, Equatable {
    /// The default interval in milliseconds.
    public static let defaultIntervalMs = 1000
    /// Accepted intervals in milliseconds.
    public static let intervalRange = 1...60_000
    /// Accepted counts.
    public static let countRange = 1...10_000_000

    /// The address pinged.
    public var to: IPv4Address
    /// Milliseconds between echo requests (1...60000, default 1000).
    public var intervalMs: Int
    /// How many echo requests (nil: until the run ends).
    public var count: Int?

    /// Creates a ping job.
    public init(to: IPv4Address, intervalMs: Int = PingSpec.defaultIntervalMs, count: Int? = nil) {
        self.to = to
        self.intervalMs = intervalMs
        self.count = count
    }
}

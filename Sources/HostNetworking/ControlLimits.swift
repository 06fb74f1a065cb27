// ControlLimits: what one control socket grants its clients: how many connections it serves at
// once and how long a request and its reply may take in total. Anyone who can open the socket
// can connect, so none of these may depend on a client behaving.

/// Caps and total deadlines of a `ControlServer`.
public struct ControlLimits: Sendable, Equatable {
    /// Connections served at once (default 64). A connection beyond the cap is answered at
    /// once if its request line is already complete when it is accepted; otherwise it gets a
    /// one-line "busy" reply and is closed, and the connections already open are not touched.
    public var maxConnections = 64
    /// Seconds from connecting within which the request line must have arrived complete
    /// (default 5). The deadline is total: bytes arriving slowly do not extend it.
    public var requestTimeout: Double = 5
    /// Seconds within which the client must have taken the whole reply (default 5).
    public var replyTimeout: Double = 5
    /// Longest request line, in bytes (default 64 KiB); a longer one gets an error reply.
    public var maxRequestBytes = 65_536

    /// The defaults.
    public init() {}

    /// Limits with the given values (the others default).
    public init(maxConnections: Int = 64, requestTimeout: Double = 5, replyTimeout: Double = 5, maxRequestBytes: Int = 65_536) {
        self.maxConnections = maxConnections
        self.requestTimeout = requestTimeout
        self.replyTimeout = replyTimeout
        self.maxRequestBytes = maxRequestBytes
    }

    /// Why these limits cannot be used, or nil.
    var problem: String? {
        if maxConnections < 1 { return "maxConnections must be at least 1 (is \(maxConnections))" }
        if !(requestTimeout > 0 && requestTimeout <= 86_400) { return "requestTimeout must be in (0, 86400] seconds" }
        if !(replyTimeout > 0 && replyTimeout <= 86_400) { return "replyTimeout must be in (0, 86400] seconds" }
        if maxRequestBytes < 1 { return "maxRequestBytes must be at least 1" }
        return nil
    }
}

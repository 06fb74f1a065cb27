// MigrationListenerLimits: what the migration listener grants the connections it accepts: how
// many may be in their handshake, how many migrations run at once, how long the first message
// may take and how big it may be. Anyone who can reach the port can connect.

/// Caps and deadlines of a `MigrationListener`.
public struct MigrationListenerLimits: Sendable, Equatable {
    /// Incoming migrations handed to workers at once (default 4). A valid hello beyond it is
    /// answered `refuse` ("busy") and closed; a slot is free again once the worker closes the
    /// migration's stream.
    public var maxMigrations = 4
    /// Connections that have not yet sent their first message (default 64). A connection
    /// beyond it closes the one that has waited longest in its handshake: a real source sends
    /// its hello as soon as it is connected, so it is through long before 64 newer
    /// connections could push it out, while idle or dribbling ones churn among themselves.
    /// Accepted migrations are never touched.
    public var maxHandshakes = 64
    /// Seconds from connecting within which the first message (a hello, or a `resolve`
    /// question) must have arrived whole and valid (default 5); a total deadline, not reset by
    /// arriving bytes.
    public var handshakeTimeout: Double = 5
    /// Largest payload of a first message, in bytes (default 256 KiB; a hello is a small
    /// JSON description).
    public var maxFirstMessageBytes = 256 << 10

    /// The defaults.
    public init() {}

    /// Limits with the given values (the others default).
    public init(maxMigrations: Int = 4, maxHandshakes: Int = 64, handshakeTimeout: Double = 5,
                maxFirstMessageBytes: Int = 256 << 10) {
        self.maxMigrations = maxMigrations
        self.maxHandshakes = maxHandshakes
        self.handshakeTimeout = handshakeTimeout
        self.maxFirstMessageBytes = maxFirstMessageBytes
    }

    /// Why these limits cannot be used, or nil.
    var problem: String? {
        if maxMigrations < 1 { return "maxMigrations must be at least 1 (is \(maxMigrations))" }
        if maxHandshakes < 1 { return "maxHandshakes must be at least 1 (is \(maxHandshakes))" }
        if !(handshakeTimeout > 0 && handshakeTimeout <= 3600) { return "handshakeTimeout must be in (0, 3600] seconds" }
        if maxFirstMessageBytes < 1 || maxFirstMessageBytes > MigrationWire.maxPayload {
            return "maxFirstMessageBytes must be in 1...\(MigrationWire.maxPayload)"
        }
        return nil
    }
}

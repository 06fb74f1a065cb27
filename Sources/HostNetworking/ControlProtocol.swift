// ControlProtocol: the requests and replies exchanged over a running instance's control
// socket, one JSON object per line each way (`switchboard fdb`, `stats`, `capture`).

/// A request to a running `switchboard run`.
public struct ControlRequest: Codable, Sendable, Equatable {
    /// "fdb", "stats", "capture-start", "capture-stop", "capture-list".
    public var command: String
    /// The switch (fdb: required; stats: nil = all; capture-start: required).
    public var switchName: String?
    /// capture-start: only this port.
    public var port: String?
    /// capture-start: the pcap file; capture-stop: unused.
    public var file: String?
    /// capture-start: a libpcap filter expression.
    public var filter: String?
    /// capture-start: "rx", "tx" or "both" (default).
    public var direction: String?
    /// capture-start/stop: the capture's name.
    public var name: String?

    /// Creates a request.
    public init(command: String, switchName: String? = nil, port: String? = nil, file: String? = nil,
                filter: String? = nil, direction: String? = nil, name: String? = nil) {
        self.command = command
        self.switchName = switchName
        self.port = port
        self.file = file
        self.filter = filter
        self.direction = direction
        self.name = name
    }

    enum CodingKeys: String, CodingKey {
        case command, switchName = "switch", port, file, filter, direction, name
    }
}

/// One MAC table entry, as `ovs-appctl fdb/show` shows it.
public struct FDBEntry: Codable, Sendable, Equatable {
    /// The port name.
    public var port: String
    /// The VLAN.
    public var vlan: Int
    /// The MAC address, lower-case with colons.
    public var mac: String
    /// Seconds since last seen; nil for static entries.
    public var age: Int?
    /// Whether the entry is static.
    public var isStatic: Bool

    /// Creates an entry.
    public init(port: String, vlan: Int, mac: String, age: Int?, isStatic: Bool) {
        self.port = port
        self.vlan = vlan
        self.mac = mac
        self.age = age
        self.isStatic = isStatic
    }

    enum CodingKeys: String, CodingKey { case port, vlan, mac, age, isStatic = "static" }
}

/// Counters of one port.
public struct PortStatistics: Codable, Sendable, Equatable {
    /// The port name.
    public var name: String
    /// Whether the port is up.
    public var up: Bool
    /// The host device behind it ("tap sbtap0"), if any.
    public var device: String?
    /// Why the device's port went down.
    public var downReason: String?
    /// Frames and bytes the switch received and sent on this port.
    public var rxFrames: UInt64, rxBytes: UInt64, txFrames: UInt64, txBytes: UInt64
    /// Drops by reason (only non-zero reasons).
    public var drops: [String: UInt64]
    /// Frames the device could not take.
    public var deviceTxDropped: UInt64?

    enum CodingKeys: String, CodingKey {
        case name, up, device, downReason = "down_reason", rxFrames = "rx_frames", rxBytes = "rx_bytes"
        case txFrames = "tx_frames", txBytes = "tx_bytes", drops, deviceTxDropped = "device_tx_dropped"
    }
}

/// Counters of one switch.
public struct SwitchStatistics: Codable, Sendable, Equatable {
    /// The switch name.
    public var name: String
    /// Entries in the MAC table.
    public var macEntries: Int
    /// MAC table counters.
    public var learned: UInt64, aged: UInt64, evicted: UInt64, moved: UInt64
    /// Per port.
    public var ports: [PortStatistics]

    enum CodingKeys: String, CodingKey {
        case name, macEntries = "mac_entries", learned, aged, evicted, moved, ports
    }
}

/// The reply to a `ControlRequest`.
public struct ControlResponse: Codable, Sendable, Equatable {
    /// Whether the request succeeded.
    public var ok: Bool
    /// Why not.
    public var error: String?
    /// fdb: the entries, sorted by port, VLAN, MAC.
    public var fdb: [FDBEntry]?
    /// stats: the switches.
    public var stats: [SwitchStatistics]?
    /// capture-*: running captures ("name: file").
    public var captures: [String]?
    /// A line for the user.
    public var message: String?

    /// A failure.
    public static func failure(_ message: String) -> ControlResponse { ControlResponse(ok: false, error: message) }

    /// Creates a reply.
    public init(ok: Bool, error: String? = nil, fdb: [FDBEntry]? = nil, stats: [SwitchStatistics]? = nil,
                captures: [String]? = nil, message: String? = nil) {
        self.ok = ok
        self.error = error
        self.fdb = fdb
        self.stats = stats
        self.captures = captures
        self.message = message
    }
}

// ControlReplies: what a running instance answers on its control socket, one JSON object per
// line (`ControlResponse`: `ok`, `error`, and the payload of the request: MAC table entries,
// statistics, captures, VM and ping status, a migration's progress and report).

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

    /// Counters of one port.
    public init(name: String, up: Bool, device: String?, downReason: String?, rxFrames: UInt64, rxBytes: UInt64,
                txFrames: UInt64, txBytes: UInt64, drops: [String: UInt64], deviceTxDropped: UInt64?) {
        self.name = name
        self.up = up
        self.device = device
        self.downReason = downReason
        self.rxFrames = rxFrames
        self.rxBytes = rxBytes
        self.txFrames = txFrames
        self.txBytes = txBytes
        self.drops = drops
        self.deviceTxDropped = deviceTxDropped
    }

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

    /// Counters of one switch.
    public init(name: String, macEntries: Int, learned: UInt64, aged: UInt64, evicted: UInt64, moved: UInt64,
                ports: [PortStatistics]) {
        self.name = name
        self.macEntries = macEntries
        self.learned = learned
        self.aged = aged
        self.evicted = evicted
        self.moved = moved
        self.ports = ports
    }

    enum CodingKeys: String, CodingKey {
        case name, macEntries = "mac_entries", learned, aged, evicted, moved, ports
    }
}

/// The reply to a `ControlRequest`: one per line (several for a streamed `migrate`).
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
    /// The hypervisor the instance runs (vm-list).
    public var hypervisor: String?
    /// vm-list: the VMs running here.
    public var vms: [ControlVMStatus]?
    /// vm-list: the ping jobs of this instance's Linux hosts.
    public var pings: [ControlPingStatus]?
    /// migrate: a progress report (every line but the last).
    public var progress: ControlMigrationProgress?
    /// migrate: the final report (the last line, with `ok`).
    public var migration: ControlMigrationReport?
    /// flows / flow-trace: the lines to print (ovs-ofctl's and ofproto/trace's formats).
    public var lines: [String]?

    /// A failure.
    public static func failure(_ message: String) -> ControlResponse { ControlResponse(ok: false, error: message) }

    /// The error of the line a server at its connection cap sends before closing.
    public static let busyError = "busy: the control socket serves its maximum number of connections; try again"

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

/// One VM of a running instance (`vm-list`).
public struct ControlVMStatus: Codable, Sendable, Equatable {
    /// The VM's name.
    public var name: String
    /// "running", "powered off (pass)", "migrating", ...
    public var state: String
    /// Whether the vCPU still runs (false once it powered off, failed or was stopped).
    public var running: Bool
    /// Whether a migration of it is under way.
    public var migrating: Bool
    /// The expect script: "none", "waiting", "passed", "failed".
    public var expect: String

    /// A VM status.
    public init(name: String, state: String, running: Bool, migrating: Bool, expect: String) {
        self.name = name
        self.state = state
        self.running = running
        self.migrating = migrating
        self.expect = expect
    }
}

/// The ping job of one Linux host (`vm-list`).
public struct ControlPingStatus: Codable, Sendable, Equatable {
    /// The host.
    public var host: String
    /// Whether the job has ended.
    public var done: Bool

    /// A ping status.
    public init(host: String, done: Bool) {
        self.host = host
        self.done = done
    }
}

/// A migration's progress as the source reports it (`migrate`).
public struct ControlMigrationProgress: Codable, Sendable, Equatable {
    public var phase: String
    public var round: Int
    public var bytesSent: Int
    public var pagesSent: Int
    public var dirtyPages: Int
    /// Bytes per second.
    public var rate: Double
    /// Seconds since the migration began.
    public var elapsed: Double
    /// Disk bytes sent and still to send (nil: disks are not being copied).
    public var diskBytesSent: Int?
    public var diskBytesLeft: Int?
    /// The vCPU throttle of auto-converge, percent (nil: off).
    public var throttlePct: Int?

    /// A progress report.
    public init(phase: String, round: Int, bytesSent: Int, pagesSent: Int, dirtyPages: Int, rate: Double, elapsed: Double,
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

    enum CodingKeys: String, CodingKey {
        case phase, round, bytesSent = "bytes_sent", pagesSent = "pages_sent", dirtyPages = "dirty_pages", rate, elapsed
        case diskBytesSent = "disk_bytes_sent", diskBytesLeft = "disk_bytes_left", throttlePct = "throttle_pct"
    }
}

/// A finished migration, as QEMU's `info migrate` reports one (`migrate`, `run --json`).
public struct ControlMigrationReport: Codable, Sendable, Equatable {
    public var vm: String
    public var from: String
    public var to: String
    /// Seconds after the run started when it began (scheduled migrations).
    public var at: Double?
    public var totalMs: Double
    public var downtimeMs: Double
    public var rounds: Int
    public var pages: Int
    public var zeroPages: Int
    public var bytes: Int
    /// Frames for the VM held during the pause and handed over.
    public var queued: Int
    /// Frames the VM should have received and did not.
    public var lost: Int
    /// Why it failed (nil: it succeeded).
    public var error: String?
    /// Disk bytes sent (nil: disks were not copied).
    public var diskBytes: Int?
    /// The highest vCPU throttle auto-converge applied, percent (nil: off).
    public var throttlePct: Int?
    /// Pages fetched on demand after the switch to post-copy (nil: no post-copy).
    public var postcopyFaults: Int?
    /// The longest gap in a TCP stream to or from the VM, where a benchmark or test
    /// measured one (milliseconds; nil: not measured).
    public var tcpStallMs: Double?

    /// A migration report.
    public init(vm: String, from: String, to: String, at: Double? = nil, totalMs: Double, downtimeMs: Double, rounds: Int,
                pages: Int, zeroPages: Int, bytes: Int, queued: Int, lost: Int, error: String? = nil,
                diskBytes: Int? = nil, throttlePct: Int? = nil, postcopyFaults: Int? = nil, tcpStallMs: Double? = nil) {
        self.diskBytes = diskBytes
        self.throttlePct = throttlePct
        self.postcopyFaults = postcopyFaults
        self.tcpStallMs = tcpStallMs
        self.vm = vm
        self.from = from
        self.to = to
        self.at = at
        self.totalMs = totalMs
        self.downtimeMs = downtimeMs
        self.rounds = rounds
        self.pages = pages
        self.zeroPages = zeroPages
        self.bytes = bytes
        self.queued = queued
        self.lost = lost
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case vm, from, to, at, totalMs = "total_ms", downtimeMs = "downtime_ms", rounds, pages, zeroPages = "zero_pages"
        case bytes, queued, lost, error
        case diskBytes = "disk_bytes", throttlePct = "throttle_pct", postcopyFaults = "postcopy_faults", tcpStallMs = "tcp_stall_ms"
    }
}

// ControlRequest: every request a running instance's control socket takes, as one enum shared
// by the server (HostNetworking, Hypervisor) and the clients (the CLI, the cluster parent).
//
// Wire format, version 1: one JSON object per line, `{"version": 1, "command": NAME, ...}`
// with the command's fields beside it (`switch`, `port`, `file`, `filter`, `direction`,
// `name`, `vm`, `to`, `downtime_ms`, `max_rounds`, `with_disks`, `auto_converge`,
// `postcopy`); `version` may be left out (it means 1),
// so scripts written for the first, untyped format keep working. The replies are
// `ControlResponse` lines (ControlReplies.swift). docs/host-networking.md has the reference.

/// A request to a running `switchboard run`.
public enum ControlRequest: Codable, Sendable, Equatable {
    /// `fdb`: the MAC table of a switch, as `ovs-appctl fdb/show`.
    case fdb(switchName: String)
    /// `stats`: per-port counters of one switch, or of all (nil).
    case stats(switchName: String?)
    /// `capture-start`: a pcap capture of a switch, a port or a direction.
    case captureStart(CaptureStart)
    /// `capture-stop`: stops a capture by name (nil: the only one), optionally of one switch.
    case captureStop(switchName: String?, name: String?)
    /// `capture-list`: the running captures.
    case captureList
    /// `vm-list`: the VMs and ping jobs of this instance.
    case vmList
    /// `migrate`: live-migrates a VM to another hypervisor (a streamed reply).
    case migrate(Migrate)
    /// `stop`: ends the run.
    case stop
    /// `console`: attaches to a VM's serial console. After the one reply line (`ok: true`)
    /// the connection carries raw bytes both ways: the console's recent tail and then its
    /// output to the client, the client's bytes to the guest's UART.
    case console(vm: String)
    /// `flows`: the OpenFlow flow tables of a switch, as `ovs-ofctl dump-flows`.
    case flows(switchName: String)
    /// `flow-trace`: a frame (hex) through a running OpenFlow switch's tables, entering
    /// `port`, as `ofproto/trace`: each table's matching flow and the outputs.
    case flowTrace(switchName: String, port: String, frame: String)

    /// The fields of `capture-start`.
    public struct CaptureStart: Sendable, Equatable {
        /// The switch.
        public var switchName: String
        /// Only this port (nil: the whole switch).
        public var port: String?
        /// The pcap file.
        public var file: String
        /// A libpcap filter expression.
        public var filter: String?
        /// "rx", "tx" or "both" (nil: both).
        public var direction: String?
        /// The capture's name (nil: made up from the switch and port).
        public var name: String?

        /// A capture request.
        public init(switchName: String, port: String? = nil, file: String, filter: String? = nil,
                    direction: String? = nil, name: String? = nil) {
            self.switchName = switchName
            self.port = port
            self.file = file
            self.filter = filter
            self.direction = direction
            self.name = name
        }
    }

    /// The fields of `migrate`.
    public struct Migrate: Sendable, Equatable {
        /// The VM.
        public var vm: String
        /// The destination hypervisor.
        public var to: String
        /// The downtime budget in milliseconds (nil: the default, 5).
        public var downtimeMs: Double?
        /// Most pre-copy rounds after round 0 (nil: the default, 30).
        public var maxRounds: Int?
        /// Copy the VM's disks too (no shared storage); nil means false.
        public var withDisks: Bool?
        /// Throttle the vCPUs while rounds stall (auto-converge); nil means false.
        public var autoConverge: Bool?
        /// Switch to post-copy when pre-copy does not converge; nil means false.
        public var postcopy: Bool?

        /// A migration request.
        public init(vm: String, to: String, downtimeMs: Double? = nil, maxRounds: Int? = nil,
                    withDisks: Bool? = nil, autoConverge: Bool? = nil, postcopy: Bool? = nil) {
            self.withDisks = withDisks
            self.autoConverge = autoConverge
            self.postcopy = postcopy
            self.vm = vm
            self.to = to
            self.downtimeMs = downtimeMs
            self.maxRounds = maxRounds
        }
    }

    /// The protocol version this build speaks.
    public static let version = 1

    /// The command's name on the wire.
    public var command: String {
        switch self {
        case .fdb: return "fdb"
        case .stats: return "stats"
        case .captureStart: return "capture-start"
        case .captureStop: return "capture-stop"
        case .captureList: return "capture-list"
        case .vmList: return "vm-list"
        case .migrate: return "migrate"
        case .stop: return "stop"
        case .console: return "console"
        case .flows: return "flows"
        case .flowTrace: return "flow-trace"
        }
    }

    enum Key: String, CodingKey {
        case version, command, switchName = "switch", port, file, filter, direction, name, vm, to, frame
        case downtimeMs = "downtime_ms", maxRounds = "max_rounds"
        case withDisks = "with_disks", autoConverge = "auto_converge", postcopy
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        guard version == Self.version else {
            throw ControlProtocolError.unsupportedVersion(version)
        }
        let command = try c.decode(String.self, forKey: .command)
        switch command {
        case "fdb": self = .fdb(switchName: try c.decode(String.self, forKey: .switchName))
        case "stats": self = .stats(switchName: try c.decodeIfPresent(String.self, forKey: .switchName))
        case "capture-start":
            self = .captureStart(CaptureStart(
                switchName: try c.decode(String.self, forKey: .switchName), port: try c.decodeIfPresent(String.self, forKey: .port),
                file: try c.decode(String.self, forKey: .file), filter: try c.decodeIfPresent(String.self, forKey: .filter),
                direction: try c.decodeIfPresent(String.self, forKey: .direction), name: try c.decodeIfPresent(String.self, forKey: .name)))
        case "capture-stop":
            self = .captureStop(switchName: try c.decodeIfPresent(String.self, forKey: .switchName),
                                name: try c.decodeIfPresent(String.self, forKey: .name))
        case "capture-list": self = .captureList
        case "vm-list": self = .vmList
        case "migrate":
            self = .migrate(Migrate(vm: try c.decode(String.self, forKey: .vm), to: try c.decode(String.self, forKey: .to),
                                    downtimeMs: try c.decodeIfPresent(Double.self, forKey: .downtimeMs),
                                    maxRounds: try c.decodeIfPresent(Int.self, forKey: .maxRounds),
                                    withDisks: try c.decodeIfPresent(Bool.self, forKey: .withDisks),
                                    autoConverge: try c.decodeIfPresent(Bool.self, forKey: .autoConverge),
                                    postcopy: try c.decodeIfPresent(Bool.self, forKey: .postcopy)))
        case "stop": self = .stop
        case "console": self = .console(vm: try c.decode(String.self, forKey: .vm))
        case "flows": self = .flows(switchName: try c.decode(String.self, forKey: .switchName))
        case "flow-trace":
            self = .flowTrace(switchName: try c.decode(String.self, forKey: .switchName),
                              port: try c.decode(String.self, forKey: .port), frame: try c.decode(String.self, forKey: .frame))
        default: throw ControlProtocolError.unknownCommand(command)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(Self.version, forKey: .version)
        try c.encode(command, forKey: .command)
        switch self {
        case .fdb(let sw): try c.encode(sw, forKey: .switchName)
        case .stats(let sw): try c.encodeIfPresent(sw, forKey: .switchName)
        case .captureStart(let s):
            try c.encode(s.switchName, forKey: .switchName)
            try c.encodeIfPresent(s.port, forKey: .port)
            try c.encode(s.file, forKey: .file)
            try c.encodeIfPresent(s.filter, forKey: .filter)
            try c.encodeIfPresent(s.direction, forKey: .direction)
            try c.encodeIfPresent(s.name, forKey: .name)
        case .captureStop(let sw, let name):
            try c.encodeIfPresent(sw, forKey: .switchName)
            try c.encodeIfPresent(name, forKey: .name)
        case .migrate(let m):
            try c.encode(m.vm, forKey: .vm)
            try c.encode(m.to, forKey: .to)
            try c.encodeIfPresent(m.downtimeMs, forKey: .downtimeMs)
            try c.encodeIfPresent(m.maxRounds, forKey: .maxRounds)
            try c.encodeIfPresent(m.withDisks, forKey: .withDisks)
            try c.encodeIfPresent(m.autoConverge, forKey: .autoConverge)
            try c.encodeIfPresent(m.postcopy, forKey: .postcopy)
        case .console(let vm): try c.encode(vm, forKey: .vm)
        case .flows(let sw): try c.encode(sw, forKey: .switchName)
        case .flowTrace(let sw, let port, let frame):
            try c.encode(sw, forKey: .switchName)
            try c.encode(port, forKey: .port)
            try c.encode(frame, forKey: .frame)
        case .captureList, .vmList, .stop: break
        }
    }
}

/// Why a control request line could not be understood.
public enum ControlProtocolError: Error, CustomStringConvertible, Equatable {
    /// A `version` this build does not speak.
    case unsupportedVersion(Int)
    /// A `command` that does not exist.
    case unknownCommand(String)

    /// A readable message.
    public var description: String {
        switch self {
        case .unsupportedVersion(let v): return "unsupported control protocol version \(v) (this build speaks \(ControlRequest.version))"
        case .unknownCommand(let c): return "unknown command \"\(c)\""
        }
    }
}

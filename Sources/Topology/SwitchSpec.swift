// SwitchSpec: one L2 switch of a topology, with its ports, MAC table settings and mirrors.
import Frames
import Switching

/// A switch: named ports, MAC table settings and port mirrors.
public struct SwitchSpec: Sendable, Equatable {
    /// Unique among the switches of a topology.
    public var name: String
    /// At least one port; names unique within the switch.
    public var ports: [PortSpec]
    /// MAC table capacity, aging and static entries.
    public var macTable: MACTableSpec
    /// Port mirrors (SPAN sessions).
    public var mirrors: [MirrorSpec]
    /// The hypervisors the switch has a segment on. Decoding lists all of the topology's when
    /// the file names none; empty (in a topology built in code) also means all of them.
    public var hypervisors: [String]
    /// The VXLAN network id of the tunnels joining its segments (decoded default: its index + 1).
    public var vni: Int?
    /// OpenFlow controllers, listener and fail mode (nil: programmed by the file only).
    public var openflow: OpenFlowSpec?

    /// Creates a switch.
    public init(name: String, ports: [PortSpec], macTable: MACTableSpec = MACTableSpec(),
                mirrors: [MirrorSpec] = [], hypervisors: [String] = [], vni: Int? = nil, openflow: OpenFlowSpec? = nil) {
        self.name = name
        self.ports = ports
        self.macTable = macTable
        self.mirrors = mirrors
        self.hypervisors = hypervisors
        self.vni = vni
        self.openflow = openflow
    }

    /// The VNI of the tunnels of the switch at `index` of `switches` when the file gives none.
    public static func defaultVNI(index: Int) -> Int { index + 1 }

    /// The port named `name`.
    public func port(named name: String) -> PortSpec? {
        ports.first { $0.name == name }
    }
}

/// The MAC table of a switch: how many entries, how long they live, which are static.
public struct MACTableSpec: Sendable, Equatable {
    /// The default capacity, as Open vSwitch.
    public static let defaultCapacity = 8192
    /// The default aging time in seconds.
    public static let defaultAgingSeconds = 300
    /// Accepted capacities.
    public static let capacityRange = 1...1_048_576
    /// Accepted aging times.
    public static let agingRange = 1...1_000_000

    /// Maximum number of entries (1...1048576).
    public var capacity: Int
    /// Seconds an unrefreshed learned entry lives (1...1000000).
    public var agingSeconds: Int
    /// Entries that never age and are never learned over.
    public var staticEntries: [StaticMACSpec]

    /// Creates MAC table settings; the defaults are those of the format.
    public init(capacity: Int = MACTableSpec.defaultCapacity, agingSeconds: Int = MACTableSpec.defaultAgingSeconds,
                staticEntries: [StaticMACSpec] = []) {
        self.capacity = capacity
        self.agingSeconds = agingSeconds
        self.staticEntries = staticEntries
    }
}

/// A static MAC table entry as the file states it: the switch's own `StaticEntry`.
public typealias StaticMACSpec = StaticEntry

// Topology: the root of the version-1 topology model, a plain value tree decoded from JSON
// (see TopologyDecoder) with every default applied. docs/topology-format.md describes it.
import Frames

/// A whole topology file: switches, the cables between them, captures, VMs and hosts, and
/// optionally the hypervisors they are placed on and the migrations between them.
public struct Topology: Sendable, Equatable {
    /// The format version; always 1 for now.
    public var version: Int
    /// An optional name for the topology.
    public var name: String?
    /// Free text.
    public var description: String?
    /// At least one switch.
    public var switches: [SwitchSpec]
    /// Patch cables between switch ports.
    public var links: [LinkSpec]
    /// Packet captures written to pcap files.
    public var captures: [CaptureSpec]
    /// Virtual machines.
    public var vms: [VMSpec]
    /// Linux hosts in network namespaces.
    public var hosts: [HostSpec]
    /// The hypervisors a topology spans; empty: one process runs everything.
    public var hypervisors: [HypervisorSpec]
    /// Scheduled live migrations of VMs between hypervisors.
    public var migrations: [MigrationSpec]

    /// The version of the format this build reads.
    public static let currentVersion = 1

    /// Creates a topology.
    public init(version: Int = Topology.currentVersion, name: String? = nil, description: String? = nil,
                switches: [SwitchSpec], links: [LinkSpec] = [], captures: [CaptureSpec] = [],
                vms: [VMSpec] = [], hosts: [HostSpec] = [], hypervisors: [HypervisorSpec] = [],
                migrations: [MigrationSpec] = []) {
        self.version = version
        self.name = name
        self.description = description
        self.switches = switches
        self.links = links
        self.captures = captures
        self.vms = vms
        self.hosts = hosts
        self.hypervisors = hypervisors
        self.migrations = migrations
    }

    /// The switch named `name`.
    public func switchSpec(named name: String) -> SwitchSpec? {
        switches.first { $0.name == name }
    }
}

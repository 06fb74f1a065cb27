// HypervisorSpec: one hypervisor (host machine) of a topology that spans several: its name,
// the address its tunnels and migration listener bind, and their ports.
import Frames

/// A hypervisor: a host running its own `switchboard` process with its part of the topology.
public struct HypervisorSpec: Sendable, Equatable {
    /// The default address, the loopback address.
    public static let defaultAddress = IPv4Address(127, 0, 0, 1)
    /// The migration port of the first hypervisor when none is given; the next get +1 each.
    public static let migrationPortBase = 7300
    /// The default base UDP port of the tunnel endpoints, the IANA VXLAN port.
    public static let defaultVXLANPort = VXLANSpec.defaultPort
    /// Accepted TCP and UDP ports.
    public static let portRange = 1...65_535

    /// Unique among hypervisors.
    public var name: String
    /// Where its VXLAN tunnels and its migration listener bind (default 127.0.0.1).
    public var address: IPv4Address
    /// The TCP port of its migration listener (default 7300 + its index).
    public var migrationPort: Int
    /// The base UDP port of its tunnel endpoints (default 4789); see `Topology.tunnels`.
    public var vxlanPort: Int
    /// Whether it runs in a network namespace of its own (`sbh-<name>`), a separate network
    /// host whose `address` sits on the simulated physical network (`Underlay`).
    public var netns: Bool
    /// Its link into the simulated physical network (only with `netns`).
    public var underlay: UnderlaySpec?
    /// Where the images of VMs arriving with their disks (`with_disks`) are created (nil:
    /// `defaultDiskDirectory`). Relative paths are relative to the working directory.
    public var diskDir: String?

    /// Creates a hypervisor.
    public init(name: String, address: IPv4Address = HypervisorSpec.defaultAddress, migrationPort: Int,
                vxlanPort: Int = HypervisorSpec.defaultVXLANPort, netns: Bool = false, underlay: UnderlaySpec? = nil,
                diskDir: String? = nil) {
        self.name = name
        self.address = address
        self.migrationPort = migrationPort
        self.vxlanPort = vxlanPort
        self.netns = netns
        self.underlay = underlay
        self.diskDir = diskDir
    }

    /// The migration port of the hypervisor at `index` of the list when the file gives none.
    public static func defaultMigrationPort(index: Int) -> Int { migrationPortBase + index }

    /// The disk directory of hypervisor `name` in topology `topology` when the file gives
    /// none: `vm-data/<topology>-<name>-disks`.
    public static func defaultDiskDirectory(topology: String?, hypervisor name: String) -> String {
        "vm-data/\(topology ?? "topology")-\(name)-disks"
    }

    /// This hypervisor's disk directory (`disk_dir`, or the default).
    public func diskDirectory(topology: String?) -> String {
        diskDir ?? Self.defaultDiskDirectory(topology: topology, hypervisor: name)
    }
}

/// A namespaced hypervisor's link into the simulated physical network: a veth pair into one
/// Linux bridge, shaped by a token bucket (`tc tbf`) in both directions.
public struct UnderlaySpec: Sendable, Equatable {
    /// Accepted rates.
    public static let rateRange = 1...100_000

    /// The link's rate in Mbit/s (nil: as fast as the veth goes).
    public var rateMbit: Int?

    /// Creates a link description.
    public init(rateMbit: Int? = nil) {
        self.rateMbit = rateMbit
    }
}

// TopologyLimits: what a topology may ask of the machine that runs it (switches, ports, MAC
// table entries, VMs and their memory), and TopologyCost: what a given file asks for. The
// validator refuses a file beyond a limit, so a small file cannot make `run` spend minutes and
// gigabytes building switches (docs/topology-format.md, "Limits").
import Switching

/// One documented limit: a name users find in errors and the docs, and its maximum.
public struct TopologyLimit: Sendable, Equatable {
    /// The limit's name, as errors and docs/topology-format.md print it.
    public let name: String
    /// The largest value allowed.
    public let maximum: Int
    /// What is counted, e.g. "switches per topology".
    public let counts: String
}

/// The limits `switchboard validate` enforces. Open vSwitch users will find them generous: a
/// host rarely runs more than a few bridges, OVS's default MAC table holds 8192 entries, and
/// a bridge of a thousand ports is already a large one.
public enum TopologyLimits {
    /// Switches in one file.
    public static let switches = TopologyLimit(name: "switches", maximum: 256, counts: "switches per topology")
    /// Ports of one switch.
    public static let portsPerSwitch = TopologyLimit(name: "ports_per_switch", maximum: 4096, counts: "ports per switch")
    /// Ports of all switches together.
    public static let totalPorts = TopologyLimit(name: "total_ports", maximum: 16_384, counts: "ports over all switches")
    /// MAC table capacity of one switch (also the range of `mac_table.capacity`).
    public static let macTableCapacity = TopologyLimit(name: "mac_table_capacity",
                                                       maximum: MACTableSpec.capacityRange.upperBound,
                                                       counts: "MAC table entries per switch")
    /// MAC table capacity of all switches together (about 35 bytes of host memory each).
    public static let totalMACTableCapacity = TopologyLimit(name: "total_mac_table_capacity", maximum: 4_194_304,
                                                            counts: "MAC table entries over all switches")
    /// VMs in one file.
    public static let vms = TopologyLimit(name: "vms", maximum: 256, counts: "VMs per topology")
    /// Guest RAM of all VMs together, in MiB.
    public static let totalVMMemoryMiB = TopologyLimit(name: "total_vm_memory_mib", maximum: 131_072,
                                                       counts: "MiB of guest memory over all VMs")

    /// Every limit, in the order the docs list them.
    public static let all = [switches, portsPerSwitch, totalPorts, macTableCapacity, totalMACTableCapacity, vms,
                             totalVMMemoryMiB]
}

/// What a topology asks of the machines that run it (all hypervisors together).
public struct TopologyCost: Sendable, Equatable {
    /// Switches.
    public var switches = 0
    /// Ports over all switches (tunnel ports not included).
    public var ports = 0
    /// MAC table capacity over all switches.
    public var macTableEntries = 0
    /// VMs.
    public var vms = 0
    /// Guest RAM over all VMs, in MiB.
    public var vmMemoryMiB = 0

    /// Host memory the switches may take once built, in bytes: an upper bound from their flat
    /// arrays (the MAC table's slots and records, and per port its transmit queue, flood-list
    /// share, VLAN bitmap and counters); pages never touched stay virtual, so a switch that
    /// carries little traffic takes less. Guest RAM is not included.
    public var switchBytes: Int {
        // MAC table: a power-of-two slot array of at least twice the capacity (16 bytes a
        // slot) and a 36-byte record (with its free-list word) per entry, per switch.
        let perEntry = 2 * 16 + 36
        let perPort = Switch.queueCapacity * MemoryLayout<TransmitEntry>.stride + 4094 * 4 + 64 * 8 + 16 * 8
        let perSwitch = 4097 * 4 + 4096
        return macTableEntries * perEntry + ports * perPort + switches * perSwitch
    }

    /// Creates a cost of nothing.
    public init() {}
}

extension Topology {
    /// What this topology asks for: switches, ports, MAC table entries, VMs and their memory.
    public var cost: TopologyCost {
        var cost = TopologyCost()
        cost.switches = switches.count
        for sw in switches {
            cost.ports += sw.ports.count
            cost.macTableEntries += sw.macTable.capacity
        }
        cost.vms = vms.count
        cost.vmMemoryMiB = vms.reduce(0) { $0 + $1.memoryMiB }
        return cost
    }
}

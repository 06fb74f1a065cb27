// TunnelSpec: one VXLAN tunnel between two hypervisors, as `Topology.tunnels` numbers them:
// the segments of a spanning switch, or a link whose ends are on two hypervisors.

/// A VXLAN tunnel between two hypervisors. Tunnel number `t` between the hypervisors at
/// indices i < j binds UDP port `vxlanPort + 2t` on i and `vxlanPort + 2t + 1` on j.
public struct TunnelSpec: Sendable, Equatable {
    /// Accepted VNIs of the tunnels a topology makes (`vni` of switches and links).
    public static let vniRange = 1...16_777_215

    /// What the tunnel carries.
    public enum Origin: Sendable, Equatable {
        /// It joins two segments of the switch at this index of `switches`.
        case switchSegments(switchIndex: Int)
        /// It is the link at this index of `links`.
        case link(index: Int)
    }

    /// One end of a tunnel: a port of a switch on a hypervisor, and the UDP port it binds.
    public struct End: Sendable, Equatable {
        /// The hypervisor this end is on.
        public var hypervisor: String
        /// The switch.
        public var switchName: String
        /// The switch port that is this end (`vxlan@PEER` for a switch's segments).
        public var port: String
        /// The local UDP port this end binds.
        public var udpPort: Int

        /// Creates an end.
        public init(hypervisor: String, switchName: String, port: String, udpPort: Int) {
            self.hypervisor = hypervisor
            self.switchName = switchName
            self.port = port
            self.udpPort = udpPort
        }
    }

    /// The tunnel's number `t`, its position in `Topology.tunnels`.
    public var number: Int
    /// The switch or link it comes from.
    public var origin: Origin
    /// The VXLAN network id.
    public var vni: Int
    /// The end on the hypervisor that comes first in the topology.
    public var first: End
    /// The end on the other hypervisor.
    public var second: End

    /// Creates a tunnel.
    public init(number: Int, origin: Origin, vni: Int, first: End, second: End) {
        self.number = number
        self.origin = origin
        self.vni = vni
        self.first = first
        self.second = second
    }

    /// The name of the tunnel port towards `hypervisor` on each segment of a spanning switch;
    /// it holds `@`, so it never clashes with a port named in a file.
    public static func portName(towards hypervisor: String) -> String { "vxlan@" + hypervisor }

    /// The end on `hypervisor` and the end it talks to, or nil when neither end is there.
    public func ends(on hypervisor: String) -> (local: End, remote: End)? {
        if first.hypervisor == hypervisor { return (first, second) }
        if second.hypervisor == hypervisor { return (second, first) }
        return nil
    }
}

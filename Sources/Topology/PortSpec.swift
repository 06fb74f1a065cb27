// PortSpec: a switch port, its VLAN mode, learning settings and optional host attachment.
import Frames
import Switching

/// A switch port.
public struct PortSpec: Sendable, Equatable {
    /// Unique within its switch.
    public var name: String
    /// Access (one untagged VLAN) or trunk (tagged VLANs plus an optional native VLAN).
    public var mode: VLANMode
    /// Whether source MACs seen on this port are learned (default true).
    public var learning: Bool
    /// At most this many MACs are learned on the port (nil: no per-port limit).
    public var learnLimit: Int?
    /// A host device this port is connected to (TAP, pcap interface, VXLAN tunnel).
    public var attach: AttachSpec?
    /// The hypervisor whose segment alone has this port (nil: where its switch or user is).
    public var hypervisor: String?
    /// Frames flooded from a split-horizon port are not flooded to another one; set on the
    /// tunnel ports `Topology.part(for:)` adds, never from JSON.
    public var splitHorizon: Bool

    /// Creates a port; the defaults are those of the format (access port in VLAN 1).
    public init(name: String, mode: VLANMode = .access(.defaultVLAN), learning: Bool = true,
                learnLimit: Int? = nil, attach: AttachSpec? = nil, hypervisor: String? = nil,
                splitHorizon: Bool = false) {
        self.name = name
        self.mode = mode
        self.learning = learning
        self.learnLimit = learnLimit
        self.attach = attach
        self.hypervisor = hypervisor
        self.splitHorizon = splitHorizon
    }

    /// Whether frames of `vlan` may cross this port: the access VLAN; on a trunk an allowed
    /// VLAN or the native VLAN.
    public func carries(_ vlan: VLANID) -> Bool { configuration.carries(vlan) }

    /// The switch's view of this port (everything but the attachment).
    public var configuration: PortConfiguration {
        PortConfiguration(name: name, mode: mode, learning: learning, learnLimit: learnLimit,
                          splitHorizon: splitHorizon)
    }
}

/// What a port is connected to outside the process.
public enum AttachSpec: Sendable, Equatable {
    /// A Linux TAP device (created if missing); `mtu` nil keeps the device's MTU.
    case tap(device: String, mtu: Int?)
    /// An existing interface opened through libpcap.
    case pcap(interface: String)
    /// A VXLAN tunnel (RFC 7348) to another host.
    case vxlan(VXLANSpec)
}

/// The endpoint of a VXLAN tunnel.
public struct VXLANSpec: Sendable, Equatable {
    /// The IANA VXLAN port.
    public static let defaultPort = 4789
    /// Accepted VNIs (24 bits).
    public static let vniRange = 0...16_777_215

    /// The peer's address.
    public var remote: IPv4Address
    /// The local address to bind (nil: any).
    public var local: IPv4Address?
    /// The VXLAN network identifier.
    public var vni: Int
    /// The peer's UDP port (default 4789).
    public var remotePort: Int
    /// The local UDP port (default 4789).
    public var localPort: Int

    /// Creates a tunnel endpoint.
    public init(remote: IPv4Address, local: IPv4Address? = nil, vni: Int,
                remotePort: Int = VXLANSpec.defaultPort, localPort: Int = VXLANSpec.defaultPort) {
        self.remote = remote
        self.local = local
        self.vni = vni
        self.remotePort = remotePort
        self.localPort = localPort
    }
}

// HostSpec: a Linux host in a network namespace, plugged into a switch port.
import Frames

/// A Linux host: a network namespace whose interface is connected to a switch port.
public struct HostSpec: Sendable, Equatable {
    /// Unique among hosts; also names the namespace.
    public var name: String
    /// The switch.
    public var switchName: String
    /// The port of that switch.
    public var port: String
    /// The interface address, "10.10.0.1/24".
    public var ip: IPv4Interface
    /// The interface's MAC (nil: the kernel picks one).
    public var mac: MACAddress?
    /// How the namespace is connected (default veth).
    public var link: HostLinkKind
    /// The hypervisor the host runs on (decoded default: the only one, when there is one).
    public var hypervisor: String?
    /// An address the host pings during the run.
    public var ping: PingSpec?

    /// Creates a host.
    public init(name: String, switchName: String, port: String, ip: IPv4Interface, mac: MACAddress? = nil,
                link: HostLinkKind = .veth, hypervisor: String? = nil, ping: PingSpec? = nil) {
        self.name = name
        self.switchName = switchName
        self.port = port
        self.ip = ip
        self.mac = mac
        self.link = link
        self.hypervisor = hypervisor
        self.ping = ping
    }
}

/// How a host's namespace is connected to its switch port.
public enum HostLinkKind: String, Sendable, Equatable, CaseIterable {
    /// A veth pair; Switchboard opens the outer end.
    case veth
    /// A TAP device moved into the namespace.
    case tap
}

// NamespaceHost: a Linux host as a switch endpoint, as Mininet makes them: a network
// namespace `sb-<name>` whose eth0 is one end of a veth pair (or a TAP device) whose other
// end is a switch port, with an address and a MAC. Removed again by `destroy()`.

import CLinuxShims
import Foundation
import Frames

#if canImport(Glibc)
import Glibc
#endif

/// What a namespace host looks like.
public struct NamespaceHostConfiguration: Sendable, Equatable {
    /// How the namespace is connected to the switch.
    public enum Link: String, Sendable, Equatable {
        /// A veth pair; the switch opens the outer end with an AF_PACKET socket.
        case veth
        /// A TAP device the switch holds, moved into the namespace.
        case tap
    }

    /// The host's name; the namespace is `sb-<name>`.
    public var name: String
    /// The interface address with its prefix, "10.10.0.1/24".
    public var address: String
    /// The interface MAC (nil: the kernel picks one).
    public var mac: MACAddress?
    /// veth (default) or tap.
    public var link: Link

    /// Describes a host.
    public init(name: String, address: String, mac: MACAddress? = nil, link: Link = .veth) {
        self.name = name
        self.address = address
        self.mac = mac
        self.link = link
    }

    /// The namespace's name.
    public var namespace: String { NamespaceHost.namespacePrefix + name }

    /// The switch-side device: `sb-<name>` when it fits in 15 bytes, else `sb-` and a hash.
    public var outerDevice: String {
        let plain = NamespaceHost.namespacePrefix + name
        if plain.utf8.count <= 15 { return plain }
        var hash: UInt32 = 2_166_136_261
        for b in name.utf8 { hash = (hash ^ UInt32(b)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return NamespaceHost.namespacePrefix + String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// A running namespace host and the port that connects it.
public final class NamespaceHost {
    /// Namespaces and devices Switchboard makes start with this.
    public static let namespacePrefix = "sb-"
    /// The interface name inside the namespace.
    public static let innerDevice = "eth0"

    /// The configuration it was made from.
    public let configuration: NamespaceHostConfiguration
    /// The switch-side port (AF_PACKET on the outer veth, or the TAP).
    public let port: any DatapathPort
    private var destroyed = false

    /// Removes what a crashed run may have left for this host: its namespace (which takes
    /// the veth inside with it, and so the pair) and the outer device.
    public static func removeLeftovers(of configuration: NamespaceHostConfiguration) {
        if IPCommand.namespaces().contains(configuration.namespace) {
            IPCommand.attempt(["netns", "delete", configuration.namespace])
        }
        if sb_if_index(configuration.outerDevice) != 0 {
            IPCommand.attempt(["link", "delete", configuration.outerDevice])
        }
    }

    /// Creates the namespace and its link, configures address and MAC, and opens the port.
    /// Leftovers of an earlier run with the same names are removed first. Without root the
    /// error says so.
    public init(_ configuration: NamespaceHostConfiguration) throws(HostNetworkingError) {
        guard geteuid() == 0 else { throw .needsRoot("creating namespace \(configuration.namespace) for host \(configuration.name)") }
        self.configuration = configuration
        let ns = configuration.namespace
        let outer = configuration.outerDevice
        let inner = Self.innerDevice
        Self.removeLeftovers(of: configuration)
        try IPCommand.run(["netns", "add", ns])
        do {
            switch configuration.link {
            case .veth:
                // Both ends are made here so offloads can be turned off before the peer moves:
                // a user-space switch must not receive partial checksums or giant segments.
                let peer = String(("sbp" + outer.dropFirst(3)).prefix(15))
                try IPCommand.run(["link", "add", outer, "type", "veth", "peer", "name", peer])
                try NetworkInterface(outer).disableOffloads()
                try NetworkInterface(peer).disableOffloads()
                try IPCommand.run(["link", "set", peer, "netns", ns])
                try IPCommand.run(["-n", ns, "link", "set", peer, "name", inner])
                try NetworkInterface(outer).setUp()
                port = try PacketSocketPort(interface: NetworkInterface(outer))
            case .tap:
                let tap = try TapPort(device: outer, bringUp: false)
                port = tap
                try IPCommand.run(["link", "set", outer, "netns", ns])
                try IPCommand.run(["-n", ns, "link", "set", outer, "name", inner])
            }
            if let mac = configuration.mac {
                try IPCommand.run(["-n", ns, "link", "set", inner, "address", mac.description])
            }
            try IPCommand.run(["-n", ns, "addr", "add", configuration.address, "dev", inner])
            try IPCommand.run(["-n", ns, "link", "set", inner, "up"])
            try IPCommand.run(["-n", ns, "link", "set", "lo", "up"])
        } catch {
            IPCommand.attempt(["netns", "delete", ns])
            IPCommand.attempt(["link", "delete", outer])
            throw error
        }
    }

    deinit { destroy() }

    /// Closes the port and deletes the namespace (and with it the veth pair or the TAP).
    public func destroy() {
        if destroyed { return }
        destroyed = true
        port.close()
        IPCommand.attempt(["netns", "delete", configuration.namespace])
        if sb_if_index(configuration.outerDevice) != 0 {
            IPCommand.attempt(["link", "delete", configuration.outerDevice])
        }
    }

    /// Runs a program inside the namespace (`ip netns exec sb-<name> ...`).
    public func execute(_ arguments: [String]) throws(HostNetworkingError) -> (status: Int32, output: String, error: String) {
        guard let ip = IPCommand.path else { throw .invalid("iproute2's `ip` not found") }
        return try IPCommand.execute(program: ip, ["netns", "exec", configuration.namespace] + arguments)
    }
}

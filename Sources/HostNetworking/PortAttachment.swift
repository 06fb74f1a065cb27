// PortAttachment: what a switch port is plugged into outside the process, independent of
// the topology file's types, and how to open it.

import Frames

/// A host device behind a switch port.
public enum PortAttachment: Sendable, Equatable {
    /// A TAP device, created when missing; `mtu` nil keeps the device's MTU.
    case tap(device: String, mtu: Int?)
    /// An existing interface through libpcap (immediate mode, inbound only, pcap_inject).
    case pcap(interface: String)
    /// An existing interface through an AF_PACKET socket (batched, faster than pcap).
    case packet(interface: String)
    /// A VXLAN tunnel.
    case vxlan(VXLANEndpoint)

    /// Opens the device as a port.
    public func open() throws(HostNetworkingError) -> any DatapathPort {
        switch self {
        case .tap(let device, let mtu):
            guard geteuidValue() == 0 else { throw .needsRoot("opening TAP device \(device)") }
            return try TapPort(device: device, mtu: mtu)
        case .pcap(let interface):
            guard NetworkInterfaceLookup.exists(interface) else { throw .invalid("pcap: no interface named \(interface)") }
            return try PcapPort(interface: interface)
        case .packet(let interface):
            return try PacketSocketPort(interface: NetworkInterface(interface))
        case .vxlan(let endpoint):
            return try VXLANPort(endpoint)
        }
    }
}

#if canImport(Glibc)
import Glibc
func geteuidValue() -> UInt32 { geteuid() }
#else
func geteuidValue() -> UInt32 { 0 }
#endif

enum NetworkInterfaceLookup {
    static func exists(_ name: String) -> Bool { (try? NetworkInterface(name))?.exists ?? false }
}

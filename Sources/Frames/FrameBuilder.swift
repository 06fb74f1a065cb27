// FrameBuilder: builds well-formed frames (Ethernet, tags, ARP, IPv4, ICMP, UDP, TCP)
// for tests, benchmarks, traces and the guest appliance's host-side peers.

/// Builds frames into byte arrays with correct lengths and checksums. Builders allocate;
/// they are for control paths and tests, not the forwarding loop.
public enum FrameBuilder {
    /// An Ethernet II header, optionally with tags (outermost first), followed by `payload`.
    public static func ethernet(destination: MACAddress, source: MACAddress, tags: [VLANTag] = [],
                                etherType: UInt16, payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(14 + 4 * tags.count + payload.count)
        out += destination.bytes
        out += source.bytes
        for tag in tags {
            out.appendBE16(tag.tpid)
            out.appendBE16(tag.tci)
        }
        out.appendBE16(etherType)
        out += payload
        return out
    }

    /// Pads a frame to the 60-byte Ethernet minimum (64 with the FCS the wire adds).
    public static func padded(_ frame: [UInt8], to minimum: Int = 60) -> [UInt8] {
        frame.count >= minimum ? frame : frame + [UInt8](repeating: 0, count: minimum - frame.count)
    }

    /// An ARP packet (the Ethernet payload).
    public static func arp(operation: ARPPacket.Operation, senderMAC: MACAddress, senderIP: IPv4Address,
                           targetMAC: MACAddress, targetIP: IPv4Address) -> [UInt8] {
        var out = [UInt8]()
        out.appendBE16(1)
        out.appendBE16(EtherType.ipv4)
        out += [6, 4]
        out.appendBE16(operation.rawValue)
        out += senderMAC.bytes + senderIP.bytes + targetMAC.bytes + targetIP.bytes
        return out
    }

    /// An IPv4 packet with a correct header checksum around `payload`.
    public static func ipv4(source: IPv4Address, destination: IPv4Address, protocol proto: UInt8,
                            payload: [UInt8], ttl: UInt8 = 64, identification: UInt16 = 0) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(20 + payload.count)
        out += [0x45, 0]
        out.appendBE16(UInt16(20 + payload.count))
        out.appendBE16(identification)
        out.appendBE16(0x4000) // don't fragment
        out += [ttl, proto, 0, 0]
        out += source.bytes + destination.bytes
        out.storeBE16(InternetChecksum.of(out), at: 10)
        return out + payload
    }

    /// An ICMP echo request or reply with a correct checksum.
    public static func icmpEcho(reply: Bool = false, identifier: UInt16, sequence: UInt16, data: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = [reply ? ICMPMessage.echoReply : ICMPMessage.echoRequest, 0, 0, 0]
        out.appendBE16(identifier)
        out.appendBE16(sequence)
        out += data
        out.storeBE16(InternetChecksum.of(out), at: 2)
        return out
    }

    /// A UDP datagram with its pseudo-header checksum.
    public static func udp(source: IPv4Address, destination: IPv4Address, sourcePort: UInt16,
                           destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.appendBE16(sourcePort)
        out.appendBE16(destinationPort)
        out.appendBE16(UInt16(8 + payload.count))
        out.appendBE16(0)
        out += payload
        var sum = out.withUnsafeBytes {
            InternetChecksum.transport(source: source, destination: destination, protocol: IPProtocol.udp, segment: $0)
        }
        if sum == 0 { sum = 0xFFFF } // RFC 768: zero means "no checksum"
        out.storeBE16(sum, at: 6)
        return out
    }

    /// A TCP segment without options, with its pseudo-header checksum.
    public static func tcp(source: IPv4Address, destination: IPv4Address, sourcePort: UInt16,
                           destinationPort: UInt16, sequence: UInt32, acknowledgement: UInt32 = 0,
                           flags: TCPSegment.Flags, window: UInt16 = 65535, payload: [UInt8] = []) -> [UInt8] {
        var out = [UInt8]()
        out.appendBE16(sourcePort)
        out.appendBE16(destinationPort)
        out.appendBE32(sequence)
        out.appendBE32(acknowledgement)
        out += [5 << 4, flags.rawValue]
        out.appendBE16(window)
        out += [0, 0, 0, 0]
        out += payload
        let sum = out.withUnsafeBytes {
            InternetChecksum.transport(source: source, destination: destination, protocol: IPProtocol.tcp, segment: $0)
        }
        out.storeBE16(sum, at: 16)
        return out
    }

    /// A complete ICMP echo request frame, padded to the minimum size.
    public static func ping(from srcMAC: MACAddress, _ srcIP: IPv4Address, to dstMAC: MACAddress, _ dstIP: IPv4Address,
                            vlan: UInt16? = nil, sequence: UInt16 = 1) -> [UInt8] {
        let icmp = icmpEcho(identifier: 0x5342, sequence: sequence, data: Array("switchboard".utf8))
        let ip = ipv4(source: srcIP, destination: dstIP, protocol: IPProtocol.icmp, payload: icmp)
        let tags = vlan.map { [VLANTag(vid: $0)] } ?? []
        return padded(ethernet(destination: dstMAC, source: srcMAC, tags: tags, etherType: EtherType.ipv4, payload: ip))
    }

    /// A complete broadcast ARP request frame, padded to the minimum size.
    public static func arpRequest(from srcMAC: MACAddress, _ srcIP: IPv4Address, for targetIP: IPv4Address,
                                  vlan: UInt16? = nil) -> [UInt8] {
        let body = arp(operation: .request, senderMAC: srcMAC, senderIP: srcIP, targetMAC: .zero, targetIP: targetIP)
        let tags = vlan.map { [VLANTag(vid: $0)] } ?? []
        return padded(ethernet(destination: .broadcast, source: srcMAC, tags: tags, etherType: EtherType.arp, payload: body))
    }
}

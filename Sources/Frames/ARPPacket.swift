// ARPPacket: a checked view of an Ethernet/IPv4 ARP packet (RFC 826).

/// A read-only view of an ARP packet for Ethernet hardware and IPv4 protocol addresses.
public struct ARPPacket {
    /// The ARP opcode (RFC 826, RFC 903 for the reverse ones).
    public enum Operation: UInt16, Sendable { case request = 1, reply = 2, reverseRequest = 3, reverseReply = 4 }

    public let bytes: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(FrameError) {
        guard buffer.count >= 28 else {
            throw .truncatedHeader(protocol: "ARP", needed: 28, available: buffer.count)
        }
        guard buffer.be16(0) == 1 else { throw .badField(protocol: "ARP", field: "hardware type", value: Int(buffer.be16(0))) }
        guard buffer.be16(2) == EtherType.ipv4 else { throw .badField(protocol: "ARP", field: "protocol type", value: Int(buffer.be16(2))) }
        guard buffer[4] == 6, buffer[5] == 4 else { throw .badField(protocol: "ARP", field: "address length", value: Int(buffer[4])) }
        bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<28])
    }

    public init(frame: EthernetFrame) throws(FrameError) {
        guard frame.etherType == EtherType.arp || frame.etherType == EtherType.rarp else {
            throw .wrongProtocol(expected: "ARP", found: Int(frame.etherType))
        }
        try self.init(frame.payload)
    }

    /// The operation, nil for values outside 1...4.
    public var operation: Operation? { Operation(rawValue: bytes.be16(6)) }
    public var senderMAC: MACAddress { MACAddress(loadingFrom: bytes.baseAddress.unsafelyUnwrapped + 8) }
    public var senderIP: IPv4Address { IPv4Address(rawValue: bytes.be32(14)) }
    public var targetMAC: MACAddress { MACAddress(loadingFrom: bytes.baseAddress.unsafelyUnwrapped + 18) }
    public var targetIP: IPv4Address { IPv4Address(rawValue: bytes.be32(24)) }
}

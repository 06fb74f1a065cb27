// IPv4Packet: a checked zero-copy view of an IPv4 header and its payload.

/// A read-only view of an IPv4 packet. Construction checks version, header length and
/// total length against the buffer, so later field reads cannot go out of bounds.
public struct IPv4Packet {
    /// The packet, from the first header byte to `totalLength` (padding excluded).
    public let bytes: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(FrameError) {
        guard buffer.count >= 20 else {
            throw .truncatedHeader(protocol: "IPv4", needed: 20, available: buffer.count)
        }
        let version = Int(buffer[0] >> 4)
        guard version == 4 else { throw .badField(protocol: "IPv4", field: "version", value: version) }
        let headerLength = Int(buffer[0] & 0x0F) * 4
        guard headerLength >= 20 else { throw .badField(protocol: "IPv4", field: "IHL", value: headerLength / 4) }
        let total = Int(buffer.be16(2))
        guard total >= headerLength, total <= buffer.count else {
            throw .badLength(protocol: "IPv4", field: total, available: buffer.count)
        }
        bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<total])
    }

    /// Reads the IPv4 packet inside an Ethernet frame.
    public init(frame: EthernetFrame) throws(FrameError) {
        guard frame.etherType == EtherType.ipv4 else {
            throw .wrongProtocol(expected: "IPv4", found: Int(frame.etherType))
        }
        try self.init(frame.payload)
    }

    public var headerLength: Int { Int(bytes[0] & 0x0F) * 4 }
    public var totalLength: Int { bytes.count }
    public var dscp: UInt8 { bytes[1] >> 2 }
    public var identification: UInt16 { bytes.be16(4) }
    public var ttl: UInt8 { bytes[8] }
    public var `protocol`: UInt8 { bytes[9] }
    public var headerChecksum: UInt16 { bytes.be16(10) }
    public var source: IPv4Address { IPv4Address(rawValue: bytes.be32(12)) }
    public var destination: IPv4Address { IPv4Address(rawValue: bytes.be32(16)) }
    /// Whether the header checksum verifies.
    public var isHeaderChecksumValid: Bool {
        InternetChecksum.of(UnsafeRawBufferPointer(rebasing: bytes[0..<headerLength])) == 0
    }
    /// True for fragments other than the first (their payload has no transport header).
    public var isLaterFragment: Bool { bytes.be16(6) & 0x1FFF != 0 }
    /// The bytes after the header.
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[headerLength...]) }
}

// Checked views of ICMP, UDP and TCP headers inside an IPv4 payload.

/// A read-only view of an ICMP message.
public struct ICMPMessage {
    public static let echoReply: UInt8 = 0
    public static let echoRequest: UInt8 = 8

    public let bytes: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(FrameError) {
        guard buffer.count >= 8 else { throw .truncatedHeader(protocol: "ICMP", needed: 8, available: buffer.count) }
        bytes = buffer
    }

    public init(packet: IPv4Packet) throws(FrameError) {
        guard packet.protocol == IPProtocol.icmp else { throw .wrongProtocol(expected: "ICMP", found: Int(packet.protocol)) }
        try self.init(packet.payload)
    }

    public var type: UInt8 { bytes[0] }
    public var code: UInt8 { bytes[1] }
    public var checksum: UInt16 { bytes.be16(2) }
    /// Identifier of an echo request or reply.
    public var identifier: UInt16 { bytes.be16(4) }
    /// Sequence number of an echo request or reply.
    public var sequence: UInt16 { bytes.be16(6) }
    public var isChecksumValid: Bool { InternetChecksum.of(bytes) == 0 }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[8...]) }
}

/// A read-only view of a UDP datagram; the length field is checked against the buffer.
public struct UDPDatagram {
    public let bytes: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(FrameError) {
        guard buffer.count >= 8 else { throw .truncatedHeader(protocol: "UDP", needed: 8, available: buffer.count) }
        let length = Int(buffer.be16(4))
        guard length >= 8, length <= buffer.count else { throw .badLength(protocol: "UDP", field: length, available: buffer.count) }
        bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
    }

    public init(packet: IPv4Packet) throws(FrameError) {
        guard packet.protocol == IPProtocol.udp else { throw .wrongProtocol(expected: "UDP", found: Int(packet.protocol)) }
        guard !packet.isLaterFragment else { throw .badField(protocol: "IPv4", field: "fragment offset", value: 1) }
        try self.init(packet.payload)
    }

    public var sourcePort: UInt16 { bytes.be16(0) }
    public var destinationPort: UInt16 { bytes.be16(2) }
    public var length: Int { bytes.count }
    public var checksum: UInt16 { bytes.be16(6) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[8...]) }
}

/// A read-only view of a TCP segment; the data offset is checked against the buffer.
public struct TCPSegment {
    /// The TCP control bits.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = Flags(rawValue: 0x01)
        public static let syn = Flags(rawValue: 0x02)
        public static let rst = Flags(rawValue: 0x04)
        public static let psh = Flags(rawValue: 0x08)
        public static let ack = Flags(rawValue: 0x10)
        public static let urg = Flags(rawValue: 0x20)
    }

    public let bytes: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(FrameError) {
        guard buffer.count >= 20 else { throw .truncatedHeader(protocol: "TCP", needed: 20, available: buffer.count) }
        let dataOffset = Int(buffer[12] >> 4) * 4
        guard dataOffset >= 20, dataOffset <= buffer.count else {
            throw .badLength(protocol: "TCP", field: dataOffset, available: buffer.count)
        }
        bytes = buffer
    }

    public init(packet: IPv4Packet) throws(FrameError) {
        guard packet.protocol == IPProtocol.tcp else { throw .wrongProtocol(expected: "TCP", found: Int(packet.protocol)) }
        guard !packet.isLaterFragment else { throw .badField(protocol: "IPv4", field: "fragment offset", value: 1) }
        try self.init(packet.payload)
    }

    public var sourcePort: UInt16 { bytes.be16(0) }
    public var destinationPort: UInt16 { bytes.be16(2) }
    public var sequenceNumber: UInt32 { bytes.be32(4) }
    public var acknowledgementNumber: UInt32 { bytes.be32(8) }
    public var dataOffset: Int { Int(bytes[12] >> 4) * 4 }
    public var flags: Flags { Flags(rawValue: bytes[13] & 0x3F) }
    public var window: UInt16 { bytes.be16(14) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[dataOffset...]) }
}

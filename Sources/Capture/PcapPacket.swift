// PcapPacket: one record read from a pcap/pcapng file, with its bytes copied out.

/// One packet record read by `PcapReader.next()`.
public struct PcapPacket: Sendable, Equatable {
    /// Capture time in nanoseconds since the Unix epoch.
    public var timestampNanoseconds: UInt64
    /// Bytes stored in the file (`bytes.count`); smaller than `originalLength` when truncated.
    public var capturedLength: Int
    /// Length of the frame on the wire.
    public var originalLength: Int
    /// The captured bytes, starting at the Ethernet header.
    public var bytes: [UInt8]

    /// Creates a packet record.
    public init(timestampNanoseconds: UInt64, capturedLength: Int, originalLength: Int, bytes: [UInt8]) {
        self.timestampNanoseconds = timestampNanoseconds
        self.capturedLength = capturedLength
        self.originalLength = originalLength
        self.bytes = bytes
    }

    /// True when the file holds fewer bytes than the frame had.
    public var isTruncated: Bool { capturedLength < originalLength }
}

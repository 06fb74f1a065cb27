// InternetChecksum: the RFC 1071 ones'-complement sum used by IPv4, ICMP, UDP and TCP.

/// Accumulates the Internet checksum over byte ranges (RFC 1071).
public struct InternetChecksum: Sendable {
    private var sum: UInt64 = 0
    private var odd = false

    public init() {}

    /// Adds bytes to the sum; ranges may have odd lengths and follow one another.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            sum &+= odd ? UInt64(byte) : UInt64(byte) << 8
            odd.toggle()
        }
    }

    /// Adds a 16-bit word, as the pseudo header does.
    public mutating func add(word: UInt16) {
        precondition(!odd, "words must be added at even offsets")
        sum &+= UInt64(word)
    }

    /// Adds bytes from an array.
    public mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { add($0) }
    }

    /// The folded, complemented checksum to store in a header. A buffer whose stored
    /// checksum is correct yields 0 here.
    public var value: UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(s)
    }

    /// The checksum of one buffer.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var c = InternetChecksum()
        c.add(bytes)
        return c.value
    }

    /// The checksum of one array.
    public static func of(_ bytes: [UInt8]) -> UInt16 {
        bytes.withUnsafeBytes { of($0) }
    }

    /// The checksum of a UDP or TCP segment with its IPv4 pseudo header.
    public static func transport(source: IPv4Address, destination: IPv4Address, protocol proto: UInt8,
                                 segment: UnsafeRawBufferPointer) -> UInt16 {
        var c = InternetChecksum()
        c.add(word: UInt16(source.rawValue >> 16)); c.add(word: UInt16(truncatingIfNeeded: source.rawValue))
        c.add(word: UInt16(destination.rawValue >> 16)); c.add(word: UInt16(truncatingIfNeeded: destination.rawValue))
        c.add(word: UInt16(proto))
        c.add(word: UInt16(segment.count))
        c.add(segment)
        return c.value
    }
}

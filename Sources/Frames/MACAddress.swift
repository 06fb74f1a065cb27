// MACAddress: a 48-bit IEEE 802 address held in the low bits of a UInt64.
//
// The value is big-endian in the sense that the first byte on the wire is bits 47...40,
// so printing and ordering follow the usual colon notation. Hot paths load six bytes with
// `MACAddress(loadingFrom:)`, one unaligned 8-byte load and a byte swap.

/// An Ethernet (IEEE 802 MAC-48) address.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address in the low 48 bits; the first wire byte is bits 47...40.
    public let rawValue: UInt64

    /// Creates an address from the low 48 bits of `rawValue`.
    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    /// Creates an address from six bytes in wire order.
    @inlinable
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        var v = UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
        v |= UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5)
        self.rawValue = v
    }

    /// Reads six bytes in wire order at `pointer`. The caller guarantees 6 readable bytes.
    @inlinable
    public init(loadingFrom pointer: UnsafeRawPointer) {
        let hi = UInt64(UInt16(bigEndian: pointer.loadUnaligned(as: UInt16.self)))
        let lo = UInt64(UInt32(bigEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
        self.rawValue = hi << 32 | lo
    }

    /// Parses `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (hex digits in either case).
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 17 else { return nil }
        let separator = utf8[2]
        guard separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else { return nil }
        var value: UInt64 = 0
        for group in 0..<6 {
            let i = group * 3
            if group > 0 && utf8[i - 1] != separator { return nil }
            guard let hi = Self.hexValue(utf8[i]), let lo = Self.hexValue(utf8[i + 1]) else { return nil }
            value = value << 8 | UInt64(hi << 4 | lo)
        }
        self.rawValue = value
    }

    /// Writes the six bytes in wire order at `pointer`.
    @inlinable
    public func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: rawValue >> 32).bigEndian, as: UInt16.self)
        pointer.storeBytes(of: UInt32(truncatingIfNeeded: rawValue).bigEndian, toByteOffset: 2, as: UInt32.self)
    }

    /// The six bytes in wire order.
    public var bytes: [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * $0)) }
    }

    /// The group bit (I/G): set for multicast and broadcast addresses.
    @inlinable public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }
    /// `ff:ff:ff:ff:ff:ff`.
    @inlinable public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }
    /// Unicast: the group bit is clear.
    @inlinable public var isUnicast: Bool { !isMulticast }
    /// The locally administered (U/L) bit.
    @inlinable public var isLocallyAdministered: Bool { rawValue & 0x0200_0000_0000 != 0 }
    /// 802.1D reserved link-local group addresses 01:80:c2:00:00:00 to 0f, never forwarded.
    @inlinable public var isLinkLocal: Bool { rawValue & 0xFFFF_FFFF_FFF0 == 0x0180_C200_0000 }
    /// `00:00:00:00:00:00`.
    @inlinable public var isZero: Bool { rawValue == 0 }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(rawValue: 0)

    @inlinable
    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(17)
        for i in 0..<6 {
            let byte = Int(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * i)) & 0xFF
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(digits[byte >> 4])
            out.append(digits[byte & 0xF])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

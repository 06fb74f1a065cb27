// IPv4Address and IPv4Interface: dotted-quad addresses (and address/prefix pairs) as they
// appear in topology files.

/// An IPv4 address, parsed from strict dotted-quad notation ("192.0.2.1").
public struct IPv4Address: Sendable, Hashable, CustomStringConvertible {
    /// The address in host byte order; the first octet is bits 31...24.
    public var rawValue: UInt32

    /// Creates an address from its 32-bit value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Parses four decimal octets 0...255 separated by dots, without leading zeros.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  part.count == 1 || part.first != "0", let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        rawValue = value
    }

    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xFF).\(rawValue >> 8 & 0xFF).\(rawValue & 0xFF)"
    }
}

/// An interface address with its prefix length, "10.10.0.1/24".
public struct IPv4Interface: Sendable, Hashable, CustomStringConvertible {
    /// The address.
    public var address: IPv4Address
    /// The prefix length, 0...32.
    public var prefixLength: Int

    /// Creates an interface address.
    public init(address: IPv4Address, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses "a.b.c.d/n" with n in 0...32.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]),
              (1...2).contains(parts[1].count), parts[1].count == 1 || parts[1].first != "0",
              parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let prefix = Int(parts[1]), prefix <= 32 else { return nil }
        self.address = address
        self.prefixLength = prefix
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

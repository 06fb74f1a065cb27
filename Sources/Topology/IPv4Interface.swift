// IPv4Interface: an address with its prefix length ("10.10.0.1/24"), as topology files write it.

import Frames

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

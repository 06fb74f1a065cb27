// VLANID: an 802.1Q VLAN identifier usable on a port, 1...4094.

/// A VLAN identifier in the usable range 1...4094 (0 means "priority tag only" and
/// 4095 is reserved, so neither names a VLAN).
public struct VLANID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 12-bit identifier.
    public let rawValue: UInt16

    /// The usable identifiers.
    public static let validRange: ClosedRange<UInt16> = 1...4094

    /// Returns nil outside 1...4094.
    @inlinable
    public init?(_ value: Int) {
        guard value >= 1 && value <= 4094 else { return nil }
        self.rawValue = UInt16(value)
    }

    /// For callers that already checked the range (hot paths, tables).
    @inlinable
    public init(unchecked value: UInt16) { self.rawValue = value }

    /// VLAN 1, the default native VLAN of a trunk.
    public static let defaultVLAN = VLANID(unchecked: 1)

    @inlinable
    public static func < (lhs: VLANID, rhs: VLANID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}

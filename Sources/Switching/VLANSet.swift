// VLANSet: a 4096-bit set of VLAN ids with O(1) membership, for trunk allow lists.

import Frames

/// A set of VLAN ids stored as a 4096-bit bitmap.
public struct VLANSet: Hashable, Sendable, Sequence, CustomStringConvertible {
    @usableFromInline var words: [UInt64]

    /// The empty set.
    public init() { words = [UInt64](repeating: 0, count: 64) }

    /// A set holding `vlans`.
    public init(_ vlans: some Sequence<VLANID>) {
        self.init()
        for v in vlans { insert(v) }
    }

    /// Every usable VLAN, 1...4094.
    public static var all: VLANSet { VLANSet((1...4094).map { VLANID(unchecked: UInt16($0)) }) }

    public mutating func insert(_ vlan: VLANID) {
        words[Int(vlan.rawValue >> 6)] |= 1 << UInt64(vlan.rawValue & 63)
    }

    /// Adds every id of `range` (the caller keeps it within 1...4094).
    public mutating func insert(_ range: ClosedRange<VLANID>) {
        for raw in range.lowerBound.rawValue...range.upperBound.rawValue { insert(VLANID(unchecked: raw)) }
    }

    /// The members in ascending order.
    public var members: [VLANID] { Array(self) }

    public mutating func remove(_ vlan: VLANID) {
        words[Int(vlan.rawValue >> 6)] &= ~(1 << UInt64(vlan.rawValue & 63))
    }

    @inlinable
    public func contains(_ vid: UInt16) -> Bool {
        words[Int(vid >> 6) & 63] & (1 << UInt64(vid & 63)) != 0
    }

    public func contains(_ vlan: VLANID) -> Bool { contains(vlan.rawValue) }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    public func makeIterator() -> some IteratorProtocol<VLANID> {
        (1...4094).lazy.map { UInt16($0) }.filter { self.contains($0) }.map { VLANID(unchecked: $0) }.makeIterator()
    }

    /// Compact text such as `10,20,30-40`.
    public var description: String {
        var parts: [String] = []
        var start: Int? = nil
        for v in 1...4095 {
            let present = v <= 4094 && contains(UInt16(v))
            if present, start == nil { start = v }
            if !present, let s = start {
                parts.append(s == v - 1 ? "\(s)" : "\(s)-\(v - 1)")
                start = nil
            }
        }
        return parts.joined(separator: ",")
    }
}

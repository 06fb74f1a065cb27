// VLANSet: a set of VLAN ids 1...4094 as a 4096-bit bitmap, for a trunk's allowed VLANs.
import Frames

/// A set of VLAN ids, stored as a bitmap (one bit per id 0...4095; 0 and 4095 never set).
public struct VLANSet: Sendable, Equatable, Hashable, CustomStringConvertible {
    private var words: [UInt64]

    /// The empty set.
    public init() { words = Array(repeating: 0, count: 64) }

    /// A set holding `vlans`.
    public init(_ vlans: some Sequence<VLANID>) {
        self.init()
        for vlan in vlans { insert(vlan) }
    }

    /// Every usable VLAN, 1...4094 (the default of a trunk).
    public static var all: VLANSet {
        var set = VLANSet()
        for raw in VLANID.validRange { set.insert(VLANID(unchecked: raw)) }
        return set
    }

    /// Whether `vlan` is in the set.
    public func contains(_ vlan: VLANID) -> Bool {
        let raw = Int(vlan.rawValue)
        guard raw < 4096 else { return false }
        return words[raw >> 6] & (1 << UInt64(raw & 63)) != 0
    }

    /// Adds `vlan` (ids outside 1...4094 are ignored).
    public mutating func insert(_ vlan: VLANID) {
        let raw = Int(vlan.rawValue)
        guard VLANID.validRange.contains(vlan.rawValue) else { return }
        words[raw >> 6] |= 1 << UInt64(raw & 63)
    }

    /// Adds every id of `range` (which the caller keeps within 1...4094).
    public mutating func insert(_ range: ClosedRange<VLANID>) {
        for raw in range.lowerBound.rawValue...range.upperBound.rawValue { insert(VLANID(unchecked: raw)) }
    }

    /// The members in ascending order.
    public var members: [VLANID] {
        var out: [VLANID] = []
        for (w, word) in words.enumerated() where word != 0 {
            for bit in 0..<64 where word & (1 << UInt64(bit)) != 0 {
                out.append(VLANID(unchecked: UInt16(w * 64 + bit)))
            }
        }
        return out
    }

    /// How many VLANs the set holds.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Whether the set is empty.
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// Compact ranges, e.g. "1-4094" or "10,20,30-40".
    public var description: String {
        var runs: [(first: UInt16, last: UInt16)] = []
        for vlan in members {
            let raw = vlan.rawValue
            if let run = runs.last, run.last + 1 == raw {
                runs[runs.count - 1].last = raw
            } else {
                runs.append((raw, raw))
            }
        }
        return runs.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" }
            .joined(separator: ",")
    }
}

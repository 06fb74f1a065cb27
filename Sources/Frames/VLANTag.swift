// VLANTag: the 4-byte 802.1Q / 802.1ad tag (TPID + TCI).

/// One VLAN tag as it appears on the wire: a TPID (0x8100 or 0x88a8) and the TCI.
public struct VLANTag: Equatable, Sendable {
    /// Tag protocol identifier: `EtherType.vlan` (802.1Q) or `EtherType.qinq` (802.1ad).
    public var tpid: UInt16
    /// Tag control information: PCP (3 bits), DEI (1 bit), VID (12 bits).
    public var tci: UInt16

    public init(tpid: UInt16 = EtherType.vlan, vid: UInt16, pcp: UInt8 = 0, dei: Bool = false) {
        self.tpid = tpid
        self.tci = UInt16(pcp & 7) << 13 | (dei ? 0x1000 : 0) | (vid & 0x0FFF)
    }

    public init(tpid: UInt16, tci: UInt16) {
        self.tpid = tpid
        self.tci = tci
    }

    /// The 12-bit VLAN identifier (0 = priority-tagged only).
    @inlinable public var vid: UInt16 { tci & 0x0FFF }
    /// Priority code point.
    @inlinable public var pcp: UInt8 { UInt8(truncatingIfNeeded: tci >> 13) }
    /// Drop eligible indicator.
    @inlinable public var dei: Bool { tci & 0x1000 != 0 }
    /// True for an 802.1ad service tag.
    @inlinable public var isServiceTag: Bool { tpid == EtherType.qinq }
}

// OpenFlowNumbers: the OF 1.3 reserved port, group and table numbers and the reason codes
// the datapath hands to the wire side (packet-in and flow-removed reasons).

/// OF 1.3 reserved port numbers (`ofp_port_no`).
public enum OFPort {
    /// Largest number of a physical or logical port.
    public static let max: UInt32 = 0xFFFF_FF00
    public static let inPort: UInt32 = 0xFFFF_FFF8
    public static let table: UInt32 = 0xFFFF_FFF9
    public static let normal: UInt32 = 0xFFFF_FFFA
    public static let flood: UInt32 = 0xFFFF_FFFB
    public static let all: UInt32 = 0xFFFF_FFFC
    public static let controller: UInt32 = 0xFFFF_FFFD
    public static let local: UInt32 = 0xFFFF_FFFE
    /// Wildcard in requests (`OFPP_ANY`).
    public static let any: UInt32 = 0xFFFF_FFFF
}

/// OF 1.3 reserved group numbers.
public enum OFGroup {
    /// Largest group number.
    public static let max: UInt32 = 0xFFFF_FF00
    /// All groups (group-mod delete, group stats).
    public static let all: UInt32 = 0xFFFF_FFFC
    /// Wildcard in requests (`OFPG_ANY`).
    public static let any: UInt32 = 0xFFFF_FFFF
}

/// OF 1.3 table numbers.
public enum OFTable {
    /// All tables, valid for delete and stats (`OFPTT_ALL`).
    public static let all: UInt8 = 0xFF
}

/// Why a packet goes to the controller (`ofp_packet_in_reason`).
public enum PacketInReason: UInt8, Sendable {
    case noMatch = 0, action = 1, invalidTTL = 2
}

/// Why a flow entry was removed (`ofp_flow_removed_reason`).
public enum FlowRemovedReason: UInt8, Sendable {
    case idleTimeout = 0, hardTimeout = 1, delete = 2, groupDelete = 3
}

/// The `OFPVID_PRESENT` bit of the vlan_vid match field.
public let ofpVIDPresent: UInt16 = 0x1000

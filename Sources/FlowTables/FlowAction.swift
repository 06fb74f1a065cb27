// FlowAction and FlowField: the OF 1.3 actions the datapath executes and the set_field targets.

/// A header field a set_field action writes (the value in the match's units).
public enum FlowField: Sendable, Hashable {
    /// MAC in the low 48 bits.
    case ethDst(UInt64), ethSrc(UInt64)
    /// The 12-bit VID (OFPVID_PRESENT may be set; it is ignored). Needs a tagged frame.
    case vlanVID(UInt16)
    case vlanPCP(UInt8)
    case ipDSCP(UInt8), ipECN(UInt8)
    case ipv4Src(UInt32), ipv4Dst(UInt32)
    case ipv6Src(IPv6Bits), ipv6Dst(IPv6Bits)
    case tcpSrc(UInt16), tcpDst(UInt16), udpSrc(UInt16), udpDst(UInt16)
    case icmpv4Type(UInt8), icmpv4Code(UInt8)
    case arpOp(UInt16), arpSPA(UInt32), arpTPA(UInt32)
    /// MAC in the low 48 bits.
    case arpSHA(UInt64), arpTHA(UInt64)

    /// The field's index in the action set (one set-field per field type).
    var index: UInt8 {
        switch self {
        case .ethDst: 0
        case .ethSrc: 1
        case .vlanVID: 2
        case .vlanPCP: 3
        case .ipDSCP: 4
        case .ipECN: 5
        case .ipv4Src: 6
        case .ipv4Dst: 7
        case .ipv6Src: 8
        case .ipv6Dst: 9
        case .tcpSrc: 10
        case .tcpDst: 11
        case .udpSrc: 12
        case .udpDst: 13
        case .icmpv4Type: 14
        case .icmpv4Code: 15
        case .arpOp: 16
        case .arpSPA: 17
        case .arpTPA: 18
        case .arpSHA: 19
        case .arpTHA: 20
        }
    }

    /// Number of field types.
    static let count: UInt8 = 21
}

/// An OF 1.3 action.
public enum FlowAction: Sendable, Hashable {
    /// Output to a port number or a reserved port (`OFPort`); `maxLength` bounds the bytes
    /// sent to the controller (OFPCML_NO_BUFFER = 0xffff: the whole frame).
    case output(port: UInt32, maxLength: UInt16 = 0xFFFF)
    /// Pushes an outermost tag with this TPID (0x8100 or 0x88a8); the TCI is copied from an
    /// existing tag, else zero.
    case pushVLAN(etherType: UInt16)
    /// Removes the outermost tag.
    case popVLAN
    /// Writes a header field (checksums are updated).
    case setField(FlowField)
    /// Processes the packet through a group.
    case group(UInt32)
    /// Decrements the IPv4 TTL or IPv6 hop limit.
    case decNwTTL
    /// Queues are not supported: rejected with BAD_ACTION/BAD_TYPE.
    case setQueue(UInt32)
}

/// An OF 1.3 instruction.
public enum FlowInstruction: Sendable, Hashable {
    /// Continue in a later table.
    case gotoTable(UInt8)
    /// `metadata = metadata & ~mask | value & mask`.
    case writeMetadata(value: UInt64, mask: UInt64)
    /// Apply the actions now, in order.
    case applyActions([FlowAction])
    /// Merge the actions into the action set.
    case writeActions([FlowAction])
    /// Empty the action set.
    case clearActions
}

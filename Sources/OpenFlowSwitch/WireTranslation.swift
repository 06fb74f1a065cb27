// WireTranslation: OpenFlow wire values (module OpenFlow) to the flow datapath's values
// (module FlowTables) and back: matches, actions, instructions, flow-mods, group-mods,
// statistics, flow-removed. Anything the datapath cannot do becomes the error OF 1.3 names.

import FlowTables
import Frames
import OpenFlow

/// Converts between the wire model and the flow datapath's model.
public enum WireTranslation {
    // MARK: Errors

    /// The wire error for a datapath error (the numbers are the spec's on both sides).
    public static func error(_ e: FlowError) -> OFError { OFError(type: e.type, code: e.code) }

    // MARK: Matches

    private static func ones(_ id: OXMFieldID) -> OXMValue {
        let bits = id.size * 8
        if bits >= 128 { return OXMValue(high: ~0, low: ~0) }
        if bits > 64 { return OXMValue(high: (1 << UInt64(bits - 64)) - 1, low: ~0) }
        return OXMValue(low: bits == 64 ? ~0 : (1 << UInt64(bits)) - 1)
    }

    /// The datapath match for an ofp_match; fields the datapath does not match on are
    /// BAD_MATCH/BAD_FIELD, and the prerequisites are checked (BAD_PREREQ).
    public static func match(_ m: OFMatch) throws(OFError) -> FlowMatch {
        var f = FlowMatch()
        for field in m.fields {
            let v = field.value.low
            let mask = (field.mask ?? ones(field.id)).low
            switch field.id {
            case .inPort: f.inPort = UInt32(truncatingIfNeeded: v)
            case .metadata: f.metadata = Masked(v, mask: field.mask == nil ? ~0 : mask)
            case .ethDst: f.ethDst = Masked(v, mask: field.mask == nil ? ~0 : mask)
            case .ethSrc: f.ethSrc = Masked(v, mask: field.mask == nil ? ~0 : mask)
            case .ethType: f.ethType = UInt16(truncatingIfNeeded: v)
            case .vlanVID: f.vlanVID = Masked(UInt16(truncatingIfNeeded: v), mask: field.mask == nil ? ~0 : UInt16(truncatingIfNeeded: mask))
            case .vlanPCP: f.vlanPCP = UInt8(truncatingIfNeeded: v)
            case .ipDSCP: f.ipDSCP = UInt8(truncatingIfNeeded: v)
            case .ipECN: f.ipECN = UInt8(truncatingIfNeeded: v)
            case .ipProto: f.ipProto = UInt8(truncatingIfNeeded: v)
            case .ipv4Src: f.ipv4Src = Masked(UInt32(truncatingIfNeeded: v), mask: field.mask == nil ? ~0 : UInt32(truncatingIfNeeded: mask))
            case .ipv4Dst: f.ipv4Dst = Masked(UInt32(truncatingIfNeeded: v), mask: field.mask == nil ? ~0 : UInt32(truncatingIfNeeded: mask))
            case .tcpSrc: f.tcpSrc = UInt16(truncatingIfNeeded: v)
            case .tcpDst: f.tcpDst = UInt16(truncatingIfNeeded: v)
            case .udpSrc: f.udpSrc = UInt16(truncatingIfNeeded: v)
            case .udpDst: f.udpDst = UInt16(truncatingIfNeeded: v)
            case .icmpv4Type: f.icmpv4Type = UInt8(truncatingIfNeeded: v)
            case .icmpv4Code: f.icmpv4Code = UInt8(truncatingIfNeeded: v)
            case .arpOp: f.arpOp = UInt16(truncatingIfNeeded: v)
            case .arpSPA: f.arpSPA = Masked(UInt32(truncatingIfNeeded: v), mask: field.mask == nil ? ~0 : UInt32(truncatingIfNeeded: mask))
            case .arpTPA: f.arpTPA = Masked(UInt32(truncatingIfNeeded: v), mask: field.mask == nil ? ~0 : UInt32(truncatingIfNeeded: mask))
            case .arpSHA: f.arpSHA = Masked(v, mask: field.mask == nil ? ~0 : mask)
            case .arpTHA: f.arpTHA = Masked(v, mask: field.mask == nil ? ~0 : mask)
            case .ipv6Src, .ipv6Dst:
                let m6 = field.mask ?? OXMValue(high: ~0, low: ~0)
                let value = MaskedIPv6(IPv6Bits(high: field.value.high, low: field.value.low), mask: IPv6Bits(high: m6.high, low: m6.low))
                if field.id == .ipv6Src { f.ipv6Src = value } else { f.ipv6Dst = value }
            case .inPhyPort, .sctpSrc, .sctpDst, .ipv6FLabel, .icmpv6Type, .icmpv6Code, .ipv6NDTarget, .ipv6NDSLL,
                 .ipv6NDTLL, .mplsLabel, .mplsTC, .mplsBOS, .pbbISID, .tunnelID, .ipv6ExtHdr:
                throw .matchBadField
            }
        }
        do { try f.validate() } catch { throw Self.error(error) }
        return f
    }

    /// The ofp_match of a datapath match (masks left out where they are all ones).
    public static func match(_ f: FlowMatch) -> OFMatch {
        var out: [OXMField] = []
        func add(_ id: OXMFieldID, _ v: UInt64, _ m: UInt64? = nil) {
            let full = ones(id).low
            let mask = m.map { $0 & full }
            out.append(OXMField(id, v & full, mask: mask == nil || mask == full ? nil : mask))
        }
        if let x = f.inPort { add(.inPort, UInt64(x)) }
        if let x = f.metadata { add(.metadata, x.value, x.mask) }
        if let x = f.ethDst { add(.ethDst, x.value, x.mask) }
        if let x = f.ethSrc { add(.ethSrc, x.value, x.mask) }
        if let x = f.ethType { add(.ethType, UInt64(x)) }
        if let x = f.vlanVID {
            let mask = UInt64(x.mask) & 0x1FFF
            out.append(OXMField(.vlanVID, UInt64(x.value) & 0x1FFF, mask: mask == 0x1FFF ? nil : mask))
        }
        if let x = f.vlanPCP { add(.vlanPCP, UInt64(x)) }
        if let x = f.ipDSCP { add(.ipDSCP, UInt64(x)) }
        if let x = f.ipECN { add(.ipECN, UInt64(x)) }
        if let x = f.ipProto { add(.ipProto, UInt64(x)) }
        if let x = f.ipv4Src { add(.ipv4Src, UInt64(x.value), UInt64(x.mask)) }
        if let x = f.ipv4Dst { add(.ipv4Dst, UInt64(x.value), UInt64(x.mask)) }
        if let x = f.tcpSrc { add(.tcpSrc, UInt64(x)) }
        if let x = f.tcpDst { add(.tcpDst, UInt64(x)) }
        if let x = f.udpSrc { add(.udpSrc, UInt64(x)) }
        if let x = f.udpDst { add(.udpDst, UInt64(x)) }
        if let x = f.icmpv4Type { add(.icmpv4Type, UInt64(x)) }
        if let x = f.icmpv4Code { add(.icmpv4Code, UInt64(x)) }
        if let x = f.arpOp { add(.arpOp, UInt64(x)) }
        if let x = f.arpSPA { add(.arpSPA, UInt64(x.value), UInt64(x.mask)) }
        if let x = f.arpTPA { add(.arpTPA, UInt64(x.value), UInt64(x.mask)) }
        if let x = f.arpSHA { add(.arpSHA, x.value, x.mask) }
        if let x = f.arpTHA { add(.arpTHA, x.value, x.mask) }
        for (id, x) in [(OXMFieldID.ipv6Src, f.ipv6Src), (.ipv6Dst, f.ipv6Dst)] {
            guard let x else { continue }
            let all = x.mask.high == ~0 && x.mask.low == ~0
            out.append(OXMField(id, OXMValue(high: x.value.high, low: x.value.low),
                                mask: all ? nil : OXMValue(high: x.mask.high, low: x.mask.low)))
        }
        return OFMatch(out)
    }

    // MARK: Actions and instructions

    /// The datapath action for a wire action; what the datapath does not perform is
    /// BAD_ACTION/BAD_TYPE (an experimenter's, BAD_EXPERIMENTER).
    public static func action(_ a: OFAction) throws(OFError) -> FlowAction {
        switch a {
        case .output(let port, let maxLength): return .output(port: port, maxLength: maxLength)
        case .pushVLAN(let e): return .pushVLAN(etherType: e)
        case .popVLAN: return .popVLAN
        case .group(let g): return .group(g)
        case .decNWTTL: return .decNwTTL
        case .setQueue(let q): return .setQueue(q)
        case .setField(let f): return .setField(try field(f))
        case .experimenter: throw .actionBadExperimenter
        case .copyTTLOut, .copyTTLIn, .setMPLSTTL, .decMPLSTTL, .pushMPLS, .popMPLS, .setNWTTL, .pushPBB, .popPBB:
            throw .actionBadType
        }
    }

    private static func field(_ f: OXMField) throws(OFError) -> FlowField {
        let v = f.value.low
        switch f.id {
        case .ethDst: return .ethDst(v)
        case .ethSrc: return .ethSrc(v)
        case .vlanVID: return .vlanVID(UInt16(truncatingIfNeeded: v) & 0x0FFF)
        case .vlanPCP: return .vlanPCP(UInt8(truncatingIfNeeded: v))
        case .ipDSCP: return .ipDSCP(UInt8(truncatingIfNeeded: v))
        case .ipECN: return .ipECN(UInt8(truncatingIfNeeded: v))
        case .ipv4Src: return .ipv4Src(UInt32(truncatingIfNeeded: v))
        case .ipv4Dst: return .ipv4Dst(UInt32(truncatingIfNeeded: v))
        case .ipv6Src: return .ipv6Src(IPv6Bits(high: f.value.high, low: v))
        case .ipv6Dst: return .ipv6Dst(IPv6Bits(high: f.value.high, low: v))
        case .tcpSrc: return .tcpSrc(UInt16(truncatingIfNeeded: v))
        case .tcpDst: return .tcpDst(UInt16(truncatingIfNeeded: v))
        case .udpSrc: return .udpSrc(UInt16(truncatingIfNeeded: v))
        case .udpDst: return .udpDst(UInt16(truncatingIfNeeded: v))
        case .icmpv4Type: return .icmpv4Type(UInt8(truncatingIfNeeded: v))
        case .icmpv4Code: return .icmpv4Code(UInt8(truncatingIfNeeded: v))
        case .arpOp: return .arpOp(UInt16(truncatingIfNeeded: v))
        case .arpSPA: return .arpSPA(UInt32(truncatingIfNeeded: v))
        case .arpTPA: return .arpTPA(UInt32(truncatingIfNeeded: v))
        case .arpSHA: return .arpSHA(v)
        case .arpTHA: return .arpTHA(v)
        default: throw .actionBadSetType
        }
    }

    /// The wire action of a datapath action.
    public static func action(_ a: FlowAction) -> OFAction {
        switch a {
        case .output(let port, let maxLength): return .output(port: port, maxLength: maxLength)
        case .pushVLAN(let e): return .pushVLAN(ethertype: e)
        case .popVLAN: return .popVLAN
        case .group(let g): return .group(g)
        case .decNwTTL: return .decNWTTL
        case .setQueue(let q): return .setQueue(q)
        case .setField(let f): return .setField(field(f))
        }
    }

    private static func field(_ f: FlowField) -> OXMField {
        switch f {
        case .ethDst(let v): return OXMField(.ethDst, v)
        case .ethSrc(let v): return OXMField(.ethSrc, v)
        case .vlanVID(let v): return OXMField(.vlanVID, UInt64(v | OXMField.vlanPresent))
        case .vlanPCP(let v): return OXMField(.vlanPCP, UInt64(v))
        case .ipDSCP(let v): return OXMField(.ipDSCP, UInt64(v))
        case .ipECN(let v): return OXMField(.ipECN, UInt64(v))
        case .ipv4Src(let v): return OXMField(.ipv4Src, UInt64(v))
        case .ipv4Dst(let v): return OXMField(.ipv4Dst, UInt64(v))
        case .ipv6Src(let v): return OXMField(.ipv6Src, OXMValue(high: v.high, low: v.low))
        case .ipv6Dst(let v): return OXMField(.ipv6Dst, OXMValue(high: v.high, low: v.low))
        case .tcpSrc(let v): return OXMField(.tcpSrc, UInt64(v))
        case .tcpDst(let v): return OXMField(.tcpDst, UInt64(v))
        case .udpSrc(let v): return OXMField(.udpSrc, UInt64(v))
        case .udpDst(let v): return OXMField(.udpDst, UInt64(v))
        case .icmpv4Type(let v): return OXMField(.icmpv4Type, UInt64(v))
        case .icmpv4Code(let v): return OXMField(.icmpv4Code, UInt64(v))
        case .arpOp(let v): return OXMField(.arpOp, UInt64(v))
        case .arpSPA(let v): return OXMField(.arpSPA, UInt64(v))
        case .arpTPA(let v): return OXMField(.arpTPA, UInt64(v))
        case .arpSHA(let v): return OXMField(.arpSHA, v)
        case .arpTHA(let v): return OXMField(.arpTHA, v)
        }
    }

    /// The datapath instruction for a wire instruction (meters and experimenters are refused).
    public static func instruction(_ i: OFInstruction) throws(OFError) -> FlowInstruction {
        switch i {
        case .gotoTable(let t): return .gotoTable(t)
        case .writeMetadata(let v, let m): return .writeMetadata(value: v, mask: m)
        case .writeActions(let list): return .writeActions(try actions(list))
        case .applyActions(let list): return .applyActions(try actions(list))
        case .clearActions: return .clearActions
        case .meter: throw .instructionUnsupported
        case .experimenter: throw .instructionBadExperimenter
        }
    }

    /// The wire instruction of a datapath instruction.
    public static func instruction(_ i: FlowInstruction) -> OFInstruction {
        switch i {
        case .gotoTable(let t): return .gotoTable(t)
        case .writeMetadata(let v, let m): return .writeMetadata(value: v, mask: m)
        case .writeActions(let list): return .writeActions(list.map { action($0) })
        case .applyActions(let list): return .applyActions(list.map { action($0) })
        case .clearActions: return .clearActions
        }
    }

    /// A whole action list.
    public static func actions(_ list: [OFAction]) throws(OFError) -> [FlowAction] {
        var out: [FlowAction] = []
        out.reserveCapacity(list.count)
        for a in list { out.append(try action(a)) }
        return out
    }

    // MARK: Requests

    /// The datapath flow-mod for a FLOW_MOD (buffered packets are not kept: a buffer id is
    /// BAD_REQUEST/BUFFER_UNKNOWN).
    public static func flowMod(_ m: OFFlowMod) throws(OFError) -> FlowMod {
        guard let command = FlowMod.Command(rawValue: m.command) else { throw .flowModBadCommand }
        guard m.bufferID == OFConstant.noBuffer else { throw .bufferUnknown }
        let match = try match(m.match)
        var instructions: [FlowInstruction] = []
        for i in m.instructions { instructions.append(try instruction(i)) }
        return FlowMod(command: command, tableID: m.tableID, priority: m.priority, cookie: m.cookie,
                       cookieMask: m.cookieMask, idleTimeout: m.idleTimeout, hardTimeout: m.hardTimeout,
                       flags: FlowModFlags(rawValue: m.flags), outPort: m.outPort, outGroup: m.outGroup,
                       match: match, instructions: instructions)
    }

    /// The datapath group-mod for a GROUP_MOD.
    public static func groupMod(_ m: OFGroupMod) throws(OFError) -> GroupMod {
        guard let command = GroupMod.Command(rawValue: m.command) else { throw .groupBadCommand }
        guard let type = GroupType(rawValue: m.type) else { throw .groupBadType }
        var buckets: [GroupBucket] = []
        for b in m.buckets { buckets.append(GroupBucket(weight: b.weight, actions: try actions(b.actions))) }
        return GroupMod(command: command, type: type, groupID: m.groupID, buckets: buckets)
    }

    /// The selection of a flow stats or aggregate request.
    public static func filter(_ r: OFFlowStatsRequest) throws(OFError) -> FlowFilter {
        FlowFilter(tableID: r.tableID, outPort: r.outPort, outGroup: r.outGroup, cookie: r.cookie,
                   cookieMask: r.cookieMask, match: try match(r.match))
    }

    // MARK: Replies and asynchronous messages

    private static func split(_ ns: Int64) -> (UInt32, UInt32) {
        let n = max(0, ns)
        return (UInt32(truncatingIfNeeded: n / 1_000_000_000), UInt32(truncatingIfNeeded: n % 1_000_000_000))
    }

    /// A flow stats record.
    public static func flowStats(_ e: FlowEntry) -> OFFlowStats {
        let (s, ns) = split(e.durationNanoseconds)
        return OFFlowStats(tableID: e.tableID, durationSec: s, durationNsec: ns, priority: e.priority,
                           idleTimeout: e.idleTimeout, hardTimeout: e.hardTimeout, flags: e.flags.rawValue,
                           cookie: e.cookie, packetCount: e.packets, byteCount: e.bytes, match: match(e.match),
                           instructions: e.instructions.map { instruction($0) })
    }

    /// The FLOW_REMOVED for a removed entry.
    public static func flowRemoved(_ r: RemovedFlow) -> OFFlowRemoved {
        let e = r.entry
        let (s, ns) = split(e.durationNanoseconds)
        return OFFlowRemoved(cookie: e.cookie, priority: e.priority, reason: r.reason.rawValue, tableID: e.tableID,
                             durationSec: s, durationNsec: ns, idleTimeout: e.idleTimeout, hardTimeout: e.hardTimeout,
                             packetCount: e.packets, byteCount: e.bytes, match: match(e.match))
    }

    /// A group description record.
    public static func groupDesc(_ d: GroupDesc) -> OFGroupDesc {
        OFGroupDesc(type: d.type.rawValue, groupID: d.groupID,
                    buckets: d.buckets.map { OFBucket(weight: $0.weight, actions: $0.actions.map { action($0) }) })
    }

    /// A group statistics record.
    public static func groupStats(_ g: GroupStats) -> OFGroupStats {
        let (s, ns) = split(g.durationNanoseconds)
        return OFGroupStats(groupID: g.groupID, refCount: UInt32(clamping: g.referenceCount), packetCount: g.packets,
                            byteCount: g.bytes, durationSec: s, durationNsec: ns,
                            bucketCounts: g.buckets.map { [$0.packets, $0.bytes] })
    }
}

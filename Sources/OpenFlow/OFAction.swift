// OFAction: the OpenFlow 1.3 actions (ofp_action_*) as decoded from an action list. Every
// type in the spec decodes, including those Switchboard's datapath does not perform (MPLS,
// PBB, queues, TTL copies, experimenter): they stay cases so the integrator answers them with
// BAD_ACTION/BAD_TYPE rather than the decoder guessing. Lengths are checked exactly (and must
// be multiples of 8): BAD_ACTION/BAD_LEN otherwise.

/// One action.
public enum OFAction: Hashable, Sendable {
    /// OUTPUT to `port` (a number or a reserved port such as `OFPort.controller`), sending at
    /// most `maxLength` bytes to the controller.
    case output(port: UInt32, maxLength: UInt16)
    case copyTTLOut
    case copyTTLIn
    case setMPLSTTL(UInt8)
    case decMPLSTTL
    case pushVLAN(ethertype: UInt16)
    case popVLAN
    case pushMPLS(ethertype: UInt16)
    case popMPLS(ethertype: UInt16)
    case setQueue(UInt32)
    case group(UInt32)
    case setNWTTL(UInt8)
    case decNWTTL
    /// SET_FIELD with one unmasked OXM field.
    case setField(OXMField)
    case pushPBB(ethertype: UInt16)
    case popPBB
    /// EXPERIMENTER: the experimenter id and the rest of the action (its length keeps the
    /// action a multiple of 8).
    case experimenter(id: UInt32, data: [UInt8])

    /// ofp_action_type.
    public var typeCode: UInt16 {
        switch self {
        case .output: return 0
        case .copyTTLOut: return 11
        case .copyTTLIn: return 12
        case .setMPLSTTL: return 15
        case .decMPLSTTL: return 16
        case .pushVLAN: return 17
        case .popVLAN: return 18
        case .pushMPLS: return 19
        case .popMPLS: return 20
        case .setQueue: return 21
        case .group: return 22
        case .setNWTTL: return 23
        case .decNWTTL: return 24
        case .setField: return 25
        case .pushPBB: return 26
        case .popPBB: return 27
        case .experimenter: return 0xFFFF
        }
    }

    /// Bytes on the wire.
    var wireLength: Int {
        switch self {
        case .output: return 16
        case .setField(let f): return (4 + f.wireLength + 7) & ~7
        case .experimenter(_, let data): return 8 + data.count
        default: return 8
        }
    }

    func encode(_ w: inout OFWriter) {
        let start = w.bytes.count
        w.u16(typeCode)
        w.u16(UInt16(truncatingIfNeeded: wireLength))
        switch self {
        case .output(let port, let maxLength):
            w.u32(port); w.u16(maxLength); w.zeros(6)
        case .copyTTLOut, .copyTTLIn, .decMPLSTTL, .popVLAN, .decNWTTL, .popPBB:
            w.zeros(4)
        case .setMPLSTTL(let t), .setNWTTL(let t):
            w.u8(t); w.zeros(3)
        case .pushVLAN(let e), .pushMPLS(let e), .popMPLS(let e), .pushPBB(let e):
            w.u16(e); w.zeros(2)
        case .setQueue(let v), .group(let v):
            w.u32(v)
        case .setField(let f):
            f.encode(&w)
            w.pad8(from: start)
        case .experimenter(let id, let data):
            w.u32(id); w.append(data)
        }
    }

    /// Reads one action.
    static func decode(_ r: inout OFReader) throws(OFError) -> OFAction {
        let type = try r.u16(.actionBadLen)
        let length = Int(try r.u16(.actionBadLen))
        guard length >= 8, length % 8 == 0 else { throw .actionBadLen }
        var b = try r.sub(length - 4, .actionBadLen)
        func fixed(_ n: Int) throws(OFError) { if length != n { throw .actionBadLen } }
        switch type {
        case 0:
            try fixed(16)
            let port = try b.u32(.actionBadLen)
            let maxLength = try b.u16(.actionBadLen)
            return .output(port: port, maxLength: maxLength)
        case 11: try fixed(8); return .copyTTLOut
        case 12: try fixed(8); return .copyTTLIn
        case 15: try fixed(8); return .setMPLSTTL(try b.u8(.actionBadLen))
        case 16: try fixed(8); return .decMPLSTTL
        case 17: try fixed(8); return .pushVLAN(ethertype: try b.u16(.actionBadLen))
        case 18: try fixed(8); return .popVLAN
        case 19: try fixed(8); return .pushMPLS(ethertype: try b.u16(.actionBadLen))
        case 20: try fixed(8); return .popMPLS(ethertype: try b.u16(.actionBadLen))
        case 21: try fixed(8); return .setQueue(try b.u32(.actionBadLen))
        case 22: try fixed(8); return .group(try b.u32(.actionBadLen))
        case 23: try fixed(8); return .setNWTTL(try b.u8(.actionBadLen))
        case 24: try fixed(8); return .decNWTTL
        case 25:
            let f = try OXMField.decode(&b, .setField)
            if f.mask != nil { throw .actionBadSetArgument }
            // The TLV plus padding to 8 must be exactly the action.
            guard (4 + f.wireLength + 7) & ~7 == length else { throw .actionBadSetLen }
            return .setField(f)
        case 26: try fixed(8); return .pushPBB(ethertype: try b.u16(.actionBadLen))
        case 27: try fixed(8); return .popPBB
        case 0xFFFF:
            let id = try b.u32(.actionBadLen)
            return .experimenter(id: id, data: b.rest())
        default:
            throw .actionBadType
        }
    }

    /// Reads an action list filling the whole window.
    static func decodeList(_ r: inout OFReader) throws(OFError) -> [OFAction] {
        var actions: [OFAction] = []
        while !r.isAtEnd { actions.append(try decode(&r)) }
        return actions
    }

    static func encodeList(_ actions: [OFAction], _ w: inout OFWriter) {
        for a in actions { a.encode(&w) }
    }

    static func listLength(_ actions: [OFAction]) -> Int { actions.reduce(0) { $0 + $1.wireLength } }
}

/// One instruction of a flow entry (ofp_instruction_*).
public enum OFInstruction: Hashable, Sendable {
    case gotoTable(UInt8)
    case writeMetadata(value: UInt64, mask: UInt64)
    case writeActions([OFAction])
    case applyActions([OFAction])
    case clearActions
    case meter(UInt32)
    /// EXPERIMENTER: id and the rest of the instruction.
    case experimenter(id: UInt32, data: [UInt8])

    /// ofp_instruction_type.
    public var typeCode: UInt16 {
        switch self {
        case .gotoTable: return 1
        case .writeMetadata: return 2
        case .writeActions: return 3
        case .applyActions: return 4
        case .clearActions: return 5
        case .meter: return 6
        case .experimenter: return 0xFFFF
        }
    }

    var wireLength: Int {
        switch self {
        case .gotoTable, .meter, .clearActions: return 8
        case .writeMetadata: return 24
        case .writeActions(let a), .applyActions(let a): return 8 + OFAction.listLength(a)
        case .experimenter(_, let data): return 8 + data.count
        }
    }

    func encode(_ w: inout OFWriter) {
        w.u16(typeCode)
        w.u16(UInt16(truncatingIfNeeded: wireLength))
        switch self {
        case .gotoTable(let t): w.u8(t); w.zeros(3)
        case .writeMetadata(let v, let m): w.zeros(4); w.u64(v); w.u64(m)
        case .writeActions(let a), .applyActions(let a): w.zeros(4); OFAction.encodeList(a, &w)
        case .clearActions: w.zeros(4)
        case .meter(let id): w.u32(id)
        case .experimenter(let id, let data): w.u32(id); w.append(data)
        }
    }

    static func decode(_ r: inout OFReader) throws(OFError) -> OFInstruction {
        let type = try r.u16(.instructionBadLen)
        let length = Int(try r.u16(.instructionBadLen))
        guard length >= 8, length % 8 == 0 else { throw .instructionBadLen }
        var b = try r.sub(length - 4, .instructionBadLen)
        func fixed(_ n: Int) throws(OFError) { if length != n { throw .instructionBadLen } }
        switch type {
        case 1: try fixed(8); return .gotoTable(try b.u8(.instructionBadLen))
        case 2:
            try fixed(24)
            try b.skip(4, .instructionBadLen)
            let v = try b.u64(.instructionBadLen)
            return .writeMetadata(value: v, mask: try b.u64(.instructionBadLen))
        case 3, 4:
            try b.skip(4, .instructionBadLen)
            let actions = try OFAction.decodeList(&b)
            return type == 3 ? .writeActions(actions) : .applyActions(actions)
        case 5: try fixed(8); return .clearActions
        case 6: try fixed(8); return .meter(try b.u32(.instructionBadLen))
        case 0xFFFF: return .experimenter(id: try b.u32(.instructionBadLen), data: b.rest())
        default: throw .instructionUnknown
        }
    }

    static func decodeList(_ r: inout OFReader) throws(OFError) -> [OFInstruction] {
        var list: [OFInstruction] = []
        while !r.isAtEnd { list.append(try decode(&r)) }
        return list
    }

    static func encodeList(_ list: [OFInstruction], _ w: inout OFWriter) { for i in list { i.encode(&w) } }
}

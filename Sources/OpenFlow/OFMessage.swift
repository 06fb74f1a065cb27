// OFMessage: one OpenFlow 1.3 message (its body; the xid travels beside it), and OFCodec, which
// turns bytes into messages and back. Decoding is bounds-checked at every level and throws the
// `OFError` the spec prescribes for what is wrong; it never traps. Every message the decoder
// returns encodes back to the bytes it came from, except for padding (written as zeros) and
// text fields (cut at their first NUL).

/// An OpenFlow 1.3 message.
public enum OFMessage: Hashable, Sendable {
    case hello(OFHello)
    case error(OFErrorMessage)
    case echoRequest([UInt8])
    case echoReply([UInt8])
    case experimenter(OFExperimenterMessage)
    case featuresRequest
    case featuresReply(OFFeatures)
    case getConfigRequest
    case getConfigReply(OFSwitchConfig)
    case setConfig(OFSwitchConfig)
    case packetIn(OFPacketIn)
    case flowRemoved(OFFlowRemoved)
    case portStatus(OFPortStatus)
    case packetOut(OFPacketOut)
    case flowMod(OFFlowMod)
    case groupMod(OFGroupMod)
    case portMod(OFPortMod)
    case tableMod(OFTableMod)
    case multipartRequest(OFMultipartRequest)
    case multipartReply(OFMultipartReply)
    case barrierRequest
    case barrierReply
    /// QUEUE_GET_CONFIG_REQUEST: the port asked about.
    case queueGetConfigRequest(port: UInt32)
    /// QUEUE_GET_CONFIG_REPLY: the port and its ofp_packet_queue records, raw.
    case queueGetConfigReply(port: UInt32, queues: [UInt8])
    case roleRequest(OFRoleMessage)
    case roleReply(OFRoleMessage)
    case getAsyncRequest
    case getAsyncReply(OFAsyncConfig)
    case setAsync(OFAsyncConfig)
    case meterMod(OFMeterMod)

    /// ofp_type.
    public var typeCode: UInt8 {
        switch self {
        case .hello: return 0
        case .error: return 1
        case .echoRequest: return 2
        case .echoReply: return 3
        case .experimenter: return 4
        case .featuresRequest: return 5
        case .featuresReply: return 6
        case .getConfigRequest: return 7
        case .getConfigReply: return 8
        case .setConfig: return 9
        case .packetIn: return 10
        case .flowRemoved: return 11
        case .portStatus: return 12
        case .packetOut: return 13
        case .flowMod: return 14
        case .groupMod: return 15
        case .portMod: return 16
        case .tableMod: return 17
        case .multipartRequest: return 18
        case .multipartReply: return 19
        case .barrierRequest: return 20
        case .barrierReply: return 21
        case .queueGetConfigRequest: return 22
        case .queueGetConfigReply: return 23
        case .roleRequest: return 24
        case .roleReply: return 25
        case .getAsyncRequest: return 26
        case .getAsyncReply: return 27
        case .setAsync: return 28
        case .meterMod: return 29
        }
    }

    /// The spec's name of the type (OFPT_ without the prefix), for logs.
    public var name: String { OFCodec.typeNames[Int(typeCode)] }
}

/// The OpenFlow message codec.
public enum OFCodec {
    /// OFP_VERSION for OpenFlow 1.3.
    public static let version: UInt8 = 0x04
    /// Bytes of ofp_header.
    public static let headerLength = 8
    /// The largest message (the header's length field is 16 bits).
    public static let maxLength = 65535

    static let typeNames = [
        "HELLO", "ERROR", "ECHO_REQUEST", "ECHO_REPLY", "EXPERIMENTER", "FEATURES_REQUEST", "FEATURES_REPLY",
        "GET_CONFIG_REQUEST", "GET_CONFIG_REPLY", "SET_CONFIG", "PACKET_IN", "FLOW_REMOVED", "PORT_STATUS",
        "PACKET_OUT", "FLOW_MOD", "GROUP_MOD", "PORT_MOD", "TABLE_MOD", "MULTIPART_REQUEST", "MULTIPART_REPLY",
        "BARRIER_REQUEST", "BARRIER_REPLY", "QUEUE_GET_CONFIG_REQUEST", "QUEUE_GET_CONFIG_REPLY", "ROLE_REQUEST",
        "ROLE_REPLY", "GET_ASYNC_REQUEST", "GET_ASYNC_REPLY", "SET_ASYNC", "METER_MOD",
    ]

    /// The header fields of `bytes` (at least 8 of them), unchecked.
    public static func header(_ bytes: [UInt8]) -> (version: UInt8, type: UInt8, length: Int, xid: UInt32)? {
        guard bytes.count >= headerLength else { return nil }
        let xid = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        return (bytes[0], bytes[1], Int(bytes[2]) << 8 | Int(bytes[3]), xid)
    }

    /// Decodes one whole message: `bytes` must be exactly the length its header says.
    /// Throws BAD_REQUEST/BAD_LEN for lengths that lie, BAD_VERSION for a version other than
    /// 1.3 (HELLO and ERROR are accepted at any version), BAD_TYPE for unknown types, and the
    /// body's error (BAD_MATCH, BAD_ACTION, BAD_INSTRUCTION, ...) for malformed bodies.
    public static func decode(_ bytes: [UInt8]) throws(OFError) -> (xid: UInt32, message: OFMessage) {
        guard let h = header(bytes), h.length >= headerLength, h.length == bytes.count else { throw .badLen }
        if h.version != version && h.type != 0 && h.type != 1 { throw .badVersion }
        var r = OFReader(bytes, start: headerLength)
        let m = try decodeBody(type: h.type, version: h.version, &r)
        return (h.xid, m)
    }

    static func decodeBody(type: UInt8, version: UInt8, _ r: inout OFReader) throws(OFError) -> OFMessage {
        let e = OFError.badLen
        func done() throws(OFError) { if !r.isAtEnd { throw OFError.badLen } }
        switch type {
        case 0:
            var elements: [OFHelloElement] = []
            while r.remaining >= 4 {
                let t = try r.u16(e)
                let length = Int(try r.u16(e))
                guard length >= 4 else { throw e }
                var b = try r.sub(length - 4, e)
                try r.skip(min((8 - length % 8) % 8, r.remaining), e)
                if t == 1 {
                    guard b.remaining % 4 == 0 else { throw e }
                    var words: [UInt32] = []
                    while !b.isAtEnd { words.append(try b.u32(e)) }
                    elements.append(.versionBitmap(words))
                } else {
                    elements.append(.unknown(type: t, data: b.rest()))
                }
            }
            _ = r.rest()
            return .hello(OFHello(version: version, elements: elements))
        case 1:
            let t = try r.u16(e)
            let c = try r.u16(e)
            return .error(OFErrorMessage(type: t, code: c, data: r.rest()))
        case 2: return .echoRequest(r.rest())
        case 3: return .echoReply(r.rest())
        case 4:
            let id = try r.u32(e)
            let t = try r.u32(e)
            return .experimenter(OFExperimenterMessage(experimenter: id, expType: t, data: r.rest()))
        case 5: try done(); return .featuresRequest
        case 6:
            guard r.remaining == 24 else { throw e }
            let dpid = try r.u64(e), nb = try r.u32(e), nt = try r.u8(e), aux = try r.u8(e)
            try r.skip(2, e)
            let caps = try r.u32(e), reserved = try r.u32(e)
            return .featuresReply(OFFeatures(datapathID: dpid, nBuffers: nb, nTables: nt, auxiliaryID: aux,
                                             capabilities: caps, reserved: reserved))
        case 7: try done(); return .getConfigRequest
        case 8, 9:
            guard r.remaining == 4 else { throw e }
            let c = OFSwitchConfig(flags: try r.u16(e), missSendLength: try r.u16(e))
            return type == 8 ? .getConfigReply(c) : .setConfig(c)
        case 10:
            let buffer = try r.u32(e), total = try r.u16(e), reason = try r.u8(e), table = try r.u8(e), cookie = try r.u64(e)
            let match = try OFMatch.decode(&r)
            try r.skip(2, e)
            return .packetIn(OFPacketIn(bufferID: buffer, totalLength: total, reason: reason, tableID: table,
                                        cookie: cookie, match: match, data: r.rest()))
        case 11:
            let cookie = try r.u64(e), prio = try r.u16(e), reason = try r.u8(e), table = try r.u8(e)
            let ds = try r.u32(e), dn = try r.u32(e), idle = try r.u16(e), hard = try r.u16(e)
            let packets = try r.u64(e), bytes = try r.u64(e)
            let match = try OFMatch.decode(&r)
            try done()
            return .flowRemoved(OFFlowRemoved(cookie: cookie, priority: prio, reason: reason, tableID: table, durationSec: ds,
                                              durationNsec: dn, idleTimeout: idle, hardTimeout: hard, packetCount: packets,
                                              byteCount: bytes, match: match))
        case 12:
            guard r.remaining == 8 + OFPortDescription.wireLength else { throw e }
            let reason = try r.u8(e)
            try r.skip(7, e)
            return .portStatus(OFPortStatus(reason: reason, port: try OFPortDescription.decode(&r, e)))
        case 13:
            let buffer = try r.u32(e), inPort = try r.u32(e), actionsLength = Int(try r.u16(e))
            try r.skip(6, e)
            var a = try r.sub(actionsLength, e)
            let actions = try OFAction.decodeList(&a)
            return .packetOut(OFPacketOut(bufferID: buffer, inPort: inPort, actions: actions, data: r.rest()))
        case 14:
            let cookie = try r.u64(e), mask = try r.u64(e), table = try r.u8(e), command = try r.u8(e)
            let idle = try r.u16(e), hard = try r.u16(e), prio = try r.u16(e), buffer = try r.u32(e)
            let outPort = try r.u32(e), outGroup = try r.u32(e), flags = try r.u16(e)
            try r.skip(2, e)
            let match = try OFMatch.decode(&r)
            var m = OFFlowMod(cookie: cookie, cookieMask: mask, tableID: table, idleTimeout: idle, hardTimeout: hard,
                              priority: prio, bufferID: buffer, outPort: outPort, outGroup: outGroup, flags: flags,
                              match: match, instructions: try OFInstruction.decodeList(&r))
            m.command = command
            return .flowMod(m)
        case 15:
            let command = try r.u16(e), gtype = try r.u8(e)
            try r.skip(1, e)
            let id = try r.u32(e)
            return .groupMod(OFGroupMod(command: command, type: gtype, groupID: id, buckets: try OFBucket.decodeList(&r)))
        case 16:
            guard r.remaining == 32 else { throw e }
            let port = try r.u32(e)
            try r.skip(4, e)
            let mac = try r.take(6, e)
            try r.skip(2, e)
            let config = try r.u32(e), mask = try r.u32(e), adv = try r.u32(e)
            return .portMod(OFPortMod(portNo: port, hwAddr: .init(mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]),
                                      config: config, mask: mask, advertise: adv))
        case 17:
            guard r.remaining == 8 else { throw e }
            let table = try r.u8(e)
            try r.skip(3, e)
            return .tableMod(OFTableMod(tableID: table, config: try r.u32(e)))
        case 18, 19:
            let mtype = try r.u16(e), flags = try r.u16(e)
            try r.skip(4, e)
            if type == 18 {
                return .multipartRequest(OFMultipartRequest(flags: flags, body: try OFMultipartRequest.decodeBody(type: mtype, &r)))
            }
            return .multipartReply(OFMultipartReply(flags: flags, body: try OFMultipartReply.decodeBody(type: mtype, &r)))
        case 20: try done(); return .barrierRequest
        case 21: try done(); return .barrierReply
        case 22:
            guard r.remaining == 8 else { throw e }
            return .queueGetConfigRequest(port: try r.u32(e))
        case 23:
            let port = try r.u32(e)
            try r.skip(4, e)
            return .queueGetConfigReply(port: port, queues: r.rest())
        case 24, 25:
            guard r.remaining == 16 else { throw e }
            let role = try r.u32(e)
            try r.skip(4, e)
            let m = OFRoleMessage(rawRole: role, generationID: try r.u64(e))
            return type == 24 ? .roleRequest(m) : .roleReply(m)
        case 26: try done(); return .getAsyncRequest
        case 27, 28:
            guard r.remaining == 24 else { throw e }
            var v: [UInt32] = []
            for _ in 0..<6 { v.append(try r.u32(e)) }
            let c = OFAsyncConfig(packetInMask: [v[0], v[1]], portStatusMask: [v[2], v[3]], flowRemovedMask: [v[4], v[5]])
            return type == 27 ? .getAsyncReply(c) : .setAsync(c)
        case 29:
            let command = try r.u16(e), flags = try r.u16(e), id = try r.u32(e)
            return .meterMod(OFMeterMod(command: command, flags: flags, meterID: id, bands: r.rest()))
        default:
            throw .badType
        }
    }

    /// Encodes `message` with `xid`. The caller keeps messages within 65535 bytes (`OFChannel`
    /// splits multipart replies); a longer one gets a length field that does not match.
    public static func encode(_ message: OFMessage, xid: UInt32) -> [UInt8] {
        var w = OFWriter(capacity: 64)
        var version = OFCodec.version
        if case .hello(let h) = message { version = h.version }
        w.u8(version); w.u8(message.typeCode); w.u16(0); w.u32(xid)
        encodeBody(message, &w)
        w.patch16(at: 2, min(w.bytes.count, maxLength))
        return w.bytes
    }

    static func encodeBody(_ message: OFMessage, _ w: inout OFWriter) {
        switch message {
        case .hello(let h):
            for element in h.elements {
                let start = w.bytes.count
                switch element {
                case .versionBitmap(let words):
                    w.u16(1); w.u16(UInt16(truncatingIfNeeded: 4 + 4 * words.count))
                    for word in words { w.u32(word) }
                case .unknown(let t, let data):
                    w.u16(t); w.u16(UInt16(truncatingIfNeeded: 4 + data.count)); w.append(data)
                }
                w.pad8(from: start)
            }
        case .error(let m): w.u16(m.type); w.u16(m.code); w.append(m.data)
        case .echoRequest(let d), .echoReply(let d): w.append(d)
        case .experimenter(let m): w.u32(m.experimenter); w.u32(m.expType); w.append(m.data)
        case .featuresRequest, .getConfigRequest, .barrierRequest, .barrierReply, .getAsyncRequest: break
        case .featuresReply(let f):
            w.u64(f.datapathID); w.u32(f.nBuffers); w.u8(f.nTables); w.u8(f.auxiliaryID); w.zeros(2)
            w.u32(f.capabilities); w.u32(f.reserved)
        case .getConfigReply(let c), .setConfig(let c): w.u16(c.flags); w.u16(c.missSendLength)
        case .packetIn(let p):
            w.u32(p.bufferID); w.u16(p.totalLength); w.u8(p.reason); w.u8(p.tableID); w.u64(p.cookie)
            p.match.encode(&w); w.zeros(2); w.append(p.data)
        case .flowRemoved(let f):
            w.u64(f.cookie); w.u16(f.priority); w.u8(f.reason); w.u8(f.tableID); w.u32(f.durationSec); w.u32(f.durationNsec)
            w.u16(f.idleTimeout); w.u16(f.hardTimeout); w.u64(f.packetCount); w.u64(f.byteCount)
            f.match.encode(&w)
        case .portStatus(let s): w.u8(s.reason); w.zeros(7); s.port.encode(&w)
        case .packetOut(let p):
            w.u32(p.bufferID); w.u32(p.inPort); w.u16(UInt16(truncatingIfNeeded: OFAction.listLength(p.actions))); w.zeros(6)
            OFAction.encodeList(p.actions, &w); w.append(p.data)
        case .flowMod(let f):
            w.u64(f.cookie); w.u64(f.cookieMask); w.u8(f.tableID); w.u8(f.command); w.u16(f.idleTimeout)
            w.u16(f.hardTimeout); w.u16(f.priority); w.u32(f.bufferID); w.u32(f.outPort); w.u32(f.outGroup)
            w.u16(f.flags); w.zeros(2)
            f.match.encode(&w)
            OFInstruction.encodeList(f.instructions, &w)
        case .groupMod(let g):
            w.u16(g.command); w.u8(g.type); w.zeros(1); w.u32(g.groupID)
            for b in g.buckets { b.encode(&w) }
        case .portMod(let p):
            w.u32(p.portNo); w.zeros(4); w.append(p.hwAddr.bytes); w.zeros(2); w.u32(p.config); w.u32(p.mask)
            w.u32(p.advertise); w.zeros(4)
        case .tableMod(let t): w.u8(t.tableID); w.zeros(3); w.u32(t.config)
        case .multipartRequest(let m):
            w.u16(m.body.typeCode); w.u16(m.flags); w.zeros(4); m.encodeBody(&w)
        case .multipartReply(let m):
            w.u16(m.body.typeCode); w.u16(m.flags); w.zeros(4); m.encodeBody(&w)
        case .queueGetConfigRequest(let port): w.u32(port); w.zeros(4)
        case .queueGetConfigReply(let port, let queues): w.u32(port); w.zeros(4); w.append(queues)
        case .roleRequest(let m), .roleReply(let m): w.u32(m.role); w.zeros(4); w.u64(m.generationID)
        case .getAsyncReply(let c), .setAsync(let c):
            // Two words each (master/equal, slave), whatever the arrays hold.
            for masks in [c.packetInMask, c.portStatusMask, c.flowRemovedMask] {
                for slot in 0..<2 { w.u32(slot < masks.count ? masks[slot] : 0) }
            }
        case .meterMod(let m): w.u16(m.command); w.u16(m.flags); w.u32(m.meterID); w.append(m.bands)
        }
    }
}

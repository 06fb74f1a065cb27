// OFMultipart: MULTIPART_REQUEST and MULTIPART_REPLY bodies (ofp_multipart_type): DESC, FLOW,
// AGGREGATE, TABLE, PORT_STATS, PORT_DESC, GROUP, GROUP_DESC, GROUP_FEATURES and TABLE_FEATURES
// are modelled; QUEUE, METER, METER_CONFIG, METER_FEATURES and EXPERIMENTER stay raw (`other`)
// so a request for them can be answered with an error. Arrays of variable-length records
// (flow stats, group stats and descriptions) are length-checked against their parent.

import Frames

/// ofp_multipart_type values.
public enum OFMultipartType {
    public static let desc: UInt16 = 0, flow: UInt16 = 1, aggregate: UInt16 = 2, table: UInt16 = 3
    public static let portStats: UInt16 = 4, queue: UInt16 = 5, group: UInt16 = 6, groupDesc: UInt16 = 7
    public static let groupFeatures: UInt16 = 8, meter: UInt16 = 9, meterConfig: UInt16 = 10
    public static let meterFeatures: UInt16 = 11, tableFeatures: UInt16 = 12, portDesc: UInt16 = 13
    public static let experimenter: UInt16 = 0xFFFF
    /// Types kept raw in `other`.
    static let raw: Set<UInt16> = [queue, meter, meterConfig, meterFeatures, experimenter]
    /// OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE.
    public static let more: UInt16 = 1
}

/// The body of a FLOW or AGGREGATE request (ofp_flow_stats_request).
public struct OFFlowStatsRequest: Hashable, Sendable {
    public var tableID: UInt8
    public var outPort: UInt32
    public var outGroup: UInt32
    public var cookie: UInt64
    public var cookieMask: UInt64
    public var match: OFMatch

    /// A request (defaults: every table, any port and group, any cookie, match all).
    public init(tableID: UInt8 = OFConstant.allTables, outPort: UInt32 = OFPortNumber.any,
                outGroup: UInt32 = OFConstant.anyGroup, cookie: UInt64 = 0, cookieMask: UInt64 = 0,
                match: OFMatch = OFMatch()) {
        self.tableID = tableID
        self.outPort = outPort
        self.outGroup = outGroup
        self.cookie = cookie
        self.cookieMask = cookieMask
        self.match = match
    }
}

/// A MULTIPART_REQUEST.
public struct OFMultipartRequest: Hashable, Sendable {
    /// OFPMPF_REQ_MORE when more parts follow.
    public var flags: UInt16
    public var body: Body

    /// A request.
    public init(flags: UInt16 = 0, body: Body) {
        self.flags = flags
        self.body = body
    }

    /// What is asked.
    public enum Body: Hashable, Sendable {
        case desc
        case flow(OFFlowStatsRequest)
        case aggregate(OFFlowStatsRequest)
        case table
        case portStats(port: UInt32)
        case portDesc
        case group(UInt32)
        case groupDesc
        case groupFeatures
        /// ofp_table_features records as received (empty: a query).
        case tableFeatures([UInt8])
        /// QUEUE, METER, METER_CONFIG, METER_FEATURES, EXPERIMENTER: the body as received.
        case other(type: UInt16, data: [UInt8])

        /// ofp_multipart_type.
        public var typeCode: UInt16 {
            switch self {
            case .desc: return 0
            case .flow: return 1
            case .aggregate: return 2
            case .table: return 3
            case .portStats: return 4
            case .portDesc: return 13
            case .group: return 6
            case .groupDesc: return 7
            case .groupFeatures: return 8
            case .tableFeatures: return 12
            case .other(let t, _): return t
            }
        }
    }
}

/// DESC reply (ofp_desc).
public struct OFDescStats: Hashable, Sendable {
    public var manufacturer: String
    public var hardware: String
    public var software: String
    public var serialNumber: String
    public var datapath: String

    /// A description.
    public init(manufacturer: String, hardware: String, software: String, serialNumber: String, datapath: String) {
        self.manufacturer = manufacturer
        self.hardware = hardware
        self.software = software
        self.serialNumber = serialNumber
        self.datapath = datapath
    }
}

/// One FLOW reply record (ofp_flow_stats).
public struct OFFlowStats: Hashable, Sendable {
    public var tableID: UInt8
    public var durationSec: UInt32
    public var durationNsec: UInt32
    public var priority: UInt16
    public var idleTimeout: UInt16
    public var hardTimeout: UInt16
    public var flags: UInt16
    public var cookie: UInt64
    public var packetCount: UInt64
    public var byteCount: UInt64
    public var match: OFMatch
    public var instructions: [OFInstruction]

    /// A flow's statistics.
    public init(tableID: UInt8, durationSec: UInt32 = 0, durationNsec: UInt32 = 0, priority: UInt16,
                idleTimeout: UInt16 = 0, hardTimeout: UInt16 = 0, flags: UInt16 = 0, cookie: UInt64 = 0,
                packetCount: UInt64 = 0, byteCount: UInt64 = 0, match: OFMatch, instructions: [OFInstruction]) {
        self.tableID = tableID
        self.durationSec = durationSec
        self.durationNsec = durationNsec
        self.priority = priority
        self.idleTimeout = idleTimeout
        self.hardTimeout = hardTimeout
        self.flags = flags
        self.cookie = cookie
        self.packetCount = packetCount
        self.byteCount = byteCount
        self.match = match
        self.instructions = instructions
    }

    var wireLength: Int { 48 + match.paddedLength + instructions.reduce(0) { $0 + $1.wireLength } }
}

/// AGGREGATE reply.
public struct OFAggregateStats: Hashable, Sendable {
    public var packetCount: UInt64
    public var byteCount: UInt64
    public var flowCount: UInt32

    /// Aggregate counts.
    public init(packetCount: UInt64, byteCount: UInt64, flowCount: UInt32) {
        self.packetCount = packetCount
        self.byteCount = byteCount
        self.flowCount = flowCount
    }
}

/// One TABLE reply record (ofp_table_stats).
public struct OFTableStats: Hashable, Sendable {
    public var tableID: UInt8
    public var activeCount: UInt32
    public var lookupCount: UInt64
    public var matchedCount: UInt64

    /// A table's statistics.
    public init(tableID: UInt8, activeCount: UInt32, lookupCount: UInt64, matchedCount: UInt64) {
        self.tableID = tableID
        self.activeCount = activeCount
        self.lookupCount = lookupCount
        self.matchedCount = matchedCount
    }
}

/// One PORT_STATS reply record (ofp_port_stats).
public struct OFPortStats: Hashable, Sendable {
    public var portNo: UInt32
    /// rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_errors,
    /// tx_errors, rx_frame_err, rx_over_err, rx_crc_err, collisions, in wire order.
    public var counters: [UInt64]
    public var durationSec: UInt32
    public var durationNsec: UInt32

    /// A port's statistics; `counters` is padded or cut to the 12 the record holds.
    public init(portNo: UInt32, counters: [UInt64], durationSec: UInt32 = 0, durationNsec: UInt32 = 0) {
        self.portNo = portNo
        self.counters = Array((counters + Array(repeating: 0, count: 12)).prefix(12))
        self.durationSec = durationSec
        self.durationNsec = durationNsec
    }

    /// A port's statistics from the common counters.
    public init(portNo: UInt32, rxPackets: UInt64, txPackets: UInt64, rxBytes: UInt64, txBytes: UInt64,
                rxDropped: UInt64 = 0, txDropped: UInt64 = 0, durationSec: UInt32 = 0) {
        self.init(portNo: portNo, counters: [rxPackets, txPackets, rxBytes, txBytes, rxDropped, txDropped],
                  durationSec: durationSec)
    }
}

/// One GROUP reply record (ofp_group_stats).
public struct OFGroupStats: Hashable, Sendable {
    public var groupID: UInt32
    public var refCount: UInt32
    public var packetCount: UInt64
    public var byteCount: UInt64
    public var durationSec: UInt32
    public var durationNsec: UInt32
    /// Per bucket: (packet_count, byte_count).
    public var bucketCounts: [[UInt64]]

    /// A group's statistics; each `bucketCounts` element is [packets, bytes].
    public init(groupID: UInt32, refCount: UInt32 = 0, packetCount: UInt64 = 0, byteCount: UInt64 = 0,
                durationSec: UInt32 = 0, durationNsec: UInt32 = 0, bucketCounts: [[UInt64]] = []) {
        self.groupID = groupID
        self.refCount = refCount
        self.packetCount = packetCount
        self.byteCount = byteCount
        self.durationSec = durationSec
        self.durationNsec = durationNsec
        self.bucketCounts = bucketCounts.map { Array(($0 + [0, 0]).prefix(2)) }
    }
}

/// One GROUP_DESC reply record (ofp_group_desc).
public struct OFGroupDesc: Hashable, Sendable {
    public var type: UInt8
    public var groupID: UInt32
    public var buckets: [OFBucket]

    /// A group's description.
    public init(type: UInt8, groupID: UInt32, buckets: [OFBucket]) {
        self.type = type
        self.groupID = groupID
        self.buckets = buckets
    }
}

/// GROUP_FEATURES reply (ofp_group_features).
public struct OFGroupFeatures: Hashable, Sendable {
    /// Bitmap of OFPGT_* supported.
    public var types: UInt32
    /// OFPGFC_* (SELECT_WEIGHT 1, SELECT_LIVENESS 2, CHAINING 4, CHAINING_CHECKS 8).
    public var capabilities: UInt32
    /// Per group type.
    public var maxGroups: [UInt32]
    /// Per group type: bitmap of OFPAT_* supported.
    public var actions: [UInt32]

    /// Group features; the arrays are padded or cut to 4.
    public init(types: UInt32, capabilities: UInt32, maxGroups: [UInt32], actions: [UInt32]) {
        self.types = types
        self.capabilities = capabilities
        self.maxGroups = Array((maxGroups + [0, 0, 0, 0]).prefix(4))
        self.actions = Array((actions + [0, 0, 0, 0]).prefix(4))
    }
}

/// A MULTIPART_REPLY.
public struct OFMultipartReply: Hashable, Sendable {
    /// OFPMPF_REPLY_MORE when more parts follow.
    public var flags: UInt16
    public var body: Body

    /// A reply.
    public init(flags: UInt16 = 0, body: Body) {
        self.flags = flags
        self.body = body
    }

    /// What is answered.
    public enum Body: Hashable, Sendable {
        case desc(OFDescStats)
        case flow([OFFlowStats])
        case aggregate(OFAggregateStats)
        case table([OFTableStats])
        case portStats([OFPortStats])
        case portDesc([OFPortDescription])
        case group([OFGroupStats])
        case groupDesc([OFGroupDesc])
        case groupFeatures(OFGroupFeatures)
        /// ofp_table_features records, raw.
        case tableFeatures([UInt8])
        /// QUEUE, METER, METER_CONFIG, METER_FEATURES, EXPERIMENTER: raw.
        case other(type: UInt16, data: [UInt8])

        /// ofp_multipart_type.
        public var typeCode: UInt16 {
            switch self {
            case .desc: return 0
            case .flow: return 1
            case .aggregate: return 2
            case .table: return 3
            case .portStats: return 4
            case .portDesc: return 13
            case .group: return 6
            case .groupDesc: return 7
            case .groupFeatures: return 8
            case .tableFeatures: return 12
            case .other(let t, _): return t
            }
        }
    }
}

// MARK: - Wire forms

extension OFFlowStatsRequest {
    func encode(_ w: inout OFWriter) {
        w.u8(tableID); w.zeros(3); w.u32(outPort); w.u32(outGroup); w.zeros(4); w.u64(cookie); w.u64(cookieMask)
        match.encode(&w)
    }

    static func decode(_ r: inout OFReader) throws(OFError) -> OFFlowStatsRequest {
        let table = try r.u8(.badLen)
        try r.skip(3, .badLen)
        let outPort = try r.u32(.badLen)
        let outGroup = try r.u32(.badLen)
        try r.skip(4, .badLen)
        let cookie = try r.u64(.badLen)
        let mask = try r.u64(.badLen)
        let match = try OFMatch.decode(&r)
        guard r.isAtEnd else { throw .badLen }
        return OFFlowStatsRequest(tableID: table, outPort: outPort, outGroup: outGroup, cookie: cookie, cookieMask: mask, match: match)
    }
}

extension OFMultipartRequest {
    func encodeBody(_ w: inout OFWriter) {
        switch body {
        case .desc, .table, .portDesc, .groupDesc, .groupFeatures: break
        case .flow(let f), .aggregate(let f): f.encode(&w)
        case .portStats(let p): w.u32(p); w.zeros(4)
        case .group(let g): w.u32(g); w.zeros(4)
        case .tableFeatures(let raw), .other(_, let raw): w.append(raw)
        }
    }

    static func decodeBody(type: UInt16, _ r: inout OFReader) throws(OFError) -> Body {
        func empty() throws(OFError) { if !r.isAtEnd { throw .badLen } }
        switch type {
        case 0: try empty(); return .desc
        case 1: return .flow(try OFFlowStatsRequest.decode(&r))
        case 2: return .aggregate(try OFFlowStatsRequest.decode(&r))
        case 3: try empty(); return .table
        case 4, 6:
            guard r.remaining == 8 else { throw .badLen }
            let v = try r.u32(.badLen)
            return type == 4 ? .portStats(port: v) : .group(v)
        case 7: try empty(); return .groupDesc
        case 8: try empty(); return .groupFeatures
        case 12: return .tableFeatures(r.rest())
        case 13: try empty(); return .portDesc
        case let t where OFMultipartType.raw.contains(t): return .other(type: t, data: r.rest())
        default: throw .badMultipart
        }
    }
}

extension OFMultipartReply {
    func encodeBody(_ w: inout OFWriter) {
        switch body {
        case .desc(let d):
            w.text(d.manufacturer, width: 256); w.text(d.hardware, width: 256); w.text(d.software, width: 256)
            w.text(d.serialNumber, width: 32); w.text(d.datapath, width: 256)
        case .flow(let flows):
            for f in flows {
                w.u16(UInt16(truncatingIfNeeded: f.wireLength)); w.u8(f.tableID); w.zeros(1)
                w.u32(f.durationSec); w.u32(f.durationNsec); w.u16(f.priority); w.u16(f.idleTimeout)
                w.u16(f.hardTimeout); w.u16(f.flags); w.zeros(4); w.u64(f.cookie); w.u64(f.packetCount); w.u64(f.byteCount)
                f.match.encode(&w)
                OFInstruction.encodeList(f.instructions, &w)
            }
        case .aggregate(let a):
            w.u64(a.packetCount); w.u64(a.byteCount); w.u32(a.flowCount); w.zeros(4)
        case .table(let tables):
            for t in tables { w.u8(t.tableID); w.zeros(3); w.u32(t.activeCount); w.u64(t.lookupCount); w.u64(t.matchedCount) }
        case .portStats(let ports):
            for p in ports {
                w.u32(p.portNo); w.zeros(4)
                for c in p.counters { w.u64(c) }
                w.u32(p.durationSec); w.u32(p.durationNsec)
            }
        case .portDesc(let ports):
            for p in ports { p.encode(&w) }
        case .group(let groups):
            for g in groups {
                w.u16(UInt16(truncatingIfNeeded: 40 + 16 * g.bucketCounts.count)); w.zeros(2); w.u32(g.groupID); w.u32(g.refCount)
                w.zeros(4); w.u64(g.packetCount); w.u64(g.byteCount); w.u32(g.durationSec); w.u32(g.durationNsec)
                for b in g.bucketCounts { w.u64(b[0]); w.u64(b[1]) }
            }
        case .groupDesc(let groups):
            for g in groups {
                w.u16(UInt16(truncatingIfNeeded: 8 + g.buckets.reduce(0) { $0 + $1.wireLength })); w.u8(g.type); w.zeros(1)
                w.u32(g.groupID)
                for b in g.buckets { b.encode(&w) }
            }
        case .groupFeatures(let f):
            w.u32(f.types); w.u32(f.capabilities)
            for v in f.maxGroups { w.u32(v) }
            for v in f.actions { w.u32(v) }
        case .tableFeatures(let raw), .other(_, let raw):
            w.append(raw)
        }
    }

    static func decodeBody(type: UInt16, _ r: inout OFReader) throws(OFError) -> Body {
        let e = OFError.badLen
        switch type {
        case 0:
            guard r.remaining == 1056 else { throw e }
            return .desc(OFDescStats(manufacturer: try r.text(width: 256, e), hardware: try r.text(width: 256, e),
                                     software: try r.text(width: 256, e), serialNumber: try r.text(width: 32, e),
                                     datapath: try r.text(width: 256, e)))
        case 1:
            var flows: [OFFlowStats] = []
            while !r.isAtEnd {
                let length = Int(try r.peek16(e))
                guard length >= 56, length % 8 == 0 else { throw e }
                var b = try r.sub(length, e)
                try b.skip(2, e)
                let table = try b.u8(e)
                try b.skip(1, e)
                let ds = try b.u32(e), dn = try b.u32(e)
                let prio = try b.u16(e), idle = try b.u16(e), hard = try b.u16(e), flags = try b.u16(e)
                try b.skip(4, e)
                let cookie = try b.u64(e), packets = try b.u64(e), bytes = try b.u64(e)
                let match = try OFMatch.decode(&b)
                flows.append(OFFlowStats(tableID: table, durationSec: ds, durationNsec: dn, priority: prio, idleTimeout: idle,
                                         hardTimeout: hard, flags: flags, cookie: cookie, packetCount: packets, byteCount: bytes,
                                         match: match, instructions: try OFInstruction.decodeList(&b)))
            }
            return .flow(flows)
        case 2:
            guard r.remaining == 24 else { throw e }
            let p = try r.u64(e), b = try r.u64(e), f = try r.u32(e)
            return .aggregate(OFAggregateStats(packetCount: p, byteCount: b, flowCount: f))
        case 3:
            guard r.remaining % 24 == 0 else { throw e }
            var tables: [OFTableStats] = []
            while !r.isAtEnd {
                let id = try r.u8(e)
                try r.skip(3, e)
                let active = try r.u32(e), lookup = try r.u64(e), matched = try r.u64(e)
                tables.append(OFTableStats(tableID: id, activeCount: active, lookupCount: lookup, matchedCount: matched))
            }
            return .table(tables)
        case 4:
            guard r.remaining % 112 == 0 else { throw e }
            var ports: [OFPortStats] = []
            while !r.isAtEnd {
                let no = try r.u32(e)
                try r.skip(4, e)
                var counters: [UInt64] = []
                for _ in 0..<12 { counters.append(try r.u64(e)) }
                let ds = try r.u32(e), dn = try r.u32(e)
                ports.append(OFPortStats(portNo: no, counters: counters, durationSec: ds, durationNsec: dn))
            }
            return .portStats(ports)
        case 13:
            guard r.remaining % OFPortDescription.wireLength == 0 else { throw e }
            var ports: [OFPortDescription] = []
            while !r.isAtEnd { ports.append(try OFPortDescription.decode(&r, e)) }
            return .portDesc(ports)
        case 6:
            var groups: [OFGroupStats] = []
            while !r.isAtEnd {
                let length = Int(try r.peek16(e))
                guard length >= 40, (length - 40) % 16 == 0 else { throw e }
                var b = try r.sub(length, e)
                try b.skip(4, e)
                let id = try b.u32(e), refs = try b.u32(e)
                try b.skip(4, e)
                let p = try b.u64(e), by = try b.u64(e), ds = try b.u32(e), dn = try b.u32(e)
                var buckets: [[UInt64]] = []
                while !b.isAtEnd { buckets.append([try b.u64(e), try b.u64(e)]) }
                groups.append(OFGroupStats(groupID: id, refCount: refs, packetCount: p, byteCount: by, durationSec: ds,
                                           durationNsec: dn, bucketCounts: buckets))
            }
            return .group(groups)
        case 7:
            var groups: [OFGroupDesc] = []
            while !r.isAtEnd {
                let length = Int(try r.peek16(e))
                guard length >= 8, length % 8 == 0 else { throw e }
                var b = try r.sub(length, e)
                try b.skip(2, e)
                let type = try b.u8(e)
                try b.skip(1, e)
                let id = try b.u32(e)
                groups.append(OFGroupDesc(type: type, groupID: id, buckets: try OFBucket.decodeList(&b)))
            }
            return .groupDesc(groups)
        case 8:
            guard r.remaining == 40 else { throw e }
            let types = try r.u32(e), caps = try r.u32(e)
            var maxGroups: [UInt32] = [], actions: [UInt32] = []
            for _ in 0..<4 { maxGroups.append(try r.u32(e)) }
            for _ in 0..<4 { actions.append(try r.u32(e)) }
            return .groupFeatures(OFGroupFeatures(types: types, capabilities: caps, maxGroups: maxGroups, actions: actions))
        case 12: return .tableFeatures(r.rest())
        case let t where OFMultipartType.raw.contains(t): return .other(type: t, data: r.rest())
        default: throw .badMultipart
        }
    }
}

/// One ofp_table_features record, for building a TABLE_FEATURES reply body (the body stays raw
/// in `OFMultipartReply.Body.tableFeatures`; `encode(_:)` writes records, `decode(_:)` reads
/// them back).
public struct OFTableFeatures: Hashable, Sendable {
    public var tableID: UInt8
    /// Up to 31 bytes of UTF-8 on the wire.
    public var name: String
    public var metadataMatch: UInt64
    public var metadataWrite: UInt64
    public var config: UInt32
    public var maxEntries: UInt32
    /// ofp_table_feature_prop_* records as on the wire (each padded to 8).
    public var properties: [UInt8]

    /// A table's features.
    public init(tableID: UInt8, name: String, metadataMatch: UInt64 = .max, metadataWrite: UInt64 = .max,
                config: UInt32 = 0, maxEntries: UInt32, properties: [UInt8] = []) {
        self.tableID = tableID
        self.name = name
        self.metadataMatch = metadataMatch
        self.metadataWrite = metadataWrite
        self.config = config
        self.maxEntries = maxEntries
        self.properties = properties
    }

    /// The records as a TABLE_FEATURES body.
    public static func encode(_ tables: [OFTableFeatures]) -> [UInt8] {
        var w = OFWriter()
        for t in tables {
            w.u16(UInt16(truncatingIfNeeded: 64 + t.properties.count)); w.u8(t.tableID); w.zeros(5)
            w.text(t.name, width: 32)
            w.u64(t.metadataMatch); w.u64(t.metadataWrite); w.u32(t.config); w.u32(t.maxEntries)
            w.append(t.properties)
        }
        return w.bytes
    }

    /// The records of a TABLE_FEATURES body; BAD_REQUEST/BAD_LEN when a length lies.
    public static func decode(_ body: [UInt8]) throws(OFError) -> [OFTableFeatures] {
        var r = OFReader(body)
        var tables: [OFTableFeatures] = []
        while !r.isAtEnd {
            let length = Int(try r.peek16(.badLen))
            guard length >= 64, length % 8 == 0 else { throw .badLen }
            var b = try r.sub(length, .badLen)
            try b.skip(2, .badLen)
            let id = try b.u8(.badLen)
            try b.skip(5, .badLen)
            let name = try b.text(width: 32, .badLen)
            let mm = try b.u64(.badLen), mw = try b.u64(.badLen), config = try b.u32(.badLen), max = try b.u32(.badLen)
            tables.append(OFTableFeatures(tableID: id, name: name, metadataMatch: mm, metadataWrite: mw, config: config,
                                          maxEntries: max, properties: b.rest()))
        }
        return tables
    }
}

extension OFTableFeatures {
    /// The eight properties the spec requires in every record (instructions, next tables,
    /// write/apply actions, match, wildcards, write/apply set-field), each padded to 8: the
    /// instruction and action ids as 4-byte headers, fields as OXM headers.
    public static func requiredProperties(instructions: [UInt16], nextTables: [UInt8], actions: [UInt16],
                                          matchFields: [OXMFieldID], wildcards: [OXMFieldID],
                                          setFields: [OXMFieldID]) -> [UInt8] {
        var w = OFWriter()
        func property(_ type: UInt16, _ body: (inout OFWriter) -> Void) {
            let start = w.bytes.count
            w.u16(type); w.u16(0)
            body(&w)
            w.patch16(at: start + 2, w.bytes.count - start)
            w.pad8(from: start)
        }
        func oxmHeaders(_ fields: [OXMFieldID], _ w: inout OFWriter) {
            for f in fields { w.u16(OXMField.openFlowBasic); w.u8(f.rawValue << 1); w.u8(UInt8(f.size)) }
        }
        property(0) { w in for i in instructions { w.u16(i); w.u16(4) } }
        property(2) { w in for t in nextTables { w.u8(t) } }
        property(4) { w in for a in actions { w.u16(a); w.u16(4) } }
        property(6) { w in for a in actions { w.u16(a); w.u16(4) } }
        property(8) { w in oxmHeaders(matchFields, &w) }
        property(10) { w in oxmHeaders(wildcards, &w) }
        property(12) { w in oxmHeaders(setFields, &w) }
        property(14) { w in oxmHeaders(setFields, &w) }
        return w.bytes
    }
}

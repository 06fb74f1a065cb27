// OFMultipartParts: what multipart messages need beyond their wire form: merging the parts of
// a request sent with OFPMPF_REQ_MORE, and splitting a reply body that does not fit one
// message (65535 bytes) into parts at record boundaries.

extension OFMultipartRequest.Body {
    /// Bytes of the body on the wire.
    var rawBytes: Int {
        var w = OFWriter()
        OFMultipartRequest(body: self).encodeBody(&w)
        return w.bytes.count
    }

    /// One request from its parts (all of one type): raw bodies are concatenated (table
    /// features records, experimenter data); a fixed body is the last part's.
    static func merge(_ parts: [Self]) -> Self {
        guard let last = parts.last else { return .desc }
        switch last {
        case .tableFeatures:
            var all: [UInt8] = []
            for case .tableFeatures(let raw) in parts { all += raw }
            return .tableFeatures(all)
        case .other(let type, _):
            var all: [UInt8] = []
            for case .other(_, let raw) in parts { all += raw }
            return .other(type: type, data: all)
        default:
            return last
        }
    }
}

extension OFMultipartReply.Body {
    /// The body's records, each as a body of its own (a fixed body is one record).
    private var records: [Self] {
        switch self {
        case .flow(let a): return a.map { .flow([$0]) }
        case .table(let a): return a.map { .table([$0]) }
        case .portStats(let a): return a.map { .portStats([$0]) }
        case .portDesc(let a): return a.map { .portDesc([$0]) }
        case .group(let a): return a.map { .group([$0]) }
        case .groupDesc(let a): return a.map { .groupDesc([$0]) }
        default: return [self]
        }
    }

    private var wireBytes: Int {
        var w = OFWriter()
        OFMultipartReply(body: self).encodeBody(&w)
        return w.bytes.count
    }

    private static func join(_ parts: [Self]) -> Self {
        guard let first = parts.first else { return .flow([]) }
        switch first {
        case .flow: return .flow(parts.flatMap { if case .flow(let a) = $0 { return a } else { return [] } })
        case .table: return .table(parts.flatMap { if case .table(let a) = $0 { return a } else { return [] } })
        case .portStats: return .portStats(parts.flatMap { if case .portStats(let a) = $0 { return a } else { return [] } })
        case .portDesc: return .portDesc(parts.flatMap { if case .portDesc(let a) = $0 { return a } else { return [] } })
        case .group: return .group(parts.flatMap { if case .group(let a) = $0 { return a } else { return [] } })
        case .groupDesc: return .groupDesc(parts.flatMap { if case .groupDesc(let a) = $0 { return a } else { return [] } })
        default: return first
        }
    }

    /// The body cut into parts of at most `maxBodyBytes` at record boundaries (a single
    /// record larger than that is left out: it cannot be sent). An empty array body is one
    /// empty part.
    func split(maxBodyBytes: Int) -> [Self] {
        let all = records
        if all.count <= 1 {
            if let only = all.first, only.wireBytes > maxBodyBytes { return [emptied] }
            return [self]
        }
        var parts: [Self] = []
        var current: [Self] = []
        var size = 0
        for record in all {
            let n = record.wireBytes
            if n > maxBodyBytes { continue }
            if size + n > maxBodyBytes, !current.isEmpty {
                parts.append(Self.join(current))
                current = []
                size = 0
            }
            current.append(record)
            size += n
        }
        if !current.isEmpty { parts.append(Self.join(current)) }
        return parts.isEmpty ? [emptied] : parts
    }

    /// The same type with no records.
    private var emptied: Self {
        switch self {
        case .flow: return .flow([])
        case .table: return .table([])
        case .portStats: return .portStats([])
        case .portDesc: return .portDesc([])
        case .group: return .group([])
        case .groupDesc: return .groupDesc([])
        case .tableFeatures: return .tableFeatures([])
        case .other(let t, _): return .other(type: t, data: [])
        default: return self
        }
    }
}

// PostcopyWire: the payloads of post-copy's messages. `postcopyStart` carries the bitmap of
// pages still missing (u32 page count, then one little-endian u64 per 64 pages, bit i of word
// w = page 64w+i); `pageRequest` carries page indices (u32 count, then u32 each).

/// The pages a post-copy destination still lacks.
public enum PostcopyBitmap {
    /// The payload for `pages` of a RAM of `pageCount` pages.
    public static func encode(_ pages: [Int], pageCount: Int) -> [UInt8] {
        var words = [UInt64](repeating: 0, count: (pageCount + 63) / 64)
        for p in pages where p >= 0 && p < pageCount { words[p >> 6] |= 1 << UInt64(p & 63) }
        var out: [UInt8] = []
        out.reserveCapacity(4 + words.count * 8)
        out.appendLE(UInt32(pageCount))
        for w in words { out.appendLE(w) }
        return out
    }

    /// The bitmap words; throws when the payload does not describe a RAM of `pageCount` pages.
    public static func decode(_ payload: [UInt8], pageCount: Int) throws(WireError) -> [UInt64] {
        let words = (pageCount + 63) / 64
        guard payload.count == 4 + words * 8 else {
            throw .malformed("post-copy bitmap of \(payload.count) bytes for \(pageCount) pages")
        }
        let count = Int(payload.readLE(at: 0) as UInt32)
        guard count == pageCount else { throw .malformed("post-copy bitmap for \(count) pages, RAM has \(pageCount)") }
        var out = [UInt64](repeating: 0, count: words)
        for i in 0..<words { out[i] = payload.readLE(at: 4 + i * 8) }
        // Bits past the last page must be clear.
        if pageCount & 63 != 0, let last = out.last, last >> UInt64(pageCount & 63) != 0 {
            throw .malformed("post-copy bitmap marks pages past the end of RAM")
        }
        return out
    }
}

/// Pages a post-copy destination asks for.
public enum PageRequest {
    /// Most pages in one request.
    public static let maxPages = 4096

    /// The payload asking for `pages`.
    public static func encode(_ pages: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + pages.count * 4)
        out.appendLE(UInt32(pages.count))
        for p in pages { out.appendLE(UInt32(truncatingIfNeeded: p)) }
        return out
    }

    /// The page indices, each checked against `pageCount`.
    public static func decode(_ payload: [UInt8], pageCount: Int) throws(WireError) -> [Int] {
        guard payload.count >= 4 else { throw .malformed("page request of \(payload.count) bytes") }
        let n = Int(payload.readLE(at: 0) as UInt32)
        guard n <= maxPages, payload.count == 4 + n * 4 else { throw .malformed("page request of \(n) pages in \(payload.count) bytes") }
        var out: [Int] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            let p = Int(payload.readLE(at: 4 + i * 4) as UInt32)
            guard p < pageCount else { throw .malformed("page request for page \(p) of \(pageCount)") }
            out.append(p)
        }
        return out
    }
}

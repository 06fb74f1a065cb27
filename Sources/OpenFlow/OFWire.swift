// OFWire: the big-endian byte reader and writer every OpenFlow structure is decoded and
// encoded with. The reader never traps: every read is bounds-checked against the end of the
// structure being read (not of the whole buffer), so a nested length that overruns its parent
// is an error, reported with the `OFError` the caller chose for that structure.

/// Reads big-endian fields from a window `[position, end)` of a byte array.
struct OFReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    /// A reader over `bytes[start..<end]`.
    init(_ bytes: [UInt8], start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    /// Bytes left in the window.
    var remaining: Int { end - position }

    /// Whether the window is used up.
    var isAtEnd: Bool { position >= end }

    /// Fails with `error` unless `count` more bytes are in the window.
    func need(_ count: Int, _ error: OFError) throws(OFError) {
        if count < 0 || count > end - position { throw error }
    }

    mutating func u8(_ error: OFError) throws(OFError) -> UInt8 {
        try need(1, error)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ error: OFError) throws(OFError) -> UInt16 {
        try need(2, error)
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func u32(_ error: OFError) throws(OFError) -> UInt32 {
        try need(4, error)
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[position + i]) }
        position += 4
        return v
    }

    mutating func u64(_ error: OFError) throws(OFError) -> UInt64 {
        try need(8, error)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[position + i]) }
        position += 8
        return v
    }

    /// `count` bytes as an array.
    mutating func take(_ count: Int, _ error: OFError) throws(OFError) -> [UInt8] {
        try need(count, error)
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// Skips `count` bytes (padding: its content is not checked).
    mutating func skip(_ count: Int, _ error: OFError) throws(OFError) {
        try need(count, error)
        position += count
    }

    /// The rest of the window.
    mutating func rest() -> [UInt8] {
        defer { position = end }
        return position < end ? Array(bytes[position..<end]) : []
    }

    /// A reader over the next `count` bytes (which this reader skips): a nested structure
    /// whose declared length must fit inside its parent.
    mutating func sub(_ count: Int, _ error: OFError) throws(OFError) -> OFReader {
        try need(count, error)
        defer { position += count }
        return OFReader(bytes, start: position, end: position + count)
    }

    /// The big-endian UInt16 at `offset` bytes ahead, without moving.
    func peek16(at offset: Int = 0, _ error: OFError) throws(OFError) -> UInt16 {
        try need(offset + 2, error)
        return UInt16(bytes[position + offset]) << 8 | UInt16(bytes[position + offset + 1])
    }
}

/// Appends big-endian fields to a byte array.
struct OFWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v)) }
    mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
    mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func zeros(_ n: Int) { if n > 0 { bytes.append(contentsOf: repeatElement(0, count: n)) } }
    /// Pads with zeros to a multiple of 8 counted from `start`.
    mutating func pad8(from start: Int) { zeros((8 - (bytes.count - start) % 8) % 8) }
    /// Writes `v` as a big-endian UInt16 at `offset` (a length known only afterwards).
    mutating func patch16(at offset: Int, _ v: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v)
    }
    /// A fixed-width text field: UTF-8 cut at a character boundary to at most `width - 1`
    /// bytes (so it always ends in a NUL) and NUL padded.
    mutating func text(_ s: String, width: Int) {
        let utf8 = Array(s.utf8.prefix(OFWriter.fittingPrefix(s, maxBytes: width - 1)))
        append(utf8)
        zeros(width - utf8.count)
    }

    /// Bytes of the longest prefix of `s` made of whole characters within `maxBytes`.
    static func fittingPrefix(_ s: String, maxBytes: Int) -> Int {
        var used = 0
        for scalar in s.unicodeScalars {
            let n = UTF8.width(scalar)
            if used + n > maxBytes { break }
            used += n
        }
        return used
    }
}

extension OFReader {
    /// A fixed-width NUL-padded text field (bytes after the first NUL are ignored; invalid
    /// UTF-8 is repaired, never trusted).
    mutating func text(width: Int, _ error: OFError) throws(OFError) -> String {
        let raw = try take(width, error)
        let used = raw.firstIndex(of: 0) ?? raw.count
        // Invalid UTF-8 is repaired with U+FFFD, which may make it longer: cut it to what
        // the field holds, so the text encodes back to what it decodes from.
        let repaired = String(decoding: raw[..<used], as: UTF8.self)
        let fits = OFWriter.fittingPrefix(repaired, maxBytes: width - 1)
        return fits == repaired.utf8.count ? repaired : String(decoding: Array(repaired.utf8.prefix(fits)), as: UTF8.self)
    }
}

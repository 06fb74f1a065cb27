// PageBatch: the binary payload of a `pages` message: a count, then per entry a 32-bit word
// holding a page index and two flags. Bit 31 (zero page): the page is all zeros, no bytes
// follow. Bit 30 (zero run): a 32-bit page count follows, and that many pages from the index
// on are zeros (round 0 sends the never-written part of RAM this way, without reading it).
// Otherwise the page's 4 KiB follow.

import Machine

/// A batch of guest RAM pages being encoded or decoded.
public enum PageBatch {
    /// Bytes per page.
    public static let pageSize = Int(GuestMemory.pageSize)
    /// Flag in the index word marking a page of zeros.
    public static let zeroFlag: UInt32 = 1 << 31
    /// Flag in the index word marking a run of zero pages (a count follows).
    public static let runFlag: UInt32 = 1 << 30
    /// The index bits.
    static let indexMask: UInt32 = runFlag - 1

    /// Whether the 4 KiB at `page` are all zero (eight words are or-ed per step, so a page of
    /// data usually answers after the first 64 bytes and a zero page costs 64 steps).
    public static func isZero(_ page: UnsafeRawPointer) -> Bool {
        var i = 0
        while i < pageSize {
            let a = page.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                | page.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                | page.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
                | page.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
            let b = page.loadUnaligned(fromByteOffset: i + 32, as: UInt64.self)
                | page.loadUnaligned(fromByteOffset: i + 40, as: UInt64.self)
                | page.loadUnaligned(fromByteOffset: i + 48, as: UInt64.self)
                | page.loadUnaligned(fromByteOffset: i + 56, as: UInt64.self)
            if a | b != 0 { return false }
            i += 64
        }
        return true
    }

    /// Appends page `index` to `out` (reading it from `page`); returns true when it was a
    /// zero page (sent as a marker).
    @discardableResult
    public static func append(index: Int, page: UnsafeRawPointer, to out: inout [UInt8]) -> Bool {
        let zero = isZero(page)
        if zero {
            out.appendLE(UInt32(index) | zeroFlag)
        } else {
            out.appendLE(UInt32(index))
            out.append(contentsOf: UnsafeRawBufferPointer(start: page, count: pageSize))
        }
        return zero
    }

    /// Appends a run of `count` zero pages starting at `index` (count >= 1).
    public static func appendZeroRun(index: Int, count: Int, to out: inout [UInt8]) {
        out.appendLE(UInt32(index) | runFlag)
        out.appendLE(UInt32(count))
    }

    /// Calls `body(index, bytes or nil for a zero page)` for every page of `payload`, and
    /// `run(range)` for every run of zero pages (by default `body` per page of the run);
    /// throws on a truncated or overlong payload or a page of `pageCount` or more.
    public static func decode(_ payload: [UInt8], pageCount: Int,
                              _ body: (Int, UnsafeRawBufferPointer?) -> Void,
                              run: ((Range<Int>) -> Void)? = nil) throws(WireError) {
        guard payload.count >= 4 else { throw .malformed("page batch shorter than its count") }
        let count = Int(payload.readLE(at: 0) as UInt32)
        var offset = 4
        for _ in 0..<count {
            guard offset + 4 <= payload.count else { throw .malformed("page batch truncated") }
            let word: UInt32 = payload.readLE(at: offset)
            offset += 4
            let index = Int(word & indexMask)
            guard index < pageCount else { throw .malformed("page \(index) is beyond RAM (\(pageCount) pages)") }
            if word & runFlag != 0 {
                guard word & zeroFlag == 0 else { throw .malformed("entry for page \(index) is both a page and a run") }
                guard offset + 4 <= payload.count else { throw .malformed("page batch truncated") }
                let length = Int(payload.readLE(at: offset) as UInt32)
                offset += 4
                guard length >= 1, length <= pageCount - index else {
                    throw .malformed("zero run of \(length) pages at \(index) is empty or beyond RAM (\(pageCount) pages)")
                }
                if let run { run(index..<index + length) } else { for i in index..<index + length { body(i, nil) } }
            } else if word & zeroFlag != 0 {
                body(index, nil)
            } else {
                guard offset + pageSize <= payload.count else { throw .malformed("page batch truncated") }
                payload.withUnsafeBytes { body(index, UnsafeRawBufferPointer(rebasing: $0[offset..<offset + pageSize])) }
                offset += pageSize
            }
        }
        guard offset == payload.count else { throw .malformed("page batch has \(payload.count - offset) trailing bytes") }
    }
}

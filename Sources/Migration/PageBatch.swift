// PageBatch: the binary payload of a `pages` message: a count, then per page a 32-bit index
// (bit 31 set = zero page, no bytes follow) and, for other pages, its 4 KiB.

import Machine

/// A batch of guest RAM pages being encoded or decoded.
public enum PageBatch {
    /// Bytes per page.
    public static let pageSize = Int(GuestMemory.pageSize)
    /// Flag in the index word marking a page of zeros.
    public static let zeroFlag: UInt32 = 1 << 31

    /// Whether the 4 KiB at `page` are all zero.
    public static func isZero(_ page: UnsafeRawPointer) -> Bool {
        var i = 0
        while i < pageSize {
            if page.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
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

    /// Calls `body(index, bytes or nil for a zero page)` for every page of `payload`; throws
    /// on a truncated or overlong payload or an index of `pageCount` or more.
    public static func decode(_ payload: [UInt8], pageCount: Int,
                              _ body: (Int, UnsafeRawBufferPointer?) -> Void) throws(WireError) {
        guard payload.count >= 4 else { throw .malformed("page batch shorter than its count") }
        let count = Int(payload.readLE(at: 0) as UInt32)
        var offset = 4
        for _ in 0..<count {
            guard offset + 4 <= payload.count else { throw .malformed("page batch truncated") }
            let word: UInt32 = payload.readLE(at: offset)
            offset += 4
            let index = Int(word & ~zeroFlag)
            guard index < pageCount else { throw .malformed("page \(index) is beyond RAM (\(pageCount) pages)") }
            if word & zeroFlag != 0 {
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

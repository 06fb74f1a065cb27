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

/// The binary payload of a `frames` message: a count, then per frame the NIC index (16 bits),
/// the length (16 bits) and the bytes, in arrival order.
public enum FrameBatch {
    /// Encodes frames.
    public static func encode(_ frames: [QueuedFrame]) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE(UInt32(frames.count))
        for f in frames {
            out.appendLE(UInt16(clamping: f.nic))
            out.appendLE(UInt16(clamping: f.bytes.count))
            out.append(contentsOf: f.bytes.prefix(Int(UInt16.max)))
        }
        return out
    }

    /// Decodes frames; throws on malformed payloads.
    public static func decode(_ payload: [UInt8]) throws(WireError) -> [QueuedFrame] {
        guard payload.count >= 4 else { throw .malformed("frame batch shorter than its count") }
        let count = Int(payload.readLE(at: 0) as UInt32)
        var offset = 4
        var out: [QueuedFrame] = []
        for _ in 0..<count {
            guard offset + 4 <= payload.count else { throw .malformed("frame batch truncated") }
            let nic = Int(payload.readLE(at: offset) as UInt16)
            let length = Int(payload.readLE(at: offset + 2) as UInt16)
            offset += 4
            guard offset + length <= payload.count else { throw .malformed("frame batch truncated") }
            out.append(QueuedFrame(nic: nic, bytes: Array(payload[offset..<offset + length])))
            offset += length
        }
        guard offset == payload.count else { throw .malformed("frame batch has trailing bytes") }
        return out
    }
}

/// A frame addressed to the VM that arrived while it was paused, for NIC `nic`.
public struct QueuedFrame: Sendable, Equatable {
    public var nic: Int
    public var bytes: [UInt8]
    /// A frame for NIC `nic`.
    public init(nic: Int, bytes: [UInt8]) {
        self.nic = nic
        self.bytes = bytes
    }
}

/// The payload of an `endOfRound` message.
public struct RoundEnd: Codable, Sendable, Equatable {
    /// Round number (0 = all of RAM; the stop-and-copy round is the last).
    public var round: Int
    /// Pages sent in the round, of which `zeroPages` as markers.
    public var pages: Int
    public var zeroPages: Int
    /// True for the stop-and-copy round.
    public var final: Bool
}

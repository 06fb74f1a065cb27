// TransmitBatch: scatter lists for up to SB_MAX_BATCH outgoing frames, built straight from
// pool slots so the egress 802.1Q tag is applied by the kernel's gather, not by a copy.

import CLinuxShims
import Frames
import Switching

#if canImport(Glibc)
import Glibc
#endif

/// Preallocated iovec arrays for one batch of frames; owned by one port on one thread.
///
/// Each frame becomes 1-3 iovecs (plus an optional fixed prefix, e.g. a VXLAN header):
/// `keep` is the slot as is; `untag` is the MACs and the bytes behind the tag; `tag` is the
/// MACs, a 4-byte tag kept in this batch, and the rest.
public final class TransmitBatch {
    /// Frames per batch.
    public static let capacity = Int(SB_MAX_BATCH)
    @usableFromInline let iov: UnsafeMutablePointer<iovec>
    @usableFromInline let iovCounts: UnsafeMutablePointer<UInt32>
    @usableFromInline let tags: UnsafeMutablePointer<UInt32>
    /// Frames in the batch.
    public private(set) var count = 0
    @usableFromInline var iovUsed = 0

    /// Creates an empty batch.
    public init() {
        iov = .allocate(capacity: Self.capacity * 4)
        iovCounts = .allocate(capacity: Self.capacity)
        tags = .allocate(capacity: Self.capacity)
    }

    deinit {
        iov.deallocate()
        iovCounts.deallocate()
        tags.deallocate()
    }

    /// Whether another frame fits.
    public var isFull: Bool { count == Self.capacity }

    /// Empties the batch.
    public func reset() {
        count = 0
        iovUsed = 0
    }

    /// Adds the frame of `entry` (its slot must stay alive until the batch is sent), after an
    /// optional `prefix` of `prefixLength` bytes.
    public func append(_ entry: TransmitEntry, pool: PacketPool, prefix: UnsafeMutableRawPointer? = nil, prefixLength: Int = 0) {
        precondition(count < Self.capacity)
        let src = pool.data(entry.handle)
        let length = pool.length(entry.handle)
        let tagged = length >= 16 && src.loadUnaligned(fromByteOffset: 12, as: UInt16.self) == EtherType.vlan.bigEndian
        let first = iovUsed
        if let prefix { add(prefix, prefixLength) }
        switch entry.action {
        case .keep:
            add(src, length)
        case .untag:
            if tagged {
                add(src, 12)
                add(src + 16, length - 16)
            } else {
                add(src, length)
            }
        case .tag:
            let tag = UnsafeMutableRawPointer(tags + count)
            // SAFETY: `tag` points at this frame's own 4 bytes in `tags`.
            tag.storeBytes(of: EtherType.vlan.bigEndian, as: UInt16.self)
            tag.storeBytes(of: entry.tci.bigEndian, toByteOffset: 2, as: UInt16.self)
            add(src, 12)
            add(tag, 4)
            let rest = tagged ? 16 : 12
            add(src + rest, length - rest)
        }
        let n = UInt32(iovUsed - first)
        iovCounts[count] = n
        count += 1
    }

    /// Appends one iovec to the current frame.
    @inline(__always)
    private func add(_ base: UnsafeMutableRawPointer, _ len: Int) {
        iov[iovUsed] = iovec(iov_base: base, iov_len: len)
        iovUsed += 1
    }

    /// The iovecs of frame `i` (for devices written one frame at a time).
    public func frame(_ i: Int) -> (iov: UnsafeMutablePointer<iovec>, count: Int) {
        var start = 0
        for k in 0..<i { start += Int(iovCounts[k]) }
        return (iov + start, Int(iovCounts[i]))
    }

    /// The total length of frame `i` in bytes (prefix included).
    public func length(_ i: Int) -> Int {
        let (v, n) = frame(i)
        var total = 0
        for k in 0..<n { total += v[k].iov_len }
        return total
    }
}

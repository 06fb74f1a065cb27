// ReceiveBatch: takes slots from the pool for one batched receive and returns the unused
// ones, so recvmmsg writes frames straight into the slots the switch will read.

import CLinuxShims
import Frames

/// Buffer pointers and lengths for one receive of up to `TransmitBatch.capacity` frames.
public final class ReceiveBatch {
    @usableFromInline let buffers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    @usableFromInline let lengths: UnsafeMutablePointer<UInt32>
    @usableFromInline let sources: UnsafeMutablePointer<UInt32>
    @usableFromInline let headers: UnsafeMutablePointer<UInt8>
    @usableFromInline let slots: UnsafeMutablePointer<PacketHandle>

    /// Creates the arrays once.
    public init() {
        let n = TransmitBatch.capacity
        buffers = .allocate(capacity: n)
        lengths = .allocate(capacity: n)
        sources = .allocate(capacity: n)
        headers = .allocate(capacity: n * 8)
        slots = .allocate(capacity: n)
    }

    deinit {
        buffers.deallocate(); lengths.deallocate(); sources.deallocate()
        headers.deallocate(); slots.deallocate()
    }

    /// Takes up to `max` free slots; returns how many it got.
    @inlinable
    func take(_ max: Int, from pool: PacketPool) -> Int {
        var n = 0
        let limit = Swift.min(max, TransmitBatch.capacity)
        while n < limit, let h = pool.allocate() {
            slots[n] = h
            buffers[n] = pool.data(h)
            n += 1
        }
        return n
    }

    /// After a receive of `received` entries out of `taken` slots: stores the handles of
    /// frames with a length in `handles`, releases the rest; returns the frames kept.
    @inlinable
    func finish(taken: Int, received: Int, pool: PacketPool, into handles: UnsafeMutablePointer<PacketHandle>,
                skipped: inout UInt64) -> Int {
        var kept = 0
        for i in 0..<taken {
            let h = slots[i]
            if i < received && lengths[i] > 0 && Int(lengths[i]) <= pool.slotSize + 4 {
                pool.setLength(h, Int(lengths[i]))
                handles[kept] = h
                kept += 1
            } else {
                if i < received { skipped &+= 1 }
                pool.release(h)
            }
        }
        return kept
    }
}

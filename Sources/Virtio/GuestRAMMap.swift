// GuestRAMMap: a flat copy of GuestMemory's region table for the per-descriptor bounds check,
// so translating a guest buffer is a short loop over unsafe memory (no ARC, no allocation).

import Machine

/// Guest-physical to host translation with overflow-safe bounds checks.
final class GuestRAMMap {
    @usableFromInline let regions: UnsafeMutablePointer<GuestRAMRegion>
    @usableFromInline let count: Int

    /// Copies the (immutable) region table of `memory`.
    init(_ memory: GuestMemory) {
        count = memory.regions.count
        regions = .allocate(capacity: max(count, 1))
        for (i, r) in memory.regions.enumerated() { (regions + i).initialize(to: r) }
    }

    deinit {
        regions.deinitialize(count: count)
        regions.deallocate()
    }

    /// The host address of `[address, address+length)`, or nil unless it lies entirely inside
    /// one RAM region (no wraparound: `contains` compares offsets, never sums).
    @inlinable @inline(__always)
    func translate(_ address: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
        var i = 0
        while i < count {
            let r = regions[i]
            if r.contains(address, length: length) { return r.host + Int(address &- r.base.raw) }
            i &+= 1
        }
        return nil
    }
}

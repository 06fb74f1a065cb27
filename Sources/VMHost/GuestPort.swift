// GuestPort: the switch port a VM NIC sits behind: a sink that can be redirected. It forwards to the VM's NIC,
// holds frames while the VM is paused for migration, and at switchover hands them to the
// destination NIC (or back to the source NIC when the migration failed). On the destination
// it also holds the frames that came in the migration stream, which go to the NIC first.
// With a capacity it never pushes more into its target than the target can take: the rest
// wait (in order, up to the hold limit) until `feed`, as QEMU's net queue waits for a guest
// that has no receive buffers. Datapath thread only.

import Frames
import Switching

/// A `PortSink` in front of a VM's NIC, so the port can change hands without frame loss.
public final class GuestPort: PortSink {
    /// Where frames go while not holding (nil: they are dropped and counted).
    public private(set) var target: (any PortSink)?
    /// Whether frames are being held.
    public private(set) var holding = false
    /// Frames that came in a migration stream (destination side), delivered before `held`.
    private var handedIn: [TransmitEntry] = []
    /// Frames from the switch held (while holding, or waiting for the target's capacity).
    private var held: [TransmitEntry] = []
    /// Waiting frames (`handedIn` + `held`) beyond this many are dropped and counted.
    public var holdLimit = 4096
    /// Frames dropped: over the hold limit, or with no target.
    public private(set) var dropped = 0
    /// How many frames the target can take now (nil: any number).
    public var capacity: (() -> Int)?
    private let pool: PacketPool
    private let scratch: UnsafeMutableRawPointer

    /// A port forwarding to `target`, whose frames come from `pool`.
    public init(target: (any PortSink)?, pool: PacketPool) {
        self.target = target
        self.pool = pool
        scratch = .allocate(byteCount: pool.slotSize + 64, alignment: 16)
    }

    deinit {
        for e in handedIn { pool.release(e.handle) }
        for e in held { pool.release(e.handle) }
        scratch.deallocate()
    }

    public func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        if !holding, handedIn.isEmpty, held.isEmpty, let target {
            let room = capacity?() ?? Int.max
            if room >= entries.count {
                target.transmit(entries, pool: pool, now: now)
                return
            }
            // Part goes now; the rest waits behind it.
            let first = max(0, room)
            if first > 0 { target.transmit(UnsafeBufferPointer(rebasing: entries[0..<first]), pool: pool, now: now) }
            queue(UnsafeBufferPointer(rebasing: entries[first...]))
            return
        }
        guard holding || target != nil else {
            dropped += entries.count
            for e in entries { pool.release(e.handle) }
            return
        }
        queue(entries)
        if !holding { feed(now: now) }
    }

    /// Appends to `held`, dropping what exceeds the hold limit.
    private func queue(_ entries: UnsafeBufferPointer<TransmitEntry>) {
        for e in entries {
            if waitingCount < holdLimit {
                held.append(e)
            } else {
                dropped += 1
                pool.release(e.handle)
            }
        }
    }

    /// Frames waiting: handed in plus held.
    public var waitingCount: Int { handedIn.count + held.count }

    /// Starts holding frames (the VM is being paused, or is arriving).
    public func hold() { holding = true }

    /// Number of frames held from the switch.
    public var heldCount: Int { held.count }

    /// Number of frames that came in a migration stream and still wait.
    public var handedInCount: Int { handedIn.count }

    /// Adds a frame that came in the migration stream (destination side; copied into the
    /// pool); false when the pool or the hold limit has no room (the frame is counted lost).
    @discardableResult
    public func handIn(_ bytes: [UInt8]) -> Bool {
        guard waitingCount < holdLimit, let h = bytes.withUnsafeBytes({ pool.make(copying: $0) }) else {
            dropped += 1
            return false
        }
        handedIn.append(TransmitEntry(handle: h, tci: 0, action: .keep))
        return true
    }

    /// The held frames from index `start` on, as they would reach the guest (egress tag
    /// applied); they stay held.
    public func heldFrames(from start: Int) -> [[UInt8]] {
        guard start < held.count else { return [] }
        return held[max(start, 0)...].map { e in
            let n = Switch.materialize(e, pool: pool, into: scratch)
            return Array(UnsafeRawBufferPointer(start: scratch, count: n))
        }
    }

    /// Stops holding: the first `migrated` held frames are released (they were handed over),
    /// the rest -- after the handed-in ones -- go to `sink` (as its capacity allows; `feed`
    /// moves the others later), which becomes the target.
    public func release(to sink: (any PortSink)?, droppingFirst migrated: Int = 0, now: Int64 = 0) {
        dropHeld(first: migrated)
        holding = false
        target = sink
        if sink == nil {
            dropped += waitingCount
            discardWaiting()
            return
        }
        feed(now: now)
    }

    /// Releases the first `count` held frames (they went with the VM in the stream) and goes
    /// on holding the rest, for whoever takes the port over next.
    public func dropHeld(first count: Int) {
        let cut = min(max(count, 0), held.count)
        for e in held[..<cut] { pool.release(e.handle) }
        held.removeFirst(cut)
    }

    /// Drops every waiting frame without counting (they went elsewhere: the source took
    /// them back, or they were sent on by other means).
    public func discardWaiting() {
        for e in handedIn { pool.release(e.handle) }
        for e in held { pool.release(e.handle) }
        handedIn.removeAll()
        held.removeAll()
    }

    /// Drops the frames handed in by a migration stream (the migration was undone: the
    /// source gives its own copies to its VM).
    public func discardHandedIn() {
        for e in handedIn { pool.release(e.handle) }
        handedIn.removeAll()
    }

    /// Moves waiting frames into the target, handed-in ones first, as far as its capacity
    /// allows (call when the target may have room again). Returns how many moved.
    @discardableResult
    public func feed(now: Int64 = 0) -> Int {
        guard !holding, let target, waitingCount > 0 else { return 0 }
        var room = capacity?() ?? Int.max
        var moved = 0
        for list in 0..<2 {
            guard room > 0 else { break }
            let n = min(room, list == 0 ? handedIn.count : held.count)
            guard n > 0 else { continue }
            if list == 0 {
                handedIn.withUnsafeBufferPointer { target.transmit(UnsafeBufferPointer(rebasing: $0[0..<n]), pool: pool, now: now) }
                handedIn.removeFirst(n)
            } else {
                held.withUnsafeBufferPointer { target.transmit(UnsafeBufferPointer(rebasing: $0[0..<n]), pool: pool, now: now) }
                held.removeFirst(n)
            }
            room -= n
            moved += n
        }
        return moved
    }
}

// MigratablePort: a switch port's sink that can be redirected. It forwards to the VM's NIC,
// holds frames while the VM is paused for migration, and at switchover hands them to the
// destination NIC (or back to the source NIC when the migration failed). Datapath thread only.

import Frames
import Switching

/// A `PortSink` in front of a VM's NIC, so the port can change hands without frame loss.
public final class MigratablePort: PortSink {
    /// Where frames go while not holding (nil: they are dropped and counted).
    public private(set) var target: (any PortSink)?
    /// Whether frames are being held.
    public private(set) var holding = false
    /// Frames held, in arrival order.
    private var held: [TransmitEntry] = []
    /// Held frames beyond this many are dropped (and counted in `dropped`).
    public var holdLimit = 4096
    /// Frames dropped: over the hold limit, or with no target.
    public private(set) var dropped = 0
    private let pool: PacketPool
    private let scratch: UnsafeMutableRawPointer

    /// A port forwarding to `target`, whose frames come from `pool`.
    public init(target: (any PortSink)?, pool: PacketPool) {
        self.target = target
        self.pool = pool
        scratch = .allocate(byteCount: pool.slotSize + 64, alignment: 16)
    }

    deinit {
        for e in held { pool.release(e.handle) }
        scratch.deallocate()
    }

    public func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        if !holding, let target {
            target.transmit(entries, pool: pool, now: now)
            return
        }
        for e in entries {
            if holding && held.count < holdLimit {
                held.append(e)
            } else {
                dropped += 1
                pool.release(e.handle)
            }
        }
    }

    /// Starts holding frames (the VM is being paused).
    public func hold() { holding = true }

    /// Number of frames held.
    public var heldCount: Int { held.count }

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
    /// the rest go to `sink`, which becomes the target.
    public func release(to sink: (any PortSink)?, droppingFirst migrated: Int = 0, now: Int64 = 0) {
        let cut = min(max(migrated, 0), held.count)
        for e in held[..<cut] { pool.release(e.handle) }
        let rest = Array(held[cut...])
        held.removeAll()
        holding = false
        target = sink
        guard !rest.isEmpty else { return }
        if let sink {
            rest.withUnsafeBufferPointer { sink.transmit($0, pool: pool, now: now) }
        } else {
            dropped += rest.count
            for e in rest { pool.release(e.handle) }
        }
    }
}

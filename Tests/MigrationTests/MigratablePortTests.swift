// MigratablePort: forwarding, holding during the pause, handing the held frames on in order.

import Frames
@testable import Migration
import Switching
import Testing

/// A sink that records the first payload byte of each frame and frees the slot.
final class RecordingSink: PortSink {
    var bytes: [UInt8] = []
    func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        for e in entries {
            bytes.append(pool.data(e.handle).load(fromByteOffset: 14, as: UInt8.self))
            pool.release(e.handle)
        }
    }
}

@Suite struct MigratablePortTests {
    func send(_ values: [UInt8], to port: MigratablePort, pool: PacketPool) {
        let entries = values.map { v -> TransmitEntry in
            var frame = [UInt8](repeating: 0, count: 60)
            frame[14] = v
            return TransmitEntry(handle: pool.make(copying: frame)!, tci: 0, action: .keep)
        }
        entries.withUnsafeBufferPointer { port.transmit($0, pool: pool, now: 0) }
    }

    @Test func holdsThenHandsOverInOrderSkippingWhatMigrated() {
        let pool = PacketPool(capacity: 32)
        let old = RecordingSink(), new = RecordingSink()
        let port = MigratablePort(target: old, pool: pool)
        send([1, 2], to: port, pool: pool)
        #expect(old.bytes == [1, 2])
        port.hold()
        send([3, 4, 5, 6], to: port, pool: pool)
        #expect(old.bytes == [1, 2] && port.heldCount == 4)
        #expect(port.heldFrames(from: 2).map { $0[14] } == [5, 6])
        port.release(to: new, droppingFirst: 2)
        #expect(new.bytes == [5, 6] && !port.holding)
        send([7], to: port, pool: pool)
        #expect(new.bytes == [5, 6, 7] && port.dropped == 0)
        #expect(pool.available == 32)
    }

    @Test func overTheHoldLimitOrWithoutATargetFramesAreDroppedAndCounted() {
        let pool = PacketPool(capacity: 32)
        let port = MigratablePort(target: nil, pool: pool)
        port.holdLimit = 2
        port.hold()
        send([1, 2, 3], to: port, pool: pool)
        #expect(port.heldCount == 2 && port.dropped == 1)
        port.release(to: nil, droppingFirst: 1)
        #expect(port.dropped == 2)
        send([4], to: port, pool: pool)
        #expect(port.dropped == 3 && pool.available == 32)
    }
}

// GuestPort: forwarding, holding during the pause, handing the held frames on in order.

import Frames
@testable import VMHost
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

@Suite struct GuestPortTests {
    func send(_ values: [UInt8], to port: GuestPort, pool: PacketPool) {
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
        let port = GuestPort(target: old, pool: pool)
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
        let port = GuestPort(target: nil, pool: pool)
        port.holdLimit = 2
        port.hold()
        send([1, 2, 3], to: port, pool: pool)
        #expect(port.heldCount == 2 && port.dropped == 1)
        port.release(to: nil, droppingFirst: 1)
        #expect(port.dropped == 2)
        send([4], to: port, pool: pool)
        #expect(port.dropped == 3 && pool.available == 32)
    }

    @Test func withACapacityFramesWaitInOrderAndStreamFramesGoFirst() {
        let pool = PacketPool(capacity: 64)
        let nic = RecordingSink()
        let port = GuestPort(target: nil, pool: pool)
        nonisolated(unsafe) var room = 2
        port.capacity = { room }
        // Arriving: the stream's frames are handed in, a frame from the switch is held.
        port.hold()
        #expect(port.handIn(frameBytes(1)) && port.handIn(frameBytes(2)))
        send([10], to: port, pool: pool)
        #expect(port.handedInCount == 2 && port.heldCount == 1)
        // Released into a NIC with room for two: the stream first, the rest waits.
        port.release(to: nic)
        #expect(nic.bytes == [1, 2] && port.waitingCount == 1)
        // New frames queue behind what waits, even when there is room again.
        send([11, 12], to: port, pool: pool)
        #expect(nic.bytes == [1, 2, 10, 11] && port.waitingCount == 1, "fed as far as the room allowed: \(nic.bytes)")
        room = 100
        #expect(port.feed() == 1 && nic.bytes == [1, 2, 10, 11, 12])
        // With room, frames pass straight through.
        send([13], to: port, pool: pool)
        #expect(nic.bytes.last == 13 && port.waitingCount == 0 && port.dropped == 0)
        // No room at all and a full backlog: counted drops, never a crash.
        room = 0
        port.holdLimit = 1
        send([14, 15], to: port, pool: pool)
        #expect(port.waitingCount == 1 && port.dropped == 1)
        port.discardWaiting()
        #expect(pool.available == 64)
    }

    @Test func undoingAnArrivalDropsOnlyTheStreamCopies() {
        let pool = PacketPool(capacity: 16)
        let port = GuestPort(target: nil, pool: pool)
        port.hold()
        port.handIn(frameBytes(1))
        send([20, 21], to: port, pool: pool)
        port.discardHandedIn()
        #expect(port.handedInCount == 0 && port.heldFrames(from: 0).map { $0[14] } == [20, 21])
        port.release(to: nil, droppingFirst: 2)
        #expect(port.dropped == 0 && pool.available == 16)
    }

    func frameBytes(_ v: UInt8) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: 60)
        frame[14] = v
        return frame
    }
}

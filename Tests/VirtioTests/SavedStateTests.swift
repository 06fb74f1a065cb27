// Saved-state tests: transport, queue and device states survive a JSON round trip into fresh
// objects that carry on where the old ones stopped; inconsistent states are refused.

import Foundation
import Frames
import Machine
import Switching
import Testing
import TestSupport
@testable import Virtio

@Suite struct SavedStateTests {
    func roundTrip<T: Codable>(_ value: T) throws -> T {
        try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
    }

    @Test func blockDeviceContinuesAfterRestore() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let initial = pattern(16384)
        let path = makeRawImage(dir, "d.raw", initial)
        let memory = try makeMemory()
        let rig = BlockRig(memory: memory, disk: try RawDiskImage(path: path))
        #expect(rig.read(sector: 0, count: 512)?.status == VirtioBlock.statusOK)
        #expect(rig.read(sector: 1, count: 512)?.status == VirtioBlock.statusOK)
        let transportState = try roundTrip(rig.transport.saveState())
        let deviceState = try roundTrip(rig.device.saveState())
        #expect(transportState.queues[0].nextAvailable == 2)
        #expect(transportState.queues[0].nextUsed == 2)
        #expect(transportState.queues[0].ready)
        #expect(deviceState.inFlight == 0)

        // A new device over the same RAM (as after migration) picks up the queue; the old
        // opening gives the image's write lock up first, as a migration's source does.
        rig.device.disk.releaseLock()
        let device = VirtioBlock(memory: memory, disk: try RawDiskImage(path: path), identifier: "disk0-serial", queueSize: 16)
        try device.restore(deviceState)
        let transport = try VirtioMMIOTransport(device: device, restoring: transportState)
        #expect(transport.saveState() == transportState)
        #expect(device.counters.reads == 2)
        // Drive it with the old driver-side queue.
        let driver = MockDriver(transport: transport)
        let header = rig.allocator.allocate(16)
        try memory.store(VirtioBlock.typeIn, at: GuestPhysicalAddress(header))
        try memory.store(UInt64(4), at: GuestPhysicalAddress(header + 8))
        let data = rig.allocator.allocate(512)
        let status = rig.allocator.allocate(1)
        rig.queue.publish(rig.queue.addChain([MockBuffer(address: header, length: 16, writable: false),
                                              MockBuffer(address: data, length: 512, writable: true),
                                              MockBuffer(address: status, length: 1, writable: true)]))
        driver.notify(0)
        #expect(rig.queue.takeUsed().count == 1)
        #expect(try memory.read(at: GuestPhysicalAddress(data), count: 512) == Array(initial[2048..<2560]))
        #expect(device.counters.reads == 3)
    }

    @Test func invalidTransportStatesAreRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let memory = try makeMemory()
        let rig = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "d.raw", pattern(4096))))
        let good = rig.transport.saveState()
        var states: [VirtioTransportState] = []
        var s = good; s.queues[0].size = 12; states.append(s)
        s = good; s.queues[0].descriptorTable = 0x10; states.append(s)
        s = good; s.queues[0].nextAvailable = 500; states.append(s)
        s = good; s.driverFeatures |= 1 << 40; states.append(s)
        s = good; s.driverFeatures &= ~VirtioFeature.version1; states.append(s)
        s = good; s.status = VirtioStatus.driverOK; states.append(s)
        s = good; s.deviceID = 1; states.append(s)
        s = good; s.queues.append(s.queues[0]); states.append(s)
        s = good; s.interruptStatus = 0x80; states.append(s)
        for bad in states {
            let fresh = VirtioMMIOTransport(device: VirtioBlock(memory: memory, disk: rig.device.disk, identifier: "x", queueSize: 16))
            #expect(throws: VirtioStateError.self) { try fresh.restore(bad) }
            #expect(fresh.core.status == 0)
            #expect(fresh.core.queues[0].ready == false)
        }
        // Device state for another disk.
        var blockState = rig.device.saveState()
        blockState.capacity += 1
        #expect(throws: VirtioStateError.self) { try rig.device.restore(blockState) }
    }

    @Test func netWaitingFramesTravelWithTheState() throws {
        let pool = PacketPool(capacity: 64)
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: mac(1), pool: pool)
        let frame = testFrame(from: mac(9), to: mac(1))
        let entries = [TransmitEntry(handle: pool.make(copying: frame)!, tci: 0x000a, action: .tag)]
        entries.withUnsafeBufferPointer { rig.device.transmit($0, pool: pool, now: 0) }
        let netState = try roundTrip(rig.device.saveState())
        let transportState = try roundTrip(rig.transport.saveState())
        #expect(netState.pendingFrames.count == 1)
        #expect(netState.pendingFrames.first?.count == frame.count + 4)

        let pool2 = PacketPool(capacity: 64)
        let device = VirtioNet(memory: memory, mac: mac(1), pool: pool2, queueSize: 16)
        try device.restore(netState)
        _ = try VirtioMMIOTransport(device: device, restoring: transportState)
        #expect(device.pendingFrames == 1)
        rig.postReceiveBuffers(1)   // through the old transport: only the guest memory matters
        device.deliverPending()
        let got = rig.received()
        #expect(got.count == 1)
        #expect(got.first.map { Array($0.frame[12..<16]) } == [0x81, 0x00, 0x00, 0x0a])
        #expect(pool2.available == 64)

        var wrongMAC = netState
        wrongMAC.mac = 7
        #expect(throws: VirtioStateError.self) { try device.restore(wrongMAC) }
        var runt = netState
        runt.pendingFrames = [[1, 2, 3]]
        #expect(throws: VirtioStateError.self) { try device.restore(runt) }
    }
}

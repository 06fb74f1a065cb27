// virtio-net tests: guest frames into a real Switch/Fabric and out of other ports; switch
// frames into posted RX buffers (with egress tags applied); waiting and dropping without
// buffers; counters; link status.

import Frames
import Machine
import Switching
import Testing
@testable import Virtio

@Suite struct VirtioNetTests {
    let t0: Int64 = 1_700_000_000_000_000_000

    /// A switch with two VM ports (access VLAN 10), an access port and a trunk, on one fabric.
    func makeFabric(pool: PacketPool) throws -> (Fabric, Switch) {
        let ports = [
            PortConfiguration(name: "vm1", mode: .access(VLANID(10)!)),
            PortConfiguration(name: "vm2", mode: .access(VLANID(10)!)),
            PortConfiguration(name: "uplink", mode: .access(VLANID(10)!)),
            PortConfiguration(name: "trunk", mode: .trunk(allowed: VLANSet([VLANID(10)!, VLANID(20)!]), native: nil)),
        ]
        let sw = try Switch(configuration: SwitchConfiguration(name: "sw0", ports: ports), pool: pool)
        let fabric = Fabric(pool: pool)
        fabric.add(sw)
        return (fabric, sw)
    }

    @Test func transmitFromGuestThroughSwitchToOtherPorts() throws {
        let pool = PacketPool(capacity: 256)
        let (fabric, sw) = try makeFabric(pool: pool)
        let memory = try makeMemory()
        let vm1 = NetRig(memory: memory, mac: mac(1), pool: pool, slot: 0)
        let vm2 = NetRig(memory: memory, mac: mac(2), pool: pool, slot: 1)
        let uplink = RecordingSink()
        try fabric.attach(fabric.port("sw0", "vm1"), sink: vm1.device)
        try fabric.attach(fabric.port("sw0", "vm2"), sink: vm2.device)
        try fabric.attach(fabric.port("sw0", "uplink"), sink: uplink)
        let trunk = RecordingSink()
        try fabric.attach(fabric.port("sw0", "trunk"), sink: trunk)
        vm2.postReceiveBuffers(4)

        // vm1 broadcasts: flooded to vm2 (into its RX buffer), the uplink, and the trunk tagged.
        let broadcast = testFrame(from: mac(1), to: .broadcast, payloadLength: 100)
        vm1.send(broadcast)
        #expect(vm1.device.serviceRequested)
        let before = pool.available
        #expect(vm1.device.service(switch: sw, port: 0, now: t0) == 1)
        fabric.drain(now: t0)
        #expect(vm1.tx.takeUsed().count == 1)
        let got = vm2.received()
        #expect(got.count == 1)
        #expect(got.first?.frame == broadcast)
        #expect(got.first?.numBuffers == 1)
        #expect(uplink.frames == [broadcast])
        #expect(trunk.frames.count == 1)
        #expect(trunk.frames.first.map { Array($0[12..<16]) } == [0x81, 0x00, 0x00, 10])
        #expect(vm2.line.level)

        // vm2 answers unicast: learned, so only vm1 sees it (vm1 had no buffers: it waits).
        let reply = testFrame(from: mac(2), to: mac(1), payloadLength: 60, fill: 0xcd)
        vm2.send(reply)
        vm2.device.service(switch: sw, port: 1, now: t0)
        fabric.drain(now: t0)
        #expect(uplink.frames.count == 1)
        #expect(vm1.device.pendingFrames == 1)
        vm1.postReceiveBuffers(2)
        #expect(vm1.device.serviceRequested)
        vm1.device.service(switch: sw, port: 0, now: t0)
        #expect(vm1.received().map(\.frame) == [reply])
        #expect(pool.available == before)  // every slot went back to the pool

        let c1 = vm1.device.counters
        #expect(c1.txFrames == 1 && c1.txBytes == UInt64(broadcast.count))
        #expect(c1.rxFrames == 1 && c1.rxBytes == UInt64(reply.count))
        #expect(sw.counters(port: 0).rxFrames == 1)
        #expect(vm2.device.counters.rxFrames == 1)
    }

    @Test func receiveAppliesEgressTagInGuestMemory() throws {
        let pool = PacketPool(capacity: 64)
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: mac(1), pool: pool)
        rig.postReceiveBuffers(3)
        let plain = testFrame(from: mac(9), to: mac(1))
        let tagged = testFrame(from: mac(9), to: mac(1), tag: 30)
        let entries = [
            TransmitEntry(handle: pool.make(copying: plain)!, tci: 0x2014, action: .tag),       // push
            TransmitEntry(handle: pool.make(copying: tagged)!, tci: 0x0015, action: .tag),      // replace
            TransmitEntry(handle: pool.make(copying: tagged)!, tci: 0, action: .untag),         // pop
        ]
        entries.withUnsafeBufferPointer { rig.device.transmit($0, pool: pool, now: t0) }
        let got = rig.received().map(\.frame)
        #expect(got.count == 3)
        // Every expected frame is what Switch.materialize produces.
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { scratch.deallocate() }
        let expected: [[UInt8]] = try [(plain, TransmitEntry.TagAction.tag, UInt16(0x2014)), (tagged, .tag, 0x0015), (tagged, .untag, 0)].map { f, a, tci in
            let h = try #require(pool.make(copying: f))
            defer { pool.release(h) }
            let n = Switch.materialize(TransmitEntry(handle: h, tci: tci, action: a), pool: pool, into: scratch)
            return Array(UnsafeRawBufferPointer(start: scratch, count: n))
        }
        #expect(got == expected)
        #expect(got[0][12...15] == [0x81, 0x00, 0x20, 0x14])
        #expect(got[2].count == 60)
        #expect(pool.available == 64)
    }

    @Test func framesWaitForBuffersUpToTheLimit() throws {
        let pool = PacketPool(capacity: 64)
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: mac(1), pool: pool, pendingLimit: 4)
        let frames = (0..<6).map { testFrame(from: mac(9), to: mac(1), fill: UInt8($0)) }
        let entries = frames.map { TransmitEntry(handle: pool.make(copying: $0)!, tci: 0, action: .keep) }
        entries.withUnsafeBufferPointer { rig.device.transmit($0, pool: pool, now: t0) }
        #expect(rig.device.pendingFrames == 4)
        #expect(rig.device.counters.rxDrops == 2)
        #expect(pool.available == 60)
        rig.postReceiveBuffers(3)
        #expect(rig.device.deliverPending() == 3)
        #expect(rig.received().map(\.frame) == Array(frames[0..<3]))
        rig.postReceiveBuffers(1)
        rig.device.deliverPending()
        #expect(rig.received().map(\.frame) == [frames[3]])
        #expect(pool.available == 64)
        #expect(rig.device.counters.rxFrames == 4)
    }

    @Test func tooSmallBuffersAndBadTransmitsAreCountedDrops() throws {
        let pool = PacketPool(capacity: 64)
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: mac(1), pool: pool)
        rig.postReceiveBuffers(1, length: 40)
        let entries = [TransmitEntry(handle: pool.make(copying: testFrame(from: mac(9), to: mac(1)))!, tci: 0, action: .keep)]
        entries.withUnsafeBufferPointer { rig.device.transmit($0, pool: pool, now: t0) }
        #expect(rig.device.counters.rxDrops == 1)
        #expect(rig.rx.takeUsed().map(\.length) == [0])
        #expect(pool.available == 64)

        // A runt (header only) and a frame outside RAM are dropped; a good one passes.
        let h = rig.allocator.allocate(12)
        rig.tx.publish(rig.tx.addChain([MockBuffer(address: h, length: 12, writable: false)]))
        rig.tx.publish(rig.tx.addChain([MockBuffer(address: h, length: 12, writable: false),
                                        MockBuffer(address: 0x10, length: 100, writable: false)]))
        rig.send(testFrame(from: mac(1), to: mac(2)))
        var batch = [PacketHandle](repeating: -1, count: 8)
        let n = batch.withUnsafeMutableBufferPointer { rig.device.collectTransmitted(into: $0) }
        #expect(n == 1)
        #expect(rig.device.counters.txDrops == 2)
        #expect(rig.tx.takeUsed().count == 3)
        #expect(!rig.device.core.needsReset)
        pool.release(batch[0])
    }

    @Test func linkDownDropsAndResetPurgesWaitingFrames() throws {
        let pool = PacketPool(capacity: 64)
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: mac(1), pool: pool)
        let entries = [TransmitEntry(handle: pool.make(copying: testFrame(from: mac(9), to: mac(1)))!, tci: 0, action: .keep)]
        entries.withUnsafeBufferPointer { rig.device.transmit($0, pool: pool, now: t0) }
        #expect(rig.device.pendingFrames == 1)
        rig.driver.write(VirtioMMIORegister.status, 0)
        rig.device.deliverPending()
        #expect(rig.device.pendingFrames == 0)
        #expect(pool.available == 64)
        rig.driver.negotiate()
        rig.driver.setUpQueue(0, rig.rx)
        rig.driver.start()
        rig.device.linkUp = false
        let again = [TransmitEntry(handle: pool.make(copying: testFrame(from: mac(9), to: mac(1)))!, tci: 0, action: .keep)]
        again.withUnsafeBufferPointer { rig.device.transmit($0, pool: pool, now: t0) }
        #expect(rig.device.counters.rxDrops == 2)
        #expect(pool.available == 64)
    }

    @Test func receiveMarksGuestPagesDirty() throws {
        let pool = PacketPool(capacity: 64)
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: mac(1), pool: pool)
        rig.postReceiveBuffers(1)
        memory.setDirtyLogging(true)
        let buffer = try #require(rig.rxBuffers.values.first)
        let entries = [TransmitEntry(handle: pool.make(copying: testFrame(from: mac(9), to: mac(1)))!, tci: 0, action: .keep)]
        entries.withUnsafeBufferPointer { rig.device.transmit($0, pool: pool, now: t0) }
        let dirty = Set(memory.dirtyPages())
        #expect(dirty.contains(try #require(memory.pageIndex(buffer))))
        #expect(dirty.contains(try #require(memory.pageIndex(rig.rx.usedRing))))
        #expect(dirty.count <= 3)
    }
}

/// Counts kicks from the vCPU thread.
final class KickCounter: @unchecked Sendable {
    private let lock = DeviceLock()
    private var count = 0
    func kick() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

@Suite struct VirtioNetKickTests {
    @Test func notificationsKickTheDatapath() throws {
        let pool = PacketPool(capacity: 32)
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: mac(1), pool: pool)
        let counter = KickCounter()
        rig.device.kick = { counter.kick() }
        rig.send(testFrame(from: mac(1), to: mac(2)))
        rig.postReceiveBuffers(1)
        #expect(counter.value == 2)
        #expect(rig.device.serviceRequested)
        let sw = try Switch(configuration: SwitchConfiguration(name: "s", ports: [PortConfiguration(name: "p")]), pool: pool)
        #expect(rig.device.service(switch: sw, port: 0, now: 0) == 1)
        #expect(!rig.device.serviceRequested)
        sw.clearTransmitQueue(port: 0, releasing: true)
        #expect(pool.available == 32)
    }
}

// The virtio-net datapath (guest TX -> switch -> guest RX) must not allocate per frame:
// counted with the interposed malloc of CAllocationCounter.

import CAllocationCounter
import Frames
import Machine
import Switching
import Testing
@testable import Virtio

@Suite struct VirtioNetAllocationTests {
    @Test func guestToGuestPathDoesNotAllocate() throws {
        try #require(sb_allocation_counter_active() == 1, "malloc interposition is not in effect")
        let pool = PacketPool(capacity: 1024)
        let sw = try Switch(configuration: SwitchConfiguration(name: "sw0", ports: [
            PortConfiguration(name: "vm1"), PortConfiguration(name: "vm2"),
        ]), pool: pool)
        let fabric = Fabric(pool: pool)
        fabric.add(sw)
        let memory = try makeMemory()
        let vm1 = NetRig(memory: memory, mac: mac(1), pool: pool, slot: 0, size: 64)
        let vm2 = NetRig(memory: memory, mac: mac(2), pool: pool, slot: 1, size: 64)
        try fabric.attach(fabric.port("sw0", "vm1"), sink: vm1.device)
        try fabric.attach(fabric.port("sw0", "vm2"), sink: vm2.device)
        // vm2 announces itself so vm1's frames are forwarded, not flooded.
        vm1.postReceiveBuffers(1)
        vm2.send(testFrame(from: mac(2), to: .broadcast))
        vm2.device.service(switch: sw, port: 1, now: 0)
        fabric.drain(now: 0)
        let frame = testFrame(from: mac(1), to: mac(2), payloadLength: 200)

        var allocations: [UInt64] = []
        for round in 0..<3 {
            // Driver side, outside the measurement: 32 frames and 32 buffers, reusing addresses.
            vm1.allocator.next = ramBase + 0x11_0000
            vm2.allocator.next = ramBase + 0x18_0000
            vm2.rxBuffers.removeAll(keepingCapacity: true)
            for _ in 0..<32 { vm1.send(frame, notify: false) }
            vm2.postReceiveBuffers(32, notify: false)
            let before = sb_thread_allocation_count()
            let moved = vm1.device.service(switch: sw, port: 0, now: Int64(round))
            fabric.drain(now: Int64(round))
            allocations.append(sb_thread_allocation_count() - before)
            #expect(moved == 32)
            #expect(vm2.received().count == 32)
            _ = vm1.tx.takeUsed()
        }
        print("virtio-net datapath allocations per round: \(allocations)")
        #expect(allocations.dropFirst().allSatisfy { $0 == 0 }, "allocations per round: \(allocations)")
        #expect(pool.available == 1024)
    }
}

// Fuzzed guests: rings, descriptors and request headers filled with random values, thousands
// of times. The devices may fail requests or ask for a reset, but the process must survive
// and a well-behaved device beside them must keep working.

import Frames
import Machine
import Switching
import Testing
import TestSupport
@testable import Virtio

@Suite struct FuzzedGuestTests {
    /// Random but interesting descriptor fields.
    func randomDescriptor(_ rng: inout SeededRandom) -> (UInt64, UInt32, UInt16, UInt16) {
        let scratch = ramBase + 0x20_0000
        let address: UInt64
        switch rng.below(6) {
        case 0: address = rng.next()
        case 1: address = ramBase + ramSize - rng.below(4096)
        case 2: address = ramBase + rng.below(0x2000)               // the victim's own rings
        default: address = scratch + rng.below(0x10_0000)
        }
        let length: UInt32
        switch rng.below(5) {
        case 0: length = UInt32(truncatingIfNeeded: rng.next())
        case 1: length = 0
        case 2: length = UInt32(rng.below(4) + 1) * 512
        default: length = UInt32(rng.below(64))
        }
        return (address, length, UInt16(rng.below(8)), UInt16(rng.below(24)))
    }

    func scribble(_ q: MockSplitQueue, _ memory: GuestMemory, _ rng: inout SeededRandom) {
        for i in 0..<q.size {
            let (a, l, f, n) = randomDescriptor(&rng)
            q.writeDescriptor(i, address: a, length: l, flags: f, next: n)
        }
        // Half the time, well-formed three-part chains (header, data, status) with at most
        // one field spoiled, so requests get deep into the devices.
        if rng.below(2) == 0 {
            var i: UInt16 = 0
            while i + 3 <= q.size {
                let header = ramBase + 0x20_0000 + rng.below(0x100) * 64
                let data = ramBase + 0x28_0000 + rng.below(0x40) * 4096
                let types: [UInt32] = [0, 0, 1, 1, 4, 8, 11]
                try? memory.store(types[Int(rng.below(UInt64(types.count)))], at: GuestPhysicalAddress(header))
                try? memory.store(rng.below(160), at: GuestPhysicalAddress(header + 8))
                let dataLength = UInt32(rng.below(8) + 1) * 512
                let write = rng.below(2) == 0
                q.writeDescriptor(i, address: header, length: rng.below(2) == 0 ? 16 : 12 + UInt32(rng.below(8)), flags: 1, next: i + 1)
                q.writeDescriptor(i + 1, address: data, length: dataLength, flags: write ? 3 : 1, next: i + 2)
                q.writeDescriptor(i + 2, address: header + 32, length: 1, flags: 2, next: 0)
                if rng.below(3) == 0 {
                    let (a, l, f, n) = randomDescriptor(&rng)
                    let victim = i + UInt16(rng.below(3))
                    q.writeDescriptor(victim, address: rng.below(2) == 0 ? a : data, length: rng.below(2) == 0 ? l : dataLength,
                                      flags: rng.below(2) == 0 ? f : 3, next: rng.below(2) == 0 ? n : victim + 1)
                }
                i += 3
            }
            let count = UInt16(rng.below(UInt64(q.size / 3) + 1))
            for k in 0..<count { q.publish(3 * k) }
            return
        }
        // Headers and frames in the scratch area.
        for _ in 0..<8 {
            let at = GuestPhysicalAddress(ramBase + 0x20_0000 + rng.below(0x10_0000 - 16))
            try? memory.store(UInt32(rng.below(16)), at: at)
            try? memory.store(rng.below(256), at: at.advanced(by: 8))
        }
        let count = rng.below(4) == 0 ? UInt16(truncatingIfNeeded: rng.next()) : UInt16(rng.below(UInt64(q.size) + 1))
        for _ in 0..<min(count, q.size) {
            q.publish(UInt16(rng.below(UInt64(q.size) + 4)))
        }
        if count > q.size { q.setAvailableIndex(q.availableIndex &+ count) }
    }

    @Test func randomBlockRequests() throws {
        let dir = try TemporaryDirectory()
        let memory = try makeMemory()
        let victim = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "v.raw", pattern(65536))), slot: 0)
        let bystander = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "b.raw", pattern(65536))), slot: 1)
        var rng = SeededRandom(seed: 0x5eed)
        var resets = 0
        for round in 0..<3000 {
            scribble(victim.queue, memory, &rng)
            victim.driver.notify(UInt32(rng.below(3)))
            if victim.device.core.needsReset || round % 97 == 0 {
                resets += 1
                victim.queue.restart()
                victim.driver.negotiate()
                victim.driver.setUpQueue(0, victim.queue)
                victim.driver.start()
            }
        }
        #expect(resets > 10)
        // Some requests got all the way through.
        #expect(victim.device.counters.reads > 0 && victim.device.counters.writes > 0)
        #expect(bystander.identifier() == "disk1-serial")
        #expect(bystander.read(sector: 1, count: 512)?.data == Array(pattern(65536)[512..<1024]))
        dir.remove()
    }

    @Test func randomNetworkChains() throws {
        let pool = PacketPool(capacity: 512)
        let memory = try makeMemory()
        let victim = NetRig(memory: memory, mac: mac(1), pool: pool, slot: 0)
        let bystander = NetRig(memory: memory, mac: mac(2), pool: pool, slot: 1)
        let sw = try Switch(configuration: SwitchConfiguration(name: "s", ports: [
            PortConfiguration(name: "victim"), PortConfiguration(name: "bystander"),
        ]), pool: pool)
        let fabric = Fabric(pool: pool)
        fabric.add(sw)
        try fabric.attach(fabric.port("s", "victim"), sink: victim.device)
        try fabric.attach(fabric.port("s", "bystander"), sink: bystander.device)
        var rng = SeededRandom(seed: 0xfeed)
        for round in 0..<3000 {
            scribble(victim.tx, memory, &rng)
            scribble(victim.rx, memory, &rng)
            victim.device.service(switch: sw, port: 0, now: Int64(round))
            fabric.drain(now: Int64(round))
            let frame = testFrame(from: mac(2), to: rng.below(2) == 0 ? mac(1) : .broadcast)
            var h = pool.make(copying: frame)!
            withUnsafePointer(to: &h) { sw.receive(port: 1, batch: UnsafeBufferPointer(start: $0, count: 1), now: Int64(round)) }
            fabric.drain(now: Int64(round))
            if victim.device.core.needsReset || round % 101 == 0 {
                victim.rx.restart()
                victim.tx.restart()
                victim.driver.negotiate()
                victim.driver.setUpQueue(0, victim.rx)
                victim.driver.setUpQueue(1, victim.tx)
                victim.driver.start()
            }
        }
        // The bystander (whose wait queue the victim's floods filled) still works after
        // its driver restarts.
        #expect(!bystander.device.core.needsReset)
        #expect(victim.device.counters.txFrames > 0 && victim.device.counters.rxFrames > 0)
        victim.driver.write(VirtioMMIORegister.status, 0)
        victim.device.deliverPending()
        bystander.driver.write(VirtioMMIORegister.status, 0)
        bystander.device.deliverPending()
        bystander.rx.restart()
        bystander.rxBuffers.removeAll()
        bystander.driver.negotiate()
        bystander.driver.setUpQueue(0, bystander.rx)
        bystander.driver.setUpQueue(1, bystander.tx)
        bystander.driver.start()
        bystander.postReceiveBuffers(1)
        let hello = testFrame(from: mac(9), to: mac(2))
        let hh = pool.make(copying: hello)!
        _ = sw.receive(port: 0, handle: hh, now: 5000)
        fabric.drain(now: 5000)
        bystander.device.deliverPending()
        #expect(bystander.received().last?.frame == hello)
        bystander.driver.write(VirtioMMIORegister.status, 0)
        bystander.device.deliverPending()
        #expect(pool.available == 512)
    }
}

// Hostile-guest tests: each breaks one rule of the split virtqueue or the handshake. The
// broken device must fail the request or enter DEVICE_NEEDS_RESET, the process must keep
// running, and a second device in the same guest must keep working.

import Foundation
import Machine
import Testing
import TestSupport
@testable import Virtio

@Suite struct HostileGuestTests {
    /// Two started block devices over one guest RAM; the second is the bystander.
    struct Pair {
        let dir: TemporaryDirectory
        let victim: BlockRig
        let bystander: BlockRig
        let memory: GuestMemory

        init(victimQueueSize: UInt16 = 16, startVictim: Bool = true) throws {
            dir = try TemporaryDirectory()
            memory = try makeMemory()
            victim = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "a.raw", pattern(65536))),
                              slot: 0, size: victimQueueSize, start: startVictim)
            bystander = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "b.raw", pattern(65536, seed: 9))),
                                 slot: 1)
        }

        /// The bystander still reads, writes and identifies itself.
        func bystanderWorks() {
            #expect(bystander.identifier() == "disk1-serial")
            #expect(bystander.write(sector: 3, [UInt8](repeating: 0x5a, count: 512))?.status == VirtioBlock.statusOK)
            #expect(bystander.read(sector: 3, count: 512)?.data == [UInt8](repeating: 0x5a, count: 512))
            #expect(!bystander.device.core.needsReset)
            dir.remove()
        }

        /// Posts a request whose data buffer is `buffer` (status and header are fine).
        func requestWithDataBuffer(_ buffer: MockBuffer) -> BlockRig.Result? {
            let header = victim.allocator.allocate(16)
            try! memory.store(VirtioBlock.typeIn, at: GuestPhysicalAddress(header))
            try! memory.store(UInt64(0), at: GuestPhysicalAddress(header + 8))
            let status = victim.allocator.allocate(1)
            try! memory.store(UInt8(0xff), at: GuestPhysicalAddress(status))
            victim.queue.publish(victim.queue.addChain([
                MockBuffer(address: header, length: 16, writable: false), buffer,
                MockBuffer(address: status, length: 1, writable: true),
            ]))
            victim.driver.notify(0)
            guard let used = victim.queue.takeUsed().last else { return nil }
            return BlockRig.Result(status: try! memory.load(UInt8.self, at: GuestPhysicalAddress(status)), data: [], usedLength: used.length)
        }
    }

    @Test func descriptorOutsideGuestRAM() throws {
        let p = try Pair()
        let r = p.requestWithDataBuffer(MockBuffer(address: ramBase + ramSize - 256, length: 512, writable: true))
        #expect(r?.status == VirtioBlock.statusIOError)
        #expect(p.victim.device.counters.failed == 1)
        let below = p.requestWithDataBuffer(MockBuffer(address: 0x1000, length: 512, writable: true))
        #expect(below?.status == VirtioBlock.statusIOError)
        // The request failed; the device itself is fine and serves the next one.
        #expect(p.victim.read(sector: 0, count: 512)?.status == VirtioBlock.statusOK)
        p.bystanderWorks()
    }

    @Test func descriptorLengthWrapsAddressSpace() throws {
        let p = try Pair()
        let r = p.requestWithDataBuffer(MockBuffer(address: 0xFFFF_FFFF_FFFF_FE00, length: 0x1000, writable: true))
        #expect(r?.status == VirtioBlock.statusIOError)
        let r2 = p.requestWithDataBuffer(MockBuffer(address: ramBase + 0x1000, length: UInt32.max, writable: true))
        #expect(r2?.status == VirtioBlock.statusIOError)
        p.bystanderWorks()
    }

    @Test func descriptorLoop() throws {
        let p = try Pair()
        let q = p.victim.queue
        let a = p.victim.allocator.allocate(16)
        q.writeDescriptor(0, address: a, length: 16, flags: 1, next: 1)
        q.writeDescriptor(1, address: a, length: 16, flags: 1, next: 2)
        q.writeDescriptor(2, address: a, length: 1, flags: 3, next: 0)
        q.publish(0)
        p.victim.line.set(false)
        p.victim.driver.acknowledgeInterrupts()
        p.victim.driver.notify(0)
        #expect(p.victim.driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(p.victim.driver.read(VirtioMMIORegister.interruptStatus) & VirtioInterrupt.configChange != 0)
        #expect(p.victim.line.level)
        #expect(p.victim.device.core.lastError?.contains("loops") == true)
        #expect(q.takeUsed().isEmpty)
        // Further notifications are ignored until the driver resets.
        p.victim.driver.notify(0)
        #expect(p.victim.device.core.ignoredNotifications >= 1)
        p.bystanderWorks()
    }

    @Test func queueSizeNotPowerOfTwo() throws {
        let p = try Pair(victimQueueSize: 12, startVictim: false)
        p.victim.driver.negotiate()
        p.victim.driver.setUpQueue(0, p.victim.queue)
        #expect(p.victim.driver.read(VirtioMMIORegister.queueReady) == 0)
        #expect(p.victim.driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(p.victim.device.core.lastError?.contains("power of two") == true)
        // Larger than QueueNumMax is refused the same way (after a reset).
        let big = try Pair(victimQueueSize: 32, startVictim: false)
        big.victim.driver.negotiate()
        big.victim.driver.setUpQueue(0, big.victim.queue)
        #expect(big.victim.driver.status & VirtioStatus.deviceNeedsReset != 0)
        big.dir.remove()
        p.bystanderWorks()
    }

    @Test func notifyingUnconfiguredQueue() throws {
        let p = try Pair(startVictim: false)
        p.victim.driver.negotiate()
        p.victim.driver.start()
        p.victim.driver.notify(0)     // exists, not ready
        p.victim.driver.notify(5)     // does not exist
        p.victim.driver.notify(0xFFFF)
        #expect(p.victim.device.core.ignoredNotifications == 3)
        #expect(!p.victim.device.core.needsReset)
        #expect(p.victim.queue.takeUsed().isEmpty)
        // A well-behaved restart still works.
        p.victim.driver.negotiate()
        p.victim.driver.setUpQueue(0, p.victim.queue)
        p.victim.driver.start()
        #expect(p.victim.read(sector: 1, count: 512)?.status == VirtioBlock.statusOK)
        p.bystanderWorks()
    }

    @Test func chainLongerThanQueue() throws {
        let p = try Pair()
        let table = p.victim.allocator.allocate(16 * 40)
        let data = p.victim.allocator.allocate(512)
        let buffers = (0..<40).map { i in MockBuffer(address: data, length: 8, writable: i > 20) }
        p.victim.queue.publish(p.victim.queue.addIndirectChain(buffers, table: table))
        p.victim.driver.notify(0)
        #expect(p.victim.driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(p.victim.device.core.lastError?.contains("longer than the queue size") == true)
        p.bystanderWorks()
    }

    @Test func featuresOKWithoutVersion1() throws {
        let p = try Pair(startVictim: false)
        let accepted = p.victim.driver.negotiate(VirtioBlock.featureFlush)
        #expect(!accepted)
        #expect(p.victim.driver.status & VirtioStatus.featuresOK == 0)
        #expect(p.victim.device.core.lastError?.contains("VERSION_1") == true)
        // DRIVER_OK without FEATURES_OK is refused and marks the device.
        p.victim.driver.write(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.driverOK)
        #expect(p.victim.driver.status & VirtioStatus.driverOK == 0)
        #expect(p.victim.device.core.needsReset)
        // Features the device never offered are refused too.
        #expect(!p.victim.driver.negotiate(VirtioFeature.version1 | 1 << 40))
        p.bystanderWorks()
    }

    @Test func garbageAvailableIndex() throws {
        let p = try Pair()
        p.victim.driver.acknowledgeInterrupts()
        p.victim.queue.setAvailableIndex(1000)
        p.victim.driver.notify(0)
        #expect(p.victim.driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(p.victim.driver.read(VirtioMMIORegister.interruptStatus) & VirtioInterrupt.configChange != 0)
        #expect(p.victim.device.core.lastError?.contains("available index jumped") == true)
        // A reset brings the device back.
        p.victim.driver.negotiate()
        #expect(p.victim.driver.status & VirtioStatus.deviceNeedsReset == 0)
        p.bystanderWorks()
    }

    @Test func headIndexOutOfRangeAndNextOutOfRange() throws {
        let p = try Pair()
        p.victim.queue.publish(200)
        p.victim.driver.notify(0)
        #expect(p.victim.device.core.lastError?.contains("names descriptor 200") == true)
        let q = try Pair()
        let a = q.victim.allocator.allocate(16)
        q.victim.queue.writeDescriptor(0, address: a, length: 16, flags: 1, next: 99)
        q.victim.queue.publish(0)
        q.victim.driver.notify(0)
        #expect(q.victim.device.core.needsReset)
        q.dir.remove()
        p.bystanderWorks()
    }

    @Test func ringsOutsideRAM() throws {
        let p = try Pair(startVictim: false)
        p.victim.driver.negotiate()
        p.victim.driver.write(VirtioMMIORegister.queueSel, 0)
        p.victim.driver.write(VirtioMMIORegister.queueDescLow, 0xFFFF_F000)
        p.victim.driver.write(VirtioMMIORegister.queueReady, 1)
        #expect(p.victim.driver.read(VirtioMMIORegister.queueReady) == 0)
        #expect(p.victim.device.core.needsReset)
        p.bystanderWorks()
    }
}

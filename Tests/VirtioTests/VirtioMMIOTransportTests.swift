// Transport tests: identification registers, feature negotiation, the status state machine,
// queue setup, interrupts and reset, all through MMIO accesses.

import Foundation
import Frames
import Machine
import Testing
import TestSupport
@testable import Virtio

@Suite struct VirtioMMIOTransportTests {
    typealias R = VirtioMMIORegister

    @Test func identificationRegisters() throws {
        let memory = try makeMemory()
        let net = NetRig(memory: memory, mac: mac(1), pool: PacketPool(capacity: 64))
        let d = net.driver
        #expect(d.read(R.magicValue) == 0x7472_6976)
        #expect(d.read(R.version) == 2)
        #expect(d.read(R.deviceID) == 1)
        #expect(d.read(R.vendorID) != 0)
        let features = d.deviceFeatures()
        #expect(features & VirtioFeature.version1 != 0)
        #expect(features & VirtioNet.featureMAC != 0)
        #expect(features & VirtioNet.featureStatus != 0)
        #expect(features & VirtioFeature.eventIndex == 0)
        d.write(R.queueSel, 0)
        #expect(d.read(R.queueNumMax) == 16)
        d.write(R.queueSel, 7)
        #expect(d.read(R.queueNumMax) == 0)
        // Non-32-bit register accesses read 0.
        #expect(net.transport.read(offset: R.magicValue, size: 2) == 0)
    }

    @Test func configSpaceHoldsMACAndLinkStatus() throws {
        let memory = try makeMemory()
        let rig = NetRig(memory: memory, mac: MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56), pool: PacketPool(capacity: 64))
        let t = rig.transport
        let bytes = (0..<6).map { UInt8(t.read(offset: 0x100 + UInt64($0), size: 1)) }
        #expect(bytes == [0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        #expect(t.read(offset: 0x106, size: 2) == 1)
        #expect(t.read(offset: 0x100, size: 4) == 0x1200_5452)
        #expect(t.read(offset: 0x1fc, size: 4) == 0)  // beyond the config space
        let generation = rig.driver.read(R.configGeneration)
        rig.driver.acknowledgeInterrupts()
        rig.device.linkUp = false
        #expect(t.read(offset: 0x106, size: 2) == 0)
        #expect(rig.driver.read(R.configGeneration) == generation + 1)
        #expect(rig.driver.read(R.interruptStatus) & VirtioInterrupt.configChange != 0)
        #expect(rig.line.level)
    }

    @Test func statusStateMachineAndReset() throws {
        let memory = try makeMemory()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let disk = try RawDiskImage(path: makeRawImage(dir, "d.raw", pattern(8192)))
        let rig = BlockRig(memory: memory, disk: disk)
        let d = rig.driver
        #expect(d.status == VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK | VirtioStatus.driverOK)
        // Clearing bits is refused.
        d.write(R.status, VirtioStatus.acknowledge)
        #expect(d.status & VirtioStatus.driverOK != 0)
        // Feature writes after FEATURES_OK are ignored.
        d.write(R.driverFeaturesSel, 0)
        d.write(R.driverFeatures, 0)
        #expect(rig.device.core.driverFeatures & VirtioBlock.featureFlush != 0)
        // A request raises the line; ACK lowers it.
        #expect(rig.read(sector: 0, count: 512)?.status == VirtioBlock.statusOK)
        #expect(rig.line.level)
        #expect(d.read(R.interruptStatus) == VirtioInterrupt.usedBuffer)
        d.write(R.interruptACK, VirtioInterrupt.usedBuffer)
        #expect(!rig.line.level)
        // Reset clears everything.
        d.write(R.status, 0)
        #expect(d.status == 0)
        d.write(R.queueSel, 0)
        #expect(d.read(R.queueReady) == 0)
        #expect(rig.device.core.driverFeatures == 0)
        // Queue layout registers read back.
        rig.driver.negotiate()
        rig.driver.setUpQueue(0, rig.queue)
        #expect(d.read(R.queueDescLow) == UInt32(truncatingIfNeeded: rig.queue.descriptorTable))
        #expect(d.read(R.queueDeviceLow) == UInt32(truncatingIfNeeded: rig.queue.usedRing))
        #expect(d.read(R.queueNum) == 16)
    }

    @Test func interruptsHonourNoInterruptFlag() throws {
        let memory = try makeMemory()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let rig = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "d.raw", pattern(4096))))
        rig.queue.suppressInterrupts(true)
        #expect(rig.read(sector: 1, count: 512)?.status == VirtioBlock.statusOK)
        #expect(!rig.line.level)
        #expect(rig.driver.read(R.interruptStatus) == 0)
    }

    @Test func slotsFollowQEMUVirt() throws {
        #expect(VirtioMMIOSlots.base(0) == 0x1000_1000)
        #expect(VirtioMMIOSlots.base(7) == 0x1000_8000)
        #expect(VirtioMMIOSlots.irq(0) == 1 && VirtioMMIOSlots.irq(7) == 8)
        let memory = try makeMemory()
        let bus = MMIOBus()
        let net = VirtioMMIOTransport(device: VirtioNet(memory: memory, mac: mac(1), pool: PacketPool(capacity: 8)))
        try net.register(on: bus, at: VirtioMMIOSlots.base(0), name: "virtio0")
        #expect(bus.read(GuestPhysicalAddress(0x1000_1000), size: 4) == 0x7472_6976)
        #expect(bus.read(GuestPhysicalAddress(0x1000_1008), size: 4) == 1)
    }
}

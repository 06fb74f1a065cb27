// MockSplitQueue and MockDriver: the driver side of split virtqueues and of the virtio-mmio
// handshake, written straight into a GuestMemory (as rust-vmm's MockSplitQueue). Every
// device test builds its guest with these.

import Machine
@testable import Virtio

/// Guest RAM used by the tests: 4 MiB at 0x8000_0000.
let ramBase: UInt64 = 0x8000_0000
let ramSize: UInt64 = 4 << 20

func makeMemory() throws -> GuestMemory {
    try GuestMemory(base: GuestPhysicalAddress(ramBase), size: ramSize)
}

/// A bump allocator for guest buffers.
final class GuestAllocator {
    var next: UInt64
    init(start: UInt64 = ramBase + 0x10_0000) { next = start }
    func allocate(_ length: Int, alignment: UInt64 = 16) -> UInt64 {
        next = (next + alignment - 1) / alignment * alignment
        defer { next += UInt64(length) }
        return next
    }
}

/// One buffer of a chain the mock driver posts.
struct MockBuffer {
    var address: UInt64
    var length: UInt32
    var writable: Bool
}

/// A driver-side split virtqueue in guest memory.
final class MockSplitQueue {
    let memory: GuestMemory
    let size: UInt16
    let descriptorTable: UInt64
    let availableRing: UInt64
    let usedRing: UInt64
    var nextDescriptor: UInt16 = 0
    var availableIndex: UInt16 = 0
    var lastUsed: UInt16 = 0

    /// Lays the three areas out from `base` (4 KiB aligned).
    init(memory: GuestMemory, base: UInt64, size: UInt16) {
        self.memory = memory
        self.size = size
        descriptorTable = base
        availableRing = base + 16 * UInt64(size)
        usedRing = (availableRing + 6 + 2 * UInt64(size) + 3) / 4 * 4
    }

    func writeDescriptor(_ index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16, table: UInt64? = nil) {
        let d = GuestPhysicalAddress((table ?? descriptorTable) + 16 * UInt64(index))
        try! memory.store(address, at: d)
        try! memory.store(length, at: d.advanced(by: 8))
        try! memory.store(flags, at: d.advanced(by: 12))
        try! memory.store(next, at: d.advanced(by: 14))
    }

    /// Writes `buffers` as a chain of consecutive descriptors; returns the head.
    func addChain(_ buffers: [MockBuffer]) -> UInt16 {
        let head = nextDescriptor
        for (i, b) in buffers.enumerated() {
            let index = nextDescriptor
            nextDescriptor = (nextDescriptor + 1) % size
            let last = i == buffers.count - 1
            writeDescriptor(index, address: b.address, length: b.length,
                            flags: (last ? 0 : 1) | (b.writable ? 2 : 0), next: last ? 0 : nextDescriptor)
        }
        return head
    }

    /// Writes `buffers` as an indirect table at `table` and one descriptor pointing to it.
    func addIndirectChain(_ buffers: [MockBuffer], table: UInt64) -> UInt16 {
        for (i, b) in buffers.enumerated() {
            let last = i == buffers.count - 1
            writeDescriptor(UInt16(i), address: b.address, length: b.length,
                            flags: (last ? 0 : 1) | (b.writable ? 2 : 0), next: last ? 0 : UInt16(i + 1), table: table)
        }
        let head = nextDescriptor
        nextDescriptor = (nextDescriptor + 1) % size
        writeDescriptor(head, address: table, length: UInt32(16 * buffers.count), flags: 4, next: 0)
        return head
    }

    /// Puts `head` in the available ring and publishes it.
    func publish(_ head: UInt16) {
        try! memory.store(head, at: GuestPhysicalAddress(availableRing + 4 + 2 * UInt64(availableIndex % size)))
        availableIndex &+= 1
        try! memory.store(availableIndex, at: GuestPhysicalAddress(availableRing + 2))
    }

    /// Overwrites the available index (hostile tests).
    func setAvailableIndex(_ value: UInt16) {
        availableIndex = value
        try! memory.store(value, at: GuestPhysicalAddress(availableRing + 2))
    }

    /// Forgets everything, as a driver does after resetting the device.
    func restart() {
        nextDescriptor = 0
        availableIndex = 0
        lastUsed = 0
        try! memory.zero(at: GuestPhysicalAddress(descriptorTable), length: usedRing + 6 + 8 * UInt64(size) - descriptorTable)
    }

    /// Sets VIRTQ_AVAIL_F_NO_INTERRUPT.
    func suppressInterrupts(_ on: Bool) {
        try! memory.store(UInt16(on ? 1 : 0), at: GuestPhysicalAddress(availableRing))
    }

    /// The device's used index.
    var usedIndex: UInt16 { try! memory.load(UInt16.self, at: GuestPhysicalAddress(usedRing + 2)) }

    /// Used elements published since the last call, as (id, length).
    func takeUsed() -> [(id: UInt32, length: UInt32)] {
        var out: [(UInt32, UInt32)] = []
        while lastUsed != usedIndex {
            let e = GuestPhysicalAddress(usedRing + 4 + 8 * UInt64(lastUsed % size))
            out.append((try! memory.load(UInt32.self, at: e), try! memory.load(UInt32.self, at: e.advanced(by: 4))))
            lastUsed &+= 1
        }
        return out
    }
}

/// The driver half of the virtio-mmio handshake, through register reads and writes only.
struct MockDriver {
    let transport: any MMIODevice
    typealias R = VirtioMMIORegister

    func read(_ offset: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: transport.read(offset: offset, size: 4)) }
    func write(_ offset: UInt64, _ value: UInt32) { transport.write(offset: offset, size: 4, value: UInt64(value)) }

    var status: UInt32 { read(R.status) }

    func deviceFeatures() -> UInt64 {
        write(R.deviceFeaturesSel, 0)
        let low = UInt64(read(R.deviceFeatures))
        write(R.deviceFeaturesSel, 1)
        return low | UInt64(read(R.deviceFeatures)) << 32
    }

    /// ACKNOWLEDGE, DRIVER, accept `features` (default: all offered), FEATURES_OK.
    /// Returns whether the device kept FEATURES_OK.
    @discardableResult
    func negotiate(_ features: UInt64? = nil) -> Bool {
        write(R.status, 0)
        write(R.status, VirtioStatus.acknowledge)
        write(R.status, VirtioStatus.acknowledge | VirtioStatus.driver)
        let accepted = features ?? deviceFeatures()
        write(R.driverFeaturesSel, 0)
        write(R.driverFeatures, UInt32(truncatingIfNeeded: accepted))
        write(R.driverFeaturesSel, 1)
        write(R.driverFeatures, UInt32(truncatingIfNeeded: accepted >> 32))
        write(R.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK)
        return status & VirtioStatus.featuresOK != 0
    }

    /// Programs queue `index` with `queue`'s layout and sets it ready.
    func setUpQueue(_ index: UInt32, _ queue: MockSplitQueue) {
        write(R.queueSel, index)
        write(R.queueNum, UInt32(queue.size))
        write(R.queueDescLow, UInt32(truncatingIfNeeded: queue.descriptorTable))
        write(R.queueDescHigh, UInt32(truncatingIfNeeded: queue.descriptorTable >> 32))
        write(R.queueDriverLow, UInt32(truncatingIfNeeded: queue.availableRing))
        write(R.queueDriverHigh, UInt32(truncatingIfNeeded: queue.availableRing >> 32))
        write(R.queueDeviceLow, UInt32(truncatingIfNeeded: queue.usedRing))
        write(R.queueDeviceHigh, UInt32(truncatingIfNeeded: queue.usedRing >> 32))
        write(R.queueReady, 1)
    }

    /// Sets DRIVER_OK.
    func start() {
        write(R.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK | VirtioStatus.driverOK)
    }

    func notify(_ queue: UInt32) { write(R.queueNotify, queue) }

    /// Acknowledges every pending interrupt cause.
    func acknowledgeInterrupts() { write(R.interruptACK, read(R.interruptStatus)) }
}

// Test rigs: a virtio-blk and a virtio-net device each behind a transport, driven by the mock
// driver over a shared GuestMemory. `slot` keeps several devices' rings and buffers apart.

import Foundation
import Frames
import Machine
import Switching
import TestSupport
@testable import Virtio

func slotQueueBase(_ slot: Int, _ queue: Int) -> UInt64 { ramBase + UInt64(slot) * 0x8000 + UInt64(queue) * 0x4000 }
func slotAllocator(_ slot: Int) -> GuestAllocator { GuestAllocator(start: ramBase + 0x10_0000 + UInt64(slot) * 0x8_0000) }

/// A raw image of `bytes` in a fresh temporary directory.
func makeRawImage(_ dir: TemporaryDirectory, _ name: String, _ bytes: [UInt8]) -> String {
    let path = dir.file(name)
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}

/// Deterministic, position-dependent bytes.
func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 9) &+ Int(seed)) }
}

final class BlockRig {
    let memory: GuestMemory
    let device: VirtioBlock
    let transport: VirtioMMIOTransport<VirtioBlock>
    let driver: MockDriver
    let queue: MockSplitQueue
    let allocator: GuestAllocator
    let line = RecordingInterruptLine()

    /// A started device with queue size `size`.
    init(memory: GuestMemory, disk: any DiskBackend, slot: Int = 0, size: UInt16 = 16, start: Bool = true) {
        self.memory = memory
        device = VirtioBlock(memory: memory, disk: disk, identifier: "disk\(slot)-serial", queueSize: 16)
        transport = VirtioMMIOTransport(device: device)
        transport.interruptLine = line
        driver = MockDriver(transport: transport)
        queue = MockSplitQueue(memory: memory, base: slotQueueBase(slot, 0), size: size)
        allocator = slotAllocator(slot)
        if start {
            driver.negotiate()
            driver.setUpQueue(0, queue)
            driver.start()
        }
    }

    struct Result {
        var status: UInt8
        var data: [UInt8]
        var usedLength: UInt32
    }

    /// Posts one request and notifies; nil when the device returned nothing.
    func request(type: UInt32, sector: UInt64 = 0, writing data: [UInt8] = [], reading readLength: Int = 0) -> Result? {
        let header = allocator.allocate(16)
        try! memory.store(type, at: GuestPhysicalAddress(header))
        try! memory.store(UInt32(0), at: GuestPhysicalAddress(header + 4))
        try! memory.store(sector, at: GuestPhysicalAddress(header + 8))
        var buffers = [MockBuffer(address: header, length: 16, writable: false)]
        if !data.isEmpty {
            let a = allocator.allocate(data.count)
            try! memory.write(data, at: GuestPhysicalAddress(a))
            buffers.append(MockBuffer(address: a, length: UInt32(data.count), writable: false))
        }
        var readAddress: UInt64 = 0
        if readLength > 0 {
            readAddress = allocator.allocate(readLength)
            buffers.append(MockBuffer(address: readAddress, length: UInt32(readLength), writable: true))
        }
        let status = allocator.allocate(1)
        try! memory.store(UInt8(0xff), at: GuestPhysicalAddress(status))
        buffers.append(MockBuffer(address: status, length: 1, writable: true))
        queue.publish(queue.addChain(buffers))
        driver.notify(0)
        guard let used = queue.takeUsed().last else { return nil }
        let bytes = readLength > 0 ? try! memory.read(at: GuestPhysicalAddress(readAddress), count: readLength) : []
        return Result(status: try! memory.load(UInt8.self, at: GuestPhysicalAddress(status)), data: bytes, usedLength: used.length)
    }

    func read(sector: UInt64, count: Int) -> Result? { request(type: VirtioBlock.typeIn, sector: sector, reading: count) }
    func write(sector: UInt64, _ data: [UInt8]) -> Result? { request(type: VirtioBlock.typeOut, sector: sector, writing: data) }

    /// The GET_ID answer, trimmed at the first NUL.
    func identifier() -> String? {
        guard let r = request(type: VirtioBlock.typeGetID, reading: 20), r.status == VirtioBlock.statusOK else { return nil }
        return String(decoding: r.data.prefix { $0 != 0 }, as: UTF8.self)
    }
}

final class NetRig {
    let memory: GuestMemory
    let device: VirtioNet
    let transport: VirtioMMIOTransport<VirtioNet>
    let driver: MockDriver
    let rx: MockSplitQueue
    let tx: MockSplitQueue
    let allocator: GuestAllocator
    let line = RecordingInterruptLine()
    var rxBuffers: [UInt16: UInt64] = [:]

    init(memory: GuestMemory, mac: MACAddress, pool: PacketPool, slot: Int = 0, size: UInt16 = 16, pendingLimit: Int = 8) {
        self.memory = memory
        device = VirtioNet(memory: memory, mac: mac, pool: pool, queueSize: max(size, 16), pendingLimit: pendingLimit)
        transport = VirtioMMIOTransport(device: device)
        transport.interruptLine = line
        driver = MockDriver(transport: transport)
        rx = MockSplitQueue(memory: memory, base: slotQueueBase(slot, 0), size: size)
        tx = MockSplitQueue(memory: memory, base: slotQueueBase(slot, 1), size: size)
        allocator = slotAllocator(slot)
        driver.negotiate()
        driver.setUpQueue(0, rx)
        driver.setUpQueue(1, tx)
        driver.start()
    }

    /// Posts `count` receive buffers of `length` bytes.
    func postReceiveBuffers(_ count: Int, length: Int = 1526, notify: Bool = true) {
        for _ in 0..<count {
            let a = allocator.allocate(length)
            let head = rx.addChain([MockBuffer(address: a, length: UInt32(length), writable: true)])
            rxBuffers[head] = a
            rx.publish(head)
        }
        if notify { driver.notify(0) }
    }

    /// Queues `frame` for transmission (header and frame in two descriptors) and notifies.
    func send(_ frame: [UInt8], notify: Bool = true) {
        let h = allocator.allocate(12)
        try! memory.write([UInt8](repeating: 0, count: 12), at: GuestPhysicalAddress(h))
        let f = allocator.allocate(frame.count)
        try! memory.write(frame, at: GuestPhysicalAddress(f))
        tx.publish(tx.addChain([MockBuffer(address: h, length: 12, writable: false),
                                MockBuffer(address: f, length: UInt32(frame.count), writable: false)]))
        if notify { driver.notify(1) }
    }

    /// Frames the device wrote into receive buffers since the last call (header stripped),
    /// with the header's num_buffers field.
    func received() -> [(frame: [UInt8], numBuffers: UInt16)] {
        rx.takeUsed().compactMap { used in
            guard used.length >= 12, let a = rxBuffers[UInt16(used.id)] else { return nil }
            let bytes = try! memory.read(at: GuestPhysicalAddress(a), count: Int(used.length))
            return (Array(bytes[12...]), UInt16(bytes[10]) | UInt16(bytes[11]) << 8)
        }
    }
}

/// A port sink that keeps materialized frames (the "other port" of switch tests).
final class RecordingSink: PortSink {
    var frames: [[UInt8]] = []
    func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: pool.slotSize + 64, alignment: 16)
        defer { buffer.deallocate() }
        for e in entries {
            let n = Switch.materialize(e, pool: pool, into: buffer)
            frames.append(Array(UnsafeRawBufferPointer(start: buffer, count: n)))
            pool.release(e.handle)
        }
    }
}

func mac(_ last: UInt8) -> MACAddress { MACAddress(0x02, 0, 0, 0, 0, last) }

func testFrame(from src: MACAddress, to dst: MACAddress, tag: UInt16? = nil, payloadLength: Int = 46, fill: UInt8 = 0xab) -> [UInt8] {
    let tags = tag.map { [VLANTag(tpid: EtherType.vlan, vid: $0, pcp: 0)] } ?? []
    return FrameBuilder.ethernet(destination: dst, source: src, tags: tags, etherType: 0x88b5,
                                 payload: [UInt8](repeating: fill, count: payloadLength))
}

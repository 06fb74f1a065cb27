// virtio-blk tests: read, write, flush and GET_ID on raw and qcow2 images; out-of-range and
// unsupported requests; read-only disks.

import Foundation
import Machine
import Testing
import TestSupport
@testable import Virtio

@Suite struct VirtioBlockTests {
    /// Runs the same request sequence against any disk whose content starts as `initial`.
    func exercise(_ disk: any DiskBackend, initial: [UInt8]) throws {
        let memory = try makeMemory()
        let rig = BlockRig(memory: memory, disk: disk)
        // Capacity in config space.
        #expect(rig.transport.read(offset: 0x100, size: 8) == UInt64(initial.count / 512))
        #expect(rig.device.core.negotiated(VirtioBlock.featureFlush))
        // Read across sectors.
        let r = try #require(rig.read(sector: 2, count: 1536))
        #expect(r.status == VirtioBlock.statusOK)
        #expect(r.data == Array(initial[1024..<2560]))
        #expect(r.usedLength == 1537)
        // Write and read back.
        let data = pattern(2048, seed: 77)
        #expect(rig.write(sector: 5, data)?.status == VirtioBlock.statusOK)
        #expect(rig.read(sector: 4, count: 3072)?.data == Array(initial[2048..<2560]) + data + Array(initial[4608..<5120]))
        // Flush and identify.
        #expect(rig.request(type: VirtioBlock.typeFlush)?.status == VirtioBlock.statusOK)
        #expect(rig.identifier() == "disk0-serial")
        // The last sector is readable; one past the end is not.
        let last = UInt64(initial.count / 512 - 1)
        #expect(rig.read(sector: last, count: 512)?.status == VirtioBlock.statusOK)
        #expect(rig.read(sector: last, count: 1024)?.status == VirtioBlock.statusIOError)
        #expect(rig.read(sector: UInt64.max, count: 512)?.status == VirtioBlock.statusIOError)
        #expect(rig.write(sector: last + 1, data)?.status == VirtioBlock.statusIOError)
        // Not a whole sector.
        #expect(rig.read(sector: 0, count: 100)?.status == VirtioBlock.statusIOError)
        // Discard (11) and an unknown type are unsupported.
        #expect(rig.request(type: 11)?.status == VirtioBlock.statusUnsupported)
        #expect(rig.request(type: 0xdead)?.status == VirtioBlock.statusUnsupported)
        #expect(rig.device.counters.reads == 3 && rig.device.counters.writes == 1 && rig.device.counters.flushes == 1)
        #expect(!rig.device.core.needsReset)
    }

    @Test func rawImage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let initial = pattern(64 * 1024)
        let path = makeRawImage(dir, "disk.raw", initial)
        try exercise(RawDiskImage(path: path), initial: initial)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes[2560..<4608]) == pattern(2048, seed: 77))
    }

    @Test func qcow2OverlayCreatedByUs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let initial = pattern(256 * 1024)
        let base = makeRawImage(dir, "base.raw", initial)
        let overlay = try Qcow2Image.create(path: dir.file("overlay.qcow2"), backingFile: "base.raw", backingFormat: "raw")
        try exercise(overlay, initial: initial)
        // The base is untouched.
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: base))) == initial)
    }

    @Test func qcow2OverlayCreatedByQemuImg() throws {
        guard let qemuImg = ExternalTool.require("qemu-img", for: "qcow2OverlayCreatedByQemuImg") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let initial = pattern(256 * 1024)
        _ = makeRawImage(dir, "base.raw", initial)
        let made = try qemuImg.run(["create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", dir.file("ov.qcow2")])
        #expect(made.status == 0)
        try exercise(Qcow2Image(path: dir.file("ov.qcow2")), initial: initial)
        let check = try qemuImg.run(["check", dir.file("ov.qcow2")])
        #expect(check.status == 0, "qemu-img check: \(check.output)")
    }

    @Test func readOnlyDisk() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let initial = pattern(8192)
        let path = makeRawImage(dir, "ro.raw", initial)
        let memory = try makeMemory()
        let rig = BlockRig(memory: memory, disk: try RawDiskImage(path: path, readOnly: true))
        #expect(rig.driver.deviceFeatures() & VirtioBlock.featureReadOnly != 0)
        #expect(rig.write(sector: 0, pattern(512, seed: 3))?.status == VirtioBlock.statusIOError)
        #expect(rig.read(sector: 0, count: 512)?.data == Array(initial[0..<512]))
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == initial)
        let qcow = try Qcow2Image.create(path: dir.file("ro.qcow2"), size: 8192)
        qcow.releaseLock()  // the creator still has it open; a reader waits for its write lock
        let roQcow = try Qcow2Image(path: dir.file("ro.qcow2"), readOnly: true)
        #expect(throws: DiskError.self) { try roQcow.write(UnsafeRawBufferPointer(start: nil, count: 0), at: 0) }
    }

    @Test func requestWithoutStatusByteIsReturnedUntouched() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let memory = try makeMemory()
        let rig = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "d.raw", pattern(4096))))
        let header = rig.allocator.allocate(16)
        rig.queue.publish(rig.queue.addChain([MockBuffer(address: header, length: 16, writable: false)]))
        rig.driver.notify(0)
        #expect(rig.queue.takeUsed().map(\.length) == [0])
        #expect(rig.device.counters.failed == 1)
        #expect(rig.read(sector: 0, count: 512)?.status == VirtioBlock.statusOK)
    }

    @Test func indirectRequestsAndDirtyLogging() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let initial = pattern(16384)
        let memory = try makeMemory()
        let rig = BlockRig(memory: memory, disk: try RawDiskImage(path: makeRawImage(dir, "d.raw", initial)))
        #expect(rig.device.core.negotiated(VirtioFeature.indirectDescriptors))
        memory.setDirtyLogging(true)
        let header = rig.allocator.allocate(16)
        try memory.store(VirtioBlock.typeIn, at: GuestPhysicalAddress(header))
        try memory.store(UInt64(8), at: GuestPhysicalAddress(header + 8))
        let a = rig.allocator.allocate(4096, alignment: 4096)
        let b = rig.allocator.allocate(4096, alignment: 4096)
        let status = rig.allocator.allocate(1)
        let table = rig.allocator.allocate(64)
        rig.queue.publish(rig.queue.addIndirectChain([
            MockBuffer(address: header, length: 16, writable: false),
            MockBuffer(address: a, length: 512, writable: true),
            MockBuffer(address: b, length: 1024, writable: true),
            MockBuffer(address: status, length: 1, writable: true),
        ], table: table))
        rig.driver.notify(0)
        #expect(try memory.load(UInt8.self, at: GuestPhysicalAddress(status)) == 0)
        #expect(try memory.read(at: GuestPhysicalAddress(a), count: 512) == Array(initial[4096..<4608]))
        #expect(try memory.read(at: GuestPhysicalAddress(b), count: 1024) == Array(initial[4608..<5632]))
        let dirty = Set(memory.dirtyPages())
        for address in [a, b, status, rig.queue.usedRing] {
            #expect(dirty.contains(try #require(memory.pageIndex(address))))
        }
    }
}

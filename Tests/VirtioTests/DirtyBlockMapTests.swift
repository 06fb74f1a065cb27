// DirtyBlockMapTests: the dirty-block map of a storage migration. Guest writes through
// virtio-blk mark exactly the 64 KiB blocks they touch (reads and failed writes mark nothing,
// nor does anything once tracking is off); taking the map while another thread marks never
// loses a block; ranges are clipped to the disk.

import Foundation
import Machine
import Synchronization
import Testing
import TestSupport
@testable import Virtio

@Suite struct DirtyBlockMapTests {
    @Test func guestWritesMarkTheBlocksTheyTouch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = makeRawImage(dir, "disk.raw", pattern(1 << 20))
        let memory = try makeMemory()
        let rig = BlockRig(memory: memory, disk: try RawDiskImage(path: path))
        // Not tracking: nothing to mark into.
        #expect(rig.write(sector: 0, pattern(512))?.status == VirtioBlock.statusOK)
        let map = try rig.device.startDirtyTracking()
        #expect(map.blockSize == 65_536 && map.blockCount == 16)
        #expect(map.dirtyCount == 0, "a write before tracking began is marked")
        // Inside block 1; across blocks 2 and 3; the disk's last sector (block 15).
        #expect(rig.write(sector: 130, pattern(1024))?.status == VirtioBlock.statusOK)
        #expect(rig.write(sector: 383, pattern(1024, seed: 3))?.status == VirtioBlock.statusOK)
        #expect(rig.write(sector: 2047, pattern(512))?.status == VirtioBlock.statusOK)
        // A read, a flush and a write past the end mark nothing.
        #expect(rig.read(sector: 600, count: 4096)?.status == VirtioBlock.statusOK)
        #expect(rig.request(type: VirtioBlock.typeFlush)?.status == VirtioBlock.statusOK)
        #expect(rig.write(sector: 2048, pattern(512))?.status == VirtioBlock.statusIOError)
        #expect(map.take() == [1, 2, 3, 15])
        #expect(map.take().isEmpty, "take clears")
        // Host-side writes go through the same tracking.
        try pattern(100).withUnsafeBytes { try rig.device.hostWrite($0, at: 9 * 65_536 + 10) }
        #expect(map.take() == [9])
        rig.device.stopDirtyTracking()
        #expect(rig.write(sector: 130, pattern(512))?.status == VirtioBlock.statusOK)
        #expect(map.dirtyCount == 0, "marked after tracking stopped")
    }

    @Test func rangesAreClippedAndTheLastBlockIsShort() throws {
        let map = try DirtyBlockMap(diskSize: 3 * 65_536 + 4096)
        #expect(map.blockCount == 4)
        map.mark(offset: 3 * 65_536 + 4000, length: 1 << 20)
        map.mark(offset: 1 << 40, length: 512)
        map.mark(offset: UInt64.max - 10, length: 100)
        map.mark(offset: 0, length: 0)
        #expect(map.take() == [3])
        #expect(map.range(of: 3) == (3 * 65_536, 4096))
        map.markAll()
        #expect(map.take() == [0, 1, 2, 3])
        #expect(throws: DiskError.self) { _ = try DirtyBlockMap(diskSize: 1 << 20, blockSize: 1000) }
    }

    @Test func takingWhileAnotherThreadMarksLosesNothing() throws {
        let blocks = 4096
        let map = try DirtyBlockMap(diskSize: UInt64(blocks) * 65_536)
        let done = Atomic<Bool>(false)
        let marker = Thread {
            // Every block once, in an order that keeps hitting the same words.
            for i in 0..<blocks { map.mark(offset: UInt64((i * 67) % blocks) * 65_536, length: 1) }
            done.store(true, ordering: .releasing)
        }
        marker.start()
        var seen = Set<Int>()
        var duplicates = 0
        while !done.load(ordering: .acquiring) {
            for b in map.take() where !seen.insert(b).inserted { duplicates += 1 }
        }
        for b in map.take() where !seen.insert(b).inserted { duplicates += 1 }
        #expect(seen.count == blocks && duplicates == 0)
    }
}

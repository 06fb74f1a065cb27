// qcow2 tests: overlays we create and write are checked by `qemu-img check` (no errors, no
// leaks) and compared with `qemu-img compare` against the content they should hold; images
// qemu-img makes are opened by us; broken images are refused with an error.

import Foundation
import Testing
import TestSupport
@testable import Virtio

@Suite struct Qcow2ImageTests {
    func write(_ image: Qcow2Image, _ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try image.write($0, at: offset) }
    }

    func read(_ image: any DiskBackend, count: Int, at offset: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0xee, count: count)
        try out.withUnsafeMutableBytes { try image.read(into: $0, at: offset) }
        return out
    }

    /// qemu-img check must pass and report nothing leaked or corrupt. `-U` (force share):
    /// the tests check images they still hold open for writing, and so locked.
    func qemuCheck(_ tool: ExternalTool, _ path: String) throws {
        let r = try tool.run(["check", "-U", "--output=json", path])
        #expect(r.status == 0, "qemu-img check \(path): \(r.output)")
        #expect(!r.output.contains("\"leaks\""), "\(r.output)")
        #expect(!r.output.contains("\"corruptions\""), "\(r.output)")
    }

    /// A sequence of writes: partial clusters, cluster-crossing, a whole cluster, rewrites.
    func scribble(_ image: Qcow2Image, expected: inout [UInt8], clusterSize: Int) throws {
        let writes: [(Int, Int, UInt8)] = [
            (0, 512, 1), (clusterSize - 512, 1024, 2), (3 * clusterSize, clusterSize, 3),
            (5 * clusterSize + 100 * 512, 4096, 4), (0, 512, 5), (expected.count - 512, 512, 6),
        ]
        for (offset, length, seed) in writes {
            let data = pattern(length, seed: seed)
            try write(image, data, at: UInt64(offset))
            expected.replaceSubrange(offset..<offset + length, with: data)
        }
    }

    @Test func overlayWeCreateOverRawBasePassesQemuImgCheckAndCompare() throws {
        guard let qemuImg = ExternalTool.require("qemu-img", for: "overlayWeCreate") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var expected = pattern(1 << 20)
        _ = makeRawImage(dir, "base.raw", expected)
        let image = try Qcow2Image.create(path: dir.file("ov.qcow2"), backingFile: "base.raw", backingFormat: "raw")
        #expect(image.size == 1 << 20)
        try qemuCheck(qemuImg, dir.file("ov.qcow2"))
        try scribble(image, expected: &expected, clusterSize: 65536)
        try image.flush()
        #expect(try read(image, count: expected.count, at: 0) == expected)
        try qemuCheck(qemuImg, dir.file("ov.qcow2"))
        let info = try qemuImg.run(["info", "-U", dir.file("ov.qcow2")])
        #expect(info.output.contains("backing file: base.raw"))
        #expect(info.output.contains("backing file format: raw"))
        _ = makeRawImage(dir, "expected.raw", expected)
        let compare = try qemuImg.run(["compare", "-U", "-f", "qcow2", "-F", "raw", dir.file("ov.qcow2"), dir.file("expected.raw")])
        #expect(compare.status == 0, "\(compare.output)")
        // Reopened from disk, the content is the same (the writer gives its lock up first).
        image.releaseLock()
        #expect(try read(Qcow2Image(path: dir.file("ov.qcow2"), readOnly: true), count: expected.count, at: 0) == expected)
    }

    @Test func smallClustersAllocateL2TablesAndRefcountBlocks() throws {
        guard let qemuImg = ExternalTool.require("qemu-img", for: "smallClusters") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // 512-byte clusters: an L2 table covers 32 KiB, a refcount block 256 clusters.
        var expected = [UInt8](repeating: 0, count: 2 << 20)
        let image = try Qcow2Image.create(path: dir.file("small.qcow2"), size: UInt64(expected.count), clusterBits: 9)
        for i in stride(from: 0, to: expected.count, by: 3 * 512 + 200) {
            let length = min(700, expected.count - i)
            let data = pattern(length, seed: UInt8(truncatingIfNeeded: i))
            try write(image, data, at: UInt64(i))
            expected.replaceSubrange(i..<i + length, with: data)
        }
        #expect(try read(image, count: expected.count, at: 0) == expected)
        try qemuCheck(qemuImg, dir.file("small.qcow2"))
        _ = makeRawImage(dir, "expected.raw", expected)
        let compare = try qemuImg.run(["compare", "-U", "-f", "qcow2", "-F", "raw", dir.file("small.qcow2"), dir.file("expected.raw")])
        #expect(compare.status == 0, "\(compare.output)")
    }

    @Test func qemuImgOverlayOverQcow2Base() throws {
        guard let qemuImg = ExternalTool.require("qemu-img", for: "qcow2Base") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var expected = pattern(512 * 1024, seed: 11)
        _ = makeRawImage(dir, "seed.raw", expected)
        #expect(try qemuImg.run(["convert", "-q", "-f", "raw", "-O", "qcow2", dir.file("seed.raw"), dir.file("base.qcow2")]).status == 0)
        #expect(try qemuImg.run(["create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", dir.file("ov.qcow2")]).status == 0)
        let image = try Qcow2Image(path: dir.file("ov.qcow2"))
        #expect(image.backingFormat == "qcow2")
        #expect(image.backing is Qcow2Image)
        #expect(try read(image, count: expected.count, at: 0) == expected)
        try scribble(image, expected: &expected, clusterSize: 65536)
        try qemuCheck(qemuImg, dir.file("ov.qcow2"))
        try qemuCheck(qemuImg, dir.file("base.qcow2"))
        _ = makeRawImage(dir, "expected.raw", expected)
        let compare = try qemuImg.run(["compare", "-U", "-f", "qcow2", "-F", "raw", dir.file("ov.qcow2"), dir.file("expected.raw")])
        #expect(compare.status == 0, "\(compare.output)")
        // Our overlay on top of qemu's overlay: a three-image chain (ov.qcow2 becomes a
        // read-only base: its writer gives the write lock up).
        image.releaseLock()
        let top = try Qcow2Image.create(path: dir.file("top.qcow2"), backingFile: "ov.qcow2", backingFormat: "qcow2")
        try write(top, [UInt8](repeating: 0x77, count: 512), at: 4096)
        expected.replaceSubrange(4096..<4608, with: [UInt8](repeating: 0x77, count: 512))
        #expect(try read(top, count: expected.count, at: 0) == expected)
        try qemuCheck(qemuImg, dir.file("top.qcow2"))
    }

    @Test func zeroClustersReadAsZerosAndAreRewritten() throws {
        guard let qemuImg = ExternalTool.require("qemu-img", for: "zeroClusters") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = makeRawImage(dir, "base.raw", [UInt8](repeating: 0xff, count: 256 * 1024))
        #expect(try qemuImg.run(["create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", dir.file("ov.qcow2")]).status == 0)
        // qemu-img writes zero clusters over the base with `qemu-io -c "write -z"`; emulate
        // with convert from a zero raw file when qemu-io is absent: use our own L2 edit.
        let image = try Qcow2Image(path: dir.file("ov.qcow2"))
        try write(image, [UInt8](repeating: 1, count: 512), at: 65536)
        // Mark the first cluster as a zero cluster (L2 entry = 1) by hand.
        let l2 = image.l1[0] & Qcow2Image.offsetMask
        try image.file.write(Qcow2Image.bigEndian(1), at: l2)
        image.releaseLock()
        let reopened = try Qcow2Image(path: dir.file("ov.qcow2"))
        #expect(try read(reopened, count: 1024, at: 0) == [UInt8](repeating: 0, count: 1024))
        try write(reopened, [UInt8](repeating: 2, count: 512), at: 512)
        #expect(try read(reopened, count: 1536, at: 0) == [UInt8](repeating: 0, count: 512) + [UInt8](repeating: 2, count: 512) + [UInt8](repeating: 0, count: 512))
        #expect(try read(reopened, count: 512, at: 2 * 65536) == [UInt8](repeating: 0xff, count: 512))
        try qemuCheck(qemuImg, dir.file("ov.qcow2"))
    }

    @Test func brokenImagesAreRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let notQcow = makeRawImage(dir, "junk.qcow2", pattern(4096))
        #expect(throws: DiskError.self) { try Qcow2Image(path: notQcow) }
        let empty = makeRawImage(dir, "empty.qcow2", [])
        #expect(throws: DiskError.self) { try Qcow2Image(path: empty) }
        _ = try Qcow2Image.create(path: dir.file("good.qcow2"), size: 1 << 20)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("good.qcow2"))))
        // Dirty bit set.
        var dirty = bytes
        dirty[79] = 1
        let dirtyPath = makeRawImage(dir, "dirty.qcow2", dirty)
        #expect(throws: DiskError.self) { try Qcow2Image(path: dirtyPath) }
        // Absurd cluster_bits, L1 size and refcount order.
        for (offset, value) in [(23, UInt8(40)), (39, UInt8(0)), (99, UInt8(9))] {
            var broken = bytes
            broken[offset] = value
            let p = makeRawImage(dir, "broken\(offset).qcow2", broken)
            #expect(throws: DiskError.self) { try Qcow2Image(path: p) }
        }
        // An L2 pointer far past the end of the file: reads fail with an error.
        bytes.replaceSubrange(3 * 65536..<3 * 65536 + 8, with: Qcow2Image.bigEndian(0x8000_0000_7fff_0000))
        let farPath = makeRawImage(dir, "far.qcow2", bytes)
        let far = try Qcow2Image(path: farPath)
        #expect(throws: DiskError.self) { try read(far, count: 512, at: 0) }
        // Missing backing file.
        #expect(throws: DiskError.self) {
            try Qcow2Image.create(path: dir.file("orphan.qcow2"), backingFile: "missing.raw", backingFormat: "raw")
        }
        // Creating over an existing file is refused.
        #expect(throws: DiskError.self) { try Qcow2Image.create(path: dir.file("good.qcow2"), size: 4096) }
    }
}

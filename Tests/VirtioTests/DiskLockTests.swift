// DiskLockTests: images are locked while open (OFD locks, as QEMU's): a writable image is
// opened once, by this process or another; read-only images and qcow2 bases are shared.

import Foundation
import Testing
import TestSupport
@testable import Virtio

@Suite struct DiskLockTests {
    func isInUse(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let error as DiskError {
            if case .inUse = error { return true }
            return false
        } catch {
            return false
        }
    }

    @Test func aWritableImageIsOpenedOnceInOneProcess() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let raw = makeRawImage(dir, "d.raw", pattern(8192))
        let writer = try RawDiskImage(path: raw)
        // OFD locks belong to the open, so they conflict inside one process too.
        #expect(isInUse { _ = try RawDiskImage(path: raw) })
        #expect(isInUse { _ = try RawDiskImage(path: raw, readOnly: true) })
        let qcow = dir.file("d.qcow2")
        let creator = try Qcow2Image.create(path: qcow, size: 1 << 20)
        #expect(isInUse { _ = try Qcow2Image(path: qcow) })
        #expect(isInUse { _ = try Qcow2Image(path: qcow, readOnly: true) })
        // The error says what is wrong.
        do { _ = try RawDiskImage(path: raw) } catch { #expect("\(error)".contains("is in use"), "\(error)") }
        // Given up, the lock is free; taken back, it conflicts again.
        writer.releaseLock()
        creator.releaseLock()
        let second = try RawDiskImage(path: raw)
        #expect(isInUse { try writer.acquireLock() })
        second.releaseLock()
        try writer.acquireLock()
        _ = try Qcow2Image(path: qcow)  // a temporary: closed (and unlocked) at once
        try creator.acquireLock()
    }

    @Test func readOnlyImagesAndBasesAreShared() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let base = makeRawImage(dir, "base.raw", pattern(1 << 20))
        let a = try RawDiskImage(path: base, readOnly: true)
        let b = try RawDiskImage(path: base, readOnly: true)
        // Two writable overlays over one base: each holds a read lock on it.
        let overlayA = try Qcow2Image.create(path: dir.file("a.qcow2"), backingFile: "base.raw", backingFormat: "raw")
        let overlayB = try Qcow2Image.create(path: dir.file("b.qcow2"), backingFile: "base.raw", backingFormat: "raw")
        try pattern(512, seed: 9).withUnsafeBytes { try overlayA.write($0, at: 0) }
        // But nobody writes the base while they read it.
        #expect(isInUse { _ = try RawDiskImage(path: base) })
        withExtendedLifetime((a, b, overlayA, overlayB)) {}
    }

    @Test func anotherProcessIsKeptOffAndKeepsUsOff() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let raw = makeRawImage(dir, "d.raw", pattern(65536))
        // qemu-img takes QEMU's own OFD locks, in the layout we use: refused while we write the
        // image, unless told to share (-U), as with a running QEMU.
        if let qemuImg = ExternalTool.require("qemu-img", for: "anotherProcessIsKeptOff") {
            let qcow = dir.file("d.qcow2")
            let writer = try Qcow2Image.create(path: qcow, size: 1 << 20)
            #expect(try qemuImg.run(["check", qcow]).status != 0, "qemu-img opened an image we write")
            #expect(try qemuImg.run(["check", "-U", qcow]).status == 0)
            writer.releaseLock()
            #expect(try qemuImg.run(["check", qcow]).status == 0)
            // And a writer of ours is refused while qemu-img writes the image.
            let resize = try Qcow2Image(path: qcow, readOnly: true)
            #expect(try qemuImg.run(["resize", "-q", qcow, "2M"]).status != 0, "qemu-img wrote an image we read")
            resize.releaseLock()
        }
        // A child process that holds a write lock keeps us off until it exits.
        guard let python = ExternalTool.require("python3", for: "anotherProcessIsKeptOff") else { return }
        let script = """
            import fcntl, os, struct, sys
            fd = os.open(sys.argv[1], os.O_RDWR)
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
            print("locked", flush=True)
            sys.stdin.read()
            """
        let child = Process()
        child.executableURL = URL(fileURLWithPath: python.path)
        child.arguments = ["-c", script, raw]
        let input = Pipe(), output = Pipe()
        child.standardInput = input
        child.standardOutput = output
        try child.run()
        let line = output.fileHandleForReading.availableData
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("locked"))
        #expect(isInUse { _ = try RawDiskImage(path: raw) })
        #expect(isInUse { _ = try RawDiskImage(path: raw, readOnly: true) })
        try input.fileHandleForWriting.close()
        child.waitUntilExit()
        _ = try RawDiskImage(path: raw)
    }

    @Test func aNULInAnImagePathIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = makeRawImage(dir, "x", pattern(4096))
        // open() would stop at the NUL and open "x".
        #expect(throws: DiskError.self) { try RawDiskImage(path: dir.file("x\u{0}y.img")) }
    }
}

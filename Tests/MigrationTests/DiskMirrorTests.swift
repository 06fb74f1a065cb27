// DiskMirrorTests: storage migration without shared storage (`copyDisks`). A VM with a raw
// disk or a qcow2 overlay migrates while blocks are written through the device's write path
// during pre-copy; the destination's new image (in its own disk directory) reads back exactly
// as the source's, the source's files are untouched, a base the destination has is not sent
// and one it lacks (or has with other contents) is; a failure leaves the source running on its
// own disk and no file behind in the disk directory; hostile disk messages get clear errors.

import Foundation
import RISCVBoard
import Frames
@testable import Migration
import Switching
import Testing
import TestSupport
import Virtio
import VMHost

@Suite struct DiskMirrorTests {
    static let block = DirtyBlockMap.defaultBlockSize

    /// A memory-dirtying guest with one writable disk at `path`.
    static func diskVM(_ path: String, qcow2: Bool) -> VMConfiguration {
        VMConfiguration(name: "mover", memoryMiB: 16, board: VirtBoardSpec(firmware: .none, kernel: Guests.dirtier),
                        nicMACs: [], disks: [.init(path: path, qcow2: qcow2, readOnly: false)], consoleLog: nil,
                        consoleToStdout: false, expect: [])
    }

    /// Every byte of a disk.
    static func contents(_ disk: any DiskBackend) throws(DiskError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(disk.size), alignment: 8)
        defer { buffer.deallocate() }
        try disk.read(into: buffer, at: 0)
        return Array(buffer)
    }

    static func pattern(_ seed: Int, count: Int = block) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ 1) }
    }

    /// Files left in a directory.
    static func files(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// Writes a block through the device (as the guest would: tracked) at each progress report
    /// of pre-copy: into blocks the first pass has gone past, and elsewhere.
    final class Writer: @unchecked Sendable {
        let device: VirtioBlock
        let size: UInt64
        var count = 0
        var offsets: [UInt64] = []
        /// The largest disk figures progress reported.
        var diskSent = 0, diskLeft = 0
        init(_ device: VirtioBlock) {
            self.device = device
            size = device.disk.size
        }

        func write(_ p: MigrationProgress) {
            diskSent = max(diskSent, p.diskBytesSent ?? -1)
            diskLeft = max(diskLeft, p.diskBytesLeft ?? -1)
            guard p.phase == .round0 || p.phase == .rounds else { return }
            count += 1
            let blocks = Int(size) / DiskMirrorTests.block
            // An early block (long since copied by the first pass), one in the middle that
            // moves, and every few writes a zero block over earlier data.
            for b in [1, (count * 37) % blocks] {
                let offset = UInt64(b * DiskMirrorTests.block)
                let data = count % 4 == 0 ? [UInt8](repeating: 0, count: DiskMirrorTests.block) : DiskMirrorTests.pattern(count + b)
                try? data.withUnsafeBytes { try device.hostWrite($0, at: offset) }
                offsets.append(offset)
            }
        }
    }

    struct Moved {
        let report: MigrationReport
        let arrived: IncomingMigration
        let writer: Writer
    }

    /// Migrates `config`'s VM (started here) with its disks into `diskDir`, writing during
    /// pre-copy; returns once the VM runs on the destination.
    func migrate(_ config: VMConfiguration, diskDir: String, pool: PacketPool) throws -> (VirtualMachine, Moved) {
        let source = try VirtualMachine(config, pool: pool)
        source.start()
        let (a, b) = MemoryByteStream.pair()
        var hooks = MigrationDestinationHooks(pool: pool) { _ in config }
        hooks.diskDirectory = diskDir
        let destination = receiving(on: b, hooks: hooks)
        let writer = Writer(source.diskDevices[0])
        var sourceHooks = MigrationSourceHooks()
        sourceHooks.progress = { writer.write($0) }
        var options = MigrationOptions()
        options.copyDisks = true
        options.maxRounds = 3
        let report = try MigrationSource(vm: source, connection: MigrationConnection(a), options: options, hooks: sourceHooks).run()
        let arrived = try destination.wait().get()
        return (source, Moved(report: report, arrived: arrived, writer: writer))
    }

    @Test func aRawDiskWrittenDuringTheCopyArrivesIdentical() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("disk.raw")
        // 64 MiB, mostly sparse, some data written before the VM opens it.
        let image = try RawDiskImage.create(path: path, size: 64 << 20, lock: false)
        for b in [0, 3, 500, 1023] {
            try Self.pattern(b).withUnsafeBytes { try image.write($0, at: UInt64(b * Self.block)) }
        }
        try image.flush()
        let original = try Self.contents(image)
        let diskDir = dir.file("arrived")
        let pool = PacketPool(capacity: 64)
        let (source, moved) = try migrate(Self.diskVM(path, qcow2: false), diskDir: diskDir, pool: pool)
        defer { source.stop(); moved.arrived.vm.stop() }
        #expect(moved.writer.count >= 2, "writes happened during pre-copy")
        let newPath = moved.arrived.vm.configuration.disks[0].path
        #expect(newPath.hasPrefix(diskDir + "/") && newPath != path, "\(newPath)")
        // The source's image is what the source wrote (the destination never wrote it)...
        let sourceBytes = try source.diskDevices[0].withDisk { disk throws(DiskError) in try Self.contents(disk) }
        let changed = sourceBytes != original
        #expect(changed, "the writes reached the source's image")
        // ... and the destination's equals it, byte for byte.
        let there = try Self.contents(RawDiskImage(path: newPath, readOnly: true, lock: false))
        // Compared as a Bool: a failing expectation would diff 64 MiB element by element.
        let identical = there == sourceBytes
        #expect(identical, "the destination's image differs from the source's")
        #expect((moved.report.diskBytes ?? 0) > 4 * Self.block)
        // Progress told disk and RAM apart: disk bytes sent, and some left during the first pass.
        #expect(moved.writer.diskSent > 0 && moved.writer.diskLeft > 0, "\(moved.writer.diskSent) \(moved.writer.diskLeft)")
        // The arrived VM writes its own image, not the source's.
        try Self.pattern(99).withUnsafeBytes { try moved.arrived.vm.diskDevices[0].hostWrite($0, at: 0) }
        let sourceAfter = try source.diskDevices[0].withDisk { disk throws(DiskError) in try Self.contents(disk) }
        let untouched = sourceAfter == sourceBytes
        #expect(untouched, "the arrived VM wrote the source's image")
        moved.arrived.vm.stop(timeout: 120)
        source.stop(timeout: 120)
        if let qemuImg = ExternalTool.require("qemu-img", for: "aRawDiskWrittenDuringTheCopyArrivesIdentical") {
            try Self.pattern(99).withUnsafeBytes { try RawDiskImage(path: path, lock: false).write($0, at: 0) }
            let compare = try qemuImg.run(["compare", "-f", "raw", "-F", "raw", path, newPath])
            #expect(compare.status == 0, "\(compare.output)")
        }
    }

    enum BaseCase: String, CaseIterable, Sendable { case present, missing, different }

    /// A qcow2 overlay over a 16 MiB raw base that is all data; the overlay names it
    /// relatively ("base.raw"), so on the destination it resolves inside the disk directory.
    @Test(arguments: BaseCase.allCases)
    func aQcow2OverlayMovesWithItsOwnClustersAndItsBaseOnlyWhenNeeded(_ baseCase: BaseCase) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sourceDir = dir.file("src")
        let diskDir = dir.file("dst")
        try FileManager.default.createDirectory(atPath: sourceDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: diskDir, withIntermediateDirectories: true)
        let baseSize = 16 << 20
        var baseBytes = [UInt8](repeating: 0, count: baseSize)
        for i in stride(from: 0, to: baseSize, by: 4096) { baseBytes[i] = UInt8(truncatingIfNeeded: i >> 12 | 1) }
        _ = FileManager.default.createFile(atPath: sourceDir + "/base.raw", contents: Data(baseBytes))
        switch baseCase {
        case .present: _ = FileManager.default.createFile(atPath: diskDir + "/base.raw", contents: Data(baseBytes))
        case .different:
            var other = baseBytes
            other[4096 * 5] ^= 0xFF
            _ = FileManager.default.createFile(atPath: diskDir + "/base.raw", contents: Data(other))
        case .missing: break
        }
        let overlay = sourceDir + "/disk.qcow2"
        do {
            let created = try Qcow2Image.create(path: overlay, backingFile: "base.raw", backingFormat: "raw")
            try Self.pattern(7).withUnsafeBytes { try created.write($0, at: 2 << 20) }
            try created.flush()
            created.releaseLock()
        }
        let pool = PacketPool(capacity: 64)
        let (source, moved) = try migrate(Self.diskVM(overlay, qcow2: true), diskDir: diskDir, pool: pool)
        defer { source.stop(); moved.arrived.vm.stop() }
        let newPath = moved.arrived.vm.configuration.disks[0].path
        #expect(newPath.hasPrefix(diskDir + "/"), "\(newPath)")
        let sourceBytes = try source.diskDevices[0].withDisk { disk throws(DiskError) in try Self.contents(disk) }
        let arrivedImage = try Qcow2Image(path: newPath, readOnly: true, lock: false)
        let identical = try Self.contents(arrivedImage) == sourceBytes
        #expect(identical, "the destination's overlay reads differently")
        let diskBytes = moved.report.diskBytes ?? 0
        switch baseCase {
        case .present:
            // Only the overlay's own clusters travelled, never the base's data.
            #expect(diskBytes < baseSize / 2, "\(diskBytes) disk bytes for an overlay of a few clusters")
            #expect(arrivedImage.backingPath == diskDir + "/base.raw")
        case .missing, .different:
            #expect(diskBytes >= baseSize, "the base (\(baseSize) bytes of data) was not sent: \(diskBytes)")
            let stored = try #require(arrivedImage.backingPath)
            #expect(stored.hasPrefix(diskDir + "/base-") && stored.hasSuffix("-base.raw"), "\(stored)")
            let storedIsBase = FileManager.default.contents(atPath: stored).map { Array($0) } == baseBytes
            #expect(storedIsBase, "the stored base differs from the source's")
        }
        if baseCase == .different {
            let kept = try Array(Data(contentsOf: URL(fileURLWithPath: diskDir + "/base.raw"))) != baseBytes
            #expect(kept, "the destination's own file of that name was overwritten")
        }
        // The source's overlay still names its own base; its base was never written.
        let baseUntouched = FileManager.default.contents(atPath: sourceDir + "/base.raw").map { Array($0) } == baseBytes
        #expect(baseUntouched, "the source's base changed")
        moved.arrived.vm.stop(timeout: 120)
        source.stop(timeout: 120)
        if let qemuImg = ExternalTool.require("qemu-img", for: "aQcow2OverlayMovesWithItsOwnClustersAndItsBaseOnlyWhenNeeded") {
            let compare = try qemuImg.run(["compare", overlay, newPath])
            #expect(compare.status == 0, "\(compare.output)")
            let check = try qemuImg.run(["check", newPath])
            #expect(check.status == 0, "\(check.output)")
        }
    }

    /// How a failed storage migration fails.
    struct Failure: CustomTestStringConvertible, Sendable {
        let name: String
        let type: MessageType
        let occurrence: Int
        let fault: FaultInjectingStream.Fault
        var testDescription: String { name }
    }

    static let failures = [
        Failure(name: "closed in the base", type: .baseBlocks, occurrence: 2, fault: .close),
        Failure(name: "closed in the first pass", type: .diskBlocks, occurrence: 3, fault: .close),
        Failure(name: "corrupt block", type: .diskBlocks, occurrence: 2, fault: .corrupt),
        Failure(name: "closed at the end of the first pass", type: .diskRoundEnd, occurrence: 1, fault: .close),
        Failure(name: "closed in the stop-and-copy", type: .state, occurrence: 1, fault: .close),
        Failure(name: "lost commit", type: .commit, occurrence: 1, fault: .lose),
    ]

    @Test(arguments: failures)
    func aFailedStorageMigrationLeavesTheSourceRunningAndTheDiskDirectoryClean(_ failure: Failure) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sourceDir = dir.file("src")
        let diskDir = dir.file("dst")
        try FileManager.default.createDirectory(atPath: sourceDir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: sourceDir + "/base.raw", contents: Data(Self.pattern(3, count: 4 << 20)))
        let overlay = sourceDir + "/disk.qcow2"
        do {
            let created = try Qcow2Image.create(path: overlay, backingFile: "base.raw", backingFormat: "raw")
            // 40 blocks of the overlay's own: three `diskBlocks` messages in the first pass.
            try Self.pattern(5, count: 40 * Self.block).withUnsafeBytes { try created.write($0, at: 1 << 20) }
            try created.flush()
            created.releaseLock()
        }
        let overlayBefore = FileManager.default.contents(atPath: overlay)
        let pool = PacketPool(capacity: 64)
        let config = Self.diskVM(overlay, qcow2: true)
        let source = try VirtualMachine(config, pool: pool)
        source.start()
        defer { source.stop() }
        let before = try source.diskDevices[0].withDisk { disk throws(DiskError) in try Self.contents(disk) }

        let (a, b) = MemoryByteStream.pair()
        var hooks = MigrationDestinationHooks(pool: pool) { _ in config }
        hooks.diskDirectory = diskDir
        hooks.confirmTimeout = 1
        hooks.resolve = { _, _ in .aborted }
        let destination = receiving(on: b, hooks: hooks, timeout: 10)
        var options = MigrationOptions()
        options.copyDisks = true
        options.maxRounds = 1
        options.timeout = 10
        let stream = FaultInjectingStream(a, at: failure.type, occurrence: failure.occurrence, fault: failure.fault)
        #expect(throws: MigrationError.self) {
            _ = try MigrationSource(vm: source, connection: MigrationConnection(stream, timeout: 10), options: options).run()
        }
        #expect(stream.fired)
        if case .success(let arrived) = destination.wait() {
            arrived.vm.stop(timeout: 120)
            Issue.record("the destination took the VM")
        }
        // The source runs on, its disk untracked and as it was; nothing is left on the other side.
        #expect(source.state == .running && !source.isPaused)
        #expect(!source.diskDevices[0].isTrackingDirtyBlocks)
        let after = try source.diskDevices[0].withDisk { disk throws(DiskError) in try Self.contents(disk) }
        let diskUntouched = after == before
        #expect(diskUntouched, "the source's disk reads differently")
        let fileUntouched = FileManager.default.contents(atPath: overlay) == overlayBefore
        #expect(fileUntouched, "the source's overlay file changed")
        #expect(Self.files(in: diskDir).isEmpty, "left behind: \(Self.files(in: diskDir))")
        // And the source can still write its disk.
        try Self.pattern(1).withUnsafeBytes { try source.diskDevices[0].hostWrite($0, at: 0) }
    }

    @Test func aDestinationWithoutADiskDirectoryRefusesAndTheSourceRunsOn() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("disk.raw")
        _ = try RawDiskImage.create(path: path, size: 1 << 20, lock: false)
        let pool = PacketPool(capacity: 64)
        let config = Self.diskVM(path, qcow2: false)
        let source = try VirtualMachine(config, pool: pool)
        source.start()
        defer { source.stop() }
        let (a, b) = MemoryByteStream.pair()
        let destination = receiving(on: b, hooks: MigrationDestinationHooks(pool: pool) { _ in config })
        var options = MigrationOptions()
        options.copyDisks = true
        let error = #expect(throws: MigrationError.self) {
            _ = try MigrationSource(vm: source, connection: MigrationConnection(a), options: options).run()
        }
        #expect(error?.refused == true && error?.reason.contains("disk directory") == true, "\(String(describing: error))")
        #expect(throws: MigrationError.self) { _ = try destination.wait().get() }
        #expect(source.state == .running && !source.diskDevices[0].isTrackingDirtyBlocks)
    }

    @Test func aVMWithoutWritableDisksMigratesWithCopyDisksLikeAnyOther() throws {
        let pool = PacketPool(capacity: 64)
        var config = Self.diskVM("", qcow2: false)
        config.disks = []
        let source = try VirtualMachine(config, pool: pool)
        source.start()
        defer { source.stop() }
        let (a, b) = MemoryByteStream.pair()
        // No disk directory: there is nothing to put in one.
        let destination = receiving(on: b, hooks: MigrationDestinationHooks(pool: pool) { _ in config })
        var options = MigrationOptions()
        options.copyDisks = true
        options.maxRounds = 1
        let report = try MigrationSource(vm: source, connection: MigrationConnection(a), options: options).run()
        let arrived = try destination.wait().get()
        arrived.vm.stop(timeout: 120)
        #expect(report.diskBytes == nil)
    }

    @Test func copiesOfAMigrationCutShortByAKillAreRemovedAtTheNextStart() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let diskDir = dir.file("dst")
        let config = Self.diskVM(dir.file("elsewhere.raw"), qcow2: false)
        let info = [DiskCopyInfo(index: 0, format: "raw", size: 1 << 20, blockSize: Self.block)]
        // One migration finished (its VM ran here), one was cut short: the process died
        // without a chance to clean up.
        var finishedConfig = config
        let finished = try DiskMirrorDestination(info, directory: diskDir, id: "finished", configuration: &finishedConfig)
        finished.committed()
        var cutConfig = config
        _ = try DiskMirrorDestination(info, directory: diskDir, id: "cutshort", configuration: &cutConfig)
        #expect(Self.files(in: diskDir).count == 3, "\(Self.files(in: diskDir))")
        let removed = DiskDirectory.removeUnfinished(in: diskDir)
        #expect(removed == ["mover-disk0-cutshort.raw"])
        #expect(Self.files(in: diskDir) == ["mover-disk0-finished.raw"])
    }

    // MARK: Hostile sources

    /// A scripted source: sends the hello of a VM with `info` as its copied disk, reads the
    /// destination's accept and plan, then sends `messages`; returns the destination's error.
    func hostile(_ info: DiskCopyInfo, qcow2: Bool, messages: (DiskPlan) -> [MigrationMessage]) throws -> (MigrationError?, [String]) {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file(qcow2 ? "disk.qcow2" : "disk.raw")
        if qcow2 { try Qcow2Image.create(path: path, size: 1 << 20).releaseLock() } else { _ = try RawDiskImage.create(path: path, size: 1 << 20, lock: false) }
        let diskDir = dir.file("dst")
        let pool = PacketPool(capacity: 64)
        let config = Self.diskVM(path, qcow2: qcow2)
        let model = try VirtualMachine(config, pool: pool)
        defer { model.stop() }
        var description = MigrationDescription(of: model)
        description.diskCopy = [info]
        let (a, b) = MemoryByteStream.pair()
        var hooks = MigrationDestinationHooks(pool: pool) { _ in config }
        hooks.diskDirectory = diskDir
        let destination = receiving(on: b, hooks: hooks, timeout: 5)
        let connection = MigrationConnection(a, timeout: 5)
        try connection.send(MigrationMessage(.hello, Array(JSONEncoder().encode(description))))
        if let reply = try? connection.receive(), reply.type == .accept,
           let planMessage = try? connection.receive(), planMessage.type == .diskPlan,
           let plan = try? JSONDecoder().decode(DiskPlan.self, from: Data(planMessage.payload)) {
            for m in messages(plan) { try? connection.send(m) }
        }
        let result = destination.wait()
        connection.close()
        guard case .failure(let error) = result else { return (nil, Self.files(in: diskDir)) }
        return (error, Self.files(in: diskDir))
    }

    static func blocks(disk: UInt32 = 0, _ entries: [(UInt64, UInt32, UInt32, [UInt8])]) -> MigrationMessage {
        var out: [UInt8] = []
        out.appendLE(disk)
        out.appendLE(UInt32(entries.count))
        for (offset, length, flags, bytes) in entries {
            out.appendLE(offset)
            out.appendLE(length)
            out.appendLE(flags)
            out += bytes
        }
        return MigrationMessage(.diskBlocks, out)
    }

    static func roundEnd(final: Bool) -> MigrationMessage {
        MigrationMessage(.diskRoundEnd, Array(try! JSONEncoder().encode(DiskRoundEnd(round: 0, blocks: 0, bytes: 0, final: final))))
    }

    @Test func hostileDiskMessagesAreRefusedWithAClearErrorAndNothingIsLeft() throws {
        let raw = DiskCopyInfo(index: 0, format: "raw", size: 1 << 20, blockSize: Self.block)
        let cases: [(String, DiskCopyInfo, [MigrationMessage], String)] = [
            ("offset past the end", raw, [Self.blocks([(1 << 20, UInt32(Self.block), 1, [])])], "outside the disk"),
            ("unaligned offset", raw, [Self.blocks([(512, UInt32(Self.block), 1, [])])], "not aligned"),
            ("short block", raw, [Self.blocks([(0, 4096, 0, [UInt8](repeating: 1, count: 4096))])], "has 4096 bytes"),
            ("offset overflowing", raw, [Self.blocks([(UInt64.max - 100, UInt32(Self.block), 1, [])])], "outside the disk"),
            ("another disk", raw, [Self.blocks(disk: 3, [(0, UInt32(Self.block), 1, [])])], "disk 3 of 1"),
            ("truncated data", raw, [Self.blocks([(0, UInt32(Self.block), 0, [1, 2, 3])])], "truncated"),
            ("unknown flags", raw, [Self.blocks([(0, UInt32(Self.block), 6, [])])], "unknown flags"),
            ("state before the final pass", raw, [Self.roundEnd(final: false), MigrationMessage(.state, [])], "final pass"),
            ("blocks after the final pass", raw, [Self.roundEnd(final: true), Self.blocks([(0, UInt32(Self.block), 1, [])])], "after the final"),
        ]
        for (name, info, messages, expected) in cases {
            let (error, left) = try hostile(info, qcow2: false) { _ in messages }
            #expect(error?.reason.contains(expected) == true, "\(name): \(String(describing: error))")
            #expect(left.isEmpty, "\(name): left behind \(left)")
        }
    }

    @Test func hostileDiskDescriptionsAreRefused() throws {
        let block = Self.block
        let base = DiskCopyInfo.Base(name: "../../etc/base.raw", format: "raw", size: 1 << 20, checksum: 0)
        let cases: [(String, DiskCopyInfo, Bool, String)] = [
            ("base escaping", DiskCopyInfo(index: 0, format: "qcow2", size: 1 << 20, blockSize: block, base: base), true, "escapes the disk directory"),
            ("base named ..", DiskCopyInfo(index: 0, format: "qcow2", size: 1 << 20, blockSize: block,
                                           base: .init(name: "sub/..", format: "raw", size: 1 << 20, checksum: 0)), true, "escapes"),
            ("huge disk", DiskCopyInfo(index: 0, format: "raw", size: 1 << 60, blockSize: block), false, "up to 16 TiB"),
            ("odd block size", DiskCopyInfo(index: 0, format: "raw", size: 1 << 20, blockSize: 3000), false, "block size"),
            ("not the VM's disk", DiskCopyInfo(index: 4, format: "raw", size: 1 << 20, blockSize: block), false, "writable disks"),
            ("format differs", DiskCopyInfo(index: 0, format: "qcow2", size: 1 << 20, blockSize: block), false, "not on this side"),
        ]
        for (name, info, qcow2, expected) in cases {
            let (error, left) = try hostile(info, qcow2: qcow2) { _ in [] }
            #expect(error?.refused == true && error?.reason.contains(expected) == true, "\(name): \(String(describing: error))")
            #expect(left.isEmpty, "\(name): left behind \(left)")
        }
    }

    @Test func aBaseWhoseChecksumDiffersIsRefusedAndRemoved() throws {
        let data = Self.pattern(4, count: 1 << 20)
        let checksum = CRC32C.checksum(data)
        let info = DiskCopyInfo(index: 0, format: "qcow2", size: 1 << 20, blockSize: Self.block, clusterSize: 65_536,
                                base: .init(name: "missing-base.raw", format: "raw", size: 1 << 20, checksum: checksum))
        let (error, left) = try hostile(info, qcow2: true) { plan in
            guard plan.sendBase == [true] else { return [] }
            var out: [UInt8] = []
            out.appendLE(UInt32(0))
            out.appendLE(UInt32(16))
            for k in 0..<16 {
                var bytes = Array(data[k * Self.block..<(k + 1) * Self.block])
                if k == 9 { bytes[100] ^= 1 }   // one byte differs from what the checksum covers
                out.appendLE(UInt64(k * Self.block))
                out.appendLE(UInt32(Self.block))
                out.appendLE(UInt32(0))
                out += bytes
            }
            return [MigrationMessage(.baseBlocks, out), Self.roundEnd(final: false)]
        }
        #expect(error?.reason.contains("checksum mismatch in the base image") == true, "\(String(describing: error))")
        #expect(left.isEmpty, "left behind \(left)")
    }
}

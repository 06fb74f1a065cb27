// DiskMigrationTests: a VM with a writable qcow2 disk on shared storage migrates while the
// source keeps writing to the image: the destination, which opened the image when the
// migration began, reads it again at the stop-and-copy, so its later writes neither overwrite
// the source's new clusters nor leave the image inconsistent for `qemu-img check`. The image's
// write lock moves with the VM: the source gives it up after its flush, the destination takes
// it when it reopens the image, and a failed migration gives it back to the source.

import Foundation
import RISCVBoard
import Frames
@testable import Migration
import Switching
import Testing
import TestSupport
import Virtio
import VMHost

@Suite struct DiskMigrationTests {
    func disk(of vm: VirtualMachine) throws -> any DiskBackend {
        let blocks = vm.transports.compactMap { ($0 as? VirtioMMIOTransport<VirtioBlock>)?.device }
        let block = try #require(blocks.first)
        return block.disk
    }

    func pattern(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 65_536) }

    /// Whether a third open of the image for writing is refused (someone holds its lock).
    func isLocked(_ path: String) -> Bool {
        do {
            _ = try Qcow2Image(path: path)
            return false
        } catch {
            if case .inUse = error { return true }
            return false
        }
    }

    struct Refused: Error {}

    /// A memory-dirtying guest with one writable qcow2 disk at `path`.
    static func diskVM(_ path: String) -> VMConfiguration {
        VMConfiguration(name: "disk", memoryMiB: 16, board: VirtBoardSpec(firmware: .none, kernel: Guests.dirtier),
                        nicMACs: [], disks: [.init(path: path, qcow2: true, readOnly: false)], consoleLog: nil,
                        consoleToStdout: false, expect: [])
    }

    @Test func aQcow2ImageWrittenDuringPrecopyIsReadAgainAtTheDestination() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("shared.qcow2")
        _ = try Qcow2Image.create(path: path, size: 64 << 20)
        let pool = PacketPool(capacity: 64)
        let config = Self.diskVM(path)
        let source = try VirtualMachine(config, pool: pool)
        source.start()
        defer { source.stop() }
        #expect(isLocked(path), "the running source holds the image's write lock")

        let (a, b) = MemoryByteStream.pair()
        let hooksBox = UnsafeTransfer(value: MigrationDestinationHooks(pool: pool) { _ in config })
        let destination = receiving(on: b, hooks: hooksBox.value)
        // After round 0 (the destination has opened the image long since), the source writes
        // a cluster that did not exist: the image grows and its tables change.
        let sourceDisk = try disk(of: source)
        var hooks = MigrationSourceHooks()
        let wrote = Cell(false)
        hooks.progress = { p in
            guard p.round >= 1, !wrote.value else { return }
            wrote.value = true
            try? self.pattern(0xA1).withUnsafeBytes { try sourceDisk.write($0, at: 8 << 20) }
        }
        var options = MigrationOptions()
        options.maxRounds = 2
        _ = try MigrationSource(vm: source, connection: MigrationConnection(a), options: options, hooks: hooks).run()
        let arrived = try destination.wait().get()
        defer { arrived.vm.stop() }
        #expect(wrote.value)
        // The lock moved with the VM: the destination holds it, the stopped source does not.
        #expect(isLocked(path), "the destination holds the image's write lock")
        arrived.vm.releaseDiskLocks()
        #expect(!isLocked(path), "the source still holds a lock after it migrated away")
        try arrived.vm.acquireDiskLocks()

        // The destination allocates a new cluster of its own, then reads both back.
        let there = try disk(of: arrived.vm)
        try pattern(0xB2).withUnsafeBytes { try there.write($0, at: 16 << 20) }
        var back = [UInt8](repeating: 0, count: 65_536)
        try back.withUnsafeMutableBytes { try there.read(into: $0, at: 8 << 20) }
        #expect(back == pattern(0xA1), "the source's cluster survived the destination's allocation")
        try back.withUnsafeMutableBytes { try there.read(into: $0, at: 16 << 20) }
        #expect(back == pattern(0xB2))
        try there.flush()
        // Generous deadlines: on a loaded machine a vCPU may take seconds to end its slice.
        arrived.vm.stop(timeout: 120)
        source.stop(timeout: 120)
        guard let qemuImg = ExternalTool.require("qemu-img", for: "aQcow2ImageWrittenDuringPrecopyIsReadAgainAtTheDestination") else { return }
        let check = try qemuImg.run(["check", path])
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func aFailedMigrationGivesTheImageLockBackToTheSource() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("shared.qcow2")
        _ = try Qcow2Image.create(path: path, size: 16 << 20)
        let pool = PacketPool(capacity: 64)
        let config = Self.diskVM(path)
        let source = try VirtualMachine(config, pool: pool)
        source.start()
        defer { source.stop() }

        // The destination reopens (and locks) the image at the stop-and-copy, then refuses at
        // the commit: it discards its machine and the source runs on.
        let (a, b) = MemoryByteStream.pair()
        var destinationHooks = MigrationDestinationHooks(pool: pool) { _ in config }
        destinationHooks.installSwitchState = { _ in throw Refused() }
        let destination = receiving(on: b, hooks: destinationHooks)
        var options = MigrationOptions()
        options.maxRounds = 1
        #expect(throws: MigrationError.self) {
            _ = try MigrationSource(vm: source, connection: MigrationConnection(a), options: options).run()
        }
        #expect(throws: MigrationError.self) { _ = try destination.wait().get() }
        #expect(source.state == .running)
        #expect(isLocked(path), "the source runs on without its image's lock")
        source.stop(timeout: 120)
        #expect(!isLocked(path), "a stopped VM still holds its image's lock")
    }
}

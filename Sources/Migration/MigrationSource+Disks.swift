// MigrationSource+Disks: the source side of a storage migration (`copyDisks`), modelled on
// QEMU's drive-mirror with a dirty bitmap. Before RAM's round 0 it switches dirty-block
// tracking on for every writable disk and sends the base images the destination lacks, then
// every block the disks themselves hold (a qcow2 overlay's own clusters, every block of a raw
// disk, zero blocks as markers); after each later RAM round the blocks written meanwhile; in
// the stop-and-copy, after the flush, the last ones. It only ever reads the source's images.

import Foundation
import Virtio
import VMHost

/// What the source keeps about the disks it copies.
final class DiskMirrorSource {
    /// One copied disk.
    struct Disk {
        let info: DiskCopyInfo
        let device: VirtioBlock
        /// Where the base image is read from (its own read-only open), when it has one.
        let basePath: String?
        var map: DirtyBlockMap?
    }

    var disks: [Disk]
    /// Blocks per `diskBlocks` message (16 x 64 KiB: about 1 MiB).
    let blocksPerMessage = 16
    /// Bytes of block messages sent (headers and data), the report's `disk_bytes`.
    var bytesSent = 0
    /// Bytes the first pass still has to look at.
    var firstPassLeft: UInt64 = 0
    /// Blocks sent in the stop-and-copy (while paused).
    var finalBlocks = 0
    /// Blocks of the base images sent.
    var baseBlocks = 0
    /// One block's worth of scratch for reads (allocated once).
    let scratch: UnsafeMutableRawBufferPointer
    var payload: [UInt8] = []

    init(disks: [Disk]) {
        self.disks = disks
        let largest = disks.map(\.info.blockSize).max() ?? DirtyBlockMap.defaultBlockSize
        scratch = .allocate(byteCount: largest, alignment: 64)
        payload.reserveCapacity(blocksPerMessage * (largest + 16) + 8)
        firstPassLeft = disks.reduce(0) { $0 + $1.info.size }
    }

    deinit { scratch.deallocate() }

    /// Describes every writable disk of `vm` (reading each base image once for its checksum).
    static func describe(_ vm: VirtualMachine) throws -> DiskMirrorSource {
        var disks: [Disk] = []
        for (i, (config, device)) in zip(vm.configuration.disks, vm.diskDevices).enumerated() where !config.readOnly {
            let blockSize = DirtyBlockMap.defaultBlockSize
            let (info, basePath): (DiskCopyInfo, String?) = try device.withDisk { disk throws(DiskError) in
                if let q = disk as? Qcow2Image {
                    var info = DiskCopyInfo(index: i, format: "qcow2", size: q.size, blockSize: blockSize, clusterSize: q.clusterSize)
                    if let name = q.backingFile, let path = q.backingPath, let size = q.backingSize {
                        info.base = .init(name: name, format: q.backingKind ?? "raw", size: size, checksum: 0)
                        return (info, path)
                    }
                    return (info, nil)
                }
                guard disk is RawDiskImage else { throw .unsupported(path: config.path, "copying this kind of disk") }
                return (DiskCopyInfo(index: i, format: "raw", size: disk.size, blockSize: blockSize), nil)
            }
            var described = info
            if let basePath, let base = info.base {
                // Read through an open of our own: the base is read-only and shared.
                described.base?.checksum = try DiskMirrorSource.checksum(path: basePath, format: base.format)
            }
            disks.append(Disk(info: described, device: device, basePath: basePath, map: nil))
        }
        return DiskMirrorSource(disks: disks)
    }

    /// Checksums of base images by file identity (device, inode, size, modification time),
    /// so a base is read once per version, not at every migration (the hello of a source and
    /// the plan of a destination wait for them).
    nonisolated(unsafe) static var checksums: [String: UInt32] = [:]
    static let checksumsLock = NSLock()

    /// The CRC32C of the virtual contents of the image at `path` (format "raw" or "qcow2"),
    /// from the cache when the file has not changed since.
    static func checksum(path: String, format: String) throws -> UInt32 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DiskError.system(operation: "stat", path: path, errno: errno) }
        let key = "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(format)"
        if let known = checksumsLock.withLock({ checksums[key] }) { return known }
        let value = try checksum(of: Qcow2Image.openReadOnly(path: path, format: format))
        checksumsLock.withLock {
            if checksums.count >= 256 { checksums.removeAll() }
            checksums[key] = value
        }
        return value
    }

    /// The CRC32C of a disk's virtual contents (1 MiB reads).
    static func checksum(of disk: any DiskBackend) throws(DiskError) -> UInt32 {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var crc = CRC32C.begin
        var offset: UInt64 = 0
        while offset < disk.size {
            let n = Int(min(UInt64(chunk), disk.size - offset))
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            try disk.read(into: part, at: offset)
            crc = CRC32C.update(crc, UnsafeRawBufferPointer(part))
            offset += UInt64(n)
        }
        return CRC32C.finish(crc)
    }

    var infos: [DiskCopyInfo] { disks.map(\.info) }

    /// Dirty blocks waiting, in bytes.
    var dirtyBytes: Int { disks.reduce(0) { $0 + ($1.map?.dirtyCount ?? 0) * $1.info.blockSize } }

    /// Bytes still to send: the rest of the first pass and the dirty blocks.
    var bytesLeft: Int { Int(clamping: firstPassLeft) + dirtyBytes }

    /// Switches tracking on for every copied disk.
    func startTracking() throws(DiskError) {
        for k in disks.indices { disks[k].map = try disks[k].device.startDirtyTracking(blockSize: disks[k].info.blockSize) }
    }

    /// Switches tracking off.
    func stopTracking() {
        for k in disks.indices where disks[k].map != nil {
            disks[k].device.stopDirtyTracking()
            disks[k].map = nil
        }
    }
}

extension SourceRun {
    /// Describes the copied disks in the hello (with `copyDisks`).
    mutating func describeDisks(_ description: inout MigrationDescription) throws(MigrationError) {
        guard options.copyDisks else { return }
        do { disks = try DiskMirrorSource.describe(vm) } catch { throw fail("describing the disks: \(error)") }
        // No writable disk: nothing to copy, a plain migration (read-only disks stay shared).
        if disks?.disks.isEmpty == true { disks = nil }
        description.diskCopy = disks?.infos
    }

    /// After `accept`: read the destination's plan, switch tracking on, send the bases it
    /// lacks and the first pass over every disk.
    mutating func sendDisksFirstPass() throws(MigrationError) {
        guard let disks else { return }
        let m = try expect(.diskPlan)
        let plan: DiskPlan
        do { plan = try JSONDecoder().decode(DiskPlan.self, from: Data(m.payload)) } catch { throw fail("unreadable disk plan: \(error)") }
        guard plan.sendBase.count == disks.disks.count else { throw fail("the disk plan names \(plan.sendBase.count) disks, not \(disks.disks.count)") }
        let sendBase = plan.sendBase
        // Tracking first: a write after this is marked, a write before it is in what the
        // first pass reads.
        let trackingError = try whilePaused { () -> String? in
            do { try disks.startTracking(); return nil } catch { return "\(error)" }
        }
        if let trackingError { throw fail("dirty tracking: \(trackingError)") }
        for (k, disk) in disks.disks.enumerated() where sendBase[k] {
            guard let base = disk.info.base, let path = disk.basePath else { throw fail("the destination asks for the base of disk \(disk.info.index), which has none") }
            let image: any DiskBackend
            do { image = try Qcow2Image.openReadOnly(path: path, format: base.format) } catch { throw fail("\(error)") }
            var offset: UInt64 = 0
            DiskBlockBatch.start(disk: k, into: &disks.payload)
            while offset < image.size {
                let n = Int(min(UInt64(disk.info.blockSize), image.size - offset))
                let block = UnsafeMutableRawBufferPointer(rebasing: disks.scratch[0..<n])
                do { try image.read(into: block, at: offset) } catch { throw fail("\(error)") }
                DiskBlockBatch.append(offset: offset, block: UnsafeRawBufferPointer(block), to: &disks.payload)
                disks.baseBlocks += 1
                offset += UInt64(n)
                if DiskBlockBatch.count(disks.payload) >= disks.blocksPerMessage { try flushBlocks(.baseBlocks, disk: k) }
            }
            try flushBlocks(.baseBlocks, disk: k)
        }
        var blocks = 0
        let before = disks.bytesSent
        for (k, disk) in disks.disks.enumerated() {
            guard let map = disk.map else { continue }
            DiskBlockBatch.start(disk: k, into: &disks.payload)
            for b in 0..<map.blockCount {
                let (offset, length) = map.range(of: b)
                if try sendBlock(k, offset: offset, length: length, skipUnallocated: true) { blocks += 1 }
                disks.firstPassLeft -= UInt64(length)
                if b % 1024 == 1023 {
                    try checkPeer()
                    progress(dirty: memory.dirtyCount)
                }
            }
            try flushBlocks(.diskBlocks, disk: k)
        }
        disks.firstPassLeft = 0
        try endDiskRound(0, blocks: blocks, bytes: disks.bytesSent - before, final: false)
    }

    /// Sends the blocks written since the last pass (`final`: in the stop-and-copy, after the
    /// flush; the destination then closes its images).
    mutating func sendDirtyDisks(final: Bool) throws(MigrationError) {
        guard let disks else { return }
        var blocks = 0
        let before = disks.bytesSent
        for (k, disk) in disks.disks.enumerated() {
            guard let map = disk.map else { continue }
            let dirty = map.take()
            if dirty.isEmpty { continue }
            DiskBlockBatch.start(disk: k, into: &disks.payload)
            for b in dirty {
                let (offset, length) = map.range(of: b)
                _ = try sendBlock(k, offset: offset, length: length, skipUnallocated: false)
                blocks += 1
            }
            try flushBlocks(.diskBlocks, disk: k)
        }
        if final { disks.finalBlocks = blocks }
        try endDiskRound(round, blocks: blocks, bytes: disks.bytesSent - before, final: final)
    }

    /// Reads one block of copied disk `k` (under its device lock) into the batch; sends the
    /// batch when full. With `skipUnallocated`, a qcow2 block whose clusters all come from the
    /// base is left out (the destination's overlay reads it from its base). True when sent.
    mutating func sendBlock(_ k: Int, offset: UInt64, length: Int, skipUnallocated: Bool) throws(MigrationError) -> Bool {
        guard let disks else { return false }
        let block = UnsafeMutableRawBufferPointer(rebasing: disks.scratch[0..<length])
        let wanted: Bool
        do {
            wanted = try disks.disks[k].device.withDisk { disk throws(DiskError) -> Bool in
                if skipUnallocated, let q = disk as? Qcow2Image, try !q.allocatesAny(offset: offset, length: length) { return false }
                try disk.read(into: block, at: offset)
                return true
            }
        } catch { throw fail("reading disk \(disks.disks[k].info.index) at \(offset): \(error)") }
        guard wanted else { return false }
        DiskBlockBatch.append(offset: offset, block: UnsafeRawBufferPointer(block), to: &disks.payload)
        if DiskBlockBatch.count(disks.payload) >= disks.blocksPerMessage { try flushBlocks(.diskBlocks, disk: k) }
        return true
    }

    /// Sends the batch being built (if it has entries) and starts the next one for `disk`.
    mutating func flushBlocks(_ type: MessageType, disk k: Int) throws(MigrationError) {
        guard let disks else { return }
        if DiskBlockBatch.count(disks.payload) > 0 {
            let m = MigrationMessage(type, disks.payload)
            try send(m)
            disks.bytesSent += m.payload.count + MigrationWire.headerLength
        }
        DiskBlockBatch.start(disk: k, into: &disks.payload)
    }

    /// Ends a pass; a pre-copy pass waits until the destination has written it.
    mutating func endDiskRound(_ round: Int, blocks: Int, bytes: Int, final: Bool) throws(MigrationError) {
        try sendJSON(.diskRoundEnd, DiskRoundEnd(round: round, blocks: blocks, bytes: bytes, final: final))
        if !final { _ = try expect(.diskRoundDone) }
    }

    /// Tracking off (the migration ended either way).
    func stopDiskTracking() {
        disks?.stopTracking()
    }
}

// MigrationDestination+Disks: the destination side of a storage migration. Before the machine
// is built it creates the VM's images in its own disk directory (never the source's files):
// a raw disk as a new sparse raw file, a qcow2 overlay as a new overlay over a base image --
// the destination's own when it has the same one (same size and checksum), otherwise a copy
// the source sends, stored raw in the disk directory. It writes the blocks as they arrive,
// checks the bases' checksums, closes the images after the final pass, and removes every file
// it created when the migration fails. Every file it creates has a `.incoming` marker beside it
// until the VM runs here, so a host killed mid-migration removes the partial copies at its next
// start (`DiskDirectory.removeUnfinished`).

import Foundation
import Virtio
import VMHost

/// Receives the disks of one migration into a disk directory.
final class DiskMirrorDestination {
    /// One copied disk as this side keeps it.
    struct Disk {
        let info: DiskCopyInfo
        /// The new image, open for writing until the final pass.
        var image: (any DiskBackend)?
        /// The base copy being received (raw, sparse), when the base is sent.
        var base: RawDiskImage?
        /// Where that base copy is stored.
        var basePath: String?
    }

    var disks: [Disk] = []
    let directory: String
    /// Files created here, removed when the migration fails.
    private(set) var created: [String] = []
    var passes = 0
    var finished = false
    /// Zeros to write over a block that became zero.
    let zeros: [UInt8]

    /// Creates the images for `infos` in `directory` and points `configuration`'s disks at
    /// them. Throws a reason (the migration is refused) for anything hostile or impossible;
    /// what it created by then is removed.
    init(_ infos: [DiskCopyInfo], directory: String, id: String?, configuration: inout VMConfiguration) throws(DiskMirrorRefusal) {
        var dir = directory
        if !dir.hasPrefix("/") { dir = FileManager.default.currentDirectoryPath + "/" + dir }
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        self.directory = dir
        zeros = [UInt8](repeating: 0, count: infos.map(\.blockSize).max() ?? 0)
        do {
            try prepare(infos, id: id, configuration: &configuration)
        } catch {
            discard()
            throw error
        }
    }

    private func prepare(_ infos: [DiskCopyInfo], id: String?, configuration: inout VMConfiguration) throws(DiskMirrorRefusal) {
        func refuse(_ why: String) -> DiskMirrorRefusal { DiskMirrorRefusal(reason: why) }
        let writable = Set(configuration.disks.indices.filter { !configuration.disks[$0].readOnly })
        let copied = infos.map(\.index)
        guard Set(copied).count == copied.count, Set(copied) == writable else {
            throw refuse("the source copies disks \(copied.sorted()), the VM's writable disks are \(writable.sorted())")
        }
        for info in infos {
            if let why = info.problem(diskCount: configuration.disks.count) { throw refuse(why) }
            guard configuration.disks[info.index].qcow2 == (info.format == "qcow2") else {
                throw refuse("disk \(info.index) is \(info.format) on the source, not on this side")
            }
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw refuse("cannot create the disk directory \(directory): \(error.localizedDescription)")
        }
        let tag = Self.fileComponent(String((id ?? UUID().uuidString).prefix(8)))
        let vmName = Self.fileComponent(configuration.name)
        for info in infos {
            var disk = Disk(info: info)
            let path = "\(directory)/\(vmName)-disk\(info.index)-\(tag).\(info.format)"
            guard !FileManager.default.fileExists(atPath: path) else { throw refuse("\(path) exists already") }
            do {
                if info.format == "raw" {
                    try markIncoming(path)
                    disk.image = try RawDiskImage.create(path: path, size: info.size)
                } else {
                    var backing: (path: String, format: String)?
                    if let base = info.base {
                        backing = try baseImage(base, for: &disk)
                    }
                    let bits = (info.clusterSize ?? 65_536).trailingZeroBitCount
                    try markIncoming(path)
                    disk.image = try Qcow2Image.create(path: path, size: info.size, backingFile: backing?.path,
                                                       backingFormat: backing?.format, clusterBits: bits)
                }
            } catch let error as DiskMirrorRefusal {
                throw error
            } catch {
                throw refuse("disk \(info.index): \(error)")
            }
            configuration.disks[info.index].path = path
            configuration.disks[info.index].base = nil
            disks.append(disk)
        }
    }

    /// The base image a new overlay goes over: this side's own at the path the overlay's
    /// backing name resolves to (absolute, or relative to the disk directory), or one stored
    /// in the disk directory before, when either has the same size and checksum; otherwise a
    /// new sparse file in the disk directory that the source fills (`sendBase`).
    private func baseImage(_ base: DiskCopyInfo.Base, for disk: inout Disk) throws -> (path: String, format: String) {
        let components = base.name.split(separator: "/", omittingEmptySubsequences: true)
        guard let last = components.last, last != ".", last != "..", !components.contains("..") else {
            throw DiskMirrorRefusal(reason: "base image name \"\(base.name)\" escapes the disk directory")
        }
        let own = base.name.hasPrefix("/") ? base.name : directory + "/" + base.name
        if Self.matches(own, format: base.format, base) { return (own, base.format) }
        let stored = "\(directory)/base-\(String(format: "%08x", base.checksum))-\(Self.fileComponent(String(last)))"
        if FileManager.default.fileExists(atPath: stored) {
            if Self.matches(stored, format: "raw", base) { return (stored, "raw") }
            throw DiskMirrorRefusal(reason: "\(stored) exists and differs from the source's base")
        }
        try markIncoming(stored)
        let image = try RawDiskImage.create(path: stored, size: base.size, lock: false)
        disk.base = image
        disk.basePath = stored
        return (stored, "raw")
    }

    /// Records `path` as created by this migration, with its `.incoming` marker (made first,
    /// so a kill leaves no unmarked partial file).
    private func markIncoming(_ path: String) throws {
        let marker = path + DiskDirectory.incomingSuffix
        guard FileManager.default.createFile(atPath: marker, contents: nil) else {
            throw DiskMirrorRefusal(reason: "cannot create \(marker)")
        }
        created.append(marker)
        created.append(path)
    }

    /// The VM runs here: its images are no longer partial (their markers go).
    func committed() {
        for path in created where path.hasSuffix(DiskDirectory.incomingSuffix) { try? FileManager.default.removeItem(atPath: path) }
        created = []
    }

    /// Whether the image at `path` exists with the size and checksum of `base`.
    static func matches(_ path: String, format: String, _ base: DiskCopyInfo.Base) -> Bool {
        guard FileManager.default.fileExists(atPath: path),
              let image = try? Qcow2Image.openReadOnly(path: path, format: format), image.size == base.size else { return false }
        return (try? DiskMirrorSource.checksum(path: path, format: format)) == base.checksum
    }

    /// `name` as one safe file name component (letters, digits, `-`, `_`, `.`; no leading dot).
    static func fileComponent(_ name: String) -> String {
        var out = String(name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_.".unicodeScalars.contains($0) ? Character($0) : "_" })
        while out.hasPrefix(".") { out = "_" + out.dropFirst() }
        return out.isEmpty ? "_" : out
    }

    /// Which bases the source must send.
    var plan: DiskPlan { DiskPlan(sendBase: disks.map { $0.base != nil }) }

    /// Takes one disk message; returns whether to answer `diskRoundDone`.
    func receive(_ m: MigrationMessage) throws -> Bool {
        guard !finished else { throw WireError.malformed("\(m.type) after the final disk pass") }
        switch m.type {
        case .baseBlocks:
            guard passes == 0 else { throw WireError.malformed("base blocks after the first disk pass") }
            try DiskBlockBatch.decode(m.payload, diskCount: disks.count, check: { k, offset, length in
                guard let base = disks[k].info.base, disks[k].base != nil else { return "disk \(disks[k].info.index) has no base to receive" }
                return DiskBlockBatch.blockProblem(offset: offset, length: length, blockSize: disks[k].info.blockSize, size: base.size)
            }) { k, entry in
                // The stored base is a fresh sparse file: zero blocks are there already.
                if let bytes = entry.bytes { try disks[k].base?.write(bytes, at: entry.offset) }
            }
            return false
        case .diskBlocks:
            try DiskBlockBatch.decode(m.payload, diskCount: disks.count, check: { k, offset, length in
                DiskBlockBatch.blockProblem(offset: offset, length: length, blockSize: disks[k].info.blockSize, size: disks[k].info.size)
            }) { k, entry in
                guard let image = disks[k].image else { return }
                if let bytes = entry.bytes {
                    try image.write(bytes, at: entry.offset)
                } else if passes > 0 || disks[k].info.format == "qcow2" {
                    // Zeros over earlier data, or over an overlay's base: written. A raw
                    // image's first pass lands on a fresh sparse file, zero already.
                    try zeros.withUnsafeBytes { try image.write(UnsafeRawBufferPointer(rebasing: $0[0..<entry.length]), at: entry.offset) }
                }
            }
            return false
        case .diskRoundEnd:
            let end = try JSONDecoder().decode(DiskRoundEnd.self, from: Data(m.payload))
            if passes == 0 { try checkBases() }
            passes += 1
            if end.final { try finish() }
            return !end.final
        default:
            throw WireError.malformed("\(m.type) is not a disk message")
        }
    }

    /// After the first pass: every base received must have the source's checksum.
    private func checkBases() throws {
        for k in disks.indices {
            guard let base = disks[k].base, let info = disks[k].info.base else { continue }
            try base.flush()
            let found = try DiskMirrorSource.checksum(of: base)
            guard found == info.checksum else {
                throw DiskMirrorRefusal(reason: "checksum mismatch in the base image of disk \(disks[k].info.index): "
                                        + "source 0x\(String(info.checksum, radix: 16)), received 0x\(String(found, radix: 16))")
            }
            disks[k].base = nil
        }
    }

    /// The final pass: everything durable, our handles closed (the VM reopens the images).
    private func finish() throws {
        for k in disks.indices {
            try disks[k].image?.flush()
            disks[k].image?.releaseLock()
            disks[k].image = nil
        }
        finished = true
    }

    /// Fails unless the final pass came (called before the VM's state is installed).
    func complete() throws(MigrationError) {
        guard finished else { throw MigrationError(.stopAndCopy, "the VM's state came before the disks' final pass") }
    }

    /// The migration failed: close and remove every file made for it.
    func discard() {
        for k in disks.indices {
            disks[k].image = nil
            disks[k].base = nil
        }
        for path in created { try? FileManager.default.removeItem(atPath: path) }
        created = []
    }
}

/// A hypervisor's disk directory, where the images of VMs arriving with their disks live.
public enum DiskDirectory {
    /// The suffix of the marker beside a file of a migration that has not finished.
    public static let incomingSuffix = ".incoming"

    /// Removes the files of migrations that never finished (the host was killed during one):
    /// every `NAME.incoming` marker and its `NAME`. Returns the files removed.
    @discardableResult
    public static func removeUnfinished(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for marker in names where marker.hasSuffix(incomingSuffix) {
            let file = String(marker.dropLast(incomingSuffix.count))
            if (try? FileManager.default.removeItem(atPath: directory + "/" + file)) != nil { removed.append(file) }
            try? FileManager.default.removeItem(atPath: directory + "/" + marker)
        }
        return removed
    }
}

/// Why a destination does not take the disks of a migration.
struct DiskMirrorRefusal: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

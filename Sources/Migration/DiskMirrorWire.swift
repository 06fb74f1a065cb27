// DiskMirrorWire: the messages of a storage migration (`--with-disks`): what the hello says of
// each copied disk (`DiskCopyInfo`), the destination's answer about base images (`DiskPlan`),
// batches of blocks (`DiskBlockBatch`) and the end of a pass (`DiskRoundEnd`). Every decoder
// checks disk numbers, offsets and lengths against the disk it names.

import CLinuxShims

/// One disk the source copies, as the hello describes it.
public struct DiskCopyInfo: Codable, Sendable, Equatable {
    /// A qcow2 overlay's backing image: its name as the overlay stores it, its format, its
    /// virtual size and the CRC32C of its virtual contents.
    public struct Base: Codable, Sendable, Equatable {
        public var name: String
        public var format: String
        public var size: UInt64
        public var checksum: UInt32
    }

    /// The disk's position in the VM's disk list (`VMConfiguration.disks`).
    public var index: Int
    /// "raw" or "qcow2".
    public var format: String
    /// Virtual size in bytes.
    public var size: UInt64
    /// Bytes per dirty bit and per block on the wire.
    public var blockSize: Int
    /// A qcow2 image's cluster size (the destination's new overlay uses the same).
    public var clusterSize: Int?
    /// A qcow2 overlay's base image.
    public var base: Base?

    /// Largest disk accepted (16 TiB): a description is input like any other.
    public static let maxSize: UInt64 = 1 << 44
    /// Largest block: 1 MiB (a batch then stays far below the payload limit).
    public static let maxBlockSize = 1 << 20

    /// Why this description cannot be taken, or nil.
    public func problem(diskCount: Int) -> String? {
        if index < 0 || index >= diskCount { return "copied disk \(index) is not one of the VM's \(diskCount) disks" }
        if format != "raw" && format != "qcow2" { return "disk \(index): format \(format) is not raw or qcow2" }
        if size == 0 || size % 512 != 0 || size > Self.maxSize { return "disk \(index): size \(size) is not a multiple of 512 up to 16 TiB" }
        if blockSize < 512 || blockSize > Self.maxBlockSize || blockSize.nonzeroBitCount != 1 {
            return "disk \(index): block size \(blockSize) is not a power of two in 512...1 MiB"
        }
        if let c = clusterSize, c < 512 || c > 2 << 20 || c.nonzeroBitCount != 1 { return "disk \(index): cluster size \(c)" }
        if let base {
            if format != "qcow2" { return "disk \(index): only a qcow2 overlay has a base image" }
            if base.size == 0 || base.size > Self.maxSize { return "disk \(index): base size \(base.size)" }
            if base.format != "raw" && base.format != "qcow2" { return "disk \(index): base format \(base.format)" }
            if base.name.isEmpty || base.name.utf8.count > 1023 || base.name.utf8.contains(0) {
                return "disk \(index): base name is empty, too long or contains a NUL"
            }
        }
        return nil
    }
}

/// The destination's answer to the disks of a hello: which bases it must be sent.
public struct DiskPlan: Codable, Sendable, Equatable {
    /// Per copied disk (in `diskCopy` order): whether its base image is to be sent.
    public var sendBase: [Bool]
}

/// The end of a pass over the disks.
public struct DiskRoundEnd: Codable, Sendable, Equatable {
    /// 0 for the first pass (every allocated block), then one per RAM round.
    public var round: Int
    /// Blocks and bytes of data sent in this pass (zero markers count as blocks).
    public var blocks: Int
    public var bytes: Int
    /// The stop-and-copy's pass: the last one.
    public var final: Bool
}

/// A batch of blocks of one disk (or of its base image): disk number (u32, in `diskCopy`
/// order), entry count (u32), then per entry the byte offset (u64), the length (u32) and flags
/// (u32; bit 0: all zero, no bytes follow), then the bytes. All little-endian.
public enum DiskBlockBatch {
    /// Flag: the block is all zeros; no bytes follow.
    public static let zeroFlag: UInt32 = 1

    /// One decoded entry (`bytes` nil for a zero block).
    public struct Entry {
        public var offset: UInt64
        public var length: Int
        public var bytes: UnsafeRawBufferPointer?
    }

    /// Starts a batch for disk `disk`.
    public static func start(disk: Int, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.appendLE(UInt32(disk))
        out.appendLE(UInt32(0))
    }

    /// Appends one block; returns whether it went as a zero marker.
    @discardableResult
    public static func append(offset: UInt64, block: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        let zero = isZero(block)
        out.appendLE(offset)
        out.appendLE(UInt32(block.count))
        out.appendLE(zero ? zeroFlag : 0)
        if !zero { out.append(contentsOf: block) }
        let count: UInt32 = out.readLE(at: 4)
        out.withUnsafeMutableBytes { $0.storeBytes(of: (count + 1).littleEndian, toByteOffset: 4, as: UInt32.self) }
        return zero
    }

    /// The batch's entry count.
    public static func count(_ out: [UInt8]) -> Int { out.count >= 8 ? Int(out.readLE(at: 4) as UInt32) : 0 }

    /// Whether every byte is zero (8 bytes a step).
    public static func isZero(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i + 8 <= b.count {
            if b.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
        }
        while i < b.count {
            if b[i] != 0 { return false }
            i += 1
        }
        return true
    }

    /// Decodes `payload`: checks the disk number against `diskCount`, and every entry with
    /// `check(disk, offset, length)` (a reason when the block is not one of the disk's)
    /// before any entry goes to `body`. Throws `WireError.malformed` for bad input.
    public static func decode(_ payload: [UInt8], diskCount: Int, check: (Int, UInt64, Int) -> String?,
                              _ body: (Int, Entry) throws -> Void) throws {
        func bad(_ why: String) -> WireError { .malformed("disk blocks: " + why) }
        guard payload.count >= 8 else { throw bad("\(payload.count) bytes, no header") }
        let disk = Int(payload.readLE(at: 0) as UInt32)
        guard disk < diskCount else { throw bad("disk \(disk) of \(diskCount)") }
        let count = Int(payload.readLE(at: 4) as UInt32)
        var at = 8
        var entries: [(UInt64, Int, Int?)] = []
        for _ in 0..<count {
            guard payload.count - at >= 16 else { throw bad("entry at byte \(at) is truncated") }
            let offset: UInt64 = payload.readLE(at: at)
            let length = Int(payload.readLE(at: at + 8) as UInt32)
            let flags: UInt32 = payload.readLE(at: at + 12)
            at += 16
            guard flags & ~zeroFlag == 0 else { throw bad("unknown flags 0x\(String(flags, radix: 16))") }
            if let why = check(disk, offset, length) { throw bad(why) }
            if flags & zeroFlag != 0 {
                entries.append((offset, length, nil))
            } else {
                guard payload.count - at >= length else { throw bad("block at \(offset) is truncated") }
                entries.append((offset, length, at))
                at += length
            }
        }
        guard at == payload.count else { throw bad("\(payload.count - at) trailing bytes") }
        try payload.withUnsafeBytes { raw in
            for (offset, length, start) in entries {
                let bytes = start.map { UnsafeRawBufferPointer(rebasing: raw[$0..<$0 + length]) }
                try body(disk, Entry(offset: offset, length: length, bytes: bytes))
            }
        }
    }

    /// Why `[offset, offset + length)` is not block `offset / blockSize` of a disk of `size`
    /// bytes (aligned, inside, whole: the last block ends at the disk's end), or nil.
    public static func blockProblem(offset: UInt64, length: Int, blockSize: Int, size: UInt64) -> String? {
        guard offset < size else { return "block at \(offset) is outside the disk (\(size) bytes)" }
        guard offset % UInt64(blockSize) == 0 else { return "block at \(offset) is not aligned to \(blockSize) bytes" }
        let expected = Int(min(UInt64(blockSize), size - offset))
        guard length == expected else { return "block at \(offset) has \(length) bytes, not \(expected)" }
        return nil
    }
}

extension MigrationDescription {
    /// The disks as the destination's machine must match them: a copied disk lives at a path
    /// of the destination's own, so only its format and flags count.
    func comparableDisks(_ list: [Disk]) -> [Disk] {
        guard let copies = diskCopy else { return list }
        let copied = Set(copies.map(\.index))
        return list.enumerated().map { i, d in
            var d = d
            if copied.contains(i) { d.path = "" }
            return d
        }
    }
}

extension CRC32C {
    /// Continues a CRC over more bytes: start from `begin`, feed every part to `update`, and
    /// `finish` for the value (equal to `checksum` over the concatenated parts).
    static let begin: UInt32 = 0xFFFF_FFFF

    /// See `begin`.
    static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return state }
        if hardware { return sb_crc32c_update(state, base, bytes.count) }
        var crc = state
        let t0 = tables[0]
        for i in 0..<bytes.count { crc = (crc >> 8) ^ t0[Int((crc ^ UInt32(bytes[i])) & 0xFF)] }
        return crc
    }

    /// See `begin`.
    static func finish(_ state: UInt32) -> UInt32 { ~state }
}

// Qcow2Image: a qcow2 (version 3) disk image used as a copy-on-write overlay over a read-only
// base (raw or qcow2). Supports what overlays need: L1/L2 lookups, cluster allocation at the
// end of the file with exact refcounts (so `qemu-img check` finds no leaks), zero clusters,
// and creating new overlays. No compression, encryption, snapshots (writable), external
// data files or extended L2 entries.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A qcow2 version 3 image.
public final class Qcow2Image: DiskBackend {
    static let magic: UInt32 = 0x5146_49fb
    static let offsetMask: UInt64 = 0x00ff_ffff_ffff_fe00
    static let copiedFlag: UInt64 = 1 << 63
    static let compressedFlag: UInt64 = 1 << 62
    static let zeroFlag: UInt64 = 1
    static let backingFormatExtension: UInt32 = 0xe279_2aca
    static let maxBackingDepth = 16

    /// The image file.
    public let path: String
    /// Virtual disk size in bytes.
    public let size: UInt64
    /// Whether writes are refused.
    public let isReadOnly: Bool
    /// Bytes per cluster.
    public let clusterSize: Int
    /// The backing file name as stored in the header.
    public let backingFile: String?
    /// The backing format as stored in the header extension.
    public let backingFormat: String?
    /// The opened backing image.
    public let backing: (any DiskBackend)?

    let file: FileHandleFD
    let clusterBits: Int
    let l2Entries: Int
    let refcountBits: Int
    let refcountsPerBlock: Int
    let l1Offset: UInt64
    var l1: [UInt64]
    let refcountTableOffset: UInt64
    var refcountTable: [UInt64]
    var l2Cache: [UInt64: [UInt64]] = [:]
    var refcountCache: [UInt64: [UInt64]] = [:]
    /// Where the next cluster is allocated (the file end, cluster aligned).
    var nextFree: UInt64
    let scratch: UnsafeMutableRawBufferPointer

    /// Opens an image; a writable image must have no snapshots. The backing image named in
    /// the header is opened read-only, relative to this image's directory. The image is
    /// locked while open (a write lock, or a read lock when read-only; `.inUse` when another
    /// open holds a conflicting one); without `lock`, `acquireLock` takes it later. Backing
    /// images always hold a read lock: any number of readers may share them.
    public convenience init(path: String, readOnly: Bool = false, lock: Bool = true) throws(DiskError) {
        try self.init(path: path, readOnly: readOnly, depth: 0, lock: lock)
    }

    init(path: String, readOnly: Bool, depth: Int, lock: Bool = true) throws(DiskError) {
        guard depth < Self.maxBackingDepth else { throw .unsupported(path: path, "a backing chain deeper than \(Self.maxBackingDepth)") }
        self.path = path
        isReadOnly = readOnly
        file = try FileHandleFD(path: path, writable: !readOnly, lock: lock)
        let fileSize = try file.fileSize()
        let h = try file.read(count: 112, at: 0)
        func be32(_ o: Int) -> UInt32 { h[o..<o + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        func be64(_ o: Int) -> UInt64 { h[o..<o + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        guard fileSize >= 104, be32(0) == Self.magic else { throw .corrupt(path: path, "not a qcow2 image (bad magic)") }
        guard be32(4) == 3 else { throw .unsupported(path: path, "qcow2 version \(be32(4)) (only version 3)") }
        let bits = Int(be32(20))
        guard (9...21).contains(bits) else { throw .corrupt(path: path, "cluster_bits \(bits) outside 9...21") }
        clusterBits = bits
        clusterSize = 1 << bits
        l2Entries = clusterSize / 8
        size = be64(24)
        guard be32(32) == 0 else { throw .unsupported(path: path, "encryption") }
        let incompatible = be64(72)
        let names = ["dirty bit (run qemu-img check -r all)", "corrupt bit", "external data file", "compression type", "extended L2 entries"]
        if incompatible != 0 {
            let set = (0..<64).filter { incompatible & (1 << UInt64($0)) != 0 }
                .map { $0 < names.count ? names[$0] : "incompatible feature bit \($0)" }
            throw .unsupported(path: path, set.joined(separator: ", "))
        }
        let order = Int(be32(96))
        guard (3...6).contains(order) else { throw .unsupported(path: path, "refcount_order \(order) (only 3...6)") }
        refcountBits = 1 << order
        refcountsPerBlock = clusterSize * 8 / refcountBits
        let headerLength = Int(be32(100))
        guard headerLength >= 104, headerLength <= clusterSize else { throw .corrupt(path: path, "header_length \(headerLength)") }
        let snapshots = be32(60)
        if snapshots != 0 && !readOnly { throw .unsupported(path: path, "writing an image with internal snapshots") }

        let maxVirtual = UInt64(1) << 55
        guard size <= maxVirtual else { throw .corrupt(path: path, "virtual size \(size) is too large") }
        let l1Size = Int(be32(36))
        let perL1 = UInt64(clusterSize) * UInt64(l2Entries)
        let needed = (size + perL1 - 1) / perL1
        guard UInt64(l1Size) >= needed, l1Size <= 1 << 25 else { throw .corrupt(path: path, "l1_size \(l1Size) does not fit the virtual size") }
        l1Offset = be64(40)
        guard l1Size == 0 || (l1Offset % UInt64(clusterSize) == 0 && l1Offset < fileSize
                              && UInt64(l1Size) * 8 <= fileSize - l1Offset + UInt64(clusterSize)) else {
            throw .corrupt(path: path, "L1 table offset \(l1Offset)")
        }
        refcountTableOffset = be64(48)
        let tableClusters = Int(be32(56))
        guard refcountTableOffset % UInt64(clusterSize) == 0, refcountTableOffset < fileSize, tableClusters > 0,
              UInt64(tableClusters) * UInt64(clusterSize) <= fileSize else {
            throw .corrupt(path: path, "refcount table at \(refcountTableOffset), \(tableClusters) clusters")
        }
        let cs = UInt64(clusterSize)
        nextFree = (fileSize + cs - 1) / cs * cs
        l1 = try Self.readTable(file, at: l1Offset, count: l1Size)
        refcountTable = try Self.readTable(file, at: refcountTableOffset, count: tableClusters * clusterSize / 8)

        // Header extensions, then the backing file name.
        let first = try file.read(count: clusterSize, at: 0)
        var format: String?
        var at = headerLength
        while at + 8 <= clusterSize {
            let type = first[at..<at + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let length = Int(first[at + 4..<at + 8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            if type == 0 { break }
            guard length <= clusterSize - at - 8 else { throw .corrupt(path: path, "header extension 0x\(String(type, radix: 16)) overruns the first cluster") }
            if type == Self.backingFormatExtension {
                format = String(decoding: first[at + 8..<at + 8 + length], as: UTF8.self)
            }
            at += 8 + (length + 7) / 8 * 8
        }
        backingFormat = format
        let nameOffset = be64(8)
        let nameLength = Int(be32(16))
        if nameOffset != 0 && nameLength > 0 {
            guard nameLength <= 1023, nameOffset < UInt64(clusterSize), UInt64(nameLength) <= UInt64(clusterSize) - nameOffset else {
                throw .corrupt(path: path, "backing file name at \(nameOffset) (+\(nameLength))")
            }
            let name = String(decoding: first[Int(nameOffset)..<Int(nameOffset) + nameLength], as: UTF8.self)
            backingFile = name
            let resolved = name.hasPrefix("/") ? name : Self.directory(of: path) + name
            backing = try Self.openBacking(resolved, format: format, depth: depth + 1)
        } else {
            backingFile = nil
            backing = nil
        }
        scratch = .allocate(byteCount: clusterSize, alignment: 64)

        // Autoclear features describe data (bitmaps) this writer does not maintain: clear them.
        if !readOnly && be64(88) != 0 {
            try file.write([UInt8](repeating: 0, count: 8), at: 88)
        }
    }

    deinit { scratch.deallocate() }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[...slash])
    }

    static func openBacking(_ path: String, format: String?, depth: Int) throws(DiskError) -> any DiskBackend {
        var kind = format
        if kind == nil {
            let probe = try FileHandleFD(path: path, writable: false, lock: false).read(count: 4, at: 0)
            kind = probe == [0x51, 0x46, 0x49, 0xfb] ? "qcow2" : "raw"
        }
        switch kind {
        case "raw": return try RawDiskImage(path: path, readOnly: true)
        case "qcow2": return try Qcow2Image(path: path, readOnly: true, depth: depth)
        default: throw .unsupported(path: path, "backing format \(kind ?? "")")
        }
    }

    static func readTable(_ file: FileHandleFD, at offset: UInt64, count: Int) throws(DiskError) -> [UInt64] {
        guard count > 0 else { return [] }
        let bytes = try file.read(count: count * 8, at: offset)
        return (0..<count).map { i in bytes[i * 8..<i * 8 + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
    }

    static func bigEndian(_ value: UInt64, width: Int = 8) -> [UInt8] {
        (0..<width).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - $0))) }
    }

    // MARK: Lookup

    /// Where a virtual cluster's data is.
    enum Mapping: Equatable {
        case unallocated
        case zero
        case data(UInt64, copied: Bool, zeroFlag: Bool)
    }

    func l2Table(at offset: UInt64) throws(DiskError) -> [UInt64] {
        if let t = l2Cache[offset] { return t }
        guard offset % UInt64(clusterSize) == 0, offset < nextFree else { throw .corrupt(path: path, "L2 table offset \(offset)") }
        if l2Cache.count >= 1024 { l2Cache.removeAll(keepingCapacity: true) }
        let t = try Self.readTable(file, at: offset, count: l2Entries)
        l2Cache[offset] = t
        return t
    }

    func mapping(_ virtualOffset: UInt64) throws(DiskError) -> Mapping {
        let cluster = virtualOffset >> UInt64(clusterBits)
        let l1Index = Int(cluster / UInt64(l2Entries))
        let l2Index = Int(cluster % UInt64(l2Entries))
        guard l1Index < l1.count else { return .unallocated }
        let l2Offset = l1[l1Index] & Self.offsetMask
        if l2Offset == 0 { return .unallocated }
        let entry = try l2Table(at: l2Offset)[l2Index]
        if entry & Self.compressedFlag != 0 { throw .unsupported(path: path, "compressed clusters") }
        let host = entry & Self.offsetMask
        let zero = entry & Self.zeroFlag != 0
        if host == 0 { return zero ? .zero : .unallocated }
        guard host % UInt64(clusterSize) == 0, host < nextFree else { throw .corrupt(path: path, "data cluster offset \(host)") }
        return .data(host, copied: entry & Self.copiedFlag != 0, zeroFlag: zero)
    }

    // MARK: DiskBackend

    /// Reads through the overlay: allocated clusters from this file, zero clusters as zeros,
    /// the rest from the backing image (zeros beyond its end).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskError) {
        try checkRange(offset, buffer.count, size: size)
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let position = offset + UInt64(done)
            let inCluster = Int(position & UInt64(clusterSize - 1))
            let n = min(clusterSize - inCluster, buffer.count - done)
            let part = UnsafeMutableRawBufferPointer(start: base + done, count: n)
            switch try mapping(position) {
            case .unallocated: try readBacking(into: part, at: position)
            case .zero, .data(_, _, zeroFlag: true): part.initializeMemory(as: UInt8.self, repeating: 0)
            case .data(let host, _, _): try file.read(into: part, at: host + UInt64(inCluster))
            }
            done += n
        }
    }

    func readBacking(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskError) {
        guard let backing, offset < backing.size, let base = buffer.baseAddress else {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return
        }
        let n = Int(min(UInt64(buffer.count), backing.size - offset))
        try backing.read(into: UnsafeMutableRawBufferPointer(start: base, count: n), at: offset)
        if n < buffer.count { (base + n).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - n) }
    }

    /// Writes in place into clusters this image owns; other clusters are copied up (from the
    /// backing image, or zeros) into a newly allocated cluster first.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(DiskError) {
        guard !isReadOnly else { throw .readOnly(path) }
        try checkRange(offset, buffer.count, size: size)
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let position = offset + UInt64(done)
            let inCluster = Int(position & UInt64(clusterSize - 1))
            let n = min(clusterSize - inCluster, buffer.count - done)
            try writeCluster(UnsafeRawBufferPointer(start: base + done, count: n), at: position, inCluster: inCluster)
            done += n
        }
    }

    private func writeCluster(_ data: UnsafeRawBufferPointer, at position: UInt64, inCluster: Int) throws(DiskError) {
        let clusterStart = position - UInt64(inCluster)
        let current = try mapping(position)
        if case .data(let host, true, false) = current {
            try file.write(data, at: host + UInt64(inCluster))
            return
        }
        if case .data(_, false, _) = current {
            throw .unsupported(path: path, "writing a cluster shared with a snapshot")
        }
        // Build the whole new cluster in scratch: old contents, then the new bytes.
        if data.count < clusterSize {
            switch current {
            case .unallocated: try readBacking(into: scratch, at: clusterStart)
            default: scratch.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
        if let src = data.baseAddress, let dst = scratch.baseAddress {
            (dst + inCluster).copyMemory(from: src, byteCount: data.count)
        }
        let cluster = clusterStart >> UInt64(clusterBits)
        let l1Index = Int(cluster / UInt64(l2Entries))
        let l2Index = Int(cluster % UInt64(l2Entries))
        guard l1Index < l1.count else { throw .corrupt(path: path, "L1 table too small") }
        var l2Offset = l1[l1Index] & Self.offsetMask
        if l2Offset == 0 {
            // A new, empty L2 table: refcount first, then contents, then the L1 pointer.
            l2Offset = try allocateCluster()
            try file.write([UInt8](repeating: 0, count: clusterSize), at: l2Offset)
            l2Cache[l2Offset] = [UInt64](repeating: 0, count: l2Entries)
            l1[l1Index] = l2Offset | Self.copiedFlag
            try file.write(Self.bigEndian(l1[l1Index]), at: l1Offset + UInt64(l1Index) * 8)
        }
        let host: UInt64
        if case .data(let h, true, true) = current {
            host = h  // a preallocated zero cluster: reuse it, clearing the zero flag
        } else {
            host = try allocateCluster()
        }
        try file.write(UnsafeRawBufferPointer(scratch), at: host)
        let entry = host | Self.copiedFlag
        _ = try l2Table(at: l2Offset)
        l2Cache[l2Offset]?[l2Index] = entry  // in place: no copy of the table
        try file.write(Self.bigEndian(entry), at: l2Offset + UInt64(l2Index) * 8)
    }

    /// fsync.
    public func flush() throws(DiskError) {
        if !isReadOnly { try file.sync() }
    }

    /// Locks this image again (its backing images keep their read locks throughout).
    public func acquireLock() throws(DiskError) { try file.acquireLock() }

    /// Unlocks this image; it stays open (its backing images keep their read locks).
    public func releaseLock() { file.releaseLock() }

    // MARK: Refcounts

    /// Takes the cluster at the end of the file and sets its refcount to 1. A cluster whose
    /// refcount block does not exist yet gets one, placed in the cluster itself (the block
    /// then describes itself), and the next cluster is taken.
    func allocateCluster() throws(DiskError) -> UInt64 {
        let cs = UInt64(clusterSize)
        while true {
            let cluster = nextFree / cs
            let blockIndex = Int(cluster / UInt64(refcountsPerBlock))
            guard blockIndex < refcountTable.count else {
                throw .unsupported(path: path, "growing the refcount table (image larger than it can describe)")
            }
            let entry = Int(cluster % UInt64(refcountsPerBlock))
            if refcountTable[blockIndex] & Self.offsetMask == 0 {
                var block = [UInt64](repeating: 0, count: refcountsPerBlock)
                block[entry] = 1
                try file.write(encodeRefcounts(block), at: nextFree)
                refcountCache[nextFree] = block
                refcountTable[blockIndex] = nextFree
                try file.write(Self.bigEndian(nextFree), at: refcountTableOffset + UInt64(blockIndex) * 8)
                nextFree += cs
                continue
            }
            let blockOffset = refcountTable[blockIndex] & Self.offsetMask
            guard try refcountBlock(at: blockOffset)[entry] == 0 else {
                throw .corrupt(path: path, "cluster \(cluster) past the file end is in use")
            }
            refcountCache[blockOffset]?[entry] = 1
            let width = refcountBits / 8
            try file.write(Self.bigEndian(1, width: width), at: blockOffset + UInt64(entry * width))
            nextFree += cs
            return cluster * cs
        }
    }

    func refcountBlock(at offset: UInt64) throws(DiskError) -> [UInt64] {
        if let b = refcountCache[offset] { return b }
        guard offset % UInt64(clusterSize) == 0, offset < nextFree else { throw .corrupt(path: path, "refcount block offset \(offset)") }
        if refcountCache.count >= 1024 { refcountCache.removeAll(keepingCapacity: true) }
        let width = refcountBits / 8
        let bytes = try file.read(count: clusterSize, at: offset)
        let block = (0..<refcountsPerBlock).map { i in bytes[i * width..<(i + 1) * width].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        refcountCache[offset] = block
        return block
    }

    func encodeRefcounts(_ block: [UInt64]) -> [UInt8] {
        let width = refcountBits / 8
        var out = [UInt8](repeating: 0, count: clusterSize)
        for (i, v) in block.enumerated() where v != 0 {
            for b in 0..<width { out[i * width + b] = UInt8(truncatingIfNeeded: v >> UInt64(8 * (width - 1 - b))) }
        }
        return out
    }

    // MARK: Creation

    /// Creates a new, empty qcow2 version 3 image (16-bit refcounts) at `path`, which must not
    /// exist. With a backing file, `size` defaults to the backing image's size and reads of
    /// unwritten clusters come from it; `backingFile` is stored as given (relative names are
    /// resolved against the new image's directory, as qemu-img does).
    @discardableResult
    public static func create(path: String, size: UInt64? = nil, backingFile: String? = nil, backingFormat: String? = nil,
                              clusterBits: Int = 16) throws(DiskError) -> Qcow2Image {
        guard (9...21).contains(clusterBits) else { throw .invalidArgument("cluster_bits must be 9...21") }
        let cs = 1 << clusterBits
        var virtualSize = size
        if let backingFile {
            guard !backingFile.isEmpty, backingFile.utf8.count <= 1023 else { throw .invalidArgument("backing file name must be 1...1023 bytes") }
            if let backingFormat, backingFormat != "raw" && backingFormat != "qcow2" {
                throw .invalidArgument("backing format must be raw or qcow2, not \(backingFormat)")
            }
            let resolved = backingFile.hasPrefix("/") ? backingFile : directory(of: path) + backingFile
            let base = try openBacking(resolved, format: backingFormat, depth: 1)
            if virtualSize == nil { virtualSize = base.size }
        }
        guard let virtualSize, virtualSize > 0, virtualSize % 512 == 0, virtualSize <= UInt64(1) << 55 else {
            throw .invalidArgument("image size must be a positive multiple of 512 bytes")
        }
        let perL1 = UInt64(cs) * UInt64(cs / 8)
        let l1Size = Int((virtualSize + perL1 - 1) / perL1)
        let l1Clusters = max(1, (l1Size * 8 + cs - 1) / cs)
        let clusters = 3 + l1Clusters
        guard clusters <= cs * 8 / 16 else { throw .invalidArgument("image too large for one refcount block") }

        var header = [UInt8](repeating: 0, count: cs)
        func put(_ value: UInt64, _ offset: Int, _ width: Int) {
            header.replaceSubrange(offset..<offset + width, with: bigEndian(value, width: width))
        }
        put(UInt64(magic), 0, 4)
        put(3, 4, 4)
        put(UInt64(clusterBits), 20, 4)
        put(virtualSize, 24, 8)
        put(UInt64(l1Size), 36, 4)
        put(UInt64(3 * cs), 40, 8)          // L1 table after header, refcount table and block
        put(UInt64(cs), 48, 8)              // refcount table in cluster 1
        put(1, 56, 4)
        put(4, 96, 4)                       // refcount_order 4: 16-bit refcounts
        put(112, 100, 4)                    // header_length, with the compression type byte
        var at = 112
        if let backingFormat, backingFile != nil {
            let name = Array(backingFormat.utf8)
            put(UInt64(backingFormatExtension), at, 4)
            put(UInt64(name.count), at + 4, 4)
            header.replaceSubrange(at + 8..<at + 8 + name.count, with: name)
            at += 8 + (name.count + 7) / 8 * 8
        }
        at += 8                              // end-of-extensions marker (all zero)
        if let backingFile {
            let name = Array(backingFile.utf8)
            guard at + name.count <= cs else { throw .invalidArgument("backing file name does not fit the first cluster") }
            header.replaceSubrange(at..<at + name.count, with: name)
            put(UInt64(at), 8, 8)
            put(UInt64(name.count), 16, 4)
        }
        var table = [UInt8](repeating: 0, count: cs)
        table.replaceSubrange(0..<8, with: bigEndian(UInt64(2 * cs)))
        var block = [UInt8](repeating: 0, count: cs)
        for i in 0..<clusters { block[i * 2 + 1] = 1 }

        // No lock on the fresh file (O_EXCL: no one else has it): the image opened below
        // takes it, and this handle may live until the function returns.
        let file = try FileHandleFD(path: path, writable: true, create: true, lock: false)
        try file.write(header, at: 0)
        try file.write(table, at: UInt64(cs))
        try file.write(block, at: UInt64(2 * cs))
        try file.truncate(to: UInt64(clusters * cs))
        try file.sync()
        return try Qcow2Image(path: path)
    }
}

// VirtioBlock+Mirror: what a storage migration needs from a virtio-blk disk: dirty-block
// tracking switched on and off, reads of the image serialised with the guest's requests (the
// device lock), and host-side writes that go through the same tracking as the guest's.

extension VirtioBlock {
    /// Starts marking the blocks every write touches in a fresh map of `blockSize` bytes per
    /// bit, and returns it. Taken under the device lock, so a write either completed before
    /// (and is seen by a later read of the image) or is marked.
    public func startDirtyTracking(blockSize: Int = DirtyBlockMap.defaultBlockSize) throws(DiskError) -> DirtyBlockMap {
        let map = try DirtyBlockMap(diskSize: disk.size, blockSize: blockSize)
        core.lock.withLock { dirtyBlocks = map }
        return map
    }

    /// Stops marking (the copy ended or failed).
    public func stopDirtyTracking() {
        core.lock.withLock { dirtyBlocks = nil }
    }

    /// Whether writes are being tracked.
    public var isTrackingDirtyBlocks: Bool { core.lock.withLock { dirtyBlocks != nil } }

    /// Runs `body` with the image while no guest request is served (the device lock held):
    /// a qcow2 image's tables and caches are not safe to use from two threads.
    public func withDisk<T>(_ body: (any DiskBackend) throws(DiskError) -> T) throws(DiskError) -> T {
        core.lock.lock()
        defer { core.lock.unlock() }
        return try body(disk)
    }

    /// Writes `buffer` at `offset` as a guest write would: under the device lock, counted,
    /// and marked in the dirty map when one is tracking.
    public func hostWrite(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(DiskError) {
        core.lock.lock()
        defer { core.lock.unlock() }
        try disk.write(buffer, at: offset)
        dirtyBlocks?.mark(offset: offset, length: buffer.count)
    }
}

extension Qcow2Image {
    /// Whether any cluster of `[offset, offset + length)` is allocated in this image itself
    /// (data or a zero cluster), rather than read from the backing image. Call it where reads
    /// are safe (the device lock of the disk that uses the image).
    public func allocatesAny(offset: UInt64, length: Int) throws(DiskError) -> Bool {
        try checkRange(offset, length, size: size)
        var position = offset & ~UInt64(clusterSize - 1)
        let end = offset + UInt64(length)
        while position < end {
            if try mapping(position) != .unallocated { return true }
            position += UInt64(clusterSize)
        }
        return false
    }

    /// The size of the backing image, when there is one.
    public var backingSize: UInt64? { backing?.size }

    /// Where the backing image is: its stored name, relative names resolved against this
    /// image's directory (as opening it does).
    public var backingPath: String? {
        backingFile.map { $0.hasPrefix("/") ? $0 : Self.directory(of: path) + $0 }
    }

    /// The backing image's format ("raw" or "qcow2"), as stored or as opened.
    public var backingKind: String? {
        backingFormat ?? backing.map { $0 is Qcow2Image ? "qcow2" : "raw" }
    }

    /// Opens an image read-only by format ("raw" or "qcow2"; nil: by its magic), holding a
    /// shared read lock, as a backing image is opened.
    public static func openReadOnly(path: String, format: String?) throws(DiskError) -> any DiskBackend {
        try openBacking(path, format: format, depth: 1)
    }
}

extension RawDiskImage {
    /// Creates an empty (sparse, all zero) raw image of `size` bytes at `path`, which must not
    /// exist, and opens it for writing (locked unless `lock` is false).
    public static func create(path: String, size: UInt64, lock: Bool = true) throws(DiskError) -> RawDiskImage {
        guard size <= UInt64(Int64.max) else { throw .invalidArgument("image size \(size) is too large") }
        let file = try FileHandleFD(path: path, writable: true, create: true, lock: false)
        try file.truncate(to: size)
        return try RawDiskImage(path: path, readOnly: false, lock: lock)
    }
}

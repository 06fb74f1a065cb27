// RawDiskImage: a disk that is a plain file, byte for byte (qemu-img's "raw" format).

/// A raw image file, read and written with pread/pwrite.
public final class RawDiskImage: DiskBackend {
    /// The file's path.
    public let path: String
    /// Virtual size: the file size.
    public let size: UInt64
    /// Whether writes are refused.
    public let isReadOnly: Bool
    let file: FileHandleFD

    /// Opens `path`; read-only images are opened O_RDONLY. With `lock` (the default) the
    /// image is locked while open: a write lock, or a read lock when read-only; `.inUse` when
    /// another open holds a conflicting lock. Without it, `acquireLock` takes it later.
    public init(path: String, readOnly: Bool = false, lock: Bool = true) throws(DiskError) {
        self.path = path
        file = try FileHandleFD(path: path, writable: !readOnly, lock: lock)
        size = try file.fileSize()
        isReadOnly = readOnly
    }

    /// Reads from the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskError) {
        try checkRange(offset, buffer.count, size: size)
        try file.read(into: buffer, at: offset)
    }

    /// Writes to the file.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(DiskError) {
        guard !isReadOnly else { throw .readOnly(path) }
        try checkRange(offset, buffer.count, size: size)
        try file.write(buffer, at: offset)
    }

    /// fsync.
    public func flush() throws(DiskError) {
        if !isReadOnly { try file.sync() }
    }

    /// Locks the image again (write lock, or read lock when read-only).
    public func acquireLock() throws(DiskError) { try file.acquireLock() }

    /// Unlocks the image; it stays open.
    public func releaseLock() { file.releaseLock() }
}

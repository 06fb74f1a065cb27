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

    /// Opens `path`; read-only images are opened O_RDONLY.
    public init(path: String, readOnly: Bool = false) throws(DiskError) {
        self.path = path
        file = try FileHandleFD(path: path, writable: !readOnly)
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
}

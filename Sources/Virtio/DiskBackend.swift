// DiskBackend: what virtio-blk needs from a disk image (raw file, qcow2 overlay), and the
// errors disk images report.

/// A virtual disk: a byte-addressed image of fixed size.
public protocol DiskBackend: AnyObject {
    /// Virtual size in bytes.
    var size: UInt64 { get }
    /// Whether writes are refused.
    var isReadOnly: Bool { get }
    /// Fills `buffer` from the image at `offset` (must lie inside `size`).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskError)
    /// Writes `buffer` at `offset` (must lie inside `size`).
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(DiskError)
    /// Makes written data durable (fsync).
    func flush() throws(DiskError)
}

/// Why a disk operation or image failed.
public enum DiskError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(operation: String, path: String, errno: Int32)
    /// An access outside the virtual size.
    case outOfRange(offset: UInt64, length: UInt64, size: UInt64)
    /// A write to a read-only image.
    case readOnly(String)
    /// The image file is malformed.
    case corrupt(path: String, String)
    /// The image uses something this implementation does not support.
    case unsupported(path: String, String)
    /// Bad arguments (e.g. a size that is not a multiple of 512).
    case invalidArgument(String)

    /// A readable message.
    public var description: String {
        switch self {
        case .system(let op, let path, let e): return "\(op) \(path): \(String(cString: strerror(e)))"
        case .outOfRange(let o, let n, let size): return "access at \(o) (+\(n) bytes) is beyond the disk size \(size)"
        case .readOnly(let path): return "\(path) is read-only"
        case .corrupt(let path, let why): return "\(path) is corrupt: \(why)"
        case .unsupported(let path, let why): return "\(path): \(why) is not supported"
        case .invalidArgument(let why): return why
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks that `[offset, offset+length)` lies inside `size`, without overflow.
@inlinable func checkRange(_ offset: UInt64, _ length: Int, size: UInt64) throws(DiskError) {
    let n = UInt64(length)
    guard offset <= size, n <= size - offset else { throw .outOfRange(offset: offset, length: n, size: size) }
}

/// An open file descriptor with EINTR-safe positional I/O; closed on deinit.
final class FileHandleFD {
    let fd: Int32
    let path: String

    init(path: String, writable: Bool, create: Bool = false) throws(DiskError) {
        var flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC
        if create { flags |= O_CREAT | O_EXCL }
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// File size in bytes.
    func fileSize() throws(DiskError) -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(operation: "fstat", path: path, errno: errno) }
        return UInt64(st.st_size)
    }

    /// Reads exactly `buffer.count` bytes; bytes past the end of the file read as zero.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskError) {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + UInt64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "pread", path: path, errno: errno)
            }
            if n == 0 {
                (base + done).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - done)
                return
            }
            done += n
        }
    }

    /// Writes all of `buffer`.
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(DiskError) {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, base + done, buffer.count - done, off_t(offset + UInt64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws(DiskError) {
        let result: Result<Void, DiskError> = bytes.withUnsafeBytes { b in
            do throws(DiskError) { try write(b, at: offset); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    func read(count: Int, at offset: UInt64) throws(DiskError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let result: Result<Void, DiskError> = out.withUnsafeMutableBytes { b in
            do throws(DiskError) { try read(into: b, at: offset); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
        return out
    }

    func sync() throws(DiskError) {
        guard fsync(fd) == 0 else { throw .system(operation: "fsync", path: path, errno: errno) }
    }

    func truncate(to size: UInt64) throws(DiskError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw .system(operation: "ftruncate", path: path, errno: errno) }
    }
}

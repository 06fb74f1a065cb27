// DiskBackend: what virtio-blk needs from a disk image (raw file, qcow2 overlay), the errors
// disk images report, and the OFD locks that keep two writers off one image (QEMU's image
// locking, byte for byte: QEMU and Switchboard see each other's locks).

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
    /// Takes the image's lock again after `releaseLock` (a migration's source that resumes,
    /// or its destination taking the image over); throws `.inUse` while another holds it.
    func acquireLock() throws(DiskError)
    /// Gives the image's lock up while it stays open (a migration's source, paused and
    /// flushed, before the destination opens the shared image for writing).
    func releaseLock()
}

extension DiskBackend {
    /// Backends without a file have no lock to take.
    public func acquireLock() throws(DiskError) {}
    /// Backends without a file have no lock to give up.
    public func releaseLock() {}
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
    /// Another open of the image (this process or another) holds a lock that conflicts:
    /// someone writes it, or reads it while we want to write.
    case inUse(path: String, writable: Bool)

    /// A readable message.
    public var description: String {
        switch self {
        case .system(let op, let path, let e): return "\(op) \(path): \(String(cString: strerror(e)))"
        case .outOfRange(let o, let n, let size): return "access at \(o) (+\(n) bytes) is beyond the disk size \(size)"
        case .readOnly(let path): return "\(path) is read-only"
        case .corrupt(let path, let why): return "\(path) is corrupt: \(why)"
        case .unsupported(let path, let why): return "\(path): \(why) is not supported"
        case .invalidArgument(let why): return why
        case .inUse(let path, let writable):
            return "\(path) is in use: another VM or process has it open \(writable ? "" : "for writing ")"
                + "(its lock conflicts with our \(writable ? "write" : "read") lock); a writable image is opened once"
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
///
/// With `lock`, the open file description holds OFD locks (fcntl F_OFD_SETLK) in QEMU's
/// layout, so Switchboard and QEMU keep each other off an image as two QEMUs do: for each
/// permission held (consistent read; write and write-unchanged when writable) a read lock on
/// byte 100 + bit, and for each permission not shared with others (write, resize) a read lock
/// on byte 200 + bit. An open conflicts when someone has locked byte 200 + bit of a
/// permission it holds, or byte 100 + bit of one it does not share: a writer keeps every
/// other writer and reader off, readers share (`qemu-img -U` still reads). OFD locks belong
/// to the open, not the process, so they conflict between two opens in one process too, and
/// close() releases them.
final class FileHandleFD {
    let fd: Int32
    let path: String
    let writable: Bool
    private(set) var isLocked = false

    /// F_OFD_GETLK and F_OFD_SETLK (Linux 3.15; not exported to Swift by Glibc's module).
    static let getOFDLock: Int32 = 36
    static let setOFDLock: Int32 = 37
    /// QEMU's permission bits (BLK_PERM_*) and the bases of its lock bytes.
    static let consistentRead = 0, write = 1, writeUnchanged = 2, resize = 3
    static let permissionBase = 100, sharedBase = 200

    init(path: String, writable: Bool, create: Bool = false, lock: Bool = true) throws(DiskError) {
        // open() would stop at a NUL and open another file.
        guard !path.utf8.contains(0) else { throw .invalidArgument("image path \"\(path)\" contains a NUL character") }
        var flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC
        if create { flags |= O_CREAT | O_EXCL }
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
        self.writable = writable
        if lock { try acquireLock() }
    }

    deinit { close(fd) }

    /// The permissions this open holds, and those it does not share.
    var held: [Int] { writable ? [Self.consistentRead, Self.write, Self.writeUnchanged] : [Self.consistentRead] }
    var unshared: [Int] { [Self.write, Self.resize] }

    /// Takes the locks (idempotent); `.inUse` when another open's locks conflict. Locks first,
    /// then looks for conflicts, so two opens racing see each other (as QEMU does).
    func acquireLock() throws(DiskError) {
        guard !isLocked else { return }
        var bytes = held.map { Self.permissionBase + $0 }
        bytes += unshared.map { Self.sharedBase + $0 }
        for byte in bytes where !setLock(F_RDLCK, byte: byte) {
            let code = errno
            setLock(F_UNLCK, byte: nil)
            if code == EAGAIN || code == EACCES { throw .inUse(path: path, writable: writable) }
            throw .system(operation: "lock", path: path, errno: code)
        }
        var probes = held.map { Self.sharedBase + $0 }
        probes += unshared.map { Self.permissionBase + $0 }
        for byte in probes {
            var probe = Self.request(F_WRLCK, byte: byte)
            guard fcntl(fd, Self.getOFDLock, &probe) == 0 else {
                let code = errno
                setLock(F_UNLCK, byte: nil)
                throw .system(operation: "lock", path: path, errno: code)
            }
            if probe.l_type != Int16(F_UNLCK) {
                setLock(F_UNLCK, byte: nil)
                throw .inUse(path: path, writable: writable)
            }
        }
        isLocked = true
    }

    /// Gives the locks up; the file stays open.
    func releaseLock() {
        guard isLocked else { return }
        setLock(F_UNLCK, byte: nil)
        isLocked = false
    }

    /// A lock request for one byte, or the whole file (l_pid must be 0 for OFD locks).
    static func request(_ type: Int32, byte: Int?) -> flock {
        var request = flock()
        request.l_type = Int16(type)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = off_t(byte ?? 0)
        request.l_len = byte == nil ? 0 : 1
        request.l_pid = 0
        return request
    }

    /// One F_OFD_SETLK on one byte, or the whole file when `byte` is nil.
    @discardableResult
    private func setLock(_ type: Int32, byte: Int?) -> Bool {
        var request = Self.request(type, byte: byte)
        while true {
            if fcntl(fd, Self.setOFDLock, &request) == 0 { return true }
            if errno != EINTR { return false }
        }
    }

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

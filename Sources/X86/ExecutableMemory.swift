// ExecutableMemory: a region for generated code that is never writable and executable at
// once (W^X). Code is appended while the region is read-write; `seal()` turns it read-execute.
// Patching sealed code (chaining a jump) flips the pages back to read-write for the write and
// to read-execute again, so no instant exists where a page is both.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why executable memory could not be set up or changed.
public enum ExecutableMemoryError: Error, Equatable, CustomStringConvertible {
    case mapFailed(size: Int, errno: Int32)
    case protectFailed(errno: Int32)
    case full(needed: Int, free: Int)

    public var description: String {
        switch self {
        case .mapFailed(let size, let e): return "cannot map \(size) bytes for generated code (errno \(e))"
        case .protectFailed(let e): return "mprotect of generated code failed (errno \(e))"
        case .full(let needed, let free): return "code region full: \(needed) bytes needed, \(free) free"
        }
    }
}

/// A fixed-size region of host memory for generated code, filled front to back.
public final class ExecutableMemory: @unchecked Sendable {
    /// The host page size.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// Start of the region.
    public let base: UnsafeMutableRawPointer
    /// Size of the region in bytes (whole pages).
    public let capacity: Int
    /// Bytes used.
    public private(set) var used = 0
    /// Whether the region is currently executable (and so not writable).
    public private(set) var isExecutable = false

    /// Maps `capacity` bytes (rounded up to pages), read-write.
    public init(capacity: Int) throws(ExecutableMemoryError) {
        let size = max((capacity + Self.pageSize - 1) / Self.pageSize, 1) * Self.pageSize
        // SAFETY: a fresh private anonymous mapping, unmapped in deinit.
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { throw .mapFailed(size: size, errno: errno) }
        base = p
        self.capacity = size
    }

    deinit { munmap(base, capacity) }

    /// Bytes still free.
    public var free: Int { capacity - used }

    /// Copies `code` to the end of the region (which must be writable) and returns its address.
    public func append(_ code: [UInt8], alignment: Int = 16) throws(ExecutableMemoryError) -> UnsafeRawPointer {
        precondition(!isExecutable, "append to sealed code: call unseal() first")
        let start = (used + alignment - 1) / alignment * alignment
        guard start + code.count <= capacity else { throw .full(needed: code.count, free: max(capacity - start, 0)) }
        // SAFETY: [start, start + count) lies inside the mapping (checked above), which is writable.
        code.withUnsafeBytes { (base + start).copyMemory(from: $0.baseAddress!, byteCount: code.count) }
        used = start + code.count
        return UnsafeRawPointer(base + start)
    }

    /// Makes the region read-execute.
    public func seal() throws(ExecutableMemoryError) {
        guard !isExecutable else { return }
        guard mprotect(base, capacity, PROT_READ | PROT_EXEC) == 0 else { throw .protectFailed(errno: errno) }
        isExecutable = true
    }

    /// Makes the region read-write (not executable) for appending or patching.
    public func unseal() throws(ExecutableMemoryError) {
        guard isExecutable else { return }
        guard mprotect(base, capacity, PROT_READ | PROT_WRITE) == 0 else { throw .protectFailed(errno: errno) }
        isExecutable = false
    }

    /// Forgets every piece of code (the translation cache's whole flush); the region is left
    /// writable.
    public func reset() throws(ExecutableMemoryError) {
        try unseal()
        used = 0
    }

    /// Overwrites the 32-bit little-endian field at `address` (inside the used part), keeping
    /// W^X: the region is writable only for the write.
    public func patch32(at address: UnsafeRawPointer, _ value: Int32) throws(ExecutableMemoryError) {
        let offset = address - UnsafeRawPointer(base)
        precondition(offset >= 0 && offset + 4 <= used, "patch outside the generated code")
        let wasExecutable = isExecutable
        try unseal()
        // SAFETY: inside the used part of the mapping (checked), now writable.
        (base + offset).storeBytes(of: value.littleEndian, as: Int32.self)
        if wasExecutable { try seal() }
    }
}

// ExecutableMemory: a region for generated code where no mapping is ever writable and
// executable at once (W^X). By default the region is one shared-memory object mapped twice: a
// read-write view the translator writes through and a read-execute view the CPU runs, so adding
// a block or patching a jump needs no system call. Where the system refuses an executable
// shared mapping (a noexec /dev/shm), it falls back to a single private mapping flipped with
// mprotect: written read-write, run read-execute. `docs/cpu.md` says why the dual view is the
// default (mprotect on every new block costs a TLB shootdown on every CPU running a vCPU).

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
    /// How the region keeps W^X.
    public enum Mode: Sendable, Equatable {
        /// Two views of one shared-memory object: read-write and read-execute.
        case dualView
        /// One private mapping, switched between read-write and read-execute with mprotect.
        case protectFlip
    }

    /// The host page size.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// The mode in use.
    public let mode: Mode
    /// Start of the executable view (in `protectFlip` mode also the writable one).
    public let base: UnsafeMutableRawPointer
    /// Start of the writable view.
    let writable: UnsafeMutableRawPointer
    /// Size of the region in bytes (whole pages).
    public let capacity: Int
    /// Bytes used.
    public private(set) var used = 0
    /// In `protectFlip` mode, whether the region is currently executable (and not writable).
    /// The dual view is always both, through different addresses.
    public private(set) var isExecutable = false

    /// Maps `capacity` bytes (rounded up to pages), preferring the dual view.
    public init(capacity: Int, mode preferred: Mode = .dualView) throws(ExecutableMemoryError) {
        let size = max((capacity + Self.pageSize - 1) / Self.pageSize, 1) * Self.pageSize
        self.capacity = size
        if preferred == .dualView, let (w, x) = Self.dualView(size: size) {
            mode = .dualView
            writable = w
            base = x
            isExecutable = true
            return
        }
        // SAFETY: a fresh private anonymous mapping, unmapped in deinit.
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { throw .mapFailed(size: size, errno: errno) }
        mode = .protectFlip
        base = p
        writable = p
    }

    /// A shared-memory object of `size` bytes mapped read-write and read-execute, or nil.
    private static func dualView(size: Int) -> (UnsafeMutableRawPointer, UnsafeMutableRawPointer)? {
        var name = "/switchboard-code-\(getpid())-"
        for _ in 0..<8 { name.append(Character(Unicode.Scalar(UInt8.random(in: 97...122)))) }
        let fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        shm_unlink(name)
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { return nil }
        let w = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let w, w != MAP_FAILED else { return nil }
        let x = mmap(nil, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0)
        guard let x, x != MAP_FAILED else {
            munmap(w, size)
            return nil
        }
        return (w, x)
    }

    deinit {
        munmap(base, capacity)
        if writable != base { munmap(writable, capacity) }
    }

    /// Bytes still free.
    public var free: Int { capacity - used }

    /// Copies `code` to the end of the region and returns its executable address. In
    /// `protectFlip` mode the region must be unsealed.
    public func append(_ code: [UInt8], alignment: Int = 16) throws(ExecutableMemoryError) -> UnsafeRawPointer {
        precondition(mode == .dualView || !isExecutable, "append to sealed code: call unseal() first")
        let start = (used + alignment - 1) / alignment * alignment
        guard start + code.count <= capacity else { throw .full(needed: code.count, free: max(capacity - start, 0)) }
        // SAFETY: [start, start + count) lies inside the writable view (checked above).
        code.withUnsafeBytes { (writable + start).copyMemory(from: $0.baseAddress!, byteCount: code.count) }
        used = start + code.count
        return UnsafeRawPointer(base + start)
    }

    /// Makes the region read-execute (`protectFlip`; nothing to do for the dual view).
    public func seal() throws(ExecutableMemoryError) {
        guard mode == .protectFlip, !isExecutable else { return }
        guard mprotect(base, capacity, PROT_READ | PROT_EXEC) == 0 else { throw .protectFailed(errno: errno) }
        isExecutable = true
    }

    /// Makes the region read-write, not executable (`protectFlip`; nothing to do for the
    /// dual view).
    public func unseal() throws(ExecutableMemoryError) {
        guard mode == .protectFlip, isExecutable else { return }
        guard mprotect(base, capacity, PROT_READ | PROT_WRITE) == 0 else { throw .protectFailed(errno: errno) }
        isExecutable = false
    }

    /// Forgets every piece of code (the translation cache's whole flush).
    public func reset() throws(ExecutableMemoryError) {
        try unseal()
        used = 0
    }

    /// Overwrites the 32-bit little-endian field at executable `address` (inside the used
    /// part), through the writable view (or, in `protectFlip` mode, writable only for the write).
    public func patch32(at address: UnsafeRawPointer, _ value: Int32) throws(ExecutableMemoryError) {
        let offset = address - UnsafeRawPointer(base)
        precondition(offset >= 0 && offset + 4 <= used, "patch outside the generated code")
        let wasExecutable = isExecutable
        if mode == .protectFlip { try unseal() }
        // SAFETY: inside the used part of the writable view (checked).
        (writable + offset).storeBytes(of: value.littleEndian, as: Int32.self)
        if mode == .protectFlip && wasExecutable { try seal() }
    }
}

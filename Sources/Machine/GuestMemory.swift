// GuestMemory: the guest's RAM as mmap'd host regions, bounds-checked accessors and an optional
// dirty-page bitmap (switched on for live migration). The bitmap's words are atomic: the vCPU
// thread (software MMU) and the datapath thread (virtio DMA) mark pages at the same time.
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from guest memory setup and checked accesses.
public enum GuestMemoryError: Error, Equatable, CustomStringConvertible {
    /// The host refused to map the region.
    case mapFailed(size: UInt64)
    /// Regions overlap or have a size that is zero or not page aligned.
    case badRegion(GuestPhysicalAddress, size: UInt64)
    /// An access fell (partly) outside RAM.
    case outOfBounds(GuestPhysicalAddress, length: UInt64)

    /// A readable message.
    public var description: String {
        switch self {
        case .mapFailed(let size): return "cannot map \(size) bytes of guest RAM"
        case .badRegion(let a, let size): return "bad RAM region at \(a) size \(size)"
        case .outOfBounds(let a, let n): return "guest-physical access \(a)+\(n) is outside RAM"
        }
    }
}

/// One contiguous RAM region backed by anonymous host memory.
public struct GuestRAMRegion: Sendable {
    /// Guest-physical start.
    public let base: GuestPhysicalAddress
    /// Size in bytes (a multiple of the page size).
    public let size: UInt64
    /// The host mapping; owned by the `GuestMemory` that created it.
    public nonisolated(unsafe) let host: UnsafeMutableRawPointer
    /// Index of this region's first page in the dirty bitmap.
    public let firstPage: Int

    /// True when `[address, address+length)` lies inside the region.
    @inlinable public func contains(_ address: UInt64, length: UInt64 = 1) -> Bool {
        address >= base.raw && length <= size && address - base.raw <= size - length
    }
}

/// Guest RAM: regions, checked accessors and dirty-page logging.
public final class GuestMemory: @unchecked Sendable {
    /// Page size used for dirty logging (4 KiB).
    public static let pageSize: UInt64 = 4096
    /// The RAM regions, sorted by address.
    public let regions: [GuestRAMRegion]
    /// Total number of 4 KiB pages over all regions.
    public let pageCount: Int
    /// The dirty bitmap (one bit per page), valid while `dirtyLogging` is on. Every update is
    /// an atomic read-modify-write: a plain `|=` from two threads on one word loses bits, and a
    /// lost bit is a page migration never sends again.
    @usableFromInline nonisolated(unsafe) var dirtyBits: UnsafeMutablePointer<Atomic<UInt64>>
    /// Words in `dirtyBits` (at least one).
    @usableFromInline let dirtyWords: Int
    /// Whether writes are being logged. Writers that cache host pointers must re-check
    /// `isDirty` before caching a writable mapping while this is on.
    public private(set) var dirtyLogging = false
    /// Bumped whenever logging is switched or the bitmap is reset, so CPUs drop cached
    /// writable mappings (their "write protection").
    public private(set) var writeProtectGeneration: UInt64 = 0

    /// Maps RAM regions given as (guest-physical base, size in bytes).
    public init(regions spec: [(GuestPhysicalAddress, UInt64)]) throws {
        var out: [GuestRAMRegion] = []
        var pages = 0
        for (base, size) in spec.sorted(by: { $0.0 < $1.0 }) {
            guard size > 0, size % GuestMemory.pageSize == 0, base.raw % GuestMemory.pageSize == 0,
                  base.raw &+ size > base.raw,
                  out.last.map({ $0.base.raw + $0.size <= base.raw }) ?? true else {
                for r in out { munmap(r.host, Int(r.size)) }
                throw GuestMemoryError.badRegion(base, size: size)
            }
            // SAFETY: a fresh private anonymous mapping; unmapped in deinit.
            let p = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let p, p != MAP_FAILED else {
                for r in out { munmap(r.host, Int(r.size)) }
                throw GuestMemoryError.mapFailed(size: size)
            }
            out.append(GuestRAMRegion(base: base, size: size, host: p, firstPage: pages))
            pages += Int(size / GuestMemory.pageSize)
        }
        regions = out
        pageCount = pages
        dirtyWords = max((pages + 63) / 64, 1)
        dirtyBits = .allocate(capacity: dirtyWords)
        // SAFETY: fresh storage of `dirtyWords` words, each initialised once here.
        for w in 0..<dirtyWords { (dirtyBits + w).initialize(to: Atomic(0)) }
    }

    /// Convenience: one region.
    public convenience init(base: GuestPhysicalAddress, size: UInt64) throws {
        try self.init(regions: [(base, size)])
    }

    deinit {
        for r in regions { munmap(r.host, Int(r.size)) }
        dirtyBits.deinitialize(count: dirtyWords)
        dirtyBits.deallocate()
    }

    /// The region holding `[address, address+length)`, if any.
    @inlinable public func region(containing address: UInt64, length: UInt64 = 1) -> GuestRAMRegion? {
        for r in regions where r.contains(address, length: length) { return r }
        return nil
    }

    /// The host pointer for a guest-physical range, or nil when it is not entirely in one region.
    @inlinable public func hostPointer(_ address: GuestPhysicalAddress, length: UInt64 = 1) -> UnsafeMutableRawPointer? {
        guard let r = region(containing: address.raw, length: length) else { return nil }
        return r.host + Int(address.raw - r.base.raw)
    }

    /// Global page index (for the dirty bitmap) of a RAM address, or nil outside RAM.
    @inlinable public func pageIndex(_ address: UInt64) -> Int? {
        guard let r = region(containing: address) else { return nil }
        return r.firstPage + Int((address - r.base.raw) / GuestMemory.pageSize)
    }

    /// The host address of page `index` (a global page index, as the dirty bitmap counts),
    /// or nil beyond RAM. Writes through it are not logged: mark them (`markPageDirty`).
    public func hostPage(_ index: Int) -> UnsafeMutableRawPointer? {
        guard index >= 0 else { return nil }
        for r in regions {
            let pages = Int(r.size / GuestMemory.pageSize)
            // SAFETY: the page lies inside region `r`, whose mapping lives as long as `self`.
            if index >= r.firstPage && index < r.firstPage + pages { return r.host + (index - r.firstPage) * Int(GuestMemory.pageSize) }
        }
        return nil
    }

    /// Copies bytes into guest RAM (marks pages dirty).
    public func write(_ bytes: UnsafeRawBufferPointer, at address: GuestPhysicalAddress) throws {
        let n = UInt64(bytes.count)
        if n == 0 { return }
        guard let p = hostPointer(address, length: n), let src = bytes.baseAddress else {
            throw GuestMemoryError.outOfBounds(address, length: n)
        }
        p.copyMemory(from: src, byteCount: bytes.count)
        markDirty(address.raw, length: n)
    }

    /// Copies an array of bytes into guest RAM.
    public func write(_ bytes: [UInt8], at address: GuestPhysicalAddress) throws {
        try bytes.withUnsafeBytes { try write($0, at: address) }
    }

    /// Fills a range with zero bytes.
    public func zero(at address: GuestPhysicalAddress, length: UInt64) throws {
        if length == 0 { return }
        guard let p = hostPointer(address, length: length) else {
            throw GuestMemoryError.outOfBounds(address, length: length)
        }
        p.initializeMemory(as: UInt8.self, repeating: 0, count: Int(length))
        markDirty(address.raw, length: length)
    }

    /// Reads bytes out of guest RAM.
    public func read(at address: GuestPhysicalAddress, count: Int) throws -> [UInt8] {
        guard count >= 0, let p = hostPointer(address, length: UInt64(count)) else {
            throw GuestMemoryError.outOfBounds(address, length: UInt64(max(count, 0)))
        }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }

    /// Reads a little-endian integer.
    public func load<T: FixedWidthInteger>(_: T.Type, at address: GuestPhysicalAddress) throws -> T {
        guard let p = hostPointer(address, length: UInt64(MemoryLayout<T>.size)) else {
            throw GuestMemoryError.outOfBounds(address, length: UInt64(MemoryLayout<T>.size))
        }
        return T(littleEndian: p.loadUnaligned(as: T.self))
    }

    /// Writes a little-endian integer (marks the page dirty).
    public func store<T: FixedWidthInteger>(_ value: T, at address: GuestPhysicalAddress) throws {
        guard let p = hostPointer(address, length: UInt64(MemoryLayout<T>.size)) else {
            throw GuestMemoryError.outOfBounds(address, length: UInt64(MemoryLayout<T>.size))
        }
        p.storeBytes(of: value.littleEndian, as: T.self)
        markDirty(address.raw, length: UInt64(MemoryLayout<T>.size))
    }

    // MARK: dirty logging

    /// Switches dirty logging on or off; switching on clears the bitmap.
    public func setDirtyLogging(_ on: Bool) {
        dirtyLogging = on
        clearDirty()
    }

    /// Clears the bitmap and write-protects all pages again. Writers that cache writable
    /// mappings (the vCPU) must be paused: they re-mark a page only after their cache is dropped.
    public func clearDirty() {
        for w in 0..<dirtyWords { dirtyBits[w].store(0, ordering: .releasing) }
        writeProtectGeneration &+= 1
    }

    /// Marks the pages of a written range dirty (no-op while logging is off).
    @inlinable public func markDirty(_ address: UInt64, length: UInt64) {
        guard dirtyLogging, length > 0 else { return }
        var a = address & ~(GuestMemory.pageSize - 1)
        while a < address &+ length {
            if let i = pageIndex(a) { setDirtyBit(i) }
            a &+= GuestMemory.pageSize
        }
    }

    /// Marks one page (global index) dirty.
    @inlinable public func markPageDirty(_ index: Int) {
        guard dirtyLogging, index >= 0, index < pageCount else { return }
        setDirtyBit(index)
    }

    /// Sets bit `index` (in range) with an atomic fetch-or, after a plain atomic load: an
    /// already-dirty page, the common case within a round, costs one load and no locked
    /// instruction. Releasing, so a reader that takes the bit also sees the data written before.
    @inlinable @inline(__always) func setDirtyBit(_ index: Int) {
        let bit: UInt64 = 1 << UInt64(index & 63)
        if dirtyBits[index >> 6].load(ordering: .relaxed) & bit == 0 {
            dirtyBits[index >> 6].bitwiseOr(bit, ordering: .releasing)
        }
    }

    /// Whether a page (global index) has been written since the last clear.
    @inlinable public func isDirty(page index: Int) -> Bool {
        guard index >= 0, index < pageCount else { return false }
        return dirtyBits[index >> 6].load(ordering: .acquiring) & (1 << UInt64(index & 63)) != 0
    }

    /// Global indices of all dirty pages, leaving the bitmap as it is (the bitmap is scanned a
    /// word at a time, so a large idle guest costs one load per 64 pages).
    public func dirtyPages() -> [Int] {
        var out: [Int] = []
        for w in 0..<dirtyWords { appendPages(of: dirtyBits[w].load(ordering: .acquiring), word: w, to: &out) }
        return out
    }

    /// Global indices of all dirty pages, clearing them: each word is read and cleared in one
    /// atomic exchange, so a page marked meanwhile by another thread is either returned now or
    /// stays dirty for the next call, never lost. Then write-protects all pages again (bumps
    /// `writeProtectGeneration`); as for `clearDirty`, writers that cache writable mappings must
    /// be paused.
    public func takeDirtyPages() -> [Int] {
        var out: [Int] = []
        for w in 0..<dirtyWords {
            if dirtyBits[w].load(ordering: .relaxed) == 0 { continue }
            appendPages(of: dirtyBits[w].exchange(0, ordering: .acquiring), word: w, to: &out)
        }
        writeProtectGeneration &+= 1
        return out
    }

    /// Appends the page indices of the set bits of bitmap word `w`.
    private func appendPages(of word: UInt64, word w: Int, to out: inout [Int]) {
        var word = word
        while word != 0 {
            let index = w << 6 | word.trailingZeroBitCount
            if index < pageCount { out.append(index) }
            word &= word &- 1
        }
    }

    /// Number of dirty pages.
    public var dirtyCount: Int {
        var n = 0
        for w in 0..<dirtyWords { n += dirtyBits[w].load(ordering: .relaxed).nonzeroBitCount }
        return n
    }

    // MARK: populated pages

    /// Which pages may hold data: one bit per page, set when the host has the page in memory
    /// or in swap. A clear bit is a page no one ever wrote (or that was discarded), which an
    /// anonymous mapping reads as zeros, so migration can send it as zero without reading it
    /// (reading would fault it in). Read from /proc/self/pagemap (present and swapped bits,
    /// which need no privilege); nil when that file cannot be read.
    public func populatedPages() -> [UInt64]? {
        let fd = open("/proc/self/pagemap", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bits = [UInt64](repeating: 0, count: max((pageCount + 63) / 64, 1))
        let hostPage = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        guard hostPage == GuestMemory.pageSize else { return nil }
        let chunk = 65_536
        let entries = UnsafeMutablePointer<UInt64>.allocate(capacity: chunk)
        defer { entries.deallocate() }
        for r in regions {
            let pages = Int(r.size / GuestMemory.pageSize)
            var done = 0
            while done < pages {
                let n = min(chunk, pages - done)
                let virtualPage = UInt64(UInt(bitPattern: r.host)) / hostPage + UInt64(done)
                // SAFETY: `entries` holds `chunk` >= n words; pread writes at most n * 8 bytes.
                let got = pread(fd, entries, n * 8, off_t(virtualPage * 8))
                guard got == n * 8 else { return nil }
                for i in 0..<n where entries[i] & (0b11 << 62) != 0 {
                    let index = r.firstPage + done + i
                    bits[index >> 6] |= 1 << UInt64(index & 63)
                }
                done += n
            }
        }
        return bits
    }

    /// Gives pages `range` (global indices) back to the host: they read as zeros afterwards
    /// and cost no memory until written (MADV_DONTNEED on a private anonymous mapping). The
    /// pages count as written for dirty logging.
    public func discard(pages range: Range<Int>) {
        guard !range.isEmpty else { return }
        for r in regions {
            let pages = Int(r.size / GuestMemory.pageSize)
            let lo = max(range.lowerBound, r.firstPage), hi = min(range.upperBound, r.firstPage + pages)
            guard lo < hi else { continue }
            let start = r.host + (lo - r.firstPage) * Int(GuestMemory.pageSize)
            let length = (hi - lo) * Int(GuestMemory.pageSize)
            // SAFETY: the range lies inside region `r`'s own mapping.
            if madvise(start, length, MADV_DONTNEED) != 0 {
                start.initializeMemory(as: UInt8.self, repeating: 0, count: length)
            }
            if dirtyLogging { for i in lo..<hi { setDirtyBit(i) } }
        }
    }
}

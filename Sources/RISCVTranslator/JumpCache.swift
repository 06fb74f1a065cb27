// JumpCache: where translated code finds the translation of a target it cannot link directly:
// indirect jumps and returns (`jalr`), and direct jumps to another guest page (issue 13). It is
// the translator's counterpart of QEMU's per-CPU jump cache: a direct-mapped table from a
// virtual pc to the entry of its translation, filled by the dispatcher and read by inline code
// at the end of a block, so a hit goes from block to block without returning to Swift.
//
// A virtual pc alone does not name code: the guest may remap the page, or change its bytes. So
// an entry also records the global RAM page the translation was made from and that page's
// *generation*, and the inline lookup checks, against the hart's fetch TLB (which the hart
// flushes on every satp, privilege or permission change), that the pc's page still maps to
// that RAM page with execute permission, and that the page's generation is unchanged. The
// engine bumps a page's generation whenever its translations may have gone stale (a store, DMA
// or FENCE.I made it suspect, or its slots were cleared), so stale entries simply miss; the
// table is wiped only when the code memory is flushed. A miss returns to the dispatcher, which
// validates, translates and fills the entry.

/// One entry: 32 bytes, read by generated code (offsets 0, 8, 12, 16).
struct JumpCacheEntry: @unchecked Sendable {
    /// The virtual pc (`JumpCacheEntry.none`: empty; never a valid 2-byte-aligned pc).
    var pc: UInt64
    /// Global RAM page of the translation's code.
    var page: UInt32
    /// That page's generation when the entry was filled.
    var generation: UInt32
    /// The translation's entry point.
    var entry: UnsafeRawPointer?
    var unused: UInt64 = 0

    static let none = UInt64.max
    static let empty = JumpCacheEntry(pc: none, page: .max, generation: 0, entry: nil)
}

/// A hart's jump cache and the per-page generations its entries are checked against.
final class JumpCache {
    /// Entries (a power of two).
    static let size = 4096
    let entries: UnsafeMutablePointer<JumpCacheEntry>
    /// Per global RAM page: bumped when the page's translations may be stale.
    let generations: UnsafeMutablePointer<UInt32>
    let pageCount: Int

    init(pageCount: Int) {
        precondition(MemoryLayout<JumpCacheEntry>.stride == 32 && MemoryLayout<JumpCacheEntry>.offset(of: \.entry) == 16,
                     "the inline jump-cache lookup assumes 32-byte entries with the entry point at 16")
        self.pageCount = pageCount
        entries = .allocate(capacity: JumpCache.size)
        entries.initialize(repeating: .empty, count: JumpCache.size)
        generations = .allocate(capacity: max(pageCount, 1))
        generations.initialize(repeating: 0, count: max(pageCount, 1))
    }

    deinit {
        entries.deallocate()
        generations.deallocate()
    }

    @inline(__always) static func index(_ pc: UInt64) -> Int { Int(truncatingIfNeeded: (pc >> 1) & UInt64(size - 1)) }

    /// Records `entry` as the translation of `pc`, made from RAM page `page`.
    @inline(__always) func fill(pc: UInt64, page: Int, entry: UnsafeRawPointer) {
        entries[JumpCache.index(pc)] = JumpCacheEntry(pc: pc, page: UInt32(truncatingIfNeeded: page), generation: generations[page], entry: entry)
    }

    /// Makes every entry for `page` miss.
    @inline(__always) func stale(page: Int) {
        generations[page] &+= 1
        // After 2^32 bumps an old entry could match again: start the table afresh.
        if generations[page] == 0 { wipe() }
    }

    /// Empties the table (the code memory was reset).
    func wipe() { entries.update(repeating: .empty, count: JumpCache.size) }
}

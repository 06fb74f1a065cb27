// TLB: direct-mapped translation caches from guest-virtual pages to host memory. An entry holds
// `host address - guest virtual address`, so a hit is one compare and one add (as TinyEMU). This
// cache is the shadow page table: it is flushed on satp writes, sfence.vma, privilege and
// mstatus changes, and writable entries exist only for pages already logged dirty.

/// One TLB entry. `tag` is the page-aligned virtual address (all ones when empty).
public struct TLBEntry: Sendable {
    /// Page-aligned guest-virtual address, or `TLBEntry.emptyTag`.
    public var tag: UInt64
    /// Host address minus guest-virtual address (wrapping).
    public var addend: UInt64
    /// Global RAM page index of the guest-physical page.
    public var page: Int

    /// The tag of an empty entry: never equal to a masked address.
    public static let emptyTag: UInt64 = .max
    /// An empty entry.
    public static let empty = TLBEntry(tag: emptyTag, addend: 0, page: -1)
}

/// A direct-mapped TLB of `TLB.size` entries in memory owned by one hart thread.
public struct TLB {
    /// Number of entries (a power of two).
    public static let size = 256
    /// The entries.
    public let entries: UnsafeMutablePointer<TLBEntry>

    /// Allocates an empty TLB.
    public init() {
        entries = .allocate(capacity: TLB.size)
        entries.initialize(repeating: .empty, count: TLB.size)
    }

    /// Index of the entry for a virtual address.
    @inlinable public static func index(_ va: UInt64) -> Int { Int(truncatingIfNeeded: (va >> 12) & UInt64(size - 1)) }

    /// Drops every entry.
    public func flush() { entries.update(repeating: .empty, count: TLB.size) }

    /// Drops the entry of one virtual page.
    public func flush(page va: UInt64) {
        let i = TLB.index(va)
        if entries[i].tag == va & ~0xFFF { entries[i] = .empty }
    }

    /// Drops entries that map a guest-physical page (by global page index).
    public func flush(physicalPage: Int) {
        for i in 0..<TLB.size where entries[i].page == physicalPage { entries[i] = .empty }
    }

    /// Frees the memory.
    public func deallocate() { entries.deallocate() }
}

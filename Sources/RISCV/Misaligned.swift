// Misaligned loads and stores: performed, as QEMU performs them (and as OpenSBI emulates them
// for S-mode), on the slow path, one piece per page. The aligned fast path in Execute.swift
// never sees them: the alignment bits are part of its TLB compare, so a misaligned address
// always misses. AMOs and LR/SC still raise their misaligned exception (Execute.swift), and a
// misaligned access to a device (MMIO) raises one too: MMIO accesses are not split.
import Machine

extension Hart {
    /// The RAM behind `size` bytes at `va` (all in one page) for a piece of a misaligned access:
    /// host pointer, global page index and guest-physical address. Takes the trap and returns
    /// nil on a fault: page faults and PMP faults report `va`; a device reports `whole` (the
    /// access's own address) with a misaligned cause; other non-RAM addresses an access fault.
    func misalignedPiece(_ va: UInt64, size: UInt64, access: AccessType, mode: PrivilegeMode,
                         whole: UInt64) -> (host: UnsafeMutableRawPointer, page: Int, pa: UInt64)? {
        guard let pa = translate(va, access: access, mode: mode) else { return nil }
        guard let (host, page, _) = physicalAccess(pa, va: va, size: size, access: access, mode: mode) else { return nil }
        guard let host else {
            if bus.find(GuestPhysicalAddress(pa), size: 1) != nil {
                takeException(access == .write ? .storeMisaligned : .loadMisaligned, tval: whole)
            } else {
                takeException(Hart.accessFaultCause(access), tval: va)
            }
            return nil
        }
        return (host, page, pa)
    }

    /// A misaligned load of `size` bytes (2, 4 or 8): the zero-extended value, or nil when a
    /// trap was taken. When it crosses into a page that faults, the trap reports that page's
    /// first address (QEMU does the same).
    @inline(never)
    func misalignedLoad(_ va: UInt64, size: UInt64) -> UInt64? {
        let mode = dataPrivilege
        let first = min(size, 4096 - (va & 0xFFF))
        guard let a = misalignedPiece(va, size: first, access: .read, mode: mode, whole: va) else { return nil }
        var b = a
        if first < size {
            guard let p = misalignedPiece((va | 0xFFF) &+ 1, size: size - first, access: .read, mode: mode, whole: va) else {
                return nil
            }
            b = p
        }
        var v: UInt64 = 0
        for i in 0..<Int(size) {
            // SAFETY: both pieces are RAM that physicalAccess bounds-checked for their lengths.
            let byte = i < Int(first) ? a.host.load(fromByteOffset: i, as: UInt8.self)
                                      : b.host.load(fromByteOffset: i - Int(first), as: UInt8.self)
            v |= UInt64(byte) << UInt64(8 * i)
        }
        return v
    }

    /// A misaligned store of the low `size` bytes of `value`. Both pages are translated and
    /// checked before any byte is written, so a fault on the second page leaves the first one
    /// unchanged (as QEMU). False when a trap was taken.
    @inline(never)
    func misalignedStore(_ va: UInt64, size: UInt64, value: UInt64) -> Bool {
        let mode = dataPrivilege
        let first = min(size, 4096 - (va & 0xFFF))
        guard let a = misalignedPiece(va, size: first, access: .write, mode: mode, whole: va) else { return false }
        var b = a
        if first < size {
            guard let p = misalignedPiece((va | 0xFFF) &+ 1, size: size - first, access: .write, mode: mode, whole: va) else {
                return false
            }
            b = p
            noteStore(page: b.page, pa: b.pa, size: size - first)
        }
        noteStore(page: a.page, pa: a.pa, size: first)
        for i in 0..<Int(size) {
            let byte = UInt8(truncatingIfNeeded: value >> UInt64(8 * i))
            // SAFETY: both pieces are RAM that physicalAccess bounds-checked for their lengths.
            if i < Int(first) { a.host.storeBytes(of: byte, toByteOffset: i, as: UInt8.self) }
            else { b.host.storeBytes(of: byte, toByteOffset: i - Int(first), as: UInt8.self) }
        }
        return true
    }

    /// What every store to RAM implies, for a store the TLB did not carry: decoded code on the
    /// page is dropped, the page is logged dirty, and an LR reservation on the bytes ends.
    func noteStore(page: Int, pa: UInt64, size: UInt64) {
        if codePage[page] { dropDecoded(page: page) }
        memory.markPageDirty(page)
        if reservation != .max {
            let r = reservation & ~7
            if r >= pa & ~7 && r <= (pa &+ size &- 1) & ~7 { reservation = .max }
        }
    }
}

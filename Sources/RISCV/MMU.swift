// MMU: Sv39 translation (guest virtual -> guest physical, A/D updates, SUM/MXR, superpages),
// PMP checks, and the slow paths that fill the TLBs with host pointers or route accesses to
// MMIO devices as exits.
import Machine
import Synchronization

extension Hart {
    /// The privilege used for data accesses (mstatus.MPRV applies MPP in M-mode).
    @inline(__always) var dataPrivilege: PrivilegeMode {
        if privilege == .machine && mstatus & CSRBits.mprv != 0 {
            return PrivilegeMode(rawValue: UInt8((mstatus >> CSRBits.mppShift) & 3)) ?? .user
        }
        return privilege
    }

    static func pageFaultCause(_ a: AccessType) -> ExceptionCause {
        switch a {
        case .read: return .loadPageFault
        case .write: return .storePageFault
        case .execute: return .instructionPageFault
        }
    }

    static func accessFaultCause(_ a: AccessType) -> ExceptionCause {
        switch a {
        case .read: return .loadAccessFault
        case .write: return .storeAccessFault
        case .execute: return .instructionAccessFault
        }
    }

    /// Translates a virtual address for `access` in `mode`. On a fault it takes the trap and
    /// returns nil.
    func translate(_ va: UInt64, access: AccessType, mode: PrivilegeMode) -> UInt64? {
        if mode == .machine || satp >> 60 == 0 { return va }
        switch walk(va, access: access, mode: mode) {
        case .success(let pa): return pa
        case .failure(let cause):
            takeException(cause, tval: va)
            return nil
        }
    }

    /// Walks the Sv39 tables without side effects beyond A/D updates.
    func walk(_ va: UInt64, access: AccessType, mode: PrivilegeMode) -> Result<UInt64, ExceptionCause> {
        let pf = Hart.pageFaultCause(access)
        // Bits 63:39 must equal bit 38.
        let top = Int64(bitPattern: va) >> 38
        guard top == 0 || top == -1 else { return .failure(pf) }
        walkAgain: while true {
        var table = (satp & ((1 << 44) - 1)) << 12
        var level = 2
        while true {
            let vpn = (va >> (12 + 9 * UInt64(level))) & 0x1FF
            let pteAddr = table &+ vpn &* 8
            guard let p = memory.hostPointer(GuestPhysicalAddress(pteAddr), length: 8) else {
                return .failure(Hart.accessFaultCause(access))
            }
            var pte = p.load(as: UInt64.self)
            let v = pte & 1, r = pte & 2, w = pte & 4, xb = pte & 8, u = pte & 16
            if v == 0 || (r == 0 && w != 0) || pte >> 54 != 0 { return .failure(pf) }
            if r == 0 && xb == 0 {
                level -= 1
                if level < 0 { return .failure(pf) }
                table = ((pte >> 10) & ((1 << 44) - 1)) << 12
                continue
            }
            // Leaf: permissions.
            if mode == .user && u == 0 { return .failure(pf) }
            if mode == .supervisor && u != 0 && (access == .execute || mstatus & CSRBits.sum == 0) { return .failure(pf) }
            switch access {
            case .read: if r == 0 && !(mstatus & CSRBits.mxr != 0 && xb != 0) { return .failure(pf) }
            case .write: if w == 0 { return .failure(pf) }
            case .execute: if xb == 0 { return .failure(pf) }
            }
            let ppn = (pte >> 10) & ((1 << 44) - 1)
            let lowMask: UInt64 = level == 0 ? 0 : (1 << (9 * UInt64(level))) - 1
            if ppn & lowMask != 0 { return .failure(pf) } // misaligned superpage
            // Hardware A/D update.
            var newPTE = pte | 0x40
            if access == .write { newPTE |= 0x80 }
            if newPTE != pte {
                // Another hart (or the guest kernel on one) may change the PTE meanwhile: set
                // A/D only if it still holds what was checked, else walk again.
                guard pteAddr & 7 == 0 else { return .failure(Hart.accessFaultCause(access)) }
                let cell = p.assumingMemoryBound(to: Atomic<UInt64>.self)
                guard cell.pointee.compareExchange(expected: pte, desired: newPTE, ordering: .sequentiallyConsistent).exchanged else {
                    continue walkAgain
                }
                pte = newPTE
                memory.markDirty(pteAddr, length: 8)
            }
            let pageOffsetMask: UInt64 = (1 << (12 + 9 * UInt64(level))) - 1
            return .success(((ppn << 12) & ~pageOffsetMask) | (va & pageOffsetMask))
        }
        }
    }

    /// Physical RAM lookup with PMP: the host pointer of the page and its global index, and
    /// whether the mapping may be cached. Takes an access fault and returns nil when denied;
    /// returns a nil pointer (no trap) for non-RAM addresses.
    func physicalAccess(_ pa: UInt64, va: UInt64, size: UInt64, access: AccessType, mode: PrivilegeMode)
        -> (host: UnsafeMutableRawPointer?, page: Int, cacheable: Bool)? {
        let (ok, whole) = pmp.check(pa, size: size, access: access, mode: mode)
        guard ok else {
            takeException(Hart.accessFaultCause(access), tval: va)
            return nil
        }
        guard let r = memory.region(containing: pa, length: size) else { return (nil, -1, false) }
        let off = pa - r.base.raw
        return (r.host + Int(off), r.firstPage + Int(off >> 12), whole)
    }

    /// Slow path of loads: alignment, translation, TLB fill or MMIO exit. Returns the
    /// zero-extended value, or nil when a trap was taken or an MMIO exit is pending.
    @inline(never)
    func loadSlow(_ va: UInt64, size: UInt64) -> UInt64? {
        if va & (size - 1) != 0 { return misalignedLoad(va, size: size) }
        let mode = dataPrivilege
        guard let pa = translate(va, access: .read, mode: mode) else { return nil }
        guard let (host, page, cacheable) = physicalAccess(pa, va: va, size: size, access: .read, mode: mode) else { return nil }
        guard let host else {
            if bus.find(GuestPhysicalAddress(pa), size: Int(size)) != nil {
                pendingExit = .mmioRead
                mmioAddress = pa; mmioSize = Int(size)
                return nil
            }
            takeException(.loadAccessFault, tval: va)
            return nil
        }
        if cacheable {
            let pageHost = UInt64(UInt(bitPattern: host)) &- (pa & 0xFFF)
            readTLB.entries[TLB.index(va)] = TLBEntry(tag: va & ~0xFFF, addend: pageHost &- (va & ~0xFFF), page: page)
        }
        switch size {
        case 1: return UInt64(host.load(as: UInt8.self))
        case 2: return UInt64(host.load(as: UInt16.self))
        case 4: return UInt64(host.load(as: UInt32.self))
        default: return host.load(as: UInt64.self)
        }
    }

    /// Translates a store or AMO target to a host pointer, filling the write TLB; nil when a
    /// trap was taken or (for plain stores) an MMIO exit is pending.
    func storePointer(_ va: UInt64, size: UInt64, value: UInt64, amo: Bool) -> UnsafeMutableRawPointer? {
        if va & (size - 1) != 0 {
            takeException(.storeMisaligned, tval: va)
            return nil
        }
        let mode = dataPrivilege
        guard let pa = translate(va, access: .write, mode: mode) else { return nil }
        guard let (host, page, cacheable) = physicalAccess(pa, va: va, size: size, access: .write, mode: mode) else { return nil }
        guard let host else {
            if !amo && bus.find(GuestPhysicalAddress(pa), size: Int(size)) != nil {
                pendingExit = .mmioWrite
                mmioAddress = pa; mmioSize = Int(size); mmioValue = value
                return nil
            }
            takeException(.storeAccessFault, tval: va)
            return nil
        }
        if codePage[page] { dropDecoded(page: page) }
        memory.markPageDirty(page)
        if pa == reservation & ~7 || (reservation != .max && pa & ~7 == reservation & ~7) { reservation = .max }
        if cacheable {
            let pageHost = UInt64(UInt(bitPattern: host)) &- (pa & 0xFFF)
            writeTLB.entries[TLB.index(va)] = TLBEntry(tag: va & ~0xFFF, addend: pageHost &- (va & ~0xFFF), page: page)
        }
        return host
    }

    /// Slow path of stores. Returns false when a trap was taken or an MMIO exit is pending.
    @inline(never)
    func storeSlow(_ va: UInt64, size: UInt64, value: UInt64) -> Bool {
        if va & (size - 1) != 0 { return misalignedStore(va, size: size, value: value) }
        guard let host = storePointer(va, size: size, value: value, amo: false) else { return false }
        switch size {
        case 1: host.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: host.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
        case 4: host.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
        default: host.storeBytes(of: value, as: UInt64.self)
        }
        return true
    }

    /// Translates an instruction fetch for the page of `va`: the host pointer of the page start
    /// and the global page index. Takes the trap and returns nil on a fault.
    @inline(never)
    package func fetchPage(_ va: UInt64) -> (UnsafeMutableRawPointer, Int)? {
        let e = fetchTLB.entries[TLB.index(va)]
        if e.tag == va & ~0xFFF {
            // SAFETY: the entry was filled from a RAM region that lives as long as the hart.
            return (UnsafeMutableRawPointer(bitPattern: UInt(va & ~0xFFF &+ e.addend)).unsafelyUnwrapped, e.page)
        }
        guard let pa = translate(va, access: .execute, mode: privilege) else { return nil }
        guard let (host, page, cacheable) = physicalAccess(pa & ~1, va: va, size: 2, access: .execute, mode: privilege) else { return nil }
        guard let host else {
            takeException(.instructionAccessFault, tval: va)
            return nil
        }
        let pageHost = host - Int(pa & 0xFFE)
        if cacheable {
            fetchTLB.entries[TLB.index(va)] = TLBEntry(tag: va & ~0xFFF, addend: UInt64(UInt(bitPattern: pageHost)) &- (va & ~0xFFF), page: page)
        }
        return (pageHost, page)
    }

    /// Decodes an instruction whose second half lies on the next page. Nil on a fetch fault.
    @inline(never)
    func decodeCrossing(_ pc: UInt64, low: UInt32) -> DecodedInstruction? {
        guard let (host, _) = fetchPage(pc &+ 2) else { return nil }
        let high = UInt32(host.load(as: UInt16.self))
        return Decoder.decode32(low | (high << 16))
    }
}

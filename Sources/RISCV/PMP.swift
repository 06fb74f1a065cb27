// PMP: physical memory protection with 16 entries (OFF/TOR/NA4/NAPOT, R/W/X, lock), enough for
// OpenSBI to fence off its own memory and the CLINT from S-mode.

/// The kind of memory access being checked.
public enum AccessType: Sendable {
    case read, write, execute
}

/// PMP configuration and checks.
public struct PMP: Sendable {
    /// Configuration bytes pmp0cfg...pmp15cfg.
    public var cfg: [UInt8] = Array(repeating: 0, count: 16)
    /// pmpaddr0...pmpaddr15 (address bits 55:2).
    public var addr: [UInt64] = Array(repeating: 0, count: 16)

    /// True when some entry is active (A != OFF).
    public var anyActive: Bool { cfg.contains { $0 & 0x18 != 0 } }
    /// True when some active entry is locked (then M-mode is checked too).
    public var anyLocked: Bool { cfg.contains { $0 & 0x80 != 0 && $0 & 0x18 != 0 } }

    /// The byte range `[lo, hi)` of entry `i`, or nil when it is off.
    func range(_ i: Int) -> (UInt64, UInt64)? {
        let a = addr[i]
        switch (cfg[i] >> 3) & 3 {
        case 1: // TOR
            let lo = i == 0 ? 0 : addr[i - 1] << 2
            return (lo, a << 2)
        case 2: // NA4
            return (a << 2, (a << 2) &+ 4)
        case 3: // NAPOT
            let ones = (~a).trailingZeroBitCount
            if ones >= 54 { return (0, UInt64.max) }
            let size = UInt64(1) << UInt64(ones + 3)
            let base = (a << 2) & ~(size - 1)
            return (base, base &+ size)
        default:
            return nil
        }
    }

    /// Checks an access of `size` bytes at physical `pa` from `mode`. Returns whether it is
    /// allowed and whether the answer holds for the whole 4 KiB page (so it may be cached).
    public func check(_ pa: UInt64, size: UInt64, access: AccessType, mode: PrivilegeMode) -> (allowed: Bool, wholePage: Bool) {
        if mode == .machine && !anyLocked { return (true, true) }
        // With PMP implemented, an S/U access no entry matches fails (as on QEMU).
        let pageLo = pa & ~0xFFF, pageHi = pageLo &+ 4096
        var pageUniform = true
        for i in 0..<16 {
            guard let (lo, hi) = range(i), lo < hi else { continue }
            let matchesAny = pa < hi && pa &+ size > lo
            let coversPage = lo <= pageLo && pageHi <= hi
            if !coversPage && pageLo < hi && lo < pageHi { pageUniform = false }
            guard matchesAny else { continue }
            // Partial matches fail.
            guard lo <= pa && pa &+ size <= hi else { return (false, false) }
            let c = cfg[i]
            if mode == .machine && c & 0x80 == 0 { return (true, pageUniform && coversPage) }
            let ok: Bool
            switch access {
            case .read: ok = c & 1 != 0
            case .write: ok = c & 2 != 0
            case .execute: ok = c & 4 != 0
            }
            return (ok, pageUniform && coversPage)
        }
        return (mode == .machine, pageUniform)
    }

    /// Writes a pmpcfg CSR (`index` 0 or 2 on RV64) as WARL: locked bytes stay, W without R is
    /// cleared.
    mutating func writeConfig(_ index: Int, _ value: UInt64) {
        for b in 0..<8 {
            let i = index * 4 + b
            guard i < 16, cfg[i] & 0x80 == 0 else { continue }
            var v = UInt8(truncatingIfNeeded: value >> UInt64(8 * b)) & 0x9F
            if v & 3 == 2 { v &= ~2 }
            cfg[i] = v
        }
    }

    /// Writes pmpaddr `i` unless it is locked (or the next entry is a locked TOR).
    mutating func writeAddress(_ i: Int, _ value: UInt64) {
        guard i < 16, cfg[i] & 0x80 == 0 else { return }
        if i + 1 < 16 && cfg[i + 1] & 0x80 != 0 && (cfg[i + 1] >> 3) & 3 == 1 { return }
        addr[i] = value & ((1 << 54) - 1)
    }
}

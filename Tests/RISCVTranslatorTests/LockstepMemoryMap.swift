// LockstepMemoryMap: where a lockstep program's parts live in guest-physical memory, and its
// Sv39 page tables. Everything mapped is identity-mapped (virtual = physical), so the M-mode
// trap handler, which runs without translation, reads the trapped instruction at mepc directly.
// The data pages, the 2 MiB superpage and the UART's page get random permissions (some
// unmapped, read-only, execute-only, W without R, or the wrong U bit for the program's
// mode), so loads, stores, AMOs and fetches page-fault.

import TestSupport

/// Addresses and page tables of a lockstep program.
enum LockstepMemoryMap {
    static let code: UInt64 = 0x8000_0000, codePages = 4
    static let machineHandler: UInt64 = 0x8002_0000, supervisorHandler: UInt64 = 0x8002_1000
    static let root: UInt64 = 0x8003_0000
    static let l1High: UInt64 = 0x8003_1000, l0Code: UInt64 = 0x8003_2000
    static let l1Low: UInt64 = 0x8003_3000, l0Devices: UInt64 = 0x8003_4000
    /// The trap log: M-mode records at 0, S-mode at 64, M's saved x28/x29 at 128.
    static let log: UInt64 = 0x8004_0000
    /// Four data pages (random permissions each).
    static let data: UInt64 = 0x8010_0000, dataPages = 4
    /// A 2 MiB superpage (random permissions); the program touches its first page.
    static let superpage: UInt64 = 0x8020_0000
    static let uart: UInt64 = 0x1000_0000
    /// Never mapped: a fetch target that always page-faults under Sv39.
    static let unmapped: UInt64 = 0x8050_0000

    /// Regions compared after every chunk (page tables included: the MMU sets A and D).
    static let compared: [(base: UInt64, pages: Int)] = [
        (code, codePages), (root, 5), (log, 1), (data, dataPages), (superpage, 1),
    ]

    static let v: UInt64 = 1, r: UInt64 = 2, w: UInt64 = 4, x: UInt64 = 8, u: UInt64 = 16, a: UInt64 = 64, d: UInt64 = 128

    /// A random leaf permission for a data page of a program running in `mode`: mostly
    /// usable, sometimes not.
    static func dataPermission(_ mode: LockstepMode, _ g: inout SeededRandom) -> UInt64 {
        let user = mode == .user ? u : 0
        var p: UInt64
        switch Int.random(in: 0..<100, using: &g) {
        case 0..<50: p = v | r | w | user
        case 50..<62: p = v | r | user
        case 62..<70: p = 0                              // unmapped
        case 70..<75: p = v | x | user                   // execute-only (readable with MXR)
        case 75..<85: p = v | r | w | (user ^ u)         // the wrong U bit for this mode
        case 85..<90: p = v | w | user                   // W without R: reserved, faults
        default: p = v | r | w | x | user
        }
        if p != 0 && g.chance(50) { p |= a | (g.chance(50) ? d : 0) }
        return p
    }

    /// Whether a fetch in `mode` from a page with leaf bits `p` faults.
    static func fetchFaults(_ p: UInt64, _ mode: LockstepMode) -> Bool {
        p & v == 0 || p & x == 0 || (p & w != 0 && p & r == 0) || (mode == .user) != (p & u != 0)
    }

    /// Writes the page tables: code, handlers, log and the page tables themselves as the
    /// program's mode needs them, data pages and the superpage with `dataPerms` (5 entries: 4
    /// data pages, then the superpage), the UART page with `uartPerm`.
    static func pageTables(mode: LockstepMode, dataPerms: [UInt64], uartPerm: UInt64) -> [(UInt64, UInt64)] {
        func table(_ pa: UInt64) -> UInt64 { (pa >> 12) << 10 | v }
        func leaf(_ pa: UInt64, _ flags: UInt64) -> UInt64 { flags == 0 ? 0 : (pa >> 12) << 10 | flags }
        var entries: [(UInt64, UInt64)] = []
        func set(_ tableBase: UInt64, _ index: UInt64, _ pte: UInt64) { entries.append((tableBase + 8 * index, pte)) }
        let user = mode == .user ? u : 0
        set(root, 2, table(l1High))
        set(root, 0, table(l1Low))
        set(l1High, 0, table(l0Code))
        set(l1High, 1, leaf(superpage, dataPerms[4]))
        for p in 0..<UInt64(codePages) { set(l0Code, p, leaf(code + p << 12, v | r | x | user | a)) }
        set(l0Code, (supervisorHandler - code) >> 12, leaf(supervisorHandler, v | r | x | a))
        set(l0Code, (log - code) >> 12, leaf(log, v | r | w | a | d))
        for p in 0..<UInt64(dataPages) { set(l0Code, (data - code) >> 12 + p, leaf(data + p << 12, dataPerms[Int(p)])) }
        set(l1Low, uart >> 21, table(l0Devices))
        set(l0Devices, (uart >> 12) & 511, leaf(uart, uartPerm))
        return entries
    }
}

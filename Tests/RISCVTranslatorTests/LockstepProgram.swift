// LockstepProgram: one random program of the lockstep runner, made from a seed: its mode (M,
// S or U), whether Sv39 is on (always for U, mostly for S), the laid-out code (random items,
// then a jump back to the start), the trap handlers, page tables, data, and the hart's initial
// state (random registers and FP registers, fcsr, mstatus FS/SUM/MXR/MIE/SIE, delegation,
// enables, counter enables, direct or vectored trap vectors, a PMP entry over everything).
// `install` puts the same program on any board.

import Machine
@testable import RISCV
import RISCVBoard
import TestSupport

/// A generated program and initial hart state.
struct LockstepProgram {
    typealias E = LockstepEncoding
    typealias M = LockstepMemoryMap
    let seed: UInt64
    let mode: LockstepMode
    let paging: Bool
    let code: [UInt8]
    let instructions: Int
    let pageTableEntries: [(UInt64, UInt64)]
    let data: [UInt8]
    let superpageData: [UInt8]
    let state: HartState

    /// The program for `seed`; `template` is a reset hart's state.
    init(seed: UInt64, template: HartState) {
        self.seed = seed
        var g = SeededRandom(seed: seed)
        let mode = g.pick(LockstepMode.allCases)
        self.mode = mode
        paging = mode == .user || (mode == .supervisor && g.chance(80)) || g.chance(20)
        let dataPerms = (0..<5).map { _ in M.dataPermission(mode, &g) }
        let uartPerm = g.chance(80) ? M.v | M.r | M.w | (mode == .user ? M.u : 0) : M.dataPermission(mode, &g)
        pageTableEntries = paging ? M.pageTables(mode: mode, dataPerms: dataPerms, uartPerm: uartPerm) : []

        // Where a jump faults: never RAM in M-mode (it would run data), else pages this mode
        // may not execute.
        var targets: [UInt64] = [0x1000, M.uart]
        if paging && mode != .machine {
            targets = [M.unmapped]
            for p in 0..<M.dataPages where M.fetchFaults(dataPerms[p], mode) { targets.append(M.data + UInt64(p) << 12 + 0x40) }
            if M.fetchFaults(dataPerms[4], mode) { targets.append(M.superpage + 0x800) }
        }
        var stream = LockstepStream(mode: mode, faultTargets: targets, dense: g.chance(30), g: g)
        let count = Int.random(in: 5...300, using: &stream.g)
        var items = stream.items(count)
        items.append([.jal(rd: 0, target: 0)])
        g = stream.g
        (code, instructions) = Self.layout(items)

        data = (0..<(M.dataPages << 12)).map { _ in UInt8.random(in: 0...255, using: &g) }
        superpageData = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &g) }
        state = Self.initialState(template, mode: mode, paging: paging, &g)
    }

    /// Lays the items out from `M.code` and resolves their jumps; returns the bytes and the
    /// number of instructions.
    static func layout(_ items: [[LockstepPiece]]) -> ([UInt8], Int) {
        var addresses: [Int] = []
        var at = 0
        for item in items {
            addresses.append(at)
            at += item.reduce(0) { $0 + $1.size }
        }
        precondition(at <= M.codePages << 12, "program too large")
        var bytes: [UInt8] = []
        var instructions = 0
        func word(_ w: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: w >> (8 * k))) }; instructions += 1 }
        func half(_ h: UInt16) { bytes.append(UInt8(truncatingIfNeeded: h)); bytes.append(UInt8(h >> 8)); instructions += 1 }
        for item in items {
            for piece in item {
                let here = bytes.count
                func offset(_ t: Int) -> Int32 { Int32(addresses[t] - here) }
                switch piece {
                case .word(let w): word(w)
                case .half(let h): half(h)
                case .branch(let f3, let rs1, let rs2, let t): word(E.b(offset(t), rs2, rs1, f3))
                case .jal(let rd, let t): word(E.j(offset(t), rd))
                case .cj(let t):
                    let o = offset(t)
                    if o >= -2048 && o < 2048 { half(E.cj(o)) } else { half(0x0001) }  // out of range: c.nop
                case .cbranch(let rs1, let nonzero, let t):
                    let o = offset(t)
                    if o >= -256 && o < 256 { half(E.cbranch(o, rs1, nonzero: nonzero)) } else { half(0x0001) }
                case .jalr(let rd, let t):
                    word(E.u(0, 26, 0x17))                                  // auipc x26, 0
                    let o = offset(t)
                    word(o < 2048 ? E.i(o, 26, 0, rd, 0x67) : E.addi(0, 0, 0))
                case .patch(let w, let t):
                    // The first item from t on that is one 4-byte word, in reach of a 12-bit offset.
                    let store = here + 8
                    let found = (t..<items.count).first { k in
                        guard items[k].count == 1, case .word = items[k][0] else { return false }
                        return addresses[k] - store < 2048
                    }
                    if let k = found {
                        let hi = (Int32(bitPattern: w) &+ 0x800) >> 12, lo = Int32(bitPattern: w) &- hi << 12
                        word(E.u(UInt32(bitPattern: hi), 30, 0x37))           // lui x30, hi
                        word(E.i(lo, 30, 0, 30, 0x1b))                        // addiw x30, x30, lo
                        word(E.u(0, 26, 0x17))                                // auipc x26, 0
                        word(E.s(Int32(addresses[k] - (here + 8)), 30, 26, 2, 0x23))  // sw x30, off(x26)
                    } else {
                        for _ in 0..<4 { word(E.addi(0, 0, 0)) }
                    }
                case .far(let target):
                    word(E.u(0, 26, 0x17))                                  // auipc x26, 0
                    let o = Int64(bitPattern: target) - Int64(M.code) - Int64(here + 4)
                    let hi = (o + 0x800) >> 12, lo = o - hi << 12
                    word(E.u(UInt32(truncatingIfNeeded: hi), 30, 0x17))     // auipc x30, hi
                    word(E.i(Int32(lo), 30, 0, 0, 0x67))                     // jalr x0, lo(x30)
                }
            }
        }
        return (bytes, instructions)
    }

    static let specialFloats: [UInt64] = [
        0, 0x8000_0000_0000_0000, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000,
        0x7ff4_0000_0000_0001, 0x0000_0000_0000_0001, 0x3ff0_0000_0000_0000, 0x4330_0000_0000_0001,
        0xffff_ffff_7f80_0000, 0xffff_ffff_7fc0_0000, 0xffff_ffff_7fa0_0001, 0xffff_ffff_3f80_0000,
        0xffff_ffff_0000_0001, 0xffff_ffff_4b80_0001, 0x1234_5678_3f80_0000,
    ]

    static func initialState(_ template: HartState, mode: LockstepMode, paging: Bool, _ g: inout SeededRandom) -> HartState {
        var s = template
        for r in 1..<32 {
            s.x[r] = g.chance(30) ? g.pick(BlockTranslatorDifferentialTests.edgeValues) : g.next()
        }
        s.x[2] = M.superpage + 0x800 + UInt64.random(in: 0...0x7ff, using: &g)
        s.x[31] = M.data + UInt64.random(in: 0...2, using: &g) << 12 + 0x800 + UInt64.random(in: 0...0x7ff, using: &g)
        s.x[26] = 0; s.x[27] = M.log; s.x[28] = 0; s.x[29] = 0; s.x[30] = 0
        // A few registers near the data, so compressed loads and stores through x8-x15 hit it.
        for r in 8...15 where g.chance(40) { s.x[r] = M.data + UInt64.random(in: 0..<(UInt64(M.dataPages) << 12), using: &g) }
        for r in 0..<32 { s.f[r] = g.chance(40) ? g.pick(specialFloats) : (g.chance(50) ? 0xffff_ffff_0000_0000 | (g.next() & 0xffff_ffff) : g.next()) }
        s.fcsr = UInt64(g.chance(90) ? Int.random(in: 0...4, using: &g) : Int.random(in: 5...7, using: &g)) << 5 | UInt64.random(in: 0...31, using: &g)
        s.pc = M.code
        switch mode {
        case .machine: s.privilege = .machine
        case .supervisor: s.privilege = .supervisor
        case .user: s.privilege = .user
        }
        let fs: UInt64 = g.chance(85) ? g.pick([1, 2, 3]) : 0
        var status = template.mstatus | fs << 13
        if g.chance(40) { status |= CSRBits.mie }
        if g.chance(50) { status |= 2 }                                  // SIE
        if mode == .user || g.chance(50) { status |= 1 << 18 }           // SUM
        if g.chance(30) { status |= 1 << 19 }                            // MXR
        if fs == 3 { status |= 1 << 63 }                                 // SD
        s.mstatus = status
        let exceptions: [UInt64] = [0, 2, 3, 4, 5, 6, 7, 8, 12, 13, 15]
        s.medeleg = exceptions.reduce(0) { g.chance(50) ? $0 | 1 << $1 : $0 }
        s.mideleg = [1, 5, 9].reduce(0) { g.chance(50) ? $0 | 1 << $1 : $0 }
        s.mie = [1, 3, 5, 7, 9].reduce(0) { g.chance(60) ? $0 | 1 << $1 : $0 }
        s.mtvec = M.machineHandler + (g.chance(50) ? 1 : 64)
        s.stvec = M.supervisorHandler + (g.chance(50) ? 1 : 64)
        s.mcounteren = g.chance(70) ? 7 : UInt64.random(in: 0...7, using: &g)
        s.scounteren = g.chance(70) ? 7 : UInt64.random(in: 0...7, using: &g)
        s.satp = paging ? 8 << 60 | M.root >> 12 : 0
        s.pmpcfg[0] = 0x1F
        s.pmpaddr[0] = (1 << 54) - 1
        return s
    }

    /// Writes the program, handlers, page tables and data into `board` and sets its hart.
    func install(on board: VirtBoard) throws {
        let mem = board.memory
        try mem.write(code, at: GuestPhysicalAddress(M.code))
        for (base, machine) in [(M.machineHandler, true), (M.supervisorHandler, false)] {
            for (i, w) in LockstepHandlers.code(machine: machine).enumerated() {
                try mem.store(w, at: GuestPhysicalAddress(base + UInt64(4 * i)))
            }
        }
        for (address, pte) in pageTableEntries { try mem.store(pte, at: GuestPhysicalAddress(address)) }
        try mem.write(data, at: GuestPhysicalAddress(M.data))
        try mem.write(superpageData, at: GuestPhysicalAddress(M.superpage))
        try board.hart.restoreState(state)
    }
}

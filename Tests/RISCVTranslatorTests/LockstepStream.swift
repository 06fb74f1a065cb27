// LockstepStream: the random instruction stream of a lockstep program, as items (one
// instruction or a short sequence each) whose jumps name a later item; `LockstepProgram` lays
// them out and resolves the offsets. It draws RV64I/M (the block differential's generator), C
// (random halfwords the decoder accepts, plus c.j/c.beqz/c.bnez), loads and stores through x31
// and x2 (data pages and the superpage, aligned and misaligned, across page boundaries), A (LR/SC
// pairs and every AMO), F and D (arithmetic, FMA, converts, moves, compares, loads and stores,
// static and dynamic rounding modes, invalid ones too), CSR reads and writes, system instructions
// (ECALL, EBREAK, FENCE, FENCE.I, SFENCE.VMA, illegal words, xRET and WFI where illegal), UART
// MMIO, CLINT msip writes (M) and jumps to non-executable pages.
//
// Registers: random code writes x1 and x3-x25 only. x2 and x31 point into data, x26 and x30 are
// scratch of the generated sequences, x27 points at the trap log, x28/x29 belong to the handlers.

@testable import RISCV
@testable import RISCVTranslator
import TestSupport

/// Draws the items of a lockstep program.
struct LockstepStream {
    typealias E = LockstepEncoding
    typealias M = LockstepMemoryMap
    let mode: LockstepMode
    /// Absolute addresses a jump may take to fault.
    let faultTargets: [UInt64]
    /// Mostly integer code (ALU, loads, stores, branches, counted loops), so blocks are long
    /// and chain; otherwise every kind of instruction is as likely as in any program.
    let dense: Bool
    var g: SeededRandom

    static let writable: [UInt32] = [1] + Array(3...25)
    mutating func rd() -> UInt32 { g.chance(5) ? 0 : g.pick(Self.writable) }
    mutating func rs() -> UInt32 { UInt32.random(in: 0...31, using: &g) }
    mutating func freg() -> UInt32 { UInt32.random(in: 0...31, using: &g) }

    /// A base register and offset into data: x31 (the data pages) or x2 (the superpage).
    mutating func address(size: Int) -> (UInt32, Int32) {
        var off = Int32.random(in: -2048...2047, using: &g)
        if g.chance(80) { off &= ~Int32(size - 1) }
        return (g.chance(70) ? 31 : 2, off)
    }

    /// Items for a program of `count` items; item `count` (the loop back) follows.
    mutating func items(_ count: Int) -> [[LockstepPiece]] {
        (0..<count).map { item(index: $0, count: count) }
    }

    mutating func item(index: Int, count: Int) -> [LockstepPiece] {
        let target = min(count, index + Int.random(in: 1...12, using: &g))
        if dense && g.chance(85) {
            switch Int.random(in: 0..<100, using: &g) {
            case 0..<55: return [.word(alu())]
            case 55..<75: return [.word(loadStore())]
            case 75..<85: return [.half(compressed())]
            case 85..<95: return [.branch(f3: g.pick([0, 1, 4, 5, 6, 7]), rs1: rs(), rs2: rs(), target: target)]
            default: return loop()
            }
        }
        switch Int.random(in: 0..<100, using: &g) {
        case 0..<26: return [.word(alu())]
        case 26..<36: return [.half(compressed())]
        case 36..<48: return [.word(loadStore())]
        case 48..<58: return [.word(float())]
        case 58..<63: return atomic()
        case 63..<70: return csr()
        case 70..<74: return [.branch(f3: g.pick([0, 1, 4, 5, 6, 7]), rs1: rs(), rs2: rs(), target: target)]
        case 74..<76: return [.jal(rd: rd(), target: target)]
        case 76..<78: return [.cj(target: target)]
        case 78..<80: return [.cbranch(rs1: UInt32.random(in: 8...15, using: &g), nonzero: g.chance(50), target: target)]
        case 80..<82: return [.jalr(rd: rd(), target: target)]
        case 82..<86: return system()
        case 86..<90: return mmio()
        case 90..<91: return [.far(g.pick(faultTargets))]
        case 91..<93:
            // Rewrites later code (a store to a code page: it faults under Sv39 in S and U).
            let p = LockstepPiece.patch(word: alu(), target: min(count, index + Int.random(in: 1...30, using: &g)))
            return g.chance(50) ? [p, .word(E.fenceI)] : [p]
        default: return [.word(alu())]
        }
    }

    /// A counted loop over integer code: `addi x30, x0, k; body; addi x30, x30, -1;
    /// bne x30, x0, body` (nothing in the body writes x30; the handlers leave it alone). Some
    /// bodies touch the UART through x26 (a translated loop leaves through a side exit in the
    /// middle of every iteration); others walk x26 from x31 - 2048 in 128-byte steps, so an
    /// access misses the TLB in a later iteration, when registers the body writes after it
    /// hold values from the iteration before.
    mutating func loop() -> [LockstepPiece] {
        let walks = g.chance(40)
        var body: [LockstepPiece] = []
        for _ in 0..<Int.random(in: 1...30, using: &g) {
            switch Int.random(in: 0..<21, using: &g) {
            case 0..<12: body.append(.word(alu()))
            case 12..<17: body.append(.word(loadStore()))
            case 17, 18:
                if walks {
                    body += [.word(E.i(0, 26, 4, rd(), 0x03)), .word(E.addi(26, 26, 128))]          // lbu rd, 0(x26)
                } else {
                    body += [.word(E.u(UInt32(M.uart >> 12), 26, 0x37)), .word(E.i(7, 26, 4, rd(), 0x03))]  // lbu rd, 7(x26)
                }
            default: body.append(.half(compressed()))
            }
        }
        let size = body.reduce(0) { $0 + $1.size } + 4
        return (walks ? [.word(E.addi(26, 31, -2048))] : []) + [.word(E.addi(30, 0, Int32.random(in: 1...40, using: &g)))] + body
            + [.word(E.addi(30, 30, -1)), .word(E.b(-Int32(size), 0, 30, 1))]
    }

    mutating func alu() -> UInt32 {
        while true {
            let w = BlockTranslatorDifferentialTests.randomInstruction(last: false, &g)
            let rd = (w >> 7) & 31
            if rd == 0 || Self.writable.contains(rd) { return w }
        }
    }

    /// A random compressed instruction the decoder accepts that neither jumps nor writes a
    /// reserved integer register.
    mutating func compressed() -> UInt16 {
        while true {
            var h = UInt16.random(in: 0...UInt16.max, using: &g)
            if h & 3 == 3 { h &= ~1 }
            let d = Decoder.decode16(h)
            if d.op == .illegal || BlockTranslator.endsBlock(d.op) { continue }
            let floatDest = [.flw, .fld, .fsw, .fsd, .fpu].contains(d.op)
            if floatDest || d.rd == 32 || d.rd == 0 || Self.writable.contains(UInt32(d.rd)) { return h }
        }
    }

    mutating func loadStore() -> UInt32 {
        let size = 1 << Int.random(in: 0...3, using: &g)
        let (base, off) = address(size: size)
        let f3 = UInt32(size.trailingZeroBitCount)
        if g.chance(55) {
            return E.i(off, base, f3 | (size < 8 && g.chance(50) ? 4 : 0), rd(), 0x03)
        }
        return E.s(off, rs(), base, f3, 0x23)
    }

    mutating func float() -> UInt32 {
        let fmt: UInt32 = g.chance(50) ? 0 : 1
        let rm: UInt32 = g.chance(90) ? g.pick([0, 1, 2, 3, 4, 7, 7, 7]) : g.pick([5, 6])
        func op(_ f7: UInt32, _ rs2: UInt32, _ rs1: UInt32, _ f3: UInt32, _ rd: UInt32) -> UInt32 {
            E.r(f7, rs2, rs1, f3, rd, 0x53)
        }
        switch Int.random(in: 0..<15, using: &g) {
        case 0, 1: return op(g.pick([0x00, 0x04, 0x08, 0x0C]) | fmt, freg(), freg(), rm, freg())
        case 2: return op(0x2C | fmt, 0, freg(), rm, freg())
        case 3: return op(0x10 | fmt, freg(), freg(), UInt32.random(in: 0...2, using: &g), freg())
        case 4: return op(0x14 | fmt, freg(), freg(), UInt32.random(in: 0...1, using: &g), freg())
        case 5: return fmt == 0 ? op(0x20, 1, freg(), rm, freg()) : op(0x21, 0, freg(), rm, freg())
        case 6: return op(0x50 | fmt, freg(), freg(), UInt32.random(in: 0...2, using: &g), rd())
        case 7: return op(0x70 | fmt, 0, freg(), g.chance(50) ? 1 : 0, rd())
        case 8: return op(0x60 | fmt, UInt32.random(in: 0...3, using: &g), freg(), rm, rd())
        case 9: return op(0x68 | fmt, UInt32.random(in: 0...3, using: &g), rs(), rm, freg())
        case 10: return op(0x78 | fmt, 0, rs(), 0, freg())
        case 11, 12:
            let opcode: UInt32 = g.pick([0x43, 0x47, 0x4b, 0x4f])
            return freg() << 27 | fmt << 25 | freg() << 20 | freg() << 15 | rm << 12 | freg() << 7 | opcode
        case 13:
            let size = fmt == 0 ? 4 : 8
            let (base, off) = address(size: size)
            return g.chance(50) ? E.i(off, base, 2 + fmt, freg(), 0x07) : E.s(off, freg(), base, 2 + fmt, 0x27)
        default:
            // Anything in OP-FP (mostly reserved encodings), with a destination random code may write.
            return UInt32.random(in: 0...UInt32.max, using: &g) & ~0xfff | rm << 12 | g.pick(Self.writable) << 7 | 0x53
        }
    }

    mutating func atomic() -> [LockstepPiece] {
        let word = g.chance(50)
        let size = word ? 4 : 8
        var off = Int32.random(in: -2048...(2047 - 8), using: &g) & ~Int32(size - 1)
        if g.chance(8) { off += Int32.random(in: 1..<Int32(size), using: &g) }
        let base: UInt32 = g.chance(70) ? 31 : 2
        var p: [LockstepPiece] = [.word(E.addi(30, base, off))]
        let aq = g.chance(30), rl = g.chance(30)
        if g.chance(60) {
            let f5: UInt32 = g.pick([0x01, 0x00, 0x04, 0x0C, 0x08, 0x10, 0x14, 0x18, 0x1C])
            p.append(.word(E.amo(f5, aq: aq, rl: rl, rs(), 30, word: word, rd())))
        } else {
            if g.chance(85) { p.append(.word(E.amo(0x02, aq: aq, rl: rl, 0, 30, word: word, rd()))) }
            for _ in 0..<Int.random(in: 0...3, using: &g) { p.append(.word(g.chance(70) ? alu() : loadStore())) }
            if g.chance(15) { p.append(.word(E.addi(30, 30, g.pick([-8, 8, 4])))) }
            p.append(.word(E.amo(0x03, aq: aq, rl: rl, rs(), 30, word: g.chance(90) ? word : !word, rd())))
        }
        return p
    }

    static let readable: [Int] = [
        CSR.mstatus, CSR.misa, CSR.medeleg, CSR.mideleg, CSR.mie, CSR.mip, CSR.mtvec, CSR.mscratch, CSR.mepc,
        CSR.mcause, CSR.mtval, CSR.mcounteren, CSR.scounteren, CSR.mvendorid, CSR.marchid, CSR.mimpid, CSR.mhartid,
        CSR.sstatus, CSR.sie, CSR.sip, CSR.stvec, CSR.sscratch, CSR.sepc, CSR.scause, CSR.stval, CSR.satp,
        CSR.fflags, CSR.frm, CSR.fcsr, CSR.cycle, CSR.instret, CSR.mcycle, CSR.minstret, CSR.mcountinhibit,
        CSR.menvcfg, CSR.senvcfg, CSR.pmpcfg0, CSR.pmpaddr0, CSR.tselect, CSR.tdata1, CSR.tinfo,
        0xC03, 0xB03, 0x323, 0x7FF, 0x5C0, 0xC80,
    ]
    static let writableCSRs: [Int] = [
        CSR.mscratch, CSR.sscratch, CSR.mepc, CSR.sepc, CSR.mtval, CSR.stval, CSR.mcause, CSR.scause,
        CSR.fflags, CSR.frm, CSR.fcsr, CSR.fflags, CSR.frm, CSR.fcsr, CSR.mcycle, CSR.minstret, CSR.mcountinhibit,
        CSR.mcounteren, CSR.scounteren, CSR.mie, CSR.sie, CSR.mip, CSR.sip, CSR.medeleg, CSR.mideleg, CSR.tselect,
        CSR.cycle, CSR.mhartid,
    ]
    /// mstatus/sstatus bits a program may flip: SIE, MIE, SPIE, MPIE, FS, SUM, MXR.
    static let statusBits: [Int32] = [0x2, 0x8, 0x20, 0x80, 0x2000, 0x4000, 0x6000]

    mutating func csr() -> [LockstepPiece] {
        switch Int.random(in: 0..<10, using: &g) {
        case 0..<4: return [.word(E.csrr(rd(), g.pick(Self.readable)))]
        case 4..<7: return [.word(E.csr(g.pick(Self.writableCSRs), rs(), UInt32.random(in: 1...3, using: &g), rd()))]
        case 7..<9: return [.word(E.csr(g.pick(Self.writableCSRs), UInt32.random(in: 0...31, using: &g), UInt32.random(in: 5...7, using: &g), rd()))]
        default:
            // mstatus or sstatus bits through x30 (SUM and MXR need lui).
            let status = g.chance(50) ? CSR.mstatus : CSR.sstatus
            let set = g.chance(50) ? UInt32(2) : 3
            let load: UInt32 = g.chance(25) ? E.u(g.pick([0x40, 0x80, 0xC0]), 30, 0x37) : E.addi(30, 0, g.pick(Self.statusBits))
            if mode == .user && status == CSR.sstatus && set == 3 { return [.word(E.csrr(rd(), status))] }
            return [.word(load), .word(E.csr(status, 30, set, rd()))]
        }
    }

    mutating func system() -> [LockstepPiece] {
        var options: [UInt32] = [E.ecall, E.ebreak, E.fence, E.fenceI, 0x1200_0073, 0xffff_ffff, 0]
        switch mode {
        case .user: options += [E.mret, E.sret, 0x1050_0073]
        case .supervisor: options += [E.mret]
        case .machine: break
        }
        let w = g.pick(options)
        return w == 0 ? [.half(0)] : [.word(w)]
    }

    mutating func mmio() -> [LockstepPiece] {
        if mode == .machine && g.chance(20) {
            // CLINT msip = bit 0 of a random register.
            return [.word(E.u(0x2000, 30, 0x37)), .word(E.s(0, rs(), 30, 2, 0x23))]
        }
        let uart = E.u(UInt32(M.uart >> 12), 30, 0x37)
        switch Int.random(in: 0..<10, using: &g) {
        case 0..<4: return [.word(uart), .word(E.s(7, rs(), 30, 0, 0x23))]                   // sb rs, 7(x30)
        case 4..<8: return [.word(uart), .word(E.i(7, 30, g.chance(50) ? 0 : 4, rd(), 0x03))] // lb/lbu rd, 7(x30)
        case 8: return [.word(uart), .word(E.i(7, 30, 1, rd(), 0x03))]                       // lh: misaligned MMIO
        default: return [.word(uart), .word(E.s(6, rs(), 30, 1, 0x23))]                      // sh at 6: scratch + MSR
        }
    }
}

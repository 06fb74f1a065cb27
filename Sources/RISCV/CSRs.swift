// CSRs: the Zicsr register file as WARL fields (machine, supervisor, counters, PMP) and the
// emulation of csrrw/csrrs/csrrc and their immediate forms.

/// CSR numbers.
public enum CSR {
    public static let fflags = 0x001, frm = 0x002, fcsr = 0x003
    public static let sstatus = 0x100, sie = 0x104, stvec = 0x105, scounteren = 0x106, senvcfg = 0x10A
    public static let sscratch = 0x140, sepc = 0x141, scause = 0x142, stval = 0x143, sip = 0x144, satp = 0x180
    public static let mstatus = 0x300, misa = 0x301, medeleg = 0x302, mideleg = 0x303, mie = 0x304, mtvec = 0x305
    public static let mcounteren = 0x306, menvcfg = 0x30A, mcountinhibit = 0x320
    public static let mscratch = 0x340, mepc = 0x341, mcause = 0x342, mtval = 0x343, mip = 0x344
    public static let pmpcfg0 = 0x3A0, pmpaddr0 = 0x3B0
    public static let mcycle = 0xB00, minstret = 0xB02
    public static let tselect = 0x7A0, tdata1 = 0x7A1, tdata2 = 0x7A2, tdata3 = 0x7A3, tinfo = 0x7A4
    public static let cycle = 0xC00, time = 0xC01, instret = 0xC02
    public static let mvendorid = 0xF11, marchid = 0xF12, mimpid = 0xF13, mhartid = 0xF14, mconfigptr = 0xF15
}

extension Hart {
    /// The current mtime (10 MHz).
    var mtime: UInt64 { timer.mtime }

    /// A counter CSR's value as the CSR instruction reading it sees it: instructions retired
    /// before that instruction (which `execute` has already counted) plus the counter's offset.
    /// mcycle and minstret both count instructions but keep their own offsets, so a write to
    /// one leaves the other alone and never changes the VMM's count (`instret`). While its
    /// mcountinhibit bit is set, a counter is frozen and its offset field holds the value itself.
    @inline(__always) func counter(offset: UInt64, inhibit bit: UInt64) -> UInt64 {
        mcountinhibit & bit != 0 ? offset : instret &- 1 &+ offset
    }

    /// The offset for a write of `v`: the instruction after the writing one reads `v` (the
    /// write replaces the writing instruction's own increment, as the spec says).
    @inline(__always) func counterOffset(for v: UInt64, inhibit bit: UInt64) -> UInt64 {
        mcountinhibit & bit != 0 ? v : v &- instret
    }

    /// Re-expresses a counter's offset when its inhibit bit changes: freezing keeps the value
    /// the next instruction would have read, thawing continues counting from the frozen value.
    func rebaseCounter(_ offset: UInt64, inhibit bit: UInt64, newInhibit: UInt64) -> UInt64 {
        let was = mcountinhibit & bit != 0, now = newInhibit & bit != 0
        if !was && now { return instret &+ offset }
        if was && !now { return offset &- instret }
        return offset
    }

    /// Reads a CSR; nil when it does not exist or is not accessible (illegal instruction).
    func readCSR(_ n: Int) -> UInt64? {
        if UInt8((n >> 8) & 3) > privilege.rawValue { return nil }
        switch n {
        case CSR.fflags, CSR.frm, CSR.fcsr:
            guard mstatus & CSRBits.fs != 0 else { return nil } // FS = Off: illegal
            switch n {
            case CSR.fflags: return UInt64(fflags)
            case CSR.frm: return UInt64(frm)
            default: return UInt64(frm) << 5 | UInt64(fflags)
            }
        case CSR.sstatus: return mstatus & CSRBits.sstatusMask
        case CSR.sie: return mie & mideleg
        case CSR.stvec: return stvec
        case CSR.scounteren: return scounteren
        case CSR.senvcfg: return senvcfg
        case CSR.sscratch: return sscratch
        case CSR.sepc: return sepc
        case CSR.scause: return scause
        case CSR.stval: return stval
        case CSR.sip: return mip & mideleg
        case CSR.satp:
            if privilege == .supervisor && mstatus & CSRBits.tvm != 0 { return nil }
            return satp
        case CSR.mstatus: return mstatus
        case CSR.misa: return Hart.misa
        case CSR.medeleg: return medeleg
        case CSR.mideleg: return mideleg
        case CSR.mie: return mie
        case CSR.mtvec: return mtvec
        case CSR.mcounteren: return mcounteren
        case CSR.menvcfg: return menvcfg
        case CSR.mcountinhibit: return mcountinhibit
        case CSR.mscratch: return mscratch
        case CSR.mepc: return mepc
        case CSR.mcause: return mcause
        case CSR.mtval: return mtval
        case CSR.mip: return mip
        case 0x3A0, 0x3A2: // pmpcfg0, pmpcfg2 (odd ones do not exist on RV64)
            let base = (n - 0x3A0) * 4
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(pmp.cfg[base + b]) << UInt64(8 * b) }
            return v
        case 0x3B0...0x3BF:
            let i = n - 0x3B0
            // NAPOT/TOR read back as written (granularity 4 bytes).
            return pmp.addr[i]
        case 0x3C0...0x3EF: return 0 // pmpaddr16...63: not implemented, read as zero
        case CSR.mcycle: return counter(offset: cycleOffset, inhibit: 1)
        case CSR.minstret: return counter(offset: instretOffset, inhibit: 4)
        // Debug triggers: present, with zero triggers (tselect stays 0, tdata1 type 0 = "no
        // trigger", tinfo bit 0 = the selected trigger does not exist); writes are ignored.
        case CSR.tselect, CSR.tdata1, CSR.tdata2, CSR.tdata3: return 0
        case CSR.tinfo: return 1
        case 0xB03...0xB1F, 0x323...0x33F: return 0 // hpm counters and events
        case CSR.cycle, CSR.time, CSR.instret, 0xC03...0xC1F:
            let bit = UInt64(1) << UInt64(n - 0xC00)
            if privilege < .machine && mcounteren & bit == 0 { return nil }
            if privilege == .user && scounteren & bit == 0 { return nil }
            switch n {
            case CSR.time: return mtime
            case CSR.cycle: return counter(offset: cycleOffset, inhibit: 1)
            case CSR.instret: return counter(offset: instretOffset, inhibit: 4)
            default: return 0
            }
        case CSR.mvendorid, CSR.marchid, CSR.mimpid, CSR.mconfigptr: return 0
        case CSR.mhartid: return hartID
        default: return nil
        }
    }

    /// Writes a CSR as WARL. Returns false when the write is illegal.
    func writeCSR(_ n: Int, _ v: UInt64) -> Bool {
        if UInt8((n >> 8) & 3) > privilege.rawValue || (n >> 10) & 3 == 3 { return false }
        switch n {
        case CSR.fflags, CSR.frm, CSR.fcsr:
            guard mstatus & CSRBits.fs != 0 else { return false }
            switch n {
            case CSR.fflags: fflags = UInt8(v & 0x1F)
            case CSR.frm: frm = UInt8(v & 7)
            default: fflags = UInt8(v & 0x1F); frm = UInt8((v >> 5) & 7)
            }
            mstatus |= CSRBits.fsDirty | CSRBits.sd
        case CSR.sstatus:
            mstatus = CSRBits.withSD((mstatus & ~CSRBits.sstatusWritable) | (v & CSRBits.sstatusWritable))
            flushTLB()
        case CSR.sie: mie = (mie & ~mideleg) | (v & mideleg)
        case CSR.stvec: stvec = v & ~2
        case CSR.scounteren: scounteren = v & 0xFFFF_FFFF
        case CSR.senvcfg: senvcfg = 0
        case CSR.sscratch: sscratch = v
        case CSR.sepc: sepc = v & ~1
        case CSR.scause: scause = v & ((1 << 63) | 0x3F)
        case CSR.stval: stval = v
        case CSR.sip: mip = (mip & ~(mideleg & CSRBits.ssip)) | (v & mideleg & CSRBits.ssip)
        case CSR.satp:
            if privilege == .supervisor && mstatus & CSRBits.tvm != 0 { return false }
            let mode = v >> 60
            if mode == 0 || mode == 8 { // Bare and Sv39; other modes leave satp unchanged (WARL)
                satp = mode == 0 ? 0 : (v & ((1 << 44) - 1)) | (8 << 60)
                flushTLB()
            }
        case CSR.mstatus:
            var s = (mstatus & ~CSRBits.mstatusWritable) | (v & CSRBits.mstatusWritable)
            if (v >> CSRBits.mppShift) & 3 == 2 { s = (s & ~CSRBits.mpp) | (mstatus & CSRBits.mpp) }
            mstatus = CSRBits.withSD(s)
            flushTLB()
        case CSR.misa: break
        case CSR.medeleg: medeleg = v & CSRBits.medelegWritable
        case CSR.mideleg: mideleg = v & CSRBits.sInterrupts
        case CSR.mie: mie = v & CSRBits.allInterrupts
        case CSR.mtvec: mtvec = v & ~2
        case CSR.mcounteren: mcounteren = v & 0xFFFF_FFFF
        case CSR.menvcfg: menvcfg = 0
        case CSR.mcountinhibit:
            let new = v & 0xFFFF_FFFD
            cycleOffset = rebaseCounter(cycleOffset, inhibit: 1, newInhibit: new)
            instretOffset = rebaseCounter(instretOffset, inhibit: 4, newInhibit: new)
            mcountinhibit = new
        case CSR.mscratch: mscratch = v
        case CSR.mepc: mepc = v & ~1
        case CSR.mcause: mcause = v & ((1 << 63) | 0x3F)
        case CSR.mtval: mtval = v
        case CSR.mip:
            let w = CSRBits.ssip | CSRBits.stip | CSRBits.seip
            mip = (mip & ~w) | (v & w)
        case 0x3A0, 0x3A2:
            pmp.writeConfig(n - 0x3A0, v)
            flushTLB()
        case 0x3B0...0x3BF:
            pmp.writeAddress(n - 0x3B0, v)
            flushTLB()
        case 0x3C0...0x3EF: break
        case CSR.mcycle: cycleOffset = counterOffset(for: v, inhibit: 1)
        case CSR.minstret: instretOffset = counterOffset(for: v, inhibit: 4)
        case CSR.tselect, CSR.tdata1, CSR.tdata2, CSR.tdata3, CSR.tinfo: break
        case 0xB03...0xB1F, 0x323...0x33F: break
        default: return false
        }
        return true
    }

    /// Emulates a decoded CSR instruction at `pc`; takes an illegal-instruction trap when the
    /// access is not allowed.
    func emulateCSR(_ d: DecodedInstruction) {
        let n = Int(d.imm & 0xFFF)
        let rdIsZero = d.rd == 32
        let src: UInt64
        let writes: Bool
        switch d.op {
        case .csrrw, .csrrs, .csrrc:
            src = x[Int(d.rs1)]
            writes = d.op == .csrrw || d.rs1 != 0
        default:
            src = UInt64(d.rs1)
            writes = d.op == .csrrwi || d.rs1 != 0
        }
        let raw = UInt64(n) << 20 | UInt64(d.rs1) << 15 | (rdIsZero ? 0 : UInt64(d.rd)) << 7 | 0x73
        var old: UInt64 = 0
        if !(rdIsZero && (d.op == .csrrw || d.op == .csrrwi)) || !writes {
            guard let v = readCSR(n) else {
                takeException(.illegalInstruction, tval: raw | funct3(d.op) << 12)
                return
            }
            old = v
        } else if readCSR(n) == nil {
            takeException(.illegalInstruction, tval: raw | funct3(d.op) << 12)
            return
        }
        if writes {
            let new: UInt64
            switch d.op {
            case .csrrw, .csrrwi: new = src
            case .csrrs, .csrrsi: new = old | src
            default: new = old & ~src
            }
            guard writeCSR(n, new) else {
                takeException(.illegalInstruction, tval: raw | funct3(d.op) << 12)
                return
            }
        }
        x[Int(d.rd)] = old
        pc &+= UInt64(d.length)
    }

    private func funct3(_ op: Opcode) -> UInt64 {
        switch op {
        case .csrrw: return 1
        case .csrrs: return 2
        case .csrrc: return 3
        case .csrrwi: return 5
        case .csrrsi: return 6
        default: return 7
        }
    }
}

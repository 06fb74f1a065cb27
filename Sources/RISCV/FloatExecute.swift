// FloatExecute: runs F and D instructions for the interpreter loop, which reaches them through
// one case group and this non-inlined entry point (the integer cases stay as they were). It
// checks mstatus.FS (Off: illegal instruction), resolves the dynamic rounding mode (frm 5-7:
// illegal), reads singles through NaN-boxing, writes them boxed, accrues fflags and marks FS
// Dirty (with SD). The arithmetic is SoftFloat's.
import Machine

extension Hart {
    /// A single-precision operand: the low 32 bits of a properly NaN-boxed register, otherwise
    /// the canonical NaN.
    @inline(__always) func readSingle(_ r: Int) -> UInt64 {
        let v = f[r]
        return v >> 32 == 0xFFFF_FFFF ? v & 0xFFFF_FFFF : 0x7FC0_0000
    }

    /// Writes a single-precision result NaN-boxed.
    @inline(__always) func writeSingle(_ r: Int, _ v: UInt64) { f[r] = 0xFFFF_FFFF_0000_0000 | (v & 0xFFFF_FFFF) }

    @inline(__always) func setX(_ r: Int, _ v: UInt64) { if r != 0 { x[r] = v } }

    @inline(__always) func markFloatDirty() { mstatus |= CSRBits.fsDirty | CSRBits.sd }

    /// Executes one F/D instruction at `self.pc` (which the caller advances). False when a trap
    /// was taken. MMIO accesses are completed here, counted as MMIO exits.
    @inline(never)
    package func executeFloat(_ d: DecodedInstruction) -> Bool {
        let imm = UInt64(bitPattern: d.imm)
        guard mstatus & CSRBits.fs != 0 else {
            takeException(.illegalInstruction, tval: imm >> 32)
            return false
        }
        switch d.op {
        case .flw, .fld:
            let va = x[Int(d.rs1)] &+ UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: imm)))
            let size: UInt64 = d.op == .flw ? 4 : 8
            guard let v = loadFloat(va, size: size) else { return false }
            if size == 4 { writeSingle(Int(d.rd), v) } else { f[Int(d.rd)] = v }
            markFloatDirty()
            return true
        case .fsw, .fsd:
            let va = x[Int(d.rs1)] &+ UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: imm)))
            return storeFloat(va, size: d.op == .fsw ? 4 : 8, value: f[Int(d.rs2)])
        default:
            return executeFPU(d)
        }
    }

    /// An FP load: the read TLB, else the slow path; an MMIO read is done at once.
    func loadFloat(_ va: UInt64, size: UInt64) -> UInt64? {
        let e = readTLB.entries[TLB.index(va)]
        if e.tag == va & (0xFFFF_FFFF_FFFF_F000 | (size - 1)) {
            // SAFETY: a TLB hit maps into a live RAM region; the access is aligned (the tag
            // check fails for misaligned addresses).
            let p = UnsafeRawPointer(bitPattern: UInt(va &+ e.addend)).unsafelyUnwrapped
            return size == 4 ? UInt64(p.load(as: UInt32.self)) : p.load(as: UInt64.self)
        }
        if let v = loadSlow(va, size: size) { return v }
        guard pendingExit == .mmioRead else { return nil }
        pendingExit = nil
        stats.record(.mmioRead)
        return bus.read(GuestPhysicalAddress(mmioAddress), size: mmioSize) ?? 0
    }

    /// An FP store: the write TLB, else the slow path; an MMIO write is done at once.
    func storeFloat(_ va: UInt64, size: UInt64, value: UInt64) -> Bool {
        let e = writeTLB.entries[TLB.index(va)]
        if e.tag == va & (0xFFFF_FFFF_FFFF_F000 | (size - 1)) {
            // SAFETY: a write-TLB hit maps into a live RAM page already logged dirty; aligned.
            let p = UnsafeMutableRawPointer(bitPattern: UInt(va &+ e.addend)).unsafelyUnwrapped
            if size == 4 { p.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self) }
            else { p.storeBytes(of: value, as: UInt64.self) }
            return true
        }
        if storeSlow(va, size: size, value: value) { return true }
        guard pendingExit == .mmioWrite else { return false }
        pendingExit = nil
        stats.record(.mmioWrite)
        bus.write(GuestPhysicalAddress(mmioAddress), size: mmioSize, value: mmioValue)
        return true
    }

    /// Integer source of fcvt.{s,d}.{w,wu,l,lu}: magnitude and sign.
    @inline(__always) func integerSource(_ r: Int, signed: Bool, wide: Bool) -> (UInt64, Bool) {
        let v = x[r]
        if wide {
            if signed { let i = Int64(bitPattern: v); return (i.magnitude, i < 0) }
            return (v, false)
        }
        if signed { let i = Int32(truncatingIfNeeded: v); return (UInt64(i.magnitude), i < 0) }
        return (v & 0xFFFF_FFFF, false)
    }

    /// The OP-FP and fused multiply-add instructions.
    func executeFPU(_ d: DecodedInstruction) -> Bool {
        let imm = UInt64(bitPattern: d.imm)
        guard let op = FloatOp(rawValue: UInt8(truncatingIfNeeded: imm)) else {
            takeException(.illegalInstruction, tval: imm >> 32)
            return false
        }
        var rm = UInt8((imm >> 8) & 7)
        if op.usesRounding && rm == 7 {
            rm = frm
            guard rm < 5 else { takeException(.illegalInstruction, tval: imm >> 32); return false }
        }
        let rd = Int(d.rd), rs1 = Int(d.rs1), rs2 = Int(d.rs2), rs3 = Int((imm >> 16) & 31)
        let s = FPFormat.single, dp = FPFormat.double
        var fl: UInt8 = 0
        var writesF = true
        switch op {
        case .addS: writeSingle(rd, SoftFloat.add(readSingle(rs1), readSingle(rs2), subtract: false, s, rm, &fl))
        case .subS: writeSingle(rd, SoftFloat.add(readSingle(rs1), readSingle(rs2), subtract: true, s, rm, &fl))
        case .mulS: writeSingle(rd, SoftFloat.mul(readSingle(rs1), readSingle(rs2), s, rm, &fl))
        case .divS: writeSingle(rd, SoftFloat.div(readSingle(rs1), readSingle(rs2), s, rm, &fl))
        case .sqrtS: writeSingle(rd, SoftFloat.sqrt(readSingle(rs1), s, rm, &fl))
        case .maddS, .msubS, .nmsubS, .nmaddS:
            writeSingle(rd, SoftFloat.fma(readSingle(rs1), readSingle(rs2), readSingle(rs3),
                                          negateProduct: op == .nmsubS || op == .nmaddS,
                                          negateAddend: op == .msubS || op == .nmaddS, s, rm, &fl))
        case .addD: f[rd] = SoftFloat.add(f[rs1], f[rs2], subtract: false, dp, rm, &fl)
        case .subD: f[rd] = SoftFloat.add(f[rs1], f[rs2], subtract: true, dp, rm, &fl)
        case .mulD: f[rd] = SoftFloat.mul(f[rs1], f[rs2], dp, rm, &fl)
        case .divD: f[rd] = SoftFloat.div(f[rs1], f[rs2], dp, rm, &fl)
        case .sqrtD: f[rd] = SoftFloat.sqrt(f[rs1], dp, rm, &fl)
        case .maddD, .msubD, .nmsubD, .nmaddD:
            f[rd] = SoftFloat.fma(f[rs1], f[rs2], f[rs3], negateProduct: op == .nmsubD || op == .nmaddD,
                                  negateAddend: op == .msubD || op == .nmaddD, dp, rm, &fl)
        case .sgnjS, .sgnjnS, .sgnjxS:
            let a = readSingle(rs1), b = readSingle(rs2)
            let sb: UInt64 = op == .sgnjS ? b : op == .sgnjnS ? ~b : a ^ b
            writeSingle(rd, (a & 0x7FFF_FFFF) | (sb & 0x8000_0000))
        case .sgnjD, .sgnjnD, .sgnjxD:
            let a = f[rs1], b = f[rs2]
            let sb: UInt64 = op == .sgnjD ? b : op == .sgnjnD ? ~b : a ^ b
            f[rd] = (a & ~dp.signBit) | (sb & dp.signBit)
        case .minS, .maxS: writeSingle(rd, SoftFloat.minMax(readSingle(rs1), readSingle(rs2), max: op == .maxS, s, &fl))
        case .minD, .maxD: f[rd] = SoftFloat.minMax(f[rs1], f[rs2], max: op == .maxD, dp, &fl)
        case .eqS, .ltS, .leS:
            writesF = false
            setX(rd, SoftFloat.compare(readSingle(rs1), readSingle(rs2), op == .eqS ? .eq : op == .ltS ? .lt : .le, s, &fl))
        case .eqD, .ltD, .leD:
            writesF = false
            setX(rd, SoftFloat.compare(f[rs1], f[rs2], op == .eqD ? .eq : op == .ltD ? .lt : .le, dp, &fl))
        case .classS: writesF = false; setX(rd, SoftFloat.classify(readSingle(rs1), s))
        case .classD: writesF = false; setX(rd, SoftFloat.classify(f[rs1], dp))
        case .mvXW: writesF = false; setX(rd, sext32(f[rs1]))
        case .mvXD: writesF = false; setX(rd, f[rs1])
        case .mvWX: writeSingle(rd, x[rs1])
        case .mvDX: f[rd] = x[rs1]
        case .cvtWS, .cvtWUS, .cvtLS, .cvtLUS:
            writesF = false
            setX(rd, SoftFloat.toInteger(readSingle(rs1), s, signed: op == .cvtWS || op == .cvtLS,
                                         width: op == .cvtWS || op == .cvtWUS ? 32 : 64, rm, &fl))
        case .cvtWD, .cvtWUD, .cvtLD, .cvtLUD:
            writesF = false
            setX(rd, SoftFloat.toInteger(f[rs1], dp, signed: op == .cvtWD || op == .cvtLD,
                                         width: op == .cvtWD || op == .cvtWUD ? 32 : 64, rm, &fl))
        case .cvtSW, .cvtSWU, .cvtSL, .cvtSLU:
            let (m, neg) = integerSource(rs1, signed: op == .cvtSW || op == .cvtSL, wide: op == .cvtSL || op == .cvtSLU)
            writeSingle(rd, SoftFloat.fromInteger(magnitude: m, negative: neg, s, rm, &fl))
        case .cvtDW, .cvtDWU, .cvtDL, .cvtDLU:
            let (m, neg) = integerSource(rs1, signed: op == .cvtDW || op == .cvtDL, wide: op == .cvtDL || op == .cvtDLU)
            f[rd] = SoftFloat.fromInteger(magnitude: m, negative: neg, dp, rm, &fl)
        case .cvtSD: writeSingle(rd, SoftFloat.convert(f[rs1], from: dp, to: s, rm, &fl))
        case .cvtDS: f[rd] = SoftFloat.convert(readSingle(rs1), from: s, to: dp, rm, &fl)
        }
        if fl != 0 { fflags |= fl }
        if writesF || fl != 0 { markFloatDirty() }
        return true
    }
}

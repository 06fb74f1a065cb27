// The interpreter loop: runs predecoded instructions out of the per-page decode cache until the
// budget ends or an instruction needs the VMM (CSR, xRET, WFI, SFENCE.VMA, ECALL, FENCE.I,
// MMIO). Loads and stores hit the TLB inline; misses take the slow paths in MMU.swift.
import Machine
import Synchronization

@inline(__always) func sext32(_ v: UInt64) -> UInt64 {
    UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v)))
}

@inline(__always) func mulhsu(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let hi = a.multipliedFullWidth(by: b).high
    return Int64(bitPattern: a) < 0 ? hi &- b : hi
}

@inline(__always) func div64(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let sa = Int64(bitPattern: a), sb = Int64(bitPattern: b)
    if sb == 0 { return .max }
    if sa == .min && sb == -1 { return a }
    return UInt64(bitPattern: sa / sb)
}

@inline(__always) func rem64(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let sa = Int64(bitPattern: a), sb = Int64(bitPattern: b)
    if sb == 0 { return a }
    if sa == .min && sb == -1 { return 0 }
    return UInt64(bitPattern: sa % sb)
}

@inline(__always) func divw(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let sa = Int32(truncatingIfNeeded: a), sb = Int32(truncatingIfNeeded: b)
    if sb == 0 { return .max }
    if sa == .min && sb == -1 { return UInt64(bitPattern: Int64(sa)) }
    return UInt64(bitPattern: Int64(sa / sb))
}

@inline(__always) func divuw(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let ua = UInt32(truncatingIfNeeded: a), ub = UInt32(truncatingIfNeeded: b)
    if ub == 0 { return .max }
    return sext32(UInt64(ua / ub))
}

@inline(__always) func remw(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let sa = Int32(truncatingIfNeeded: a), sb = Int32(truncatingIfNeeded: b)
    if sb == 0 { return UInt64(bitPattern: Int64(sa)) }
    if sa == .min && sb == -1 { return 0 }
    return UInt64(bitPattern: Int64(sa % sb))
}

@inline(__always) func remuw(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let ua = UInt32(truncatingIfNeeded: a), ub = UInt32(truncatingIfNeeded: b)
    if ub == 0 { return sext32(UInt64(ua)) }
    return sext32(UInt64(ua % ub))
}

extension Hart {
    /// Runs up to `budget` instructions without leaving the loop for anything but a VMM exit
    /// (left in `pendingExit`). Returns the number of instructions retired.
    @discardableResult
    package func execute(budget: Int) -> Int {
        var pc = self.pc
        // `pageVA` is the virtual address of `page`. "No valid page" is `pc &+ 1` for the pc
        // the loop continues at: the offset `pc - pageVA` wraps to 2^64-1 and the top of the
        // loop fetches. (A fixed sentinel such as 1 would let a pc in 2..<4097 index crossPage.)
        var pageVA: UInt64 = pc &+ 1
        var page = crossPage
        var left = budget
        // Iterations that spent budget without retiring an instruction (traps, fetch faults).
        var faults = 0
        loop: while left > 0 {
            var off = pc &- pageVA
            if off >= 4096 {
                self.pc = pc
                guard let (h, idx) = fetchPage(pc) else {
                    // A fetch fault spends budget (it retires nothing: `faults`).
                    left &-= 1; faults &+= 1
                    pc = self.pc; pageVA = pc &+ 1
                    if pendingExit != nil { break loop }
                    continue loop
                }
                _ = h
                page = codePageFor(idx)
                pageVA = pc & ~0xFFF
                off = pc & 0xFFF
            }
            let dp = page + Int(truncatingIfNeeded: off >> 1)
            left &-= 1
            switch dp.pointee.op {
            case .undecoded:
                left &+= 1
                // A slot of crossPage past the crossing instruction: refetch at the top. That
                // iteration spends budget (a fault) or reaches a slot of a real page.
                if dp.pointee.length == 0 { pageVA = pc &+ 1; continue loop }
                self.pc = pc
                guard let (host, _) = fetchPage(pc) else {
                    left &-= 1; faults &+= 1
                    pc = self.pc; pageVA = pc &+ 1
                    if pendingExit != nil { break loop }
                    continue loop
                }
                let low = UInt32(host.load(fromByteOffset: Int(off), as: UInt16.self))
                if low & 3 != 3 {
                    page[Int(off >> 1)] = Decoder.decode16(UInt16(truncatingIfNeeded: low))
                } else if off <= 4092 {
                    page[Int(off >> 1)] = Decoder.decode32(host.loadUnaligned(fromByteOffset: Int(off), as: UInt32.self))
                } else {
                    self.pc = pc
                    guard let nd = decodeCrossing(pc, low: low) else {
                        left &-= 1; faults &+= 1
                        pc = self.pc; pageVA = pc &+ 1
                        if pendingExit != nil { break loop }
                        continue loop
                    }
                    crossPage[0] = nd
                    page = crossPage
                    pageVA = pc
                }
            case .illegal:
                self.pc = pc
                takeException(.illegalInstruction, tval: UInt64(bitPattern: dp.pointee.imm) & 0xFFFF_FFFF)
                if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop
            case .lui:
                x[Int(dp.pointee.rd)] = UInt64(bitPattern: dp.pointee.imm)
                pc &+= UInt64(dp.pointee.length)
            case .auipc:
                x[Int(dp.pointee.rd)] = pc &+ UInt64(bitPattern: dp.pointee.imm)
                pc &+= UInt64(dp.pointee.length)
            case .jal:
                x[Int(dp.pointee.rd)] = pc &+ UInt64(dp.pointee.length)
                pc = pc &+ UInt64(bitPattern: dp.pointee.imm)
            case .jalr:
                let t = (x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)) & ~1
                x[Int(dp.pointee.rd)] = pc &+ UInt64(dp.pointee.length)
                pc = t
            case .beq:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                pc = a == b ? pc &+ UInt64(bitPattern: dp.pointee.imm) : pc &+ UInt64(dp.pointee.length)
            case .bne:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                pc = a != b ? pc &+ UInt64(bitPattern: dp.pointee.imm) : pc &+ UInt64(dp.pointee.length)
            case .blt:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                pc = Int64(bitPattern: a) < Int64(bitPattern: b) ? pc &+ UInt64(bitPattern: dp.pointee.imm) : pc &+ UInt64(dp.pointee.length)
            case .bge:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                pc = Int64(bitPattern: a) >= Int64(bitPattern: b) ? pc &+ UInt64(bitPattern: dp.pointee.imm) : pc &+ UInt64(dp.pointee.length)
            case .bltu:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                pc = a < b ? pc &+ UInt64(bitPattern: dp.pointee.imm) : pc &+ UInt64(dp.pointee.length)
            case .bgeu:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                pc = a >= b ? pc &+ UInt64(bitPattern: dp.pointee.imm) : pc &+ UInt64(dp.pointee.length)
            case .lb:
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let e = readTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F000 {
                    // SAFETY: a TLB hit maps into a live RAM region; the access is aligned.
                    let v = UnsafeRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.load(as: Int8.self)
                    x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(v))
                } else {
                    self.pc = pc
                    guard let w = loadSlow(a, size: 1) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                    let v = Int8(truncatingIfNeeded: w)
                    x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(v))
                }
                pc &+= UInt64(dp.pointee.length)
            case .lh:
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let e = readTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F001 {
                    // SAFETY: a TLB hit maps into a live RAM region; the access is aligned.
                    let v = UnsafeRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.load(as: Int16.self)
                    x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(v))
                } else {
                    self.pc = pc
                    guard let w = loadSlow(a, size: 2) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                    let v = Int16(truncatingIfNeeded: w)
                    x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(v))
                }
                pc &+= UInt64(dp.pointee.length)
            case .lw:
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let e = readTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F003 {
                    // SAFETY: a TLB hit maps into a live RAM region; the access is aligned.
                    let v = UnsafeRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.load(as: Int32.self)
                    x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(v))
                } else {
                    self.pc = pc
                    guard let w = loadSlow(a, size: 4) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                    let v = Int32(truncatingIfNeeded: w)
                    x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(v))
                }
                pc &+= UInt64(dp.pointee.length)
            case .ld:
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let e = readTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F007 {
                    // SAFETY: a TLB hit maps into a live RAM region; the access is aligned.
                    let v = UnsafeRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.load(as: UInt64.self)
                    x[Int(dp.pointee.rd)] = v
                } else {
                    self.pc = pc
                    guard let w = loadSlow(a, size: 8) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                    let v = UInt64(truncatingIfNeeded: w)
                    x[Int(dp.pointee.rd)] = v
                }
                pc &+= UInt64(dp.pointee.length)
            case .lbu:
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let e = readTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F000 {
                    // SAFETY: a TLB hit maps into a live RAM region; the access is aligned.
                    let v = UnsafeRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.load(as: UInt8.self)
                    x[Int(dp.pointee.rd)] = UInt64(v)
                } else {
                    self.pc = pc
                    guard let w = loadSlow(a, size: 1) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                    let v = UInt8(truncatingIfNeeded: w)
                    x[Int(dp.pointee.rd)] = UInt64(v)
                }
                pc &+= UInt64(dp.pointee.length)
            case .lhu:
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let e = readTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F001 {
                    // SAFETY: a TLB hit maps into a live RAM region; the access is aligned.
                    let v = UnsafeRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.load(as: UInt16.self)
                    x[Int(dp.pointee.rd)] = UInt64(v)
                } else {
                    self.pc = pc
                    guard let w = loadSlow(a, size: 2) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                    let v = UInt16(truncatingIfNeeded: w)
                    x[Int(dp.pointee.rd)] = UInt64(v)
                }
                pc &+= UInt64(dp.pointee.length)
            case .lwu:
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let e = readTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F003 {
                    // SAFETY: a TLB hit maps into a live RAM region; the access is aligned.
                    let v = UnsafeRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.load(as: UInt32.self)
                    x[Int(dp.pointee.rd)] = UInt64(v)
                } else {
                    self.pc = pc
                    guard let w = loadSlow(a, size: 4) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                    let v = UInt32(truncatingIfNeeded: w)
                    x[Int(dp.pointee.rd)] = UInt64(v)
                }
                pc &+= UInt64(dp.pointee.length)
            case .sb:
                // Read the length before a slow-path store can reset this page's decoded slots
                // (an MMIO exit writes no RAM, so the slot is intact when it is copied below).
                let len = UInt64(dp.pointee.length)
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let v = x[Int(dp.pointee.rs2)]
                let e = writeTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F000 {
                    // SAFETY: a write-TLB hit maps into a live RAM page already logged dirty.
                    UnsafeMutableRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
                } else {
                    self.pc = pc
                    guard storeSlow(a, size: 1, value: v) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                }
                pc &+= len
            case .sh:
                // Read the length before a slow-path store can reset this page's decoded slots
                // (an MMIO exit writes no RAM, so the slot is intact when it is copied below).
                let len = UInt64(dp.pointee.length)
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let v = x[Int(dp.pointee.rs2)]
                let e = writeTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F001 {
                    // SAFETY: a write-TLB hit maps into a live RAM page already logged dirty.
                    UnsafeMutableRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self)
                } else {
                    self.pc = pc
                    guard storeSlow(a, size: 2, value: v) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                }
                pc &+= len
            case .sw:
                // Read the length before a slow-path store can reset this page's decoded slots
                // (an MMIO exit writes no RAM, so the slot is intact when it is copied below).
                let len = UInt64(dp.pointee.length)
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let v = x[Int(dp.pointee.rs2)]
                let e = writeTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F003 {
                    // SAFETY: a write-TLB hit maps into a live RAM page already logged dirty.
                    UnsafeMutableRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.storeBytes(of: UInt32(truncatingIfNeeded: v), as: UInt32.self)
                } else {
                    self.pc = pc
                    guard storeSlow(a, size: 4, value: v) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                }
                pc &+= len
            case .sd:
                // Read the length before a slow-path store can reset this page's decoded slots
                // (an MMIO exit writes no RAM, so the slot is intact when it is copied below).
                let len = UInt64(dp.pointee.length)
                let a = x[Int(dp.pointee.rs1)] &+ UInt64(bitPattern: dp.pointee.imm)
                let v = x[Int(dp.pointee.rs2)]
                let e = writeTLB.entries[TLB.index(a)]
                if e.tag == a & 0xFFFF_FFFF_FFFF_F007 {
                    // SAFETY: a write-TLB hit maps into a live RAM page already logged dirty.
                    UnsafeMutableRawPointer(bitPattern: UInt(a &+ e.addend)).unsafelyUnwrapped.storeBytes(of: UInt64(truncatingIfNeeded: v), as: UInt64.self)
                } else {
                    self.pc = pc
                    guard storeSlow(a, size: 8, value: v) else { if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                }
                pc &+= len
            case .add:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a &+ b
                pc &+= UInt64(dp.pointee.length)
            case .sub:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a &- b
                pc &+= UInt64(dp.pointee.length)
            case .sll:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a &<< (b & 63)
                pc &+= UInt64(dp.pointee.length)
            case .slt:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = Int64(bitPattern: a) < Int64(bitPattern: b) ? 1 : 0
                pc &+= UInt64(dp.pointee.length)
            case .sltu:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a < b ? 1 : 0
                pc &+= UInt64(dp.pointee.length)
            case .xor:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a ^ b
                pc &+= UInt64(dp.pointee.length)
            case .srl:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a &>> (b & 63)
                pc &+= UInt64(dp.pointee.length)
            case .sra:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(bitPattern: a) &>> Int64(b & 63))
                pc &+= UInt64(dp.pointee.length)
            case .or:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a | b
                pc &+= UInt64(dp.pointee.length)
            case .and:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a & b
                pc &+= UInt64(dp.pointee.length)
            case .addi:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = a &+ b
                pc &+= UInt64(dp.pointee.length)
            case .slti:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = Int64(bitPattern: a) < Int64(bitPattern: b) ? 1 : 0
                pc &+= UInt64(dp.pointee.length)
            case .sltiu:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = a < b ? 1 : 0
                pc &+= UInt64(dp.pointee.length)
            case .xori:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = a ^ b
                pc &+= UInt64(dp.pointee.length)
            case .ori:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = a | b
                pc &+= UInt64(dp.pointee.length)
            case .andi:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = a & b
                pc &+= UInt64(dp.pointee.length)
            case .slli:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = a &<< b
                pc &+= UInt64(dp.pointee.length)
            case .srli:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = a &>> b
                pc &+= UInt64(dp.pointee.length)
            case .srai:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(bitPattern: a) &>> Int64(b))
                pc &+= UInt64(dp.pointee.length)
            case .addiw:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = sext32(a &+ b)
                pc &+= UInt64(dp.pointee.length)
            case .slliw:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = sext32(a &<< b)
                pc &+= UInt64(dp.pointee.length)
            case .srliw:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = sext32(UInt64(UInt32(truncatingIfNeeded: a) &>> UInt32(b)))
                pc &+= UInt64(dp.pointee.length)
            case .sraiw:
                let a = x[Int(dp.pointee.rs1)], b = UInt64(bitPattern: dp.pointee.imm)
                x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: a) &>> Int32(b)))
                pc &+= UInt64(dp.pointee.length)
            case .addw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = sext32(a &+ b)
                pc &+= UInt64(dp.pointee.length)
            case .subw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = sext32(a &- b)
                pc &+= UInt64(dp.pointee.length)
            case .sllw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = sext32(a &<< (b & 31))
                pc &+= UInt64(dp.pointee.length)
            case .srlw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = sext32(UInt64(UInt32(truncatingIfNeeded: a) &>> UInt32(b & 31)))
                pc &+= UInt64(dp.pointee.length)
            case .sraw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: a) &>> Int32(b & 31)))
                pc &+= UInt64(dp.pointee.length)
            case .mul:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a &* b
                pc &+= UInt64(dp.pointee.length)
            case .mulh:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = UInt64(bitPattern: Int64(bitPattern: a).multipliedFullWidth(by: Int64(bitPattern: b)).high)
                pc &+= UInt64(dp.pointee.length)
            case .mulhsu:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = mulhsu(a, b)
                pc &+= UInt64(dp.pointee.length)
            case .mulhu:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = a.multipliedFullWidth(by: b).high
                pc &+= UInt64(dp.pointee.length)
            case .div:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = div64(a, b)
                pc &+= UInt64(dp.pointee.length)
            case .divu:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = b == 0 ? .max : a / b
                pc &+= UInt64(dp.pointee.length)
            case .rem:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = rem64(a, b)
                pc &+= UInt64(dp.pointee.length)
            case .remu:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = b == 0 ? a : a % b
                pc &+= UInt64(dp.pointee.length)
            case .mulw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = sext32(a &* b)
                pc &+= UInt64(dp.pointee.length)
            case .divw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = divw(a, b)
                pc &+= UInt64(dp.pointee.length)
            case .divuw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = divuw(a, b)
                pc &+= UInt64(dp.pointee.length)
            case .remw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = remw(a, b)
                pc &+= UInt64(dp.pointee.length)
            case .remuw:
                let a = x[Int(dp.pointee.rs1)], b = x[Int(dp.pointee.rs2)]
                x[Int(dp.pointee.rd)] = remuw(a, b)
                pc &+= UInt64(dp.pointee.length)
            case .lrw, .scw, .amoswapw, .amoaddw, .amoxorw, .amoandw, .amoorw, .amominw, .amomaxw, .amominuw, .amomaxuw,
                 .lrd, .scd, .amoswapd, .amoaddd, .amoxord, .amoandd, .amoord, .amomind, .amomaxd, .amominud, .amomaxud:
                let saved = dp.pointee
                self.pc = pc
                guard atomic(saved) else { if pendingExit != nil { left &+= 1; exitInstruction = saved; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                pc &+= UInt64(saved.length)
            case .flw, .fld, .fsw, .fsd, .fpu:
                // F and D: one non-inlined entry (FloatExecute.swift) keeps the integer cases lean.
                let saved = dp.pointee
                self.pc = pc
                guard executeFloat(saved) else { if pendingExit != nil { left &+= 1; exitInstruction = saved; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop }
                pc &+= UInt64(saved.length)
            case .fence:
                pc &+= UInt64(dp.pointee.length)
            case .ebreak:
                self.pc = pc
                takeException(.breakpoint, tval: 0)
                if pendingExit != nil { left &+= 1; exitInstruction = dp.pointee; break loop }; faults &+= 1; pc = self.pc; pageVA = pc &+ 1; continue loop
            case .fencei:
                pendingExit = .instructionFence
                exitInstruction = dp.pointee
                break loop
            case .ecall:
                pendingExit = .hypercall
                exitInstruction = dp.pointee
                break loop
            case .rdtime:
                if privilege == .machine || (mcounteren & 2 != 0 && (privilege == .supervisor || scounteren & 2 != 0)) {
                    x[Int(dp.pointee.rd)] = timer.mtime
                    pc &+= UInt64(dp.pointee.length)
                } else {
                    // Not readable here: the CSR emulation raises the illegal instruction.
                    pendingExit = .systemRegister
                    exitInstruction = DecodedInstruction(op: .csrrs, rd: dp.pointee.rd, rs1: 0, rs2: 0, length: 4, imm: 0xC01)
                    break loop
                }
            case .csrrw, .csrrs, .csrrc, .csrrwi, .csrrsi, .csrrci:
                pendingExit = .systemRegister
                exitInstruction = dp.pointee
                break loop
            case .mret, .sret:
                pendingExit = .trapReturn
                exitInstruction = dp.pointee
                break loop
            case .wfi:
                pendingExit = .halt
                exitInstruction = dp.pointee
                break loop
            case .sfencevma:
                pendingExit = .tlbFlush
                exitInstruction = dp.pointee
                break loop
            }
        }
        self.pc = pc
        let done = budget - left
        instret &+= UInt64(done - faults)
        return done
    }

    /// A naturally aligned word of guest RAM as an atomic (the other harts' threads access it).
    @inline(__always) static func atomic32(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt32>> {
        p.assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    /// A naturally aligned doubleword of guest RAM as an atomic.
    @inline(__always) static func atomic64(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt64>> {
        p.assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    /// LR/SC and AMOs (slow path: they also need write permission), atomic across harts.
    /// False when a trap was taken.
    package func atomic(_ d: DecodedInstruction) -> Bool {
        let va = x[Int(d.rs1)]
        let src = x[Int(d.rs2)]
        let word: Bool
        switch d.op {
        case .lrw, .scw, .amoswapw, .amoaddw, .amoxorw, .amoandw, .amoorw, .amominw, .amomaxw, .amominuw, .amomaxuw: word = true
        default: word = false
        }
        let size: UInt64 = word ? 4 : 8
        if d.op == .lrw || d.op == .lrd {
            if va & (size - 1) != 0 { takeException(.loadMisaligned, tval: va); return false }
            let mode = dataPrivilege
            guard let pa = translate(va, access: .read, mode: mode) else { return false }
            guard let (host, _, _) = physicalAccess(pa, va: va, size: size, access: .read, mode: mode) else { return false }
            guard let host else { takeException(.loadAccessFault, tval: va); return false }
            let v = word ? sext32(UInt64(host.load(as: UInt32.self))) : host.load(as: UInt64.self)
            x[Int(d.rd)] = v
            reservation = pa
            reservationValue = v
            return true
        }
        if d.op == .scw || d.op == .scd {
            if va & (size - 1) != 0 { takeException(.storeMisaligned, tval: va); return false }
            let mode = dataPrivilege
            guard let pa = translate(va, access: .write, mode: mode) else { return false }
            var held = reservation == pa
            reservation = .max
            if held, let (h, _, _) = physicalAccess(pa, va: va, size: size, access: .read, mode: mode), let h {
                // Like QEMU: the SC fails when the reserved location changed since the LR.
                let now = word ? sext32(UInt64(h.load(as: UInt32.self))) : h.load(as: UInt64.self)
                held = now == reservationValue
            }
            guard held else { x[Int(d.rd)] = 1; x[32] = 0; return true }
            guard let host = storePointer(va, size: size, value: src, amo: true) else { return false }
            // Atomic against the other harts: the store happens only if the location still
            // holds what the LR read (QEMU's rule too).
            let stored: Bool
            if word {
                stored = Hart.atomic32(host).pointee.compareExchange(expected: UInt32(truncatingIfNeeded: reservationValue),
                                                             desired: UInt32(truncatingIfNeeded: src),
                                                             ordering: .sequentiallyConsistent).exchanged
            } else {
                stored = Hart.atomic64(host).pointee.compareExchange(expected: reservationValue, desired: src,
                                                             ordering: .sequentiallyConsistent).exchanged
            }
            x[Int(d.rd)] = stored ? 0 : 1
            x[32] = 0
            return true
        }
        // An AMO on a page the write TLB maps (live RAM, logged dirty, holding no decoded
        // code; the tag compare includes the alignment bits) skips the walk and PMP check, as a
        // plain store's hit does; a miss, or an LR reservation the AMO may have to end, takes
        // the slow path (walk, faults, TLB fill, reservation check).
        let host: UnsafeMutableRawPointer
        let e = writeTLB.entries[TLB.index(va)]
        if reservation == .max && e.tag == va & (0xFFFF_FFFF_FFFF_F000 | (size - 1)) {
            // SAFETY: a write-TLB hit maps into a live RAM page; the access is aligned.
            host = UnsafeMutableRawPointer(bitPattern: UInt(va &+ e.addend)).unsafelyUnwrapped
        } else {
            guard let h = storePointer(va, size: size, value: src, amo: true) else { return false }
            host = h
        }
        let old: UInt64
        if word {
            let a = Hart.atomic32(host), b = UInt32(truncatingIfNeeded: src)
            let o: UInt32
            switch d.op {
            case .amoswapw: o = a.pointee.exchange(b, ordering: .sequentiallyConsistent)
            case .amoaddw: o = a.pointee.wrappingAdd(b, ordering: .sequentiallyConsistent).oldValue
            case .amoxorw: o = a.pointee.bitwiseXor(b, ordering: .sequentiallyConsistent).oldValue
            case .amoandw: o = a.pointee.bitwiseAnd(b, ordering: .sequentiallyConsistent).oldValue
            case .amoorw: o = a.pointee.bitwiseOr(b, ordering: .sequentiallyConsistent).oldValue
            default:
                var cur = a.pointee.load(ordering: .relaxed)
                while true {
                    let new: UInt32
                    switch d.op {
                    case .amominw: new = Int32(bitPattern: cur) < Int32(bitPattern: b) ? cur : b
                    case .amomaxw: new = Int32(bitPattern: cur) > Int32(bitPattern: b) ? cur : b
                    case .amominuw: new = cur < b ? cur : b
                    default: new = cur > b ? cur : b
                    }
                    let r = a.pointee.compareExchange(expected: cur, desired: new, ordering: .sequentiallyConsistent)
                    if r.exchanged { break }
                    cur = r.original
                }
                o = cur
            }
            old = sext32(UInt64(o))
        } else {
            let a = Hart.atomic64(host), b = src
            switch d.op {
            case .amoswapd: old = a.pointee.exchange(b, ordering: .sequentiallyConsistent)
            case .amoaddd: old = a.pointee.wrappingAdd(b, ordering: .sequentiallyConsistent).oldValue
            case .amoxord: old = a.pointee.bitwiseXor(b, ordering: .sequentiallyConsistent).oldValue
            case .amoandd: old = a.pointee.bitwiseAnd(b, ordering: .sequentiallyConsistent).oldValue
            case .amoord: old = a.pointee.bitwiseOr(b, ordering: .sequentiallyConsistent).oldValue
            default:
                var cur = a.pointee.load(ordering: .relaxed)
                while true {
                    let new: UInt64
                    switch d.op {
                    case .amomind: new = Int64(bitPattern: cur) < Int64(bitPattern: b) ? cur : b
                    case .amomaxd: new = Int64(bitPattern: cur) > Int64(bitPattern: b) ? cur : b
                    case .amominud: new = cur < b ? cur : b
                    default: new = cur > b ? cur : b
                    }
                    let r = a.pointee.compareExchange(expected: cur, desired: new, ordering: .sequentiallyConsistent)
                    if r.exchanged { break }
                    cur = r.original
                }
                old = cur
            }
        }
        x[Int(d.rd)] = old
        return true
    }
}

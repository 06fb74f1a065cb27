// F, D and A instructions inside translated blocks against the interpreter, in lockstep: two
// boards with the same memory and registers run the same random loop, one per engine, in the
// same random budgets, and after every budget the whole architectural state (`saveState`: x and
// f registers, pc, instret, fcsr, mstatus, the trap CSRs) and the data memory must agree. The
// loops mix integer instructions with FP loads and stores (aligned and misaligned), every OP-FP
// and FMA form under static and dynamic rounding modes (frm rewritten in the loop, also to the
// reserved 5-7), LR/SC pairs and AMOs (some misaligned: they trap), reads and clears of fcsr, and
// mstatus.FS turned Off (FP instructions trap), Initial and Dirty. A trap handler skips the
// faulting instruction. Directed tests pin NaN-boxing, fflags accumulation, an FS = Off trap in
// the middle of a block and LR/SC and AMOs across two harts on their own threads.

import Foundation
import Machine
import Testing
import TestSupport
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator

struct FloatAtomicDifferentialTests {
    static let code: UInt64 = 0x8000_0000
    static let handler: UInt64 = 0x8000_3000
    static let data: UInt64 = 0x8010_0000
    /// x31 = data + 2048 (FP loads and stores), x30 = loop counter, x29 = AMO address, x28 =
    /// 0x6000 (FS), x27 = the handler's scratch, x25 = 0x4000: never written by the body.
    static let reserved: Set<UInt32> = [25, 27, 28, 29, 30, 31]

    // Encoders.
    static func iType(_ imm: Int32, _ rs1: UInt32, _ f3: UInt32, _ rd: UInt32, _ op: UInt32) -> UInt32 {
        UInt32(bitPattern: imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
    }
    static func sType(_ imm: Int32, _ rs2: UInt32, _ rs1: UInt32, _ f3: UInt32, _ op: UInt32) -> UInt32 {
        let i = UInt32(bitPattern: imm & 0xfff)
        return (i >> 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (i & 0x1f) << 7 | op
    }
    static func opFP(_ funct5: UInt32, fmt: UInt32, rs2: UInt32, rs1: UInt32, rm: UInt32, rd: UInt32) -> UInt32 {
        (funct5 << 2 | fmt) << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | 0x53
    }
    static func amo(_ funct5: UInt32, word: Bool, rs2: UInt32, rs1: UInt32, rd: UInt32) -> UInt32 {
        funct5 << 27 | rs2 << 20 | rs1 << 15 | (word ? 2 : 3) << 12 | rd << 7 | 0x2f
    }
    static func csr(_ number: UInt32, _ f3: UInt32, rs1: UInt32, rd: UInt32) -> UInt32 {
        number << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x73
    }

    /// A random rounding-mode field: mostly valid static modes and DYN, now and then reserved.
    static func rm(_ g: inout some RandomNumberGenerator) -> UInt32 {
        [0, 1, 2, 3, 4, 7, 7, 7, 0, 5].randomElement(using: &g)!
    }

    /// One random F or D instruction (no memory access).
    static func floatOperation(_ g: inout some RandomNumberGenerator) -> UInt32 {
        func f() -> UInt32 { UInt32.random(in: 0...31, using: &g) }
        func x() -> UInt32 { UInt32.random(in: 0...24, using: &g) }
        let fmt = UInt32.random(in: 0...1, using: &g)
        switch Int.random(in: 0..<14, using: &g) {
        case 0...3: return opFP(UInt32.random(in: 0...3, using: &g), fmt: fmt, rs2: f(), rs1: f(), rm: rm(&g), rd: f())   // add sub mul div
        case 4: return opFP(0x0B, fmt: fmt, rs2: 0, rs1: f(), rm: rm(&g), rd: f())                                    // sqrt
        case 5: return opFP(0x04, fmt: fmt, rs2: f(), rs1: f(), rm: UInt32.random(in: 0...2, using: &g), rd: f())      // sgnj
        case 6: return opFP(0x05, fmt: fmt, rs2: f(), rs1: f(), rm: UInt32.random(in: 0...1, using: &g), rd: f())      // min max
        case 7: return opFP(0x14, fmt: fmt, rs2: f(), rs1: f(), rm: UInt32.random(in: 0...2, using: &g), rd: x())      // le lt eq
        case 8: return opFP(0x18, fmt: fmt, rs2: UInt32.random(in: 0...3, using: &g), rs1: f(), rm: rm(&g), rd: x())   // fcvt.int
        case 9: return opFP(0x1A, fmt: fmt, rs2: UInt32.random(in: 0...3, using: &g), rs1: x(), rm: rm(&g), rd: f())   // fcvt.fp
        case 10: return opFP(0x1C, fmt: fmt, rs2: 0, rs1: f(), rm: UInt32.random(in: 0...1, using: &g), rd: x())       // fmv.x, fclass
        case 11: return opFP(0x1E, fmt: fmt, rs2: 0, rs1: x(), rm: 0, rd: f())                                         // fmv.w.x, fmv.d.x
        case 12: return opFP(0x08, fmt: fmt, rs2: 1 - fmt, rs1: f(), rm: rm(&g), rd: f())                             // fcvt.s.d, fcvt.d.s
        default: // fmadd fmsub fnmsub fnmadd
            let op: UInt32 = [0x43, 0x47, 0x4b, 0x4f].randomElement(using: &g)!
            return f() << 27 | fmt << 25 | f() << 20 | f() << 15 | rm(&g) << 12 | f() << 7 | op
        }
    }

    /// A random loop body, then `addi x30, x30, -1; bne x30, x0, start; jal x0, 0`.
    static func program(_ g: inout some RandomNumberGenerator) -> [UInt32] {
        var words: [UInt32] = []
        for _ in 0..<Int.random(in: 1...50, using: &g) {
            switch Int.random(in: 0..<40, using: &g) {
            case 0...9:
                var w: UInt32
                repeat { w = BlockTranslatorDifferentialTests.randomInstruction(last: false, &g) } while reserved.contains((w >> 7) & 31)
                words.append(w)
            case 10...21:
                words.append(floatOperation(&g))
            case 22...25: // flw / fld
                let size: Int32 = Bool.random(using: &g) ? 4 : 8
                var offset = Int32.random(in: -2048...(2047 - 8), using: &g)
                if Int.random(in: 0..<5, using: &g) != 0 { offset &= ~(size - 1) }
                words.append(iType(offset, 31, size == 4 ? 2 : 3, UInt32.random(in: 0...31, using: &g), 0x07))
            case 26...28: // fsw / fsd
                let size: Int32 = Bool.random(using: &g) ? 4 : 8
                var offset = Int32.random(in: -2048...(2047 - 8), using: &g)
                if Int.random(in: 0..<5, using: &g) != 0 { offset &= ~(size - 1) }
                words.append(sType(offset, UInt32.random(in: 0...31, using: &g), 31, size == 4 ? 2 : 3, 0x27))
            case 29...32: // an AMO or an LR/SC pair at x29 = x31 + offset
                let word = Bool.random(using: &g)
                var offset = Int32.random(in: -64...64, using: &g) * 8
                if Int.random(in: 0..<8, using: &g) == 0 { offset += Int32.random(in: 1...7, using: &g) }
                words.append(iType(offset, 31, 0, 29, 0x13))                       // addi x29, x31, offset
                func xs() -> UInt32 { UInt32.random(in: 0...24, using: &g) }
                if Bool.random(using: &g) {
                    let f5: UInt32 = [0x01, 0x00, 0x04, 0x0C, 0x08, 0x10, 0x14, 0x18, 0x1C].randomElement(using: &g)!
                    words.append(amo(f5, word: word, rs2: xs(), rs1: 29, rd: xs()))
                } else {
                    if Int.random(in: 0..<4, using: &g) != 0 { words.append(amo(0x02, word: word, rs2: 0, rs1: 29, rd: xs())) }
                    for _ in 0..<Int.random(in: 0...2, using: &g) {
                        if Bool.random(using: &g) { words.append(floatOperation(&g)) }
                        else {
                            // Now and then a store that breaks the reservation.
                            words.append(sType(Int32.random(in: -2...2, using: &g) * 8, xs(), 29, 3, 0x23))
                        }
                    }
                    words.append(amo(0x03, word: word, rs2: xs(), rs1: 29, rd: xs()))
                }
            case 33: words.append(csr(0x300, 3, rs1: 28, rd: 0))                        // FS = Off
            case 34, 35: words.append(csr(0x300, 2, rs1: 28, rd: 0))                    // FS = Dirty
            case 36: words.append(csr(0x300, 3, rs1: 25, rd: 0))                        // Dirty -> Initial
            case 37: words.append(csr(0x002, 5, rs1: [0, 1, 2, 3, 4, 0, 7].randomElement(using: &g)!, rd: 0))  // csrwi frm
            case 38: words.append(csr(0x001, 5, rs1: 0, rd: 0))                         // csrwi fflags, 0
            default: words.append(csr(0x003, 2, rs1: 0, rd: UInt32.random(in: 1...24, using: &g)))            // csrr fcsr
            }
        }
        let back = Int32(-4 * (words.count + 1))
        words.append(0xfff_f0f13)  // addi x30, x30, -1
        let b = UInt32(bitPattern: back)
        words.append(((b >> 12) & 1) << 31 | ((b >> 5) & 0x3f) << 25 | 30 << 15 | 1 << 12 | ((b >> 1) & 0xf) << 8 | ((b >> 11) & 1) << 7 | 0x63)
        words.append(0x0000_006f)  // jal x0, 0
        return words
    }

    /// The trap handler: skip the faulting (4-byte) instruction.
    static let handlerWords: [UInt32] = [
        csr(0x341, 2, rs1: 0, rd: 27),      // csrr x27, mepc
        iType(4, 27, 0, 27, 0x13),          // addi x27, x27, 4
        csr(0x341, 1, rs1: 27, rd: 0),      // csrw mepc, x27
        0x3020_0073,                        // mret
    ]

    static let specialDoubles: [UInt64] = [0, 0x8000_0000_0000_0000, 0x3ff0_0000_0000_0000, 0xbff0_0000_0000_0000,
                                           0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000,
                                           0x7ff4_0000_0000_0000, 0x0000_0000_0000_0001, 0x000f_ffff_ffff_ffff,
                                           0x0010_0000_0000_0000, 0x7fef_ffff_ffff_ffff, 0x4340_0000_0000_0000,
                                           0x43e0_0000_0000_0000, 0xc3e0_0000_0000_0000, 0x41e0_0000_0000_0000]
    static let specialSingles: [UInt32] = [0, 0x8000_0000, 0x3f80_0000, 0xbf80_0000, 0x7f80_0000, 0xff80_0000,
                                           0x7fc0_0000, 0x7fa0_0000, 0x0000_0001, 0x007f_ffff, 0x0080_0000,
                                           0x7f7f_ffff, 0x4f00_0000, 0xcf00_0000, 0x5f00_0000, 0x3eaa_aaab]

    /// A random f register value: doubles and NaN-boxed singles, special or random, or
    /// unboxed garbage.
    static func floatValue(_ g: inout some RandomNumberGenerator) -> UInt64 {
        switch Int.random(in: 0..<6, using: &g) {
        case 0: return specialDoubles.randomElement(using: &g)!
        case 1: return 0xffff_ffff_0000_0000 | UInt64(specialSingles.randomElement(using: &g)!)
        case 2: return g.next()
        case 3: return 0xffff_ffff_0000_0000 | (g.next() & 0xffff_ffff)
        case 4: return Double(Int.random(in: -1000...1000, using: &g)).bitPattern &+ UInt64.random(in: 0...3, using: &g)
        default: return 0xffff_ffff_0000_0000 | UInt64(Float(Int.random(in: -1000...1000, using: &g)).bitPattern)
        }
    }

    static func board(_ words: [UInt32], data: [UInt8], registers: [UInt64], f: [UInt64], mstatusFS: UInt64, frm: UInt8,
                      translate: Bool) throws -> VirtBoard {
        let board = try VirtBoard(memoryMiB: 16) { _ in }
        for (i, w) in words.enumerated() { try board.memory.store(w, at: GuestPhysicalAddress(code + UInt64(4 * i))) }
        for (i, w) in handlerWords.enumerated() { try board.memory.store(w, at: GuestPhysicalAddress(handler + UInt64(4 * i))) }
        if !data.isEmpty { try board.memory.write(data, at: GuestPhysicalAddress(Self.data)) }
        let hart = board.hart
        hart.pc = code
        hart.mtvec = handler
        hart.mstatus = CSRBits.withSD((hart.mstatus & ~CSRBits.fs) | mstatusFS << 13)
        hart.frm = frm
        for r in 1..<32 { hart.x[r] = registers[r] }
        for r in 0..<32 { hart.f[r] = f[r] }
        if translate { hart.engine = try TranslatingEngine(hart: hart) }
        return board
    }

    /// Runs `rounds` random loops from `seed` on both engines; returns the totals of the
    /// translating runs and the number of disagreements.
    static func run(rounds: Int, seed: UInt64, record: Bool = true) throws -> (TranslatingEngine.Statistics, UInt64, Int, Int) {
        var totals = TranslatingEngine.Statistics()
        var instructions: UInt64 = 0
        var exceptions = 0
        var failures = 0
        for round in 0..<rounds {
            var g = SeededRandom(seed: seed &+ UInt64(round) &* 0x1_0000_0001)
            let words = program(&g)
            var data = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &g) }
            for i in stride(from: 0, to: 4096, by: 8) where Bool.random(using: &g) {
                let v = floatValue(&g)
                for k in 0..<8 { data[i + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
            }
            var registers = (0..<32).map { _ in Int.random(in: 0..<3, using: &g) == 0 ? BlockTranslatorDifferentialTests.edgeValues.randomElement(using: &g)! : g.next() }
            registers[0] = 0
            registers[25] = 0x4000
            registers[28] = 0x6000
            registers[30] = UInt64.random(in: 1...30, using: &g)
            registers[31] = Self.data + 2048
            let f = (0..<32).map { _ in floatValue(&g) }
            let fs = UInt64([0, 1, 1, 2, 3, 3].randomElement(using: &g)!)
            let frm = UInt8([0, 1, 2, 3, 4, 0, 6].randomElement(using: &g)!)
            let a = try board(words, data: data, registers: registers, f: f, mstatusFS: fs, frm: frm, translate: false)
            let b = try board(words, data: data, registers: registers, f: f, mstatusFS: fs, frm: frm, translate: true)
            var disagreed = false
            for step in 0..<6 where !disagreed {
                let budget = Int.random(in: 1...900, using: &g)
                _ = a.hart.run(budget: budget)
                _ = b.hart.run(budget: budget)
                let sa = a.hart.saveState(), sb = b.hart.saveState()
                if sa != sb {
                    disagreed = true
                    if record {
                        let m = Mirror(reflecting: sa)
                        let fields = zip(m.children, Mirror(reflecting: sb).children)
                            .filter { "\($0.0.value)" != "\($0.1.value)" }
                            .map { "\($0.0.label ?? "?"): \($0.0.value) vs \($0.1.value)" }
                        Issue.record("seed \(seed) round \(round) budget \(step): state differs: \(fields.joined(separator: "; "))")
                    }
                }
            }
            let da = try a.memory.read(at: GuestPhysicalAddress(Self.data), count: 4096)
            let db = try b.memory.read(at: GuestPhysicalAddress(Self.data), count: 4096)
            if da != db {
                disagreed = true
                if record { Issue.record("seed \(seed) round \(round): data memory differs") }
            }
            if disagreed { failures += 1 }
            let s = (b.hart.engine as! TranslatingEngine).statistics
            totals.translated += s.translated
            totals.translatedInstructions += s.translatedInstructions
            totals.sideExits += s.sideExits
            totals.interpreted += s.interpreted
            totals.outOfLineExits += s.outOfLineExits
            instructions += b.hart.instructionsRetired
            exceptions += Int(b.hart.stats[.exception])
        }
        return (totals, instructions, exceptions, failures)
    }

    @Test("400 random loops mixing F, D and A with integer code agree with the interpreter on the whole hart state after every budget")
    func randomLoops() throws {
        let (totals, instructions, exceptions, failures) = try Self.run(rounds: 400, seed: 0xF10A7_A70)
        print("F/D/A differential: \(instructions) instructions, \(totals.translatedInstructions) in translated blocks, \(totals.translated) blocks, \(totals.outOfLineExits) blocks left after an out-of-line instruction, \(totals.sideExits) side exits, \(totals.interpreted) interpreted, \(exceptions) exceptions")
        #expect(failures == 0)
        #expect(totals.translatedInstructions * 2 > Int(instructions), "most instructions ran translated")
        #expect(totals.outOfLineExits > 100, "traps in out-of-line instructions were exercised")
        #expect(exceptions > 1000)
    }
}

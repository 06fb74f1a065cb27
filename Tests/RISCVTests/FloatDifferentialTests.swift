// The F/D differential test: generates a guest program that runs every arithmetic, convert,
// compare, min/max, class, sign-injection and move instruction of F and D over edge operands
// (±0, ±inf, quiet and signalling NaNs with payloads, subnormal and normal limits, ulp ties,
// integer-conversion limits, badly NaN-boxed singles) and seeded pseudo-random ones, under the
// five static rounding modes and DYN with each valid frm, storing each result's bits and the
// fflags it raised (cleared before each). The same ELF runs on Switchboard and on QEMU 7.2
// (`-M virt -bios none`; its memory is saved through the monitor's pmemsave) and every record
// is compared.
import Foundation
import Machine
import Testing
@testable import RISCV
import RISCVBoard
import RISCVTranslator
import TestSupport

/// The generated program: its groups (one instruction under one rounding set-up, over one
/// operand table) and their records' places in the results area.
struct FloatDifferentialProgram {
    /// Where the guest writes its records (result bits, fflags: 16 bytes each).
    static let resultBase: UInt64 = 0x8100_0000

    enum Input { case f1, f2, f3, x1 }
    enum Output { case f, x }

    struct Group {
        var name: String
        var word: UInt32       // the encoding (f0/a4 = rd, f1, f2, f3 / a3 = sources)
        var output: Output
        var table: String
        var frm: Int
        var firstRecord: Int
    }

    var groups: [Group] = []
    var tables: [String: [[UInt64]]] = [:]
    var records = 0

    static func opFP(_ funct7: UInt32, rs2: UInt32, rm: UInt32, rdX: Bool, rs1X: Bool) -> UInt32 {
        (funct7 << 25) | (rs2 << 20) | ((rs1X ? 13 : 1) << 15) | (rm << 12) | ((rdX ? 14 : 0) << 7) | 0x53
    }

    static func fused(_ opcode: UInt32, fmt: UInt32, rm: UInt32) -> UInt32 {
        (3 << 27) | (fmt << 25) | (2 << 20) | (1 << 15) | (rm << 12) | 0x00 << 7 | opcode
    }

    /// Rounding set-ups: five static modes (frm set to a different mode, which they must
    /// ignore) and DYN under each valid frm.
    static let roundings: [(rm: UInt32, frm: Int, name: String)] =
        ["rne", "rtz", "rdn", "rup", "rmm"].enumerated().map { (UInt32($0.offset), ($0.offset + 1) % 5, $0.element) }
        + ["rne", "rtz", "rdn", "rup", "rmm"].enumerated().map { (7, $0.offset, "dyn(\($0.element))") }

    /// Adds the instruction over the edge table and over random share `share` of its kind.
    mutating func add(_ name: String, _ word: UInt32, _ output: Output, table: String, frm: Int, share: Int) {
        for t in [table, "\(table)\(share)"] {
            groups.append(Group(name: name, word: word, output: output, table: t, frm: frm, firstRecord: records))
            records += tables[t]!.count
        }
    }

    init(randomPerOp: Int) {
        var rng = SeededRandom(seed: 0x5EED_F10A7)
        let single = FloatOperands.single, double = FloatOperands.double
        func boxed(_ v: [UInt64]) -> [UInt64] { v.map { $0 | 0xFFFF_FFFF_0000_0000 } }
        let sEdges = boxed(single.edges) + FloatOperands.badlyBoxed
        let dEdges = double.edges
        func pairs(_ e: [UInt64]) -> [[UInt64]] { e.flatMap { a in e.map { b in [a, b, 0] } } }
        func triples(_ e: [UInt64]) -> [[UInt64]] { e.flatMap { a in e.flatMap { b in e.map { c in [a, b, c] } } } }
        func randomPairs(_ fmt: FloatOperands, _ n: Int, box: Bool) -> [[UInt64]] {
            (0..<n).map { _ in
                let (a, b) = fmt.randomPair(&rng)
                return box ? [a | 0xFFFF_FFFF_0000_0000, b | 0xFFFF_FFFF_0000_0000, 0] : [a, b, 0]
            }
        }
        func randomTriples(_ fmt: FloatOperands, _ n: Int, box: Bool) -> [[UInt64]] {
            (0..<n).map { _ in
                let t = fmt.randomTriple(&rng)
                return box ? t.map { $0 | 0xFFFF_FFFF_0000_0000 } : t
            }
        }
        func randomSingles(_ fmt: FloatOperands, _ n: Int, box: Bool) -> [[UInt64]] {
            (0..<n).map { _ in let v = fmt.randomConversionOperand(&rng); return [box ? v | 0xFFFF_FFFF_0000_0000 : v, 0, 0] }
        }
        // Edge tables run under every rounding set-up; each set-up also gets its own share of
        // random operands (randomPerOp in all per operation).
        let share = randomPerOp / Self.roundings.count
        tables["pairsS"] = pairs(sEdges)
        tables["pairsD"] = pairs(dEdges)
        tables["triplesS"] = triples(boxed(single.fmaEdges))
        tables["triplesD"] = triples(double.fmaEdges)
        tables["unaryS"] = (sEdges + boxed(single.conversionEdges)).map { [$0, 0, 0] }
        tables["unaryD"] = (dEdges + double.conversionEdges).map { [$0, 0, 0] }
        tables["ints"] = FloatOperands.integerEdges.map { [$0, 0, 0] }
        for k in 0...Self.roundings.count { // the last share, all of it, serves those without rounding
            let share = k == Self.roundings.count ? randomPerOp : share
            tables["pairsS\(k)"] = randomPairs(single, share, box: true)
            tables["pairsD\(k)"] = randomPairs(double, share, box: false)
            tables["triplesS\(k)"] = randomTriples(single, share, box: true)
            tables["triplesD\(k)"] = randomTriples(double, share, box: false)
            tables["unaryS\(k)"] = randomSingles(single, share, box: true)
            tables["unaryD\(k)"] = randomSingles(double, share, box: false)
            tables["ints\(k)"] = (0..<share).map { _ in [FloatOperands.randomInteger(&rng), 0, 0] }
        }

        for (fmt, t) in [(UInt32(0), "S"), (1, "D")] {
            let suffix = t == "S" ? ".s" : ".d"
            for (k, r) in Self.roundings.enumerated() {
                for (name, f7) in [("fadd", UInt32(0x00)), ("fsub", 0x04), ("fmul", 0x08), ("fdiv", 0x0C)] {
                    add("\(name)\(suffix) \(r.name)", Self.opFP(f7 | fmt, rs2: 2, rm: r.rm, rdX: false, rs1X: false), .f,
                        table: "pairs\(t)", frm: r.frm, share: k)
                }
                add("fsqrt\(suffix) \(r.name)", Self.opFP(0x2C | fmt, rs2: 0, rm: r.rm, rdX: false, rs1X: false), .f,
                    table: "unary\(t)", frm: r.frm, share: k)
                for (name, opc) in [("fmadd", UInt32(0x43)), ("fmsub", 0x47), ("fnmsub", 0x4B), ("fnmadd", 0x4F)] {
                    add("\(name)\(suffix) \(r.name)", Self.fused(opc, fmt: fmt, rm: r.rm), .f, table: "triples\(t)", frm: r.frm, share: k)
                }
                for (i, name) in ["fcvt.w", "fcvt.wu", "fcvt.l", "fcvt.lu"].enumerated() {
                    add("\(name)\(suffix) \(r.name)", Self.opFP(0x60 | fmt, rs2: UInt32(i), rm: r.rm, rdX: true, rs1X: false), .x,
                        table: "unary\(t)", frm: r.frm, share: k)
                }
                for (i, name) in ["w", "wu", "l", "lu"].enumerated() {
                    add("fcvt\(suffix).\(name) \(r.name)", Self.opFP(0x68 | fmt, rs2: UInt32(i), rm: r.rm, rdX: false, rs1X: true), .f,
                        table: "ints", frm: r.frm, share: k)
                }
                if t == "S" {
                    add("fcvt.s.d \(r.name)", Self.opFP(0x20, rs2: 1, rm: r.rm, rdX: false, rs1X: false), .f, table: "unaryD", frm: r.frm, share: k)
                } else {
                    add("fcvt.d.s \(r.name)", Self.opFP(0x21, rs2: 0, rm: r.rm, rdX: false, rs1X: false), .f, table: "unaryS", frm: r.frm, share: k)
                }
            }
            // No rounding: one pass each, with an invalid frm (7) that must not matter.
            for (name, f7, f3) in [("fsgnj", UInt32(0x10), UInt32(0)), ("fsgnjn", 0x10, 1), ("fsgnjx", 0x10, 2),
                                   ("fmin", 0x14, 0), ("fmax", 0x14, 1)] {
                add("\(name)\(suffix)", Self.opFP(f7 | fmt, rs2: 2, rm: f3, rdX: false, rs1X: false), .f, table: "pairs\(t)", frm: 7, share: Self.roundings.count)
            }
            for (name, f3) in [("fle", UInt32(0)), ("flt", 1), ("feq", 2)] {
                add("\(name)\(suffix)", Self.opFP(0x50 | fmt, rs2: 2, rm: f3, rdX: true, rs1X: false), .x, table: "pairs\(t)", frm: 7, share: Self.roundings.count)
            }
            add("fclass\(suffix)", Self.opFP(0x70 | fmt, rs2: 0, rm: 1, rdX: true, rs1X: false), .x, table: "unary\(t)", frm: 7, share: Self.roundings.count)
            add(t == "S" ? "fmv.x.w" : "fmv.x.d", Self.opFP(0x70 | fmt, rs2: 0, rm: 0, rdX: true, rs1X: false), .x,
                table: "unary\(t)", frm: 7, share: Self.roundings.count)
            add(t == "S" ? "fmv.w.x" : "fmv.d.x", Self.opFP(0x78 | fmt, rs2: 0, rm: 0, rdX: false, rs1X: true), .f,
                table: "ints", frm: 7, share: Self.roundings.count)
        }
    }

    /// The program's assembly source.
    func assembly() -> String {
        var s = """
            /* Generated by FloatDifferentialTests: F/D records for a differential run. */
                .section .text.start, "ax"
                .globl _start
            _start:
                la t0, trap
                csrw mtvec, t0
                li t0, 1 << 13
                csrs mstatus, t0   /* FS = Initial */

            """
        for (n, g) in groups.enumerated() {
            let base = Self.resultBase + UInt64(g.firstRecord) * 16
            let count = tables[g.table]!.count
            s += """
                /* \(g.name) */
                la a0, table_\(g.table)
                li a1, 0x\(String(base, radix: 16))
                li a2, \(count)
                csrwi frm, \(g.frm)
            g\(n):
                fld f1, 0(a0)
                fld f2, 8(a0)
                fld f3, 16(a0)
                ld a3, 0(a0)
                li a4, 0
                csrwi fflags, 0
                .word 0x\(String(g.word, radix: 16))
                \(g.output == .f ? "fsd f0, 0(a1)" : "sd a4, 0(a1)")
                csrr t0, fflags
                sd t0, 8(a1)
                addi a0, a0, 24
                addi a1, a1, 16
                addi a2, a2, -1
                bnez a2, g\(n)

            """
        }
        s += """
                la a0, done
            print:
                lbu t0, 0(a0)
                beqz t0, spin
                li t1, 0x10000000
                sb t0, 0(t1)
                addi a0, a0, 1
                j print
            spin:
                j spin
            trap:
                la a0, trapped
                j print
                .section .rodata
            done: .asciz "DONE\\n"
            trapped: .asciz "TRAP\\n"
                .balign 8

            """
        for (name, rows) in tables.sorted(by: { $0.key < $1.key }) {
            s += "table_\(name):\n"
            for r in rows { s += "    .quad 0x\(String(r[0], radix: 16)), 0x\(String(r[1], radix: 16)), 0x\(String(r[2], radix: 16))\n" }
        }
        return s
    }
}

/// Operand sets of one format.
struct FloatOperands {
    let format: FPFormat
    /// Edge values (bit patterns in the low bits).
    let edges: [UInt64]
    /// The smaller set the three-operand fused multiply-adds sweep.
    let fmaEdges: [UInt64]
    /// Values around the integer-conversion limits and rounding ties to integers.
    let conversionEdges: [UInt64]

    static let single = FloatOperands(
        format: .single,
        edges: [0x0000_0000, 0x8000_0000, 0x0000_0001, 0x8000_0001, 0x007F_FFFF, 0x807F_FFFF, 0x0080_0000, 0x8080_0000,
                0x7F7F_FFFF, 0xFF7F_FFFF, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0000,
                0x7FC1_2345, 0x7F80_0001, 0xFFA0_0005, 0x3F00_0000, 0x3FC0_0000, 0x4020_0000, 0xC020_0000, 0x3F80_0001,
                0x3F7F_FFFF, 0x3380_0000, 0x3380_0001, 0x3400_0000, 0x4F00_0000, 0xCF00_0000, 0x5F00_0000, 0xDF00_0000,
                0x0040_0000, 0x0100_0000, 0x7F00_0000, 0x3FFF_FFFF, 0x4B80_0000, 0x4B7F_FFFF, 0x0000_0003],
        fmaEdges: [0x0000_0000, 0x8000_0000, 0x0000_0001, 0x0080_0000, 0x7F7F_FFFF, 0x3F80_0000, 0xBF80_0000,
                   0x7F80_0000, 0x7F80_0001, 0x3F80_0001, 0xB3FF_FFFF],
        conversionEdges: [0x4EFF_FFFF, 0xCF00_0001, 0x4F7F_FFFF, 0x4F80_0000, 0x5EFF_FFFF, 0xDF00_0001, 0x5F7F_FFFF,
                          0x5F80_0000, 0xBF00_0000, 0xBFC0_0000, 0x3E99_999A, 0xBE99_999A, 0xBF40_0000, 0x3F40_0000,
                          0x4040_0000, 0xC040_0000, 0x4E80_0000, 0xCE80_0000])

    static let double = FloatOperands(
        format: .double,
        edges: [0, 0x8000_0000_0000_0000, 1, 0x8000_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF, 0x800F_FFFF_FFFF_FFFF,
                0x0010_0000_0000_0000, 0x8010_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0xFFEF_FFFF_FFFF_FFFF,
                0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000,
                0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FF8_0000_0001_2345, 0x7FF0_0000_0000_0001,
                0xFFF4_0000_0000_0005, 0x3FE0_0000_0000_0000, 0x3FF8_0000_0000_0000, 0x4004_0000_0000_0000,
                0xC004_0000_0000_0000, 0x3FF0_0000_0000_0001, 0x3FEF_FFFF_FFFF_FFFF, 0x3CA0_0000_0000_0000,
                0x3CA0_0000_0000_0001, 0x3CB0_0000_0000_0000, 0x41E0_0000_0000_0000, 0xC1E0_0000_0000_0000,
                0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0000, 0x0008_0000_0000_0000, 0x7FE0_0000_0000_0000,
                0x0020_0000_0000_0000, 0x47EF_FFFF_E000_0000, 0x47EF_FFFF_F000_0000, 0x36A0_0000_0000_0000,
                0x3690_0000_0000_0000, 0x3810_0000_0000_0000, 0x380F_FFFF_F000_0000, 0x380F_FFFF_E000_0000,
                0x3698_0000_0000_0000, 3],
        fmaEdges: [0, 0x8000_0000_0000_0000, 1, 0x0010_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0x3FF0_0000_0000_0000,
                   0xBFF0_0000_0000_0000, 0x7FF0_0000_0000_0000, 0x7FF0_0000_0000_0001,
                   0x3FF0_0000_0000_0001, 0xBCAF_FFFF_FFFF_FFFF],
        conversionEdges: [0x41DF_FFFF_FFC0_0000, 0xC1E0_0000_0020_0000, 0x41EF_FFFF_FFE0_0000, 0x41F0_0000_0000_0000,
                          0x43DF_FFFF_FFFF_FFFF, 0xC3E0_0000_0000_0001, 0x43EF_FFFF_FFFF_FFFF, 0x43F0_0000_0000_0000,
                          0xBFE0_0000_0000_0000, 0xBFF8_0000_0000_0000, 0x3FD3_3333_3333_3333, 0xBFD3_3333_3333_3333,
                          0xBFE8_0000_0000_0000, 0x3FE8_0000_0000_0000, 0x41DF_FFFF_FFE0_0000, 0xC1E0_0000_0010_0000,
                          0x41EF_FFFF_FFF0_0000, 0x4340_0000_0000_0001, 0xC3DF_FFFF_FFFF_FFFF])

    /// Singles whose upper half is not all ones: they read as the canonical NaN.
    static let badlyBoxed: [UInt64] = [0x0000_0000_3F80_0000, 0x7FF0_0000_0000_0000]

    /// Integer sources of fcvt.{s,d}.{w,wu,l,lu} and fmv.{w,d}.x.
    static let integerEdges: [UInt64] = [
        0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x100_0001, 0x100_0003,
        0x100_0002, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, 0x20_0000_0000_0001,
        0x20_0000_0000_0003, 0x8000_0001, 0xDEAD_BEEF_8000_0001, 0xFFFF_FFFF_7FFF_FFFF, 0xFFFF_FFFF_8000_0000,
        0x7FFF_FFBF, 0x7FFF_FFC0, 0xFFFF_FF80, 0xFFFF_FFFF_FFFF_FC00, 0x7FFF_FFFF_FFFF_FE00, 0x7FFF_FFFF_FFFF_FDFF,
        0xFFFF_FFFF_FFFF_F800, 0x0000_0000_0100_0001, 0x8000_0000_0000_0400, 0x7FC0_0000, 0x7F80_0001,
    ]

    /// A random value: mostly moderate exponents (so operations interact), some anywhere,
    /// some special, with fractions that are random or have long runs of ones or zeros.
    func randomValue(_ rng: inout SeededRandom, near exponent: Int? = nil) -> UInt64 {
        let f = format
        let sign: UInt64 = rng.next() & 1 == 0 ? 0 : f.signBit
        var e: Int
        switch rng.below(10) {
        case 0: e = rng.below(f.expMax + 1)
        case 1: e = rng.below(3) == 0 ? 0 : rng.below(4) // subnormal or near
        case 2: e = f.expMax - rng.below(3)
        default: e = f.bias - 40 + rng.below(80)
        }
        if let exponent { e = max(0, min(f.expMax - 1, exponent + rng.below(9) - 4)) }
        var frac: UInt64
        switch rng.below(5) {
        case 0: frac = f.fracMask & ~((1 << UInt64(rng.below(f.fracBits))) - 1) // ones then zeros
        case 1: frac = (1 << UInt64(rng.below(f.fracBits))) - 1 // zeros then ones
        default: frac = rng.next() & f.fracMask
        }
        if e == f.expMax && rng.below(3) != 0 { frac = 0 } // more infinities than NaNs
        return sign | UInt64(e) << UInt64(f.fracBits) | frac
    }

    func exponent(_ v: UInt64) -> Int { Int((v >> UInt64(format.fracBits)) & UInt64(format.expMax)) }

    func randomPair(_ rng: inout SeededRandom) -> (UInt64, UInt64) {
        let a = randomValue(&rng)
        // Half the time b is close in magnitude: cancellation and ties.
        let b = rng.below(2) == 0 ? randomValue(&rng, near: exponent(a)) : randomValue(&rng)
        return (a, b)
    }

    func randomTriple(_ rng: inout SeededRandom) -> [UInt64] {
        let a = randomValue(&rng), b = randomValue(&rng)
        // Often c is about the product's size, so the sum cancels.
        let pe = exponent(a) + exponent(b) - format.bias
        let c = rng.below(3) != 0 && pe > 0 && pe < format.expMax ? randomValue(&rng, near: pe) : randomValue(&rng)
        return [a, b, c]
    }

    /// A value for the integer conversions: mostly of magnitude 2^-2 ... 2^66.
    func randomConversionOperand(_ rng: inout SeededRandom) -> UInt64 {
        if rng.below(4) == 0 { return randomValue(&rng) }
        return randomValue(&rng, near: format.bias + rng.below(70) - 2)
    }

    static func randomInteger(_ rng: inout SeededRandom) -> UInt64 {
        let v = rng.next()
        switch rng.below(4) {
        case 0: return v
        case 1: return v >> UInt64(rng.below(64))
        case 2: return UInt64(bitPattern: -Int64(bitPattern: v >> UInt64(rng.below(64))))
        default: return (v & 0xFFFF_FFFF) | (rng.next() << 32)
        }
    }
}

@Suite("F/D differential test against QEMU")
struct FloatDifferentialTests {
    /// Builds the program with the Swift toolchain's clang and ld.lld.
    static func build(_ program: FloatDifferentialProgram, in dir: URL) throws -> URL {
        let src = dir.appendingPathComponent("fpdiff.S"), obj = dir.appendingPathComponent("fpdiff.o")
        let elf = dir.appendingPathComponent("fpdiff.elf"), ld = dir.appendingPathComponent("fpdiff.ld")
        try program.assembly().write(to: src, atomically: true, encoding: .utf8)
        let script = try String(contentsOf: GuestPrograms.root.appendingPathComponent("Tools/riscv/link.ld.in"), encoding: .utf8)
        try script.replacingOccurrences(of: "@BASE@", with: "0x80000000").write(to: ld, atomically: true, encoding: .utf8)
        try run("/opt/swift/usr/bin/clang", ["--target=riscv64", "-march=rv64imafdc_zicsr_zifencei", "-mabi=lp64d",
                                             "-mno-relax", "-c", src.path, "-o", obj.path])
        try run("/opt/swift/usr/bin/ld.lld", ["-static", "-nostdlib", "--no-relax", "-T", ld.path, "-o", elf.path, obj.path])
        return elf
    }

    static func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        try p.run()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw GuestBuildError(reason: "\(tool) failed: \(msg.prefix(2000))") }
    }

    /// Runs the ELF on Switchboard on `engine` until it prints DONE; returns the results area.
    static func runOnSwitchboard(_ elf: URL, bytes: Int, engine: CPUEngine) throws -> [UInt8] {
        final class Sink: @unchecked Sendable { var bytes: [UInt8] = [] }
        let sink = Sink()
        let board = try GuestPrograms.board(memoryMiB: 128, engine: engine) { sink.bytes.append($0) }
        try board.boot(firmware: .none, kernel: [UInt8](try Data(contentsOf: elf)))
        let deadline = Date().addingTimeInterval(600)
        while !String(decoding: sink.bytes, as: UTF8.self).contains("\n"), Date() < deadline {
            if case .powerOff = board.hart.run(budget: 2_000_000) { break }
        }
        let console = String(decoding: sink.bytes, as: UTF8.self)
        guard console == "DONE\n" else { throw GuestBuildError(reason: "Switchboard run ended with console \(console.debugDescription)") }
        return try board.memory.read(at: GuestPhysicalAddress(FloatDifferentialProgram.resultBase), count: bytes)
    }

    /// Runs the ELF on QEMU until it prints DONE, then saves the results area through the
    /// monitor. Nil when QEMU is not installed.
    static func runOnQEMU(_ elf: URL, bytes: Int, dir: URL) throws -> [UInt8]? {
        let qemu = "/usr/bin/qemu-system-riscv64"
        guard FileManager.default.isExecutableFile(atPath: qemu) else { return nil }
        let serial = dir.appendingPathComponent("serial.txt"), dump = dir.appendingPathComponent("results.bin")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-M", "virt", "-cpu", "rv64,h=false", "-m", "128", "-bios", "none", "-kernel", elf.path,
                       "-display", "none", "-serial", "file:\(serial.path)", "-monitor", "stdio"]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let deadline = Date().addingTimeInterval(120)
        var console = ""
        while Date() < deadline {
            console = (try? String(contentsOf: serial, encoding: .utf8)) ?? ""
            if console.contains("\n") { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard console == "DONE\n" else { throw GuestBuildError(reason: "QEMU run ended with console \(console.debugDescription)") }
        let cmd = "pmemsave 0x\(String(FloatDifferentialProgram.resultBase, radix: 16)) \(bytes) \"\(dump.path)\"\nquit\n"
        input.fileHandleForWriting.write(Data(cmd.utf8))
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard let d = FileManager.default.contents(atPath: dump.path), d.count == bytes else {
            throw GuestBuildError(reason: "QEMU's pmemsave did not write \(bytes) bytes")
        }
        return [UInt8](d)
    }

    @Test("every F/D operation agrees with QEMU 7.2 on edge and random operands, results and fflags, on each engine")
    func matchesQEMU() throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let program = FloatDifferentialProgram(randomPerOp: 3000)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-fpdiff-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let elf = try Self.build(program, in: dir)
        let bytes = program.records * 16
        guard let theirs = try Self.runOnQEMU(elf, bytes: bytes, dir: dir) else {
            print("skipping QEMU comparison: qemu-system-riscv64 not installed"); return
        }
        for engine in GuestPrograms.engines {
            let t0 = Date()
            let ours = try Self.runOnSwitchboard(elf, bytes: bytes, engine: engine)
            let oursSeconds = Date().timeIntervalSince(t0)
            func quad(_ b: [UInt8], _ i: Int) -> UInt64 {
                var v: UInt64 = 0
                for k in 0..<8 { v |= UInt64(b[i * 8 + k]) << UInt64(8 * k) }
                return v
            }
            var differences = 0
            for g in program.groups {
                let rows = program.tables[g.table]!
                for (i, ops) in rows.enumerated() {
                    let r = g.firstRecord + i
                    let (qr, qf, sr, sf) = (quad(theirs, 2 * r), quad(theirs, 2 * r + 1), quad(ours, 2 * r), quad(ours, 2 * r + 1))
                    if qr != sr || qf != sf {
                        differences += 1
                        if differences <= 25 {
                            let hex = { (v: UInt64) in "0x" + String(v, radix: 16) }
                            print("FP difference: \(g.name) operands \(ops.map(hex)) (frm \(g.frm)): QEMU \(hex(qr)) flags \(hex(qf)), Switchboard \(hex(sr)) flags \(hex(sf))")
                        }
                    }
                }
            }
            print("FP differential (\(engine.rawValue)): \(program.records) records in \(program.groups.count) groups compared with QEMU 7.2, \(differences) differ (Switchboard ran them in \(String(format: "%.2f", oursSeconds)) s)")
            #expect(differences == 0, "\(engine.rawValue)")
        }
        #expect(program.records > 100_000)
    }
}

// Generated code run on this CPU: each test assembles a small System V function, places it in
// W^X executable memory and calls it with random arguments, comparing the result with the
// same computation in Swift. Semantics, not just bytes.

import Foundation
import Testing
@testable import X86

typealias Function2 = @convention(c) (UInt64, UInt64) -> UInt64

/// Assembles `body` into fresh executable memory and returns it as a two-argument function
/// (the memory is kept alive by the caller's `keep`).
func compile(_ keep: inout [ExecutableMemory], _ body: (inout Assembler) -> Void) throws -> Function2 {
    var a = Assembler()
    body(&a)
    #expect(a.isResolved)
    let code = try ExecutableMemory(capacity: 4096)
    let p = try code.append(a.bytes)
    try code.seal()
    keep.append(code)
    return unsafeBitCast(p, to: Function2.self)
}

typealias Function3 = @convention(c) (UInt64, UInt64, UInt64) -> UInt64

/// `compile` for a function of three arguments (rdi, rsi, rdx).
func compile3(_ keep: inout [ExecutableMemory], _ body: (inout Assembler) -> Void) throws -> Function3 {
    unsafeBitCast(try compile(&keep, body), to: Function3.self)
}

struct AssemblerExecutionTests {
    var rng = SystemRandomNumberGenerator()

    static let samples: [UInt64] = [0, 1, 2, 0x7f, 0x80, 0xff, 0x8000_0000, 0xffff_ffff, 0x7fff_ffff_ffff_ffff,
                                    0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def0]

    func values() -> [(UInt64, UInt64)] {
        var g = SystemRandomNumberGenerator()
        var out: [(UInt64, UInt64)] = []
        for a in Self.samples { for b in Self.samples { out.append((a, b)) } }
        for _ in 0..<200 { out.append((g.next(), g.next() >> UInt64.random(in: 0...63, using: &g))) }
        return out
    }

    static func swiftALU(_ op: ALUOperation, _ a: UInt64, _ b: UInt64, _ width: Width) -> UInt64 {
        let r: UInt64
        switch op {
        case .add: r = a &+ b
        case .or: r = a | b
        case .and: r = a & b
        case .sub: r = a &- b
        case .xor: r = a ^ b
        default: r = a
        }
        return width == .dword ? r & 0xffff_ffff : r
    }

    @Test("ALU operations on 64 and 32 bits compute what Swift does (32-bit results zero-extend)")
    func alu() throws {
        var keep: [ExecutableMemory] = []
        for op in [ALUOperation.add, .or, .and, .sub, .xor] {
            for width in [Width.qword, .dword] {
                let f = try compile(&keep) { a in
                    a.mov(.rax, .rdi)
                    a.alu(op, .rax, .rsi, width)
                    a.ret()
                }
                let g = try compile(&keep) { a in
                    a.mov(.r11, .rdi)
                    a.alu(op, .r11, imm: -77, width)
                    a.mov(.rax, .r11)
                    a.ret()
                }
                for (x, y) in values() {
                    #expect(f(x, y) == Self.swiftALU(op, x, y, width), "\(op) \(width) \(x) \(y)")
                    #expect(g(x, 0) == Self.swiftALU(op, x, UInt64(bitPattern: -77), width), "\(op) imm \(width) \(x)")
                }
            }
        }
    }

    @Test("shifts by immediate and by cl, multiply, and signed/unsigned divide match Swift")
    func shiftsMultiplyDivide() throws {
        var keep: [ExecutableMemory] = []
        let shl = try compile(&keep) { a in a.mov(.rax, .rdi); a.mov(.rcx, .rsi); a.shiftByCL(.shl, .rax); a.ret() }
        let sar = try compile(&keep) { a in a.mov(.rax, .rdi); a.mov(.rcx, .rsi); a.shiftByCL(.sar, .rax); a.ret() }
        let shr32 = try compile(&keep) { a in a.mov(.rax, .rdi); a.mov(.rcx, .rsi); a.shiftByCL(.shr, .rax, .dword); a.ret() }
        let ror = try compile(&keep) { a in a.mov(.r9, .rdi); a.shift(.ror, .r9, by: 13); a.mov(.rax, .r9); a.ret() }
        let mul = try compile(&keep) { a in a.mov(.rax, .rdi); a.imul(.rax, .rsi); a.ret() }
        let mulhu = try compile(&keep) { a in a.mov(.rax, .rdi); a.mulWide(.rsi); a.mov(.rax, .rdx); a.ret() }
        let mulh = try compile(&keep) { a in a.mov(.rax, .rdi); a.imulWide(.rsi); a.mov(.rax, .rdx); a.ret() }
        let divu = try compile(&keep) { a in a.mov(.rax, .rdi); a.alu(.xor, .rdx, .rdx, .dword); a.div(.rsi); a.ret() }
        let rem = try compile(&keep) { a in
            a.mov(.rax, .rdi); a.mov(.r10, .rsi); a.signExtendAccumulator(); a.idiv(.r10); a.mov(.rax, .rdx); a.ret()
        }
        for (x, y) in values() {
            let s = y & 63
            #expect(shl(x, s) == x << s)
            #expect(sar(x, s) == UInt64(bitPattern: Int64(bitPattern: x) >> Int64(s)))
            #expect(shr32(x, s) == UInt64(UInt32(truncatingIfNeeded: x) >> (UInt32(s) & 31)))
            #expect(ror(x, 0) == (x >> 13 | x << 51))
            #expect(mul(x, y) == x &* y)
            #expect(mulhu(x, y) == x.multipliedFullWidth(by: y).high)
            #expect(mulh(x, y) == UInt64(bitPattern: Int64(bitPattern: x).multipliedFullWidth(by: Int64(bitPattern: y)).high))
            if y != 0 { #expect(divu(x, y) == x / y) }
            let (sx, sy) = (Int64(bitPattern: x), Int64(bitPattern: y))
            if sy != 0 && !(sx == .min && sy == -1) { #expect(rem(x, y) == UInt64(bitPattern: sx % sy)) }
        }
    }

    @Test("cmp + setcc and cmov agree with Swift's comparisons for every condition")
    func conditions() throws {
        var keep: [ExecutableMemory] = []
        for c in Condition.allCases where c != .parity && c != .noParity && c != .overflow && c != .noOverflow {
            let set = try compile(&keep) { a in
                a.mov(.rax, imm: 0, keepFlags: true)
                a.alu(.cmp, .rdi, .rsi)
                a.set(c, .rax)
                a.ret()
            }
            let cmov = try compile(&keep) { a in
                a.mov(.rax, imm: 7)
                a.mov(.r8, imm: 9)
                a.alu(.cmp, .rdi, .rsi)
                a.cmov(c, .rax, .r8)
                a.ret()
            }
            for (x, y) in values() {
                let (sx, sy) = (Int64(bitPattern: x), Int64(bitPattern: y))
                let holds: Bool
                switch c {
                case .below: holds = x < y
                case .aboveOrEqual: holds = x >= y
                case .equal: holds = x == y
                case .notEqual: holds = x != y
                case .belowOrEqual: holds = x <= y
                case .above: holds = x > y
                case .sign: holds = Int64(bitPattern: x &- y) < 0
                case .noSign: holds = Int64(bitPattern: x &- y) >= 0
                case .less: holds = sx < sy
                case .greaterOrEqual: holds = sx >= sy
                case .lessOrEqual: holds = sx <= sy
                case .greater: holds = sx > sy
                default: continue
                }
                #expect(set(x, y) == (holds ? 1 : 0), "\(c) \(x) \(y)")
                #expect(cmov(x, y) == (holds ? 9 : 7), "cmov \(c) \(x) \(y)")
            }
        }
    }

    @Test("loads sign- and zero-extend, stores write only their width, through every base register")
    func loadsAndStores() throws {
        var keep: [ExecutableMemory] = []
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        let bases: [Register] = [.rbx, .rbp, .r12, .r13, .rsi, .r15]
        for base in bases {
            for width in Width.allCases {
                // f(buffer, value): store value at [base + 8], then return the signed load of it.
                let f = try compile(&keep) { a in
                    for r in Register.calleeSaved { a.push(r) }
                    a.mov(.r10, .rsi)
                    a.mov(base, .rdi)
                    a.store(Memory(base, 8), .r10, width)
                    a.loadSigned(.rax, Memory(base, 8), width)
                    a.load(.rcx, Memory(base, 8), width)
                    a.store(Memory(base, 16), .rcx, .qword)
                    for r in Register.calleeSaved.reversed() { a.pop(r) }
                    a.ret()
                }
                for (x, _) in values().prefix(60) {
                    buffer.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 64)
                    let signed = f(UInt64(UInt(bitPattern: buffer)), x)
                    let bits = width.rawValue * 8
                    let mask: UInt64 = bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
                    let shift = UInt64(64 - bits)
                    #expect(signed == UInt64(bitPattern: Int64(bitPattern: (x & mask) << shift) >> Int64(shift)), "\(base) \(width)")
                    #expect(buffer.load(fromByteOffset: 16, as: UInt64.self) == x & mask)
                    // Bytes past the stored width are untouched.
                    for k in (8 + width.rawValue)..<16 { #expect(buffer.load(fromByteOffset: k, as: UInt8.self) == 0xA5) }
                }
            }
        }
    }

    @Test("labels: a backward loop and forward branches compute 1 + ... + n")
    func labels() throws {
        var keep: [ExecutableMemory] = []
        let sum = try compile(&keep) { a in
            let loop = a.newLabel(), done = a.newLabel()
            a.mov(.rax, imm: 0)
            a.test(.rdi, .rdi)
            a.jump(if: .equal, to: done)
            a.bind(loop)
            a.alu(.add, .rax, .rdi)
            a.alu(.sub, .rdi, imm: 1)
            a.jump(if: .notEqual, to: loop)
            a.bind(done)
            a.ret()
        }
        for n: UInt64 in [0, 1, 2, 10, 1000, 65_536] { #expect(sum(n, 0) == n * (n + 1) / 2) }
    }

    /// What Swift computes for `op` on `a` and `b` (`sqrt` takes `b`, as the instruction
    /// takes its source).
    static func expected<F: BinaryFloatingPoint>(_ op: ScalarOperation, _ a: F, _ b: F) -> F {
        switch op {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        case .sqrt: return b.squareRoot()
        }
    }

    @Test("scalar SSE arithmetic through movq computes what Swift's Double and Float do, on every pair of xmm registers")
    func scalarArithmetic() throws {
        var keep: [ExecutableMemory] = []
        var g = SystemRandomNumberGenerator()
        let doubles: [Double] = [0, -0.0, 1, -1.5, 3, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-300, 7e22]
        for op in ScalarOperation.allCases {
            for double in [true, false] {
                let (x, y) = (XMMRegister.allCases.randomElement(using: &g)!, XMMRegister.allCases.randomElement(using: &g)!)
                let f = try compile(&keep) { a in
                    a.movq(x, .rdi)
                    a.movq(y, .rsi)
                    a.scalar(op, double: double, x, y)
                    a.movq(.rax, x)
                    a.ret()
                }
                for p in doubles { for q in doubles {
                    let (pb, qb): (UInt64, UInt64) = double ? (p.bitPattern, q.bitPattern)
                        : (UInt64(Float(p).bitPattern), UInt64(Float(q).bitPattern))
                    let got = f(pb, x == y ? pb : qb)
                    let b = x == y ? p : q
                    if double {
                        let want = Self.expected(op, p, b)
                        #expect(got == want.bitPattern || (want.isNaN && Double(bitPattern: got).isNaN), "\(op) sd \(p) \(b)")
                    } else {
                        let (fp, fb) = (Float(p), Float(b))
                        let want = Self.expected(op, fp, fb)
                        let low = UInt32(truncatingIfNeeded: got)
                        #expect(low == want.bitPattern || (want.isNaN && Float(bitPattern: low).isNaN), "\(op) ss \(fp) \(fb)")
                        #expect(got >> 32 == 0, "the upper half of the register keeps the source's (zero) bits")
                    }
                }}
            }
        }
    }

    @Test("FMA3's four 231 forms round once, as Swift's addingProduct does, on both precisions")
    func fusedMultiplyAdd() throws {
        guard (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" fma ") == true else {
            print("skipping FMA3 execution: this CPU has no FMA3")
            return
        }
        var keep: [ExecutableMemory] = []
        var g = SystemRandomNumberGenerator()
        // (1 + 2^-30)^2 - 1 needs the unrounded product: 2^-29 + 2^-60, not 2^-29.
        let values: [Double] = [1 + 0x1p-30, -1, 1, 3, 0.1, -2.5e-300, 7e22, 1e308, .infinity, 0, -0.0]
        for op in FusedOperation.allCases {
            for double in [true, false] {
                let regs = XMMRegister.allCases.shuffled(using: &g)
                let (d, x, y) = (regs[0], regs[1], regs[2])
                // rdi = a, rsi = b, rdx = c: returns op(a, b, c).
                let f = try compile3(&keep) { asm in
                    asm.movq(x, .rdi)
                    asm.movq(y, .rsi)
                    asm.movq(d, .rdx)
                    asm.fused(op, double: double, d, x, y)
                    asm.movq(.rax, d)
                    asm.ret()
                }
                for a in values { for b in values { for c in values {
                    func expected<F: BinaryFloatingPoint>(_ a: F, _ b: F, _ c: F) -> F {
                        switch op {
                        case .multiplyAdd: return c.addingProduct(a, b)
                        case .multiplySubtract: return (-c).addingProduct(a, b)
                        case .negatedMultiplyAdd: return c.addingProduct(-a, b)
                        case .negatedMultiplySubtract: return (-c).addingProduct(-a, b)
                        }
                    }
                    if double {
                        let want = expected(a, b, c)
                        let got = f(a.bitPattern, b.bitPattern, c.bitPattern)
                        #expect(got == want.bitPattern || (want.isNaN && Double(bitPattern: got).isNaN), "\(op) sd \(a) \(b) \(c)")
                    } else {
                        let (fa, fb, fc) = (Float(a), Float(b), Float(c))
                        let want = expected(fa, fb, fc)
                        let got = UInt32(truncatingIfNeeded: f(UInt64(fa.bitPattern), UInt64(fb.bitPattern), UInt64(fc.bitPattern)))
                        #expect(got == want.bitPattern || (want.isNaN && Float(bitPattern: got).isNaN), "\(op) ss \(fa) \(fb) \(fc)")
                    }
                }}}
            }
        }
    }

    @Test("ldmxcsr sets the rounding mode (1/3 rounds up under RC = up) and stmxcsr reads the inexact flag")
    func mxcsr() throws {
        var keep: [ExecutableMemory] = []
        // rdi: [0] the MXCSR to load, [1] the MXCSR read back after 1 / 3, [2] 0x1F80 to restore.
        let f = try compile(&keep) { a in
            a.loadMXCSR(Memory(.rdi))
            a.mov(.rax, imm: (1.0 as Double).bitPattern)
            a.movq(.xmm0, .rax)
            a.mov(.rax, imm: (3.0 as Double).bitPattern)
            a.movq(.xmm9, .rax)
            a.scalar(.div, double: true, .xmm0, .xmm9)
            a.storeMXCSR(Memory(.rdi, 4))
            a.loadMXCSR(Memory(.rdi, 8))
            a.movq(.rax, .xmm0)
            a.ret()
        }
        for (mode, want) in [(UInt32(0x1F80), (1.0 / 3.0).bitPattern), (0x5F80, (1.0 / 3.0).nextUp.bitPattern),
                             (0x3F80, (1.0 / 3.0).bitPattern), (0x7F80, (1.0 / 3.0).bitPattern)] {
            var words: [UInt32] = [mode, 0, 0x1F80]
            let got = words.withUnsafeMutableBufferPointer { f(UInt64(UInt(bitPattern: $0.baseAddress!)), 0) }
            #expect(got == want, "MXCSR 0x\(String(mode, radix: 16))")
            #expect(words[1] & 0x20 != 0 && words[1] & ~0x3F == mode, "PE set, the mode kept")
        }
    }
}

// The encoder against two real x86-64 toolchains: every instruction form, over every register
// (including rsp/rbp/r12/r13, which need SIB bytes or displacements) and width, is encoded by
// us, and the same instruction written in Intel syntax is encoded by LLVM's assembler
// (llvm-mc); GNU objdump then disassembles both byte streams, and the listings must agree
// line by line. Two encoders may choose different bytes for one instruction (0x89 vs 0x8B for
// mov r, r); the disassembly says what the bytes mean.

import Foundation
import Testing
import TestSupport
@testable import X86

/// One instruction: our encoding and its Intel-syntax text for llvm-mc.
struct EncodingCase {
    let text: String
    let encode: (inout Assembler) -> Void
}

enum Names {
    static let q = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
    static let d = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
    static let w = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
    static let b = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]

    static func reg(_ r: Register, _ width: Width) -> String {
        switch width {
        case .qword: return q[Int(r.rawValue)]
        case .dword: return d[Int(r.rawValue)]
        case .word: return w[Int(r.rawValue)]
        case .byte: return b[Int(r.rawValue)]
        }
    }

    static func ptr(_ width: Width) -> String {
        switch width {
        case .byte: return "byte ptr"
        case .word: return "word ptr"
        case .dword: return "dword ptr"
        case .qword: return "qword ptr"
        }
    }

    static func mem(_ m: Memory, _ width: Width) -> String {
        var s = "\(ptr(width)) [\(q[Int(m.base.rawValue)])"
        if let i = m.index { s += " + \(q[Int(i.rawValue)])*\(m.scale)" }
        if m.displacement != 0 { s += " + (\(m.displacement))" }
        return s + "]"
    }

    static let conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
}

struct AssemblerDisassemblyTests {
    static let widths: [Width] = [.qword, .dword, .word, .byte]
    static let displacements: [Int32] = [0, 8, -128, 127, 128, -4096, 0x7fff_fff0]

    /// Every case, grouped so a failure names its group.
    static func cases() -> [(String, [EncodingCase])] {
        var groups: [(String, [EncodingCase])] = []
        let regs = Register.allCases

        var moves: [EncodingCase] = []
        for width in widths {
            for d in regs {
                for s in regs {
                    moves.append(EncodingCase(text: "mov \(Names.reg(d, width)), \(Names.reg(s, width))") { $0.mov(d, s, width) })
                }
            }
        }
        groups.append(("mov r, r", moves))

        var immediates: [EncodingCase] = []
        for r in regs {
            for v: UInt64 in [1, 0x7f, 0xffff_ffff, 0xffff_ffff_ffff_fff0, 0x8000_0000, 0x1234_5678_9abc_def0, 0xffff_ffff_8000_0000] {
                let text: String
                if v <= 0xffff_ffff { text = "mov \(Names.reg(r, .dword)), \(v)" }
                else if Int32(exactly: Int64(bitPattern: v)) != nil { text = "mov \(Names.reg(r, .qword)), \(Int64(bitPattern: v))" }
                else { text = "movabs \(Names.reg(r, .qword)), \(v)" }
                immediates.append(EncodingCase(text: text) { $0.mov(r, imm: v) })
            }
            immediates.append(EncodingCase(text: "xor \(Names.reg(r, .dword)), \(Names.reg(r, .dword))") { $0.mov(r, imm: 0) })
            immediates.append(EncodingCase(text: "mov \(Names.reg(r, .dword)), 0") { $0.mov(r, imm: 0, keepFlags: true) })
        }
        groups.append(("mov r, imm", immediates))

        var memory: [EncodingCase] = []
        for base in regs {
            for disp in displacements {
                let m = Memory(base, disp)
                for (i, width) in widths.enumerated() {
                    let r = regs[(Int(base.rawValue) + i * 5 + 3) % 16]
                    let load = width == .byte ? "movzx \(Names.reg(r, .dword)), " : width == .word ? "movzx \(Names.reg(r, .dword)), " : "mov \(Names.reg(r, width)), "
                    memory.append(EncodingCase(text: load + Names.mem(m, width)) { $0.load(r, m, width) })
                    let signed = width == .dword ? "movsxd \(Names.reg(r, .qword)), " : width == .qword ? "mov \(Names.reg(r, .qword)), " : "movsx \(Names.reg(r, .qword)), "
                    memory.append(EncodingCase(text: signed + Names.mem(m, width)) { $0.loadSigned(r, m, width) })
                    memory.append(EncodingCase(text: "mov \(Names.mem(m, width)), \(Names.reg(r, width))") { $0.store(m, r, width) })
                    memory.append(EncodingCase(text: "mov \(Names.mem(m, width)), \(width == .byte ? -5 : -300)") {
                        $0.store(m, imm: width == .byte ? -5 : -300, width)
                    })
                }
                memory.append(EncodingCase(text: "jmp \(Names.mem(m, .qword))") { $0.jmp(m) })
                memory.append(EncodingCase(text: "lea rax, \(Names.mem(m, .qword).replacingOccurrences(of: "qword ptr ", with: ""))") { $0.lea(.rax, m) })
            }
            for index in regs where index != .rsp {
                for scale: UInt8 in [1, 2, 4, 8] {
                    let m = Memory(base, index: index, scale: scale, scale == 1 ? 0 : 0x40)
                    memory.append(EncodingCase(text: "mov r9, \(Names.mem(m, .qword))") { $0.load(.r9, m, .qword) })
                    memory.append(EncodingCase(text: "jmp \(Names.mem(m, .qword))") { $0.jmp(m) })
                }
            }
        }
        groups.append(("loads, stores, lea", memory))

        var alu: [EncodingCase] = []
        let ops = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
        for op in ALUOperation.allCases {
            let name = ops[Int(op.rawValue)]
            for width in widths {
                for d in regs {
                    let s = regs[(Int(d.rawValue) * 7 + 5) % 16]
                    alu.append(EncodingCase(text: "\(name) \(Names.reg(d, width)), \(Names.reg(s, width))") { $0.alu(op, d, s, width) })
                    for imm: Int32 in [1, -1, 127, -128, 128, 0x7fff] where width != .byte || Int8(exactly: imm) != nil {
                        alu.append(EncodingCase(text: "\(name) \(Names.reg(d, width)), \(imm)") { $0.alu(op, d, imm: imm, width) })
                    }
                    if width == .qword || width == .dword {
                        alu.append(EncodingCase(text: "\(name) \(Names.reg(d, width)), 100000") { $0.alu(op, d, imm: 100_000, width) })
                    }
                    let m = Memory(s, 24)
                    alu.append(EncodingCase(text: "\(name) \(Names.reg(d, width)), \(Names.mem(m, width))") { $0.alu(op, d, m, width) })
                    alu.append(EncodingCase(text: "\(name) \(Names.mem(m, width)), \(Names.reg(d, width))") { $0.alu(op, m, d, width) })
                    if width != .byte {
                        let md = Memory(d, 16)
                        for imm: Int32 in [3, -100, 1000] {
                            alu.append(EncodingCase(text: "\(name) \(Names.mem(md, width)), \(imm)") { $0.alu(op, md, imm: imm, width) })
                        }
                    }
                }
            }
        }
        groups.append(("ALU", alu))

        var other: [EncodingCase] = []
        let shifts: [(ShiftOperation, String)] = [(.rol, "rol"), (.ror, "ror"), (.shl, "shl"), (.shr, "shr"), (.sar, "sar")]
        for r in regs {
            for width in [Width.qword, .dword] {
                let n = Names.reg(r, width)
                let s = Names.reg(regs[(Int(r.rawValue) + 3) % 16], width)
                for (op, name) in shifts {
                    other.append(EncodingCase(text: "\(name) \(n), 13") { $0.shift(op, r, by: 13, width) })
                    other.append(EncodingCase(text: "\(name) \(n), cl") { $0.shiftByCL(op, r, width) })
                }
                other.append(EncodingCase(text: "imul \(n), \(s)") { $0.imul(r, regs[(Int(r.rawValue) + 3) % 16], width) })
                other.append(EncodingCase(text: "mul \(n)") { $0.mulWide(r, width) })
                other.append(EncodingCase(text: "imul \(n)") { $0.imulWide(r, width) })
                other.append(EncodingCase(text: "div \(n)") { $0.div(r, width) })
                other.append(EncodingCase(text: "idiv \(n)") { $0.idiv(r, width) })
                other.append(EncodingCase(text: "neg \(n)") { $0.neg(r, width) })
                other.append(EncodingCase(text: "not \(n)") { $0.not(r, width) })
                other.append(EncodingCase(text: "test \(n), \(s)") { $0.test(r, regs[(Int(r.rawValue) + 3) % 16], width) })
            }
            other.append(EncodingCase(text: "test \(Names.reg(r, .byte)), \(Names.reg(r, .byte))") { $0.test(r, r, .byte) })
            other.append(EncodingCase(text: "movsxd \(Names.reg(r, .qword)), \(Names.reg(regs[15 - Int(r.rawValue)], .dword))") {
                $0.signExtend32(r, regs[15 - Int(r.rawValue)])
            })
            for width in [Width.byte, .word] {
                let s = regs[15 - Int(r.rawValue)]
                other.append(EncodingCase(text: "movzx \(Names.reg(r, .dword)), \(Names.reg(s, width))") { $0.zeroExtend(r, s, from: width) })
                other.append(EncodingCase(text: "movsx \(Names.reg(r, .qword)), \(Names.reg(s, width))") { $0.signExtend(r, s, from: width) })
            }
            for c in Condition.allCases {
                other.append(EncodingCase(text: "set\(Names.conditions[Int(c.rawValue)]) \(Names.reg(r, .byte))") { $0.set(c, r) })
                let s = regs[(Int(r.rawValue) + 9) % 16]
                other.append(EncodingCase(text: "cmov\(Names.conditions[Int(c.rawValue)]) \(Names.reg(r, .qword)), \(Names.reg(s, .qword))") {
                    $0.cmov(c, r, s)
                })
            }
            other.append(EncodingCase(text: "push \(Names.reg(r, .qword))") { $0.push(r) })
            other.append(EncodingCase(text: "pop \(Names.reg(r, .qword))") { $0.pop(r) })
            other.append(EncodingCase(text: "call \(Names.reg(r, .qword))") { $0.call(r) })
            other.append(EncodingCase(text: "jmp \(Names.reg(r, .qword))") { $0.jmp(r) })
        }
        other.append(EncodingCase(text: "cqo") { $0.signExtendAccumulator(.qword) })
        other.append(EncodingCase(text: "cdq") { $0.signExtendAccumulator(.dword) })
        other.append(EncodingCase(text: "ret") { $0.ret() })
        other.append(EncodingCase(text: "int3") { $0.breakpoint() })
        other.append(EncodingCase(text: "nop") { $0.nop() })
        groups.append(("shifts, multiply, divide, conditions, stack", other))

        var sse: [EncodingCase] = []
        for x in XMMRegister.allCases {
            for r in regs {
                sse.append(EncodingCase(text: "movq xmm\(x.rawValue), \(Names.q[Int(r.rawValue)])") { $0.movq(x, r) })
                sse.append(EncodingCase(text: "movq \(Names.q[Int(r.rawValue)]), xmm\(x.rawValue)") { $0.movq(r, x) })
            }
            for y in XMMRegister.allCases {
                for op in ScalarOperation.allCases {
                    for double in [true, false] {
                        // The cases are named as the mnemonics' stems (addsd, sqrtss, ...).
                        let name = "\(op)"
                        sse.append(EncodingCase(text: "\(name)\(double ? "sd" : "ss") xmm\(x.rawValue), xmm\(y.rawValue)") {
                            $0.scalar(op, double: double, x, y)
                        })
                    }
                }
            }
        }
        for op in FusedOperation.allCases {
            let name: String
            switch op {
            case .multiplyAdd: name = "vfmadd231"
            case .multiplySubtract: name = "vfmsub231"
            case .negatedMultiplyAdd: name = "vfnmadd231"
            case .negatedMultiplySubtract: name = "vfnmsub231"
            }
            for double in [true, false] {
                for x in XMMRegister.allCases {
                    for y in XMMRegister.allCases {
                        for z in [XMMRegister.xmm0, .xmm5, .xmm8, .xmm15] {
                            sse.append(EncodingCase(text: "\(name)\(double ? "sd" : "ss") xmm\(x.rawValue), xmm\(y.rawValue), xmm\(z.rawValue)") {
                                $0.fused(op, double: double, x, y, z)
                            })
                        }
                    }
                }
            }
        }
        for base in regs {
            for disp in displacements {
                let m = Memory(base, disp)
                sse.append(EncodingCase(text: "ldmxcsr \(Names.mem(m, .dword))") { $0.loadMXCSR(m) })
                sse.append(EncodingCase(text: "stmxcsr \(Names.mem(m, .dword))") { $0.storeMXCSR(m) })
            }
        }
        groups.append(("SSE scalar arithmetic, FMA3, movq, MXCSR", sse))
        return groups
    }

    /// objdump's Intel listing of raw x86-64 bytes: one instruction text per line, addresses
    /// and bytes dropped, spaces normalised.
    static func disassemble(_ bytes: [UInt8], objdump: ExternalTool, in dir: String) throws -> [String] {
        let file = dir + "/code-\(UUID().uuidString).bin"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let r = try objdump.run(["-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", "--no-show-raw-insn", file])
        #expect(r.status == 0)
        var out: [String] = []
        for line in r.output.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2, parts[0].hasSuffix(":"), parts[0].trimmingCharacters(in: .whitespaces).dropLast().allSatisfy(\.isHexDigit)
            else { continue }
            out.append(parts[1].split(whereSeparator: { $0 == " " }).joined(separator: " "))
        }
        return out
    }

    /// LLVM's encoding of Intel-syntax lines, concatenated.
    static func llvmEncode(_ lines: [String], llvm: ExternalTool, in dir: String) throws -> [UInt8] {
        let file = dir + "/code-\(UUID().uuidString).s"
        try (".intel_syntax noprefix\n" + lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let r = try llvm.run(["-triple=x86_64", "-show-encoding", file])
        #expect(r.status == 0, "llvm-mc rejected the listing")
        var bytes: [UInt8] = []
        var count = 0
        for line in r.output.split(separator: "\n") {
            guard let range = line.range(of: "encoding: [") else { continue }
            let list = line[range.upperBound...].prefix { $0 != "]" }
            for item in list.split(separator: ",") {
                guard let b = UInt8(item.dropFirst(2), radix: 16) else { Issue.record("cannot read \(line)"); continue }
                bytes.append(b)
            }
            count += 1
        }
        #expect(count == lines.count, "llvm-mc encoded \(count) of \(lines.count) lines")
        return bytes
    }

    @Test("every instruction form disassembles (objdump) to what llvm-mc makes of its Intel text",
          arguments: Self.cases().map(\.0))
    func agreesWithLLVMAndObjdump(group: String) throws {
        guard let objdump = ExternalTool.require("objdump", for: "the encoder's disassembly check"),
              let llvm = ExternalTool.require("llvm-mc", for: "the encoder's disassembly check") else { return }
        let cases = try #require(Self.cases().first { $0.0 == group }).1
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var ours: [UInt8] = []
        var lengths: [Int] = []
        for c in cases {
            var a = Assembler()
            c.encode(&a)
            lengths.append(a.count)
            ours += a.bytes
        }
        let reference = try Self.llvmEncode(cases.map(\.text), llvm: llvm, in: dir.path)
        let mine = try Self.disassemble(ours, objdump: objdump, in: dir.path)
        let theirs = try Self.disassemble(reference, objdump: objdump, in: dir.path)
        #expect(mine.count == cases.count, "objdump read \(mine.count) instructions in our \(cases.count)")
        #expect(theirs.count == cases.count)
        var mismatches = 0
        for (i, c) in cases.enumerated() where i < mine.count && i < theirs.count && mine[i] != theirs[i] {
            mismatches += 1
            if mismatches <= 10 { Issue.record("\(c.text): ours disassembles to '\(mine[i])', llvm-mc's to '\(theirs[i])'") }
        }
        // LLVM picks the shortest encoding; so does the encoder.
        #expect(ours.count == reference.count, "our encodings take \(ours.count) bytes, llvm-mc's \(reference.count)")
        print("\(group): \(cases.count) instructions, \(ours.count) bytes ours, \(reference.count) llvm-mc's, \(mismatches) mismatches")
    }
}

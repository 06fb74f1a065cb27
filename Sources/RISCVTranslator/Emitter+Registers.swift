// Emitter+Registers: register allocation within a block. The guest registers a block uses most
// (two uses or more, at most six) live in host registers from the block's entry to its exits:
// loaded once after the budget check, read and written there by every instruction, and stored
// back to the register file at each exit (the jump or return at the end, a side exit before a
// memory access, an out-of-line call), only those written so far. Everything outside the block
// (the interpreter, the out-of-line calls, the next block) sees the register file exactly as
// before, so precision is unchanged. The host registers are the six callee-saved ones, which
// the entry trampoline (`BlockTranslator.emitEntry`) saves once per dispatcher call, so chained
// blocks and out-of-line calls keep them. The trampoline also keeps the instruction budget in
// r11 while blocks run, so a block's budget check is a register subtraction.
//
// A block whose branch or jump leads back to its own start (most hot loops) keeps its registers
// across iterations: the back edge takes the next iteration's instructions from the budget and
// jumps to just after the loads, and every register the loop writes counts as written from its
// head on.

import RISCV
import X86

extension Emitter {
    /// Host registers guest registers are held in.
    static let pool: [Register] = [.rbx, .rbp, .r12, .r13, .r14, .r15]
    /// The budget (`TranslationContext.left`) while blocks run: the entry trampoline loads it
    /// and stores it back, and an out-of-line call gets it through the context.
    static let budget = Register.r11

    /// The registers x1...x31 that `code` uses at least twice, most used first, each beside
    /// the host register it gets (`held[r]`, nil: it stays in the register file).
    static func allocate(_ code: ArraySlice<DecodedInstruction>) -> [Register?] {
        var uses = [Int](repeating: 0, count: 33)
        func use(_ r: UInt8) { if r >= 1 && r <= 31 { uses[Int(r)] += 1 } }
        for d in code {
            if BlockTranslator.runsOutOfLine(d.op) {
                // F, D and A: rs1 is an x register (the address) for all but FP arithmetic.
                if d.op != .fpu { use(d.rs1) }
            } else {
                use(d.rs1)
                use(d.rs2)
                use(d.rd)
            }
        }
        let ranked = (1...31).filter { uses[$0] >= 2 }.sorted { uses[$0] != uses[$1] ? uses[$0] > uses[$1] : $0 < $1 }
        var held = [Register?](repeating: nil, count: 33)
        for (r, host) in zip(ranked, pool) { held[r] = host }
        return held
    }

    /// Bit r for each held register x`r` some instruction of `code` names as destination (a
    /// superset of those the block writes).
    func destinations(_ code: ArraySlice<DecodedInstruction>) -> UInt64 {
        var mask: UInt64 = 0
        for d in code where d.rd < 32 && held[Int(d.rd)] != nil { mask |= 1 << UInt64(d.rd) }
        return mask
    }

    /// After the budget check: loads every held register from the file. A self-looping block
    /// binds its loop head after the loads and counts `written` as written from there on.
    mutating func enter(selfLoop: Bool, written: UInt64) {
        for r in 1...31 { if let h = held[r] { asm.load(h, slot(UInt8(r)), .qword) } }
        if selfLoop {
            let head = asm.newLabel()
            asm.bind(head)
            loopHead = head
            dirty = written
        }
    }

    /// Stores the held registers in `mask` to the file.
    mutating func writeBack(_ mask: UInt64) {
        guard mask != 0 else { return }
        for r in 1...31 where mask & (1 << UInt64(r)) != 0 {
            if let h = held[r] { asm.store(slot(UInt8(r)), h, .qword) }
        }
    }

    /// After an out-of-line call: the register it may have written (its `rd`), from the file
    /// (the held registers are callee-saved, so the call kept the others).
    mutating func reloadAfterCall(_ d: DecodedInstruction) {
        if let h = heldRegister(d.rd) { asm.load(h, slot(d.rd), .qword) }
    }

    /// The back edge of a self-looping block: the next iteration's instructions from the
    /// budget and on to the loop head; when the budget is out, the held registers go back and
    /// the block returns its own pc unrun (as its entry check would).
    mutating func backEdge() {
        guard let head = loopHead else { return }
        // The loop head runs with the host's MXCSR (as on entry).
        if fpMode != nil { emitFPFlush() }
        asm.alu(.sub, Emitter.budget, imm: Int32(instructions))
        asm.jump(if: .noSign, to: head)
        asm.alu(.add, Emitter.budget, imm: Int32(instructions))
        writeBack(dirty)
        asm.mov(.rax, imm: start)
        asm.ret()
    }
}

extension BlockTranslator {
    /// The dispatcher's way into translated code: (register file, context, block entry) ->
    /// next pc. It saves the callee-saved registers the blocks hold guest registers in, keeps
    /// the stack as a block expects it (rsp = 8 mod 16 at the block's entry, as for any called
    /// function), and returns what the block returns.
    public typealias Entry = @convention(c) (UnsafeMutablePointer<UInt64>, UnsafeMutableRawPointer, UnsafeRawPointer) -> UInt64

    /// Emits the `Entry` trampoline into `asm`.
    public static func emitEntry(into asm: inout Assembler) {
        for r in Register.calleeSaved { asm.push(r) }
        asm.alu(.sub, .rsp, imm: 8)
        asm.load(Emitter.budget, Memory(.rsi, TranslationContext.leftOffset), .qword)
        asm.call(.rdx)
        // Blocks keep rsi (the context) as they got it.
        asm.store(Memory(.rsi, TranslationContext.leftOffset), Emitter.budget, .qword)
        asm.alu(.add, .rsp, imm: 8)
        for r in Register.calleeSaved.reversed() { asm.pop(r) }
        asm.ret()
    }
}

/// Where an instruction's source register is read from.
enum GuestSource {
    /// x0.
    case zero
    /// A host register holding it.
    case register(Register)
    /// Its slot in the register file.
    case memory(Memory)
}

extension Emitter {
    /// The held host register of x`r` (nil for x0, its sink and registers in the file).
    func heldRegister(_ r: UInt8) -> Register? { r >= 1 && r < 32 ? held[Int(r)] : nil }

    /// Where x`r` is read from.
    func source(_ r: UInt8) -> GuestSource {
        if r == 0 { return .zero }
        if let h = heldRegister(r) { return .register(h) }
        return .memory(slot(r))
    }

    /// Records a write of held x`r`.
    mutating func wrote(_ r: UInt8) { dirty |= 1 << UInt64(r) }

    /// `host` = `s`.
    mutating func move(_ host: Register, _ s: GuestSource) {
        switch s {
        case .zero: asm.mov(host, imm: 0)
        case .register(let h): if h != host { asm.mov(host, h) }
        case .memory(let m): asm.load(host, m, .qword)
        }
    }

    /// `host` = `host` op `s` (64-bit add, sub, xor, or, and).
    mutating func combine(_ op: ALUOperation, _ host: Register, _ s: GuestSource) {
        switch s {
        case .zero: if op == .and { asm.mov(host, imm: 0) }
        case .register(let h): asm.alu(op, host, h)
        case .memory(let m): asm.alu(op, host, m)
        }
    }

    /// rax = x`base` + `offset` (a load or store's address).
    mutating func address(_ base: UInt8, _ offset: Int32) {
        if let h = heldRegister(base) {
            if offset == 0 { asm.mov(.rax, h) } else { asm.lea(.rax, Memory(h, offset)) }
        } else {
            load(.rax, base)
            if offset != 0 { asm.alu(.add, .rax, imm: offset) }
        }
    }

    /// x`rd` = x`rs1` op x`rs2` straight into `rd`'s host register, when it is held and the
    /// operands allow (not when rd is rs2 but not rs1); false otherwise.
    mutating func combineInPlace(_ op: ALUOperation, _ d: DecodedInstruction) -> Bool {
        guard let h = heldRegister(d.rd) else { return false }
        if d.rs1 == 0 && (op == .add || op == .or || op == .xor) {
            // x0 op rs2 (a move: `mv`, `c.mv`) is rs2.
            move(h, source(d.rs2))
            wrote(d.rd)
            return true
        }
        guard d.rd != d.rs2 || d.rd == d.rs1 else { return false }
        if d.rd != d.rs1 { move(h, source(d.rs1)) }
        combine(op, h, source(d.rs2))
        wrote(d.rd)
        return true
    }

    /// x`rd` = x`rs1` op imm straight into `rd`'s host register when it is held; false
    /// otherwise.
    mutating func combineImmediateInPlace(_ op: ALUOperation, _ d: DecodedInstruction) -> Bool {
        guard let h = heldRegister(d.rd) else { return false }
        let imm = Int32(truncatingIfNeeded: d.imm)
        if d.rd == d.rs1 {
            if imm != 0 || op == .and { asm.alu(op, h, imm: imm) }
        } else if op == .add, let s = heldRegister(d.rs1) {
            asm.lea(h, Memory(s, imm))
        } else if d.rs1 == 0 {
            // x0 op imm: imm for add, xor and or, 0 for and.
            asm.mov(h, imm: op == .and ? 0 : UInt64(bitPattern: d.imm))
        } else {
            move(h, source(d.rs1))
            if imm != 0 || op == .and { asm.alu(op, h, imm: imm) }
        }
        wrote(d.rd)
        return true
    }
}

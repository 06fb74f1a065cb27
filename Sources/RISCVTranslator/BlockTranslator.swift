// BlockTranslator: RV64 integer code, as the shared decoder predecodes it, translated into an
// x86-64 function per basic block (issue 13). The block runs straight through RV64I and M
// (ALU, shifts, LUI, AUIPC, multiply, divide, loads and stores) and ends at a jump or branch
// (translated too) or before the first instruction it does not translate (CSRs, system, FP,
// atomics, fences: those stay the interpreter's). Loads and stores take the hart's own TLBs
// inline (one compare and one add on a hit, as the interpreter does); on a miss the block
// leaves through a side exit *before* the access, with `pc` at that instruction and the count
// of instructions it completed, and the interpreter runs the access (page walk, MMIO, fault,
// trap): so `pc`, registers and `instret` are always exactly the interpreter's.
//
// The function takes the hart's register file (`Hart.x`: x0...x31 and the sink slot 32 that
// writes to x0 go to) in rdi and a `TranslationContext` in rsi, and returns the guest pc to
// continue at; the dispatcher enters it through the entry trampoline (`emitEntry`). The
// instruction budget (the context's `left`, in r11 while blocks run): each block takes its
// instruction count on entry and, when that would go below zero, gives it back and returns its
// own pc unrun, so chained blocks never overrun the budget (interrupts are taken between
// budgets). Exits to a pc known at translation time end in a patchable `jmp` (`links`), which
// the engine aims at the target's translation when it is on the same page: a loop then runs
// without returning to Swift. The guest registers a block uses most are held in host registers
// within it (Emitter+Registers); the rest are loaded and stored in the file per instruction.

import RISCV
import X86

/// What a translated block reads and reports besides the registers; its layout is part of
/// the generated code (the offsets below).
public struct TranslationContext {
    /// The hart's read TLB entries.
    public var readTLB: UnsafeMutablePointer<TLBEntry>
    /// The hart's write TLB entries.
    public var writeTLB: UnsafeMutablePointer<TLBEntry>
    /// Instructions the blocks may still retire; they count it down (in r11 while they run:
    /// the trampoline loads it and stores it back, out-of-line calls see it here).
    public var left: Int64 = 0
    /// Set to 1 by a side exit (the access at the returned pc is the interpreter's).
    public var sideExit: UInt64 = 0
    /// The hart's fetch TLB entries (the jump-cache lookup checks the target's mapping).
    var fetchTLB: UnsafeMutablePointer<TLBEntry>
    /// The jump cache's entries and page generations.
    var jumpCache: UnsafeMutablePointer<JumpCacheEntry>
    var generations: UnsafeMutablePointer<UInt32>
    var reserved: UInt64 = 0
    /// The out-of-line entry (`OutOfLineCall.entry`) translated code calls for the F, D and A
    /// instructions it does not emit inline.
    var outOfLine: UnsafeRawPointer
    /// The hart (unretained; set by the engine before it runs blocks).
    var hart: UnsafeMutableRawPointer?
    /// Set to 1 by the engine when the hart reports code that may have changed (an
    /// out-of-line store to a code page): the block then leaves after that instruction.
    var codeChanged: UInt64 = 0
    /// The hart's mstatus, fflags and frm words (`Hart.controlWords`).
    var controlWords: UnsafeMutablePointer<UInt64>
    /// The hart's f registers.
    var f: UnsafeMutablePointer<UInt64>
    /// MXCSR per RISC-V rounding mode 0-3 (RNE, RTZ, RDN, RUP), every exception masked, flags
    /// clear, no FTZ/DAZ; inline arithmetic loads one before its operation.
    var mxcsrModes: (UInt32, UInt32, UInt32, UInt32) = (0x1F80, 0x7F80, 0x3F80, 0x5F80)
    /// Where inline arithmetic stores MXCSR after its operation.
    var mxcsrAfter: UInt32 = 0
    /// The MXCSR Swift code runs with (loaded back after every inline operation).
    var mxcsrDefault: UInt32 = 0x1F80
    /// MXCSR exception flags (IE DE ZE OE UE PE, bits 0-5) to fflags (NV DZ OF UF NX); DE
    /// (a denormal operand) has no RISC-V counterpart.
    var flagMap: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// A context over `hart`'s TLBs and a jump cache.
    init(readTLB: UnsafeMutablePointer<TLBEntry>, writeTLB: UnsafeMutablePointer<TLBEntry>, fetchTLB: UnsafeMutablePointer<TLBEntry>,
         jumpCache: JumpCache, controlWords: UnsafeMutablePointer<UInt64>, f: UnsafeMutablePointer<UInt64>) {
        self.readTLB = readTLB
        self.writeTLB = writeTLB
        self.fetchTLB = fetchTLB
        self.jumpCache = jumpCache.entries
        self.generations = jumpCache.generations
        self.outOfLine = unsafeBitCast(OutOfLineCall.entry, to: UnsafeRawPointer.self)
        self.controlWords = controlWords
        self.f = f
        withUnsafeMutableBytes(of: &flagMap) { map in
            for i in 0..<64 {
                var v: UInt8 = 0
                if i & 1 != 0 { v |= 0x10 }    // IE -> NV
                if i & 4 != 0 { v |= 0x08 }    // ZE -> DZ
                if i & 8 != 0 { v |= 0x04 }    // OE -> OF
                if i & 16 != 0 { v |= 0x02 }   // UE -> UF
                if i & 32 != 0 { v |= 0x01 }   // PE -> NX
                map[i] = v
            }
        }
    }

    static let readTLBOffset: Int32 = 0, writeTLBOffset: Int32 = 8, leftOffset: Int32 = 16, sideExitOffset: Int32 = 24
    static let fetchTLBOffset: Int32 = 32, jumpCacheOffset: Int32 = 40, generationsOffset: Int32 = 48
    static let outOfLineOffset: Int32 = 64, hartOffset: Int32 = 72, codeChangedOffset: Int32 = 80
    static let controlWordsOffset: Int32 = 88, fOffset: Int32 = 96
    static let mxcsrModesOffset: Int32 = 104, mxcsrAfterOffset: Int32 = 120, mxcsrDefaultOffset: Int32 = 124, flagMapOffset: Int32 = 128

    /// Whether the offsets above are where Swift put the fields.
    static var layoutMatches: Bool {
        let l = MemoryLayout<TranslationContext>.self
        return l.offset(of: \.readTLB) == 0 && l.offset(of: \.writeTLB) == 8 && l.offset(of: \.left) == 16
            && l.offset(of: \.sideExit) == 24 && l.offset(of: \.fetchTLB) == 32 && l.offset(of: \.jumpCache) == 40
            && l.offset(of: \.generations) == 48 && l.offset(of: \.outOfLine) == 64 && l.offset(of: \.hart) == 72
            && l.offset(of: \.codeChanged) == 80 && l.offset(of: \.controlWords) == 88 && l.offset(of: \.f) == 96
            && l.offset(of: \.mxcsrModes) == 104 && l.offset(of: \.mxcsrAfter) == 120 && l.offset(of: \.mxcsrDefault) == 124
            && l.offset(of: \.flagMap) == 128
    }

    /// `sideExit` values: none; the access at the returned pc missed the TLB (the interpreter
    /// runs it); an out-of-line instruction retired and then the block left because code may
    /// have changed, trapped, or needs the VMM (`hart.pc` is set in those three cases).
    static let noExit: UInt64 = 0, memoryExit: UInt64 = 1, codeChangedExit: UInt64 = 2, trapExit: UInt64 = 3, vmmExit: UInt64 = 4
}

/// One translated block: its code (in the caller's buffer) and what it covers.
public struct BlockTranslation: Sendable, Equatable {
    /// Guest instructions the block retires when it runs.
    public var instructions: Int
    /// Guest bytes covered (from the block's pc).
    public var guestBytes: Int
    /// Whether the block ends in a control transfer (else it stops before an instruction it
    /// leaves to the interpreter, at `pc + guestBytes`).
    public var endsInJump: Bool
    /// Exits with a static target: the offset of a `jmp rel32` field in the code, aimed at the
    /// `ret` after it until the engine links it, and the guest pc it leaves for.
    public var links: [Link] = []

    /// A patchable exit.
    public struct Link: Sendable, Equatable {
        public var offset: Int
        public var target: UInt64
    }

    /// A translation without links.
    public init(instructions: Int, guestBytes: Int, endsInJump: Bool, links: [Link] = []) {
        self.instructions = instructions
        self.guestBytes = guestBytes
        self.endsInJump = endsInJump
        self.links = links
    }
}

/// Translates predecoded RV64 blocks into x86-64.
public enum BlockTranslator {
    /// Most guest instructions in one block.
    public static let maxInstructions = 64

    /// Whether `op` is one the translator handles.
    public static func translates(_ op: Opcode) -> Bool {
        switch op {
        case .lui, .auipc, .jal, .jalr, .beq, .bne, .blt, .bge, .bltu, .bgeu,
             .addi, .slti, .sltiu, .xori, .ori, .andi, .slli, .srli, .srai,
             .add, .sub, .sll, .slt, .sltu, .xor, .srl, .sra, .or, .and,
             .addiw, .slliw, .srliw, .sraiw, .addw, .subw, .sllw, .srlw, .sraw,
             .mul, .mulh, .mulhsu, .mulhu, .div, .divu, .rem, .remu, .mulw, .divw, .divuw, .remw, .remuw,
             .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu, .sb, .sh, .sw, .sd:
            return true
        default:
            return runsOutOfLine(op)
        }
    }

    /// Whether `op` is an F, D or A instruction a block runs through `OutOfLineCall` (when it
    /// does not emit it inline): the interpreter's own code, called from the block.
    public static func runsOutOfLine(_ op: Opcode) -> Bool {
        switch op {
        case .flw, .fld, .fsw, .fsd, .fpu,
             .lrw, .scw, .amoswapw, .amoaddw, .amoxorw, .amoandw, .amoorw, .amominw, .amomaxw, .amominuw, .amomaxuw,
             .lrd, .scd, .amoswapd, .amoaddd, .amoxord, .amoandd, .amoord, .amomind, .amomaxd, .amominud, .amomaxud:
            return true
        default:
            return false
        }
    }

    /// Whether `op` is a jump or branch (it ends a block).
    public static func endsBlock(_ op: Opcode) -> Bool {
        switch op {
        case .jal, .jalr, .beq, .bne, .blt, .bge, .bltu, .bgeu: return true
        default: return false
        }
    }

    /// Emits the block starting at guest `pc` whose instructions are `code` (in order, as
    /// fetched) into `asm`; nil when its first instruction is not translated (the
    /// interpreter runs it).
    public static func translate(_ code: [DecodedInstruction], pc: UInt64, into asm: inout Assembler) -> BlockTranslation? {
        var count = 0
        for d in code.prefix(maxInstructions) {
            guard translates(d.op) else { break }
            count += 1
            if endsBlock(d.op) { break }
        }
        guard count > 0 else { return nil }
        let block = code.prefix(count)
        var emitter = Emitter(asm: asm, instructions: count, pc: pc, held: Emitter.allocate(block))
        let start = asm.count
        // Take the block's instructions from the budget, or give them back and return unrun.
        let bail = emitter.asm.newLabel()
        emitter.asm.alu(.sub, Emitter.budget, imm: Int32(count))
        emitter.asm.jump(if: .sign, to: bail)
        let last = block.last!
        let lastPC = block.dropLast().reduce(pc) { $0 &+ UInt64($1.length) }
        let selfLoop = endsBlock(last.op) && last.op != .jalr && lastPC &+ UInt64(bitPattern: last.imm) == pc
        emitter.enter(selfLoop: selfLoop, written: emitter.destinations(block))
        var guestPC = pc
        var jumped = false
        for (i, d) in code.prefix(count).enumerated() {
            let next = guestPC &+ UInt64(d.length)
            if emitter.controlTransfer(d, pc: guestPC, next: next) {
                jumped = true
                guestPC = next
                break
            }
            emitter.operation(d, pc: guestPC, completed: i)
            guestPC = next
        }
        if !jumped {
            // Before an instruction left to the interpreter: back to the dispatcher. After the
            // longest block or at the page end: on to the next translation like a jump.
            if count < code.count && !translates(code[count].op) {
                emitter.writeBack(emitter.dirty)
                if emitter.fpMode != nil { emitter.emitFPFlush() }
                emitter.asm.mov(.rax, imm: guestPC)
                emitter.asm.ret()
            } else {
                emitter.exit(to: guestPC)
            }
        }
        emitter.asm.bind(bail)
        emitter.asm.alu(.add, Emitter.budget, imm: Int32(count))
        emitter.asm.mov(.rax, imm: pc)
        emitter.asm.ret()
        emitter.emitSideExits()
        asm = emitter.asm
        let links = emitter.links.map { BlockTranslation.Link(offset: $0.offset - start, target: $0.target) }
        return BlockTranslation(instructions: count, guestBytes: Int(guestPC &- pc), endsInJump: jumped, links: links)
    }
}

/// Emits x86-64 for one instruction at a time (rdi = register file, rsi = context).
struct Emitter {
    var asm: Assembler
    /// Instructions in the block (taken from the budget on entry).
    let instructions: Int
    /// The block's guest page (its exits to other pages go through the jump cache).
    let page: UInt64
    /// The block's guest pc.
    let start: UInt64
    /// The host register each guest register is held in through the block (nil: in the file).
    let held: [Register?]
    /// Held registers (bit r) whose host copy may be newer than the file.
    var dirty: UInt64 = 0
    /// A self-looping block's loop head (after the entry loads).
    var loopHead: Label?
    /// The rounding mode MXCSR is set to for the guest's FP arithmetic at this point of the
    /// block (an instruction's rm, 7 for frm), its exception flags accruing there; nil: the
    /// host's default MXCSR (see Emitter+FloatMode.swift).
    var fpMode: UInt8?
    /// Whether an earlier instruction of the block found mstatus.FS on (it stays on: nothing
    /// a block runs turns it off), and whether FS is already Dirty.
    var fpKnownOn = false, fsKnownDirty = false
    /// Jumps to the current instruction's out-of-line path taken with guest MXCSR modes, which
    /// restore the host's first.
    var slowStubs: [Label] = []
    /// Out-of-line exits before a memory access that missed the TLB: (label, instructions
    /// completed before it, its pc, registers to write back, the MXCSR mode then).
    var sideExits: [(Label, Int, UInt64, UInt64, UInt8?)] = []
    /// Patchable exits: (offset of the rel32 field in the assembler, target pc).
    var links: [(offset: Int, target: UInt64)] = []
    /// Out-of-line exits after an out-of-line instruction asked the block to leave: (label,
    /// instructions completed before it).
    var outOfLineExits: [(Label, Int)] = []

    init(asm: Assembler, instructions: Int, pc: UInt64, held: [Register?]) {
        self.asm = asm
        self.instructions = instructions
        self.page = pc & ~0xFFF
        self.start = pc
        self.held = held
    }

    /// Leaves for `target`: rax = target, then, on the block's own page, a `jmp` the engine
    /// may aim at the target's translation, falling through to `ret` until it does; on another
    /// page, the jump-cache lookup.
    mutating func exit(to target: UInt64) {
        if target == start && loopHead != nil {
            backEdge()
            return
        }
        writeBack(dirty)
        if fpMode != nil { emitFPFlush() }
        asm.mov(.rax, imm: target)
        guard target & ~0xFFF == page else {
            lookup()
            return
        }
        let after = asm.newLabel()
        asm.jmp(after)
        links.append((asm.count - 4, target))
        asm.bind(after)
        asm.ret()
    }

    /// Goes on at the translation of the guest pc in rax when the jump cache has it for the
    /// page the fetch TLB maps that pc to, at the page's current generation (see
    /// `JumpCache`); otherwise returns rax to the dispatcher.
    mutating func lookup() {
        let miss = asm.newLabel()
        asm.mov(.rcx, .rax)
        asm.shift(.shr, .rcx, by: 1)
        asm.alu(.and, .rcx, imm: Int32(JumpCache.size - 1), .dword)
        asm.shift(.shl, .rcx, by: 5)
        asm.alu(.add, .rcx, Memory(.rsi, TranslationContext.jumpCacheOffset))   // rcx = the entry
        asm.alu(.cmp, .rax, Memory(.rcx, 0))
        asm.jump(if: .notEqual, to: miss)
        asm.mov(.rdx, .rax)
        asm.shift(.shr, .rdx, by: 12)
        asm.alu(.and, .rdx, imm: Int32(TLB.size - 1), .dword)
        asm.lea(.rdx, Memory(.rdx, index: .rdx, scale: 2))                      // index * 3
        asm.load(.r8, Memory(.rsi, TranslationContext.fetchTLBOffset), .qword)
        asm.lea(.rdx, Memory(.r8, index: .rdx, scale: 8))                       // the fetch TLB entry
        asm.mov(.r8, .rax)
        asm.alu(.and, .r8, imm: -4096)
        asm.alu(.cmp, .r8, Memory(.rdx, 0))
        asm.jump(if: .notEqual, to: miss)
        asm.load(.r8, Memory(.rdx, 16), .dword)                                 // its RAM page
        asm.alu(.cmp, .r8, Memory(.rcx, 8), .dword)
        asm.jump(if: .notEqual, to: miss)
        asm.load(.rdx, Memory(.rsi, TranslationContext.generationsOffset), .qword)
        asm.load(.rdx, Memory(.rdx, index: .r8, scale: 4), .dword)
        asm.alu(.cmp, .rdx, Memory(.rcx, 12), .dword)
        asm.jump(if: .notEqual, to: miss)
        asm.jmp(Memory(.rcx, 16))
        asm.bind(miss)
        asm.ret()
    }

    /// The side exits, after the block's code: the instructions not run go back to the
    /// budget.
    mutating func emitSideExits() {
        for (label, completed, pc, mask, mode) in sideExits {
            asm.bind(label)
            writeBack(mask)
            if mode != nil { emitFPFlush() }
            asm.alu(.add, Emitter.budget, imm: Int32(instructions - completed))
            asm.store(Memory(.rsi, TranslationContext.sideExitOffset), imm: 1, .qword)
            asm.mov(.rax, imm: pc)
            asm.ret()
        }
        sideExits.removeAll()
        // The out-of-line call set `sideExit` and `hart.pc` (and took its own instruction from
        // the budget when it retired).
        for (label, completed) in outOfLineExits {
            asm.bind(label)
            asm.alu(.add, Emitter.budget, imm: Int32(instructions - completed))
            asm.ret()
        }
        outOfLineExits.removeAll()
    }

    /// Calls `OutOfLineCall.entry` for `d` at `pc` (the interpreter's code runs it); leaves
    /// the block when it says so. rdi and rsi are kept across the call on the stack, whose
    /// three pushes also give the call the 16-byte alignment the ABI wants (the block is
    /// entered with rsp = 8 mod 16, as any called function).
    mutating func outOfLine(_ d: DecodedInstruction, pc: UInt64, completed: Int) {
        let leave = asm.newLabel()
        outOfLineExits.append((leave, completed))
        writeBack(dirty)
        if fpMode != nil {
            emitFPFlush()
            fpMode = nil
        }
        asm.store(Memory(.rsi, TranslationContext.leftOffset), Emitter.budget, .qword)
        asm.push(.rdi)
        asm.push(.rsi)
        asm.push(.rsi)
        asm.mov(.rdi, .rsi)
        asm.mov(.rsi, imm: pc)
        asm.mov(.rdx, imm: OutOfLineCall.head(d))
        asm.mov(.rcx, imm: UInt64(bitPattern: d.imm))
        asm.load(.rax, Memory(.rdi, TranslationContext.outOfLineOffset), .qword)
        asm.call(.rax)
        asm.pop(.rsi)
        asm.pop(.rsi)
        asm.pop(.rdi)
        asm.load(Emitter.budget, Memory(.rsi, TranslationContext.leftOffset), .qword)
        asm.test(.rax, .rax)
        asm.jump(if: .notEqual, to: leave)
        reloadAfterCall(d)
    }

    /// rax = the host address of the access at guest address rax through the TLB at
    /// `tlbOffset` in the context, or a jump to a side exit when the entry misses or the
    /// access is misaligned (the tag compare includes the low address bits the size must
    /// have clear, as the interpreter's does).
    mutating func translateAddress(size: Int, tlbOffset: Int32, completed: Int, pc: UInt64) {
        let miss = asm.newLabel()
        sideExits.append((miss, completed, pc, dirty, fpMode))
        asm.mov(.rcx, .rax)
        asm.shift(.shr, .rcx, by: 12)
        asm.alu(.and, .rcx, imm: Int32(TLB.size - 1), .dword)
        asm.lea(.rcx, Memory(.rcx, index: .rcx, scale: 2))      // index * 3
        asm.load(.rdx, Memory(.rsi, tlbOffset), .qword)
        asm.mov(.r8, .rax)
        asm.alu(.and, .r8, imm: Int32(truncatingIfNeeded: Int64(bitPattern: 0xFFFF_FFFF_FFFF_F000 | UInt64(size - 1))))
        // The entry at TLB + index * 24: its tag, then its addend.
        asm.alu(.cmp, .r8, Memory(.rdx, index: .rcx, scale: 8, 0))
        asm.jump(if: .notEqual, to: miss)
        asm.alu(.add, .rax, Memory(.rdx, index: .rcx, scale: 8, 8))
    }

    /// The register file slot of x`r` (32: the sink x0's writes go to).
    func slot(_ r: UInt8) -> Memory { Memory(.rdi, Int32(r) * 8) }

    /// `host` = x`r` (from its host register when held).
    mutating func load(_ host: Register, _ r: UInt8) { move(host, source(r)) }

    /// x`r` = `host` (into its host register when held; 32 is x0's sink).
    mutating func store(_ r: UInt8, _ host: Register) {
        if r < 32, let h = held[Int(r)] {
            if h != host { asm.mov(h, host) }
            dirty |= 1 << UInt64(r)
        } else {
            asm.store(slot(r), host, .qword)
        }
    }

    /// x[rd] = the sign-extension of eax.
    mutating func storeWord(_ rd: UInt8) {
        if rd < 32, let h = held[Int(rd)] {
            asm.signExtend32(h, .rax)
            dirty |= 1 << UInt64(rd)
        } else {
            asm.signExtend32(.rax, .rax)
            store(rd, .rax)
        }
    }

    /// Jumps and branches: emits the block's exit and returns true; false for any other op.
    mutating func controlTransfer(_ d: DecodedInstruction, pc: UInt64, next: UInt64) -> Bool {
        let target = pc &+ UInt64(bitPattern: d.imm)
        let condition: Condition
        switch d.op {
        case .jal:
            asm.mov(.rax, imm: next)
            store(d.rd, .rax)
            exit(to: target)
            return true
        case .jalr:
            load(.rax, d.rs1)
            asm.alu(.add, .rax, imm: Int32(truncatingIfNeeded: d.imm))
            asm.alu(.and, .rax, imm: -2)
            asm.mov(.rcx, imm: next)
            store(d.rd, .rcx)
            writeBack(dirty)
            if fpMode != nil { emitFPFlush() }
            lookup()
            return true
        case .beq: condition = .equal
        case .bne: condition = .notEqual
        case .blt: condition = .less
        case .bge: condition = .greaterOrEqual
        case .bltu: condition = .below
        case .bgeu: condition = .aboveOrEqual
        default: return false
        }
        let left = heldRegister(d.rs1) ?? .rcx
        if left == .rcx { load(.rcx, d.rs1) }
        switch source(d.rs2) {
        case .zero: asm.alu(.cmp, left, imm: 0)
        case .register(let h): asm.alu(.cmp, left, h)
        case .memory(let m): asm.alu(.cmp, left, m)
        }
        if target == start && loopHead != nil {
            // The loop's own branch: falling through goes round again, so an iteration takes
            // one taken branch (the back edge's), not three.
            let leave = asm.newLabel()
            asm.jump(if: condition.negated, to: leave)
            backEdge()
            asm.bind(leave)
            exit(to: next)
            return true
        }
        let taken = asm.newLabel()
        asm.jump(if: condition, to: taken)
        exit(to: next)
        asm.bind(taken)
        exit(to: target)
        return true
    }

    /// Every other translated operation: x[rd] = f(x[rs1], x[rs2] or imm), or a load or
    /// store; `completed` instructions of the block ran before it.
    mutating func operation(_ d: DecodedInstruction, pc: UInt64, completed: Int) {
        let imm32 = Int32(truncatingIfNeeded: d.imm)
        switch d.op {
        case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu:
            let width: Width = d.op == .lb || d.op == .lbu ? .byte : d.op == .lh || d.op == .lhu ? .word : d.op == .ld ? .qword : .dword
            address(d.rs1, imm32)
            translateAddress(size: width.rawValue, tlbOffset: TranslationContext.readTLBOffset, completed: completed, pc: pc)
            let into = heldRegister(d.rd) ?? .rax
            if d.op == .lbu || d.op == .lhu || d.op == .lwu { asm.load(into, Memory(.rax), width) } else { asm.loadSigned(into, Memory(.rax), width) }
            if into == .rax { store(d.rd, .rax) } else { wrote(d.rd) }
        case .sb, .sh, .sw, .sd:
            let width: Width = d.op == .sb ? .byte : d.op == .sh ? .word : d.op == .sw ? .dword : .qword
            address(d.rs1, imm32)
            translateAddress(size: width.rawValue, tlbOffset: TranslationContext.writeTLBOffset, completed: completed, pc: pc)
            switch source(d.rs2) {
            case .zero: asm.store(Memory(.rax), imm: 0, width)
            case .register(let h): asm.store(Memory(.rax), h, width)
            case .memory(let m):
                asm.load(.rcx, m, .qword)
                asm.store(Memory(.rax), .rcx, width)
            }
        case .lui:
            if let h = heldRegister(d.rd) {
                asm.mov(h, imm: UInt64(bitPattern: d.imm))
                wrote(d.rd)
            } else {
                asm.mov(.rax, imm: UInt64(bitPattern: d.imm))
                store(d.rd, .rax)
            }
        case .auipc:
            asm.mov(.rax, imm: pc &+ UInt64(bitPattern: d.imm))
            store(d.rd, .rax)
        case .addi, .xori, .ori, .andi:
            let op: ALUOperation = d.op == .addi ? .add : d.op == .xori ? .xor : d.op == .ori ? .or : .and
            if combineImmediateInPlace(op, d) { break }
            load(.rax, d.rs1)
            asm.alu(op, .rax, imm: imm32)
            store(d.rd, .rax)
        case .slti, .sltiu:
            load(.rcx, d.rs1)
            asm.mov(.rax, imm: 0, keepFlags: true)
            asm.alu(.cmp, .rcx, imm: imm32)
            asm.set(d.op == .slti ? .less : .below, .rax)
            store(d.rd, .rax)
        case .slli, .srli, .srai:
            let into = heldRegister(d.rd) ?? .rax
            load(into, d.rs1)
            asm.shift(d.op == .slli ? .shl : d.op == .srli ? .shr : .sar, into, by: UInt8(truncatingIfNeeded: d.imm & 63))
            if into == .rax { store(d.rd, .rax) } else { wrote(d.rd) }
        case .add, .sub, .xor, .or, .and:
            let op: ALUOperation = d.op == .add ? .add : d.op == .sub ? .sub : d.op == .xor ? .xor : d.op == .or ? .or : .and
            if combineInPlace(op, d) { break }
            load(.rax, d.rs1)
            load(.rcx, d.rs2)
            asm.alu(op, .rax, .rcx)
            store(d.rd, .rax)
        case .slt, .sltu:
            load(.rcx, d.rs1)
            load(.rdx, d.rs2)
            asm.mov(.rax, imm: 0, keepFlags: true)
            asm.alu(.cmp, .rcx, .rdx)
            asm.set(d.op == .slt ? .less : .below, .rax)
            store(d.rd, .rax)
        case .sll, .srl, .sra:
            // x86 takes a 64-bit shift count modulo 64, as RV64 does.
            load(.rax, d.rs1)
            load(.rcx, d.rs2)
            asm.shiftByCL(d.op == .sll ? .shl : d.op == .srl ? .shr : .sar, .rax)
            store(d.rd, .rax)
        case .addiw:
            load(.rax, d.rs1)
            asm.alu(.add, .rax, imm: imm32, .dword)
            storeWord(d.rd)
        case .slliw, .srliw, .sraiw:
            load(.rax, d.rs1)
            asm.shift(d.op == .slliw ? .shl : d.op == .srliw ? .shr : .sar, .rax, by: UInt8(truncatingIfNeeded: d.imm & 31), .dword)
            storeWord(d.rd)
        case .addw, .subw:
            load(.rax, d.rs1)
            load(.rcx, d.rs2)
            asm.alu(d.op == .addw ? .add : .sub, .rax, .rcx, .dword)
            storeWord(d.rd)
        case .sllw, .srlw, .sraw:
            // A 32-bit shift count is taken modulo 32, as the W forms do.
            load(.rax, d.rs1)
            load(.rcx, d.rs2)
            asm.shiftByCL(d.op == .sllw ? .shl : d.op == .srlw ? .shr : .sar, .rax, .dword)
            storeWord(d.rd)
        case .mul:
            load(.rcx, d.rs2)
            let into = heldRegister(d.rd) ?? .rax
            load(into, d.rs1)
            asm.imul(into, .rcx)
            if into == .rax { store(d.rd, .rax) } else { wrote(d.rd) }
        case .mulw:
            load(.rax, d.rs1)
            load(.rcx, d.rs2)
            asm.imul(.rax, .rcx, .dword)
            storeWord(d.rd)
        case .mulh, .mulhu:
            load(.rax, d.rs1)
            load(.rcx, d.rs2)
            if d.op == .mulh { asm.imulWide(.rcx) } else { asm.mulWide(.rcx) }
            store(d.rd, .rdx)
        case .mulhsu:
            // high(signed a * unsigned b) = high(unsigned a * b) - (a < 0 ? b : 0)
            load(.rax, d.rs1)
            load(.rcx, d.rs2)
            asm.mov(.r8, .rax)
            asm.mulWide(.rcx)
            asm.shift(.sar, .r8, by: 63)
            asm.alu(.and, .r8, .rcx)
            asm.alu(.sub, .rdx, .r8)
            store(d.rd, .rdx)
        case .div, .rem, .divw, .remw:
            signedDivide(d)
        case .divu, .remu, .divuw, .remuw:
            unsignedDivide(d)
        default:
            precondition(BlockTranslator.runsOutOfLine(d.op), "\(d.op) is not translated")
            if !inlineFloat(d, pc: pc, completed: completed) { outOfLine(d, pc: pc, completed: completed) }
        }
    }

    /// RISC-V signed division never traps: x / 0 = -1, x % 0 = x, MIN / -1 = MIN, MIN % -1 = 0.
    /// x86's idiv faults on both, so they are tested first (a / -1 is -a, wrapping, and a % -1
    /// is 0, for every a).
    mutating func signedDivide(_ d: DecodedInstruction) {
        let word = d.op == .divw || d.op == .remw
        let quotient = d.op == .div || d.op == .divw
        let width: Width = word ? .dword : .qword
        let byZero = asm.newLabel(), byMinusOne = asm.newLabel(), done = asm.newLabel()
        load(.rax, d.rs1)
        load(.rcx, d.rs2)
        asm.test(.rcx, .rcx, width)
        asm.jump(if: .equal, to: byZero)
        asm.alu(.cmp, .rcx, imm: -1, width)
        asm.jump(if: .equal, to: byMinusOne)
        asm.signExtendAccumulator(width)
        asm.idiv(.rcx, width)
        if !quotient { asm.mov(.rax, .rdx) }
        asm.jmp(done)
        asm.bind(byZero)
        if quotient { asm.mov(.rax, imm: UInt64.max, keepFlags: true) }
        asm.jmp(done)
        asm.bind(byMinusOne)
        if quotient { asm.neg(.rax, width) } else { asm.mov(.rax, imm: 0, keepFlags: true) }
        asm.bind(done)
        if word { storeWord(d.rd) } else { store(d.rd, .rax) }
    }

    /// x / 0 = all ones, x % 0 = x; otherwise x86's div.
    mutating func unsignedDivide(_ d: DecodedInstruction) {
        let word = d.op == .divuw || d.op == .remuw
        let quotient = d.op == .divu || d.op == .divuw
        let width: Width = word ? .dword : .qword
        let byZero = asm.newLabel(), done = asm.newLabel()
        load(.rax, d.rs1)
        load(.rcx, d.rs2)
        asm.test(.rcx, .rcx, width)
        asm.jump(if: .equal, to: byZero)
        asm.alu(.xor, .rdx, .rdx, .dword)
        asm.div(.rcx, width)
        if !quotient { asm.mov(.rax, .rdx) }
        asm.jmp(done)
        asm.bind(byZero)
        if quotient { asm.mov(.rax, imm: UInt64.max, keepFlags: true) }
        asm.bind(done)
        if word { storeWord(d.rd) } else { store(d.rd, .rax) }
    }
}

// Hart: the live state of one RV64GC hart (registers, CSRs, TLBs, decode cache) and its links
// to guest memory, the MMIO bus and the platform's interrupt inputs. Execution, the MMU, CSRs and traps live in
// extensions in their own files.
import Dispatch
import Machine
import Synchronization

/// How the M-mode side of the machine is provided.
public enum FirmwareMode: Sendable, Equatable {
    /// Real M-mode firmware (OpenSBI) runs in the guest, fully virtualized.
    case firmware
    /// The VMM implements the SBI; the guest kernel starts in S-mode.
    case builtinSBI
    /// No firmware: the kernel starts in M-mode.
    case none
}

/// One RISC-V hart.
public final class Hart {
    /// x0...x31 plus a sink slot 32 that absorbs writes to x0.
    public let x: UnsafeMutablePointer<UInt64>
    /// f0...f31 (raw 64 bits; singles NaN-boxed).
    public let f: UnsafeMutablePointer<UInt64>
    /// mstatus, fflags and frm, in memory translated code reads and writes directly (word 0:
    /// mstatus, 1: fflags, 2: frm; see `ControlWord`). The properties below are views of it.
    package let controlWords: UnsafeMutablePointer<UInt64>
    /// fcsr's accrued exception flags (NV DZ OF UF NX).
    var fflags: UInt8 {
        @inline(__always) get { UInt8(truncatingIfNeeded: controlWords[ControlWord.fflags]) }
        @inline(__always) set { controlWords[ControlWord.fflags] = UInt64(newValue) }
    }
    /// fcsr's dynamic rounding mode.
    var frm: UInt8 {
        @inline(__always) get { UInt8(truncatingIfNeeded: controlWords[ControlWord.frm]) }
        @inline(__always) set { controlWords[ControlWord.frm] = UInt64(newValue) }
    }
    /// The program counter.
    public var pc: UInt64 = 0x8000_0000
    /// The engine running this hart's code (nil: the interpreter). Not part of the saved
    /// state: translations are rebuilt wherever the hart runs.
    public var engine: (any ExecutionEngine)?
    /// The current privilege mode.
    public internal(set) var privilege: PrivilegeMode = .machine
    /// The hart id (mhartid).
    public let hartID: UInt64

    // CSRs
    var mstatus: UInt64 {
        @inline(__always) get { controlWords[ControlWord.mstatus] }
        @inline(__always) set { controlWords[ControlWord.mstatus] = newValue }
    }
    var medeleg: UInt64 = 0, mideleg: UInt64 = 0, mie: UInt64 = 0
    /// Pending interrupts (mip). Timer and software bits are refreshed from the CLINT.
    public var mip: UInt64 = 0
    var mtvec: UInt64 = 0, mepc: UInt64 = 0, mcause: UInt64 = 0, mtval: UInt64 = 0, mscratch: UInt64 = 0
    var mcounteren: UInt64 = 0, scounteren: UInt64 = 0, mcountinhibit: UInt64 = 0
    var menvcfg: UInt64 = 0, senvcfg: UInt64 = 0
    var stvec: UInt64 = 0, sepc: UInt64 = 0, scause: UInt64 = 0, stval: UInt64 = 0, sscratch: UInt64 = 0
    var satp: UInt64 = 0
    var pmp = PMP()
    /// Instructions retired (minstret).
    public package(set) var instret: UInt64 = 0
    /// What the guest's mcycle and minstret read beyond `instret` (set by CSR writes).
    var cycleOffset: UInt64 = 0, instretOffset: UInt64 = 0
    /// LR reservation (physical address) or `.max`.
    var reservation: UInt64 = .max
    /// The value the LR read (an SC fails when memory no longer holds it).
    var reservationValue: UInt64 = 0

    /// misa: RV64 with A, C, D, F, I, M, S, U.
    public static let misa: UInt64 = (2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)

    // Memory system
    /// Guest RAM.
    public let memory: GuestMemory
    /// MMIO devices.
    public let bus: MMIOBus
    /// The timer and software-interrupt inputs (the board's CLINT on `virt`).
    public let timer: any HartTimerInputs
    /// The external interrupt inputs (the board's PLIC on `virt`), when the board has them.
    public var externalInputs: (any HartExternalInputs)? {
        didSet { externalInputs?.onAssert(hart: hartID) { [wakeup] in wakeup.signal() } }
    }
    /// The SEIP bit the external inputs drove at the last refresh (software may set SEIP too).
    var plicSEIP: UInt64 = 0
    /// Signalled when an external interrupt rises, to end a WFI sleep early.
    let wakeup = DispatchSemaphore(value: 0)
    package let readTLB = TLB(), writeTLB = TLB(), fetchTLB = TLB()
    /// Decoded pages by global RAM page index (nil until code runs there).
    let decodePages: UnsafeMutablePointer<UnsafeMutablePointer<DecodedInstruction>?>
    /// Whether a page may hold live decoded entries (then it has no writable TLB entries).
    let codePage: UnsafeMutablePointer<Bool>
    /// Target of a decoded instruction that crosses a page boundary: slot 0 holds it, the
    /// rest force a refetch.
    let crossPage: UnsafeMutablePointer<DecodedInstruction>
    var seenWriteProtectGeneration: UInt64 = 0

    // Exits
    /// Firmware mode (decides who handles S-mode ecalls and M-mode traps).
    public var firmwareMode: FirmwareMode = .none
    /// Exit counts.
    public internal(set) var stats = ExitStatistics()
    package var pendingExit: ExitReason?
    var exitInstruction = DecodedInstruction.undecoded
    var mmioAddress: UInt64 = 0, mmioSize = 0, mmioValue: UInt64 = 0
    /// Set by devices or the SBI to end the run (power off / reset).
    public var shutdownRequest: VCPURunResult?
    /// Set from another thread (`requestExit`) to end the current `run` at the next chunk.
    let exitRequested = Atomic<Bool>(false)
    /// Console hooks for the SBI legacy putchar/getchar and DBCN.
    public var consolePut: ((UInt8) -> Void)?
    /// Returns the next input byte, or nil.
    public var consoleGet: (() -> UInt8?)?
    /// Deadline (in mtime ticks) of the S-mode timer set through the builtin SBI.
    var sbiTimerDeadline: UInt64 = .max
    /// An optional trace of exits, for debugging.
    public var traceExits = false

    // SMP
    /// The machine's harts (nil for a hart alone).
    public internal(set) weak var group: HartGroup?
    /// Requests from other harts (`HartRequest` bits), consumed at chunk boundaries.
    let requests = Atomic<UInt64>(0)
    /// Whether the hart is inside `run` (a remote fence waits only for harts that execute).
    let inRun = Atomic<Bool>(false)
    /// The HSM state (`HartRunState` raw value).
    let runState = Atomic<UInt8>(HartRunState.started.rawValue)
    /// Where an HSM start or a non-retentive resume enters S-mode, and its a1 argument.
    let startParameters = Mutex<(address: UInt64, opaque: UInt64, resume: Bool)>((0, 0, false))
    /// Pages holding decoded instructions, so a FENCE.I can drop them all (`codePage` is the
    /// membership test; a page may appear twice after leaving and re-entering).
    var decodedPageList: [Int] = []

    /// A hart over `memory` and `bus`, reset to M-mode at `pc`.
    public init(memory: GuestMemory, bus: MMIOBus, timer: any HartTimerInputs, hartID: UInt64 = 0) {
        self.memory = memory
        self.bus = bus
        self.timer = timer
        self.hartID = hartID
        x = .allocate(capacity: 33)
        x.initialize(repeating: 0, count: 33)
        f = .allocate(capacity: 32)
        f.initialize(repeating: 0, count: 32)
        controlWords = .allocate(capacity: ControlWord.count)
        controlWords.initialize(repeating: 0, count: ControlWord.count)
        controlWords[ControlWord.mstatus] = CSRBits.uxl | CSRBits.sxl
        decodePages = .allocate(capacity: max(memory.pageCount, 1))
        decodePages.initialize(repeating: nil, count: max(memory.pageCount, 1))
        codePage = .allocate(capacity: max(memory.pageCount, 1))
        codePage.initialize(repeating: false, count: max(memory.pageCount, 1))
        crossPage = .allocate(capacity: Hart.slotsPerPage)
        crossPage.initialize(repeating: DecodedInstruction(op: .undecoded, rd: 32, rs1: 0, rs2: 0, length: 0, imm: 0),
                             count: Hart.slotsPerPage)
        seenWriteProtectGeneration = memory.writeProtectGeneration
    }

    deinit {
        for i in 0..<memory.pageCount { decodePages[i]?.deallocate() }
        decodePages.deallocate()
        codePage.deallocate()
        crossPage.deallocate()
        x.deallocate()
        f.deallocate()
        controlWords.deallocate()
        readTLB.deallocate(); writeTLB.deallocate(); fetchTLB.deallocate()
    }

    /// Decode slots per 4 KiB page (one per 2 bytes).
    static let slotsPerPage = 2048

    /// Reads register `i` (0...31).
    public func register(_ i: Int) -> UInt64 { i > 0 && i < 32 ? x[i] : 0 }

    /// Writes register `i` (writes to x0 are ignored).
    public func setRegister(_ i: Int, _ v: UInt64) { if i > 0 && i < 32 { x[i] = v } }

    /// Drops all cached translations (satp, sfence.vma, privilege or mstatus changes).
    public func flushTLB() {
        readTLB.flush(); writeTLB.flush(); fetchTLB.flush()
    }

    /// Forgets decoded instructions of a guest-physical range the VMM wrote behind the CPU's
    /// back (DMA, loaders).
    public func invalidateCode(_ address: GuestPhysicalAddress, length: UInt64) {
        var a = address.raw & ~0xFFF
        while a < address.raw &+ length {
            if let i = memory.pageIndex(a) { dropDecoded(page: i) }
            a &+= 4096
        }
    }

    /// Clears the decoded entries of a page (it was written), and its translations.
    func dropDecoded(page i: Int) {
        if let p = decodePages[i] { p.update(repeating: .undecoded, count: Hart.slotsPerPage) }
        codePage[i] = false
        engine?.invalidate(page: i)
    }

    /// The decode page for a global page index, marking it as code: its writable TLB entries go,
    /// so the next write to it takes the slow path and drops the decoded entries.
    @inline(__always)
    func codePageFor(_ i: Int) -> UnsafeMutablePointer<DecodedInstruction> {
        if codePage[i], let p = decodePages[i] { return p }
        return enterCodePage(i)
    }

    @inline(never)
    func enterCodePage(_ i: Int) -> UnsafeMutablePointer<DecodedInstruction> {
        let p: UnsafeMutablePointer<DecodedInstruction>
        if let q = decodePages[i] {
            p = q
            p.update(repeating: .undecoded, count: Hart.slotsPerPage)
        } else {
            p = .allocate(capacity: Hart.slotsPerPage)
            p.initialize(repeating: .undecoded, count: Hart.slotsPerPage)
            decodePages[i] = p
        }
        codePage[i] = true
        engine?.invalidate(page: i)
        if decodedPageList.count >= memory.pageCount { decodedPageList.removeAll(where: { !codePage[$0] }) }
        decodedPageList.append(i)
        writeTLB.flush(physicalPage: i)
        return p
    }

    /// FENCE.I across harts: forgets every decoded instruction (another hart may have written
    /// any code page through its own TLB). A hart alone needs nothing: its own stores already
    /// drop what they overwrite. Pages are only unmarked; `enterCodePage` clears a page when
    /// code runs there again.
    func dropAllDecoded() {
        for i in decodedPageList { codePage[i] = false }
        decodedPageList.removeAll(keepingCapacity: true)
        engine?.invalidateAll()
    }

    /// Marks page `i` as holding code for an engine that runs code without the decode cache:
    /// its writable TLB entries go, so a store to it takes the slow path, which drops the
    /// page's decoded entries and translations (self-modifying code stays correct).
    package func markCodePage(_ i: Int) {
        if !codePage[i] { _ = enterCodePage(i) }
    }

    /// Ends a WFI or HSM sleep early (an interrupt for this hart was raised); any thread.
    public func wake() { wakeup.signal() }

    /// Posts a request from another hart and wakes this one.
    func post(_ request: UInt64) {
        requests.bitwiseOr(request, ordering: .acquiringAndReleasing)
        wakeup.signal()
    }

    /// Acts on requests other harts posted (at an instruction boundary of this hart).
    func serviceRequests() {
        guard requests.load(ordering: .relaxed) != 0 else { return }
        let r = requests.exchange(0, ordering: .acquiringAndReleasing)
        if r & HartRequest.supervisorSoftware != 0 { mip |= CSRBits.ssip }
        if r & HartRequest.flushTLB != 0 { flushTLB() }
        if r & HartRequest.flushCode != 0 { dropAllDecoded() }
    }

    /// The hart's HSM state.
    public var hsmState: HartRunState { HartRunState(rawValue: runState.load(ordering: .acquiring)) ?? .started }

    /// Resets the hart as at power-on (M-mode, CSRs cleared, caches dropped); `pc` is set by
    /// the caller. Exit statistics are kept.
    public func reset() {
        var s = HartState()
        s.mstatus = CSRBits.uxl | CSRBits.sxl
        s.pc = pc & ~1
        // restoreState only fails on malformed arrays, which HartState() never has.
        try? restoreState(s)
        reservation = .max
        sbiTimerDeadline = .max
        shutdownRequest = nil
        pendingExit = nil
        _ = requests.exchange(0, ordering: .relaxed)
        runState.store(HartRunState.started.rawValue, ordering: .releasing)
    }

    /// Captures the architectural state.
    public func saveState() -> HartState {
        var s = HartState()
        for i in 0..<32 { s.x[i] = register(i) }
        s.pc = pc; s.privilege = privilege
        s.mstatus = mstatus; s.medeleg = medeleg; s.mideleg = mideleg; s.mie = mie; s.mip = mip
        s.mtvec = mtvec; s.mepc = mepc; s.mcause = mcause; s.mtval = mtval; s.mscratch = mscratch
        s.mcounteren = mcounteren; s.scounteren = scounteren; s.mcountinhibit = mcountinhibit
        s.menvcfg = menvcfg; s.senvcfg = senvcfg
        s.stvec = stvec; s.sepc = sepc; s.scause = scause; s.stval = stval; s.sscratch = sscratch
        s.satp = satp; s.pmpcfg = pmp.cfg; s.pmpaddr = pmp.addr
        s.instret = instret; s.cycleOffset = cycleOffset; s.instretOffset = instretOffset; s.hartID = hartID
        s.sbiTimerDeadline = sbiTimerDeadline
        s.runState = hsmState
        let start = startParameters.withLock { $0 }
        s.startAddress = start.address; s.startOpaque = start.opaque; s.startResume = start.resume
        // Requests not yet acted on travel as their effect: a pending SSIP is in mip; a fence
        // is moot (the destination starts with empty TLBs and decode caches).
        if requests.load(ordering: .acquiring) & HartRequest.supervisorSoftware != 0 { s.mip |= CSRBits.ssip }
        for i in 0..<32 { s.f[i] = f[i] }
        s.fcsr = UInt64(frm) << 5 | UInt64(fflags)
        return s
    }

    /// Restores a state from `saveState`; throws when it is inconsistent.
    public func restoreState(_ s: HartState) throws {
        guard s.x.count == 32, s.pmpcfg.count == 16, s.pmpaddr.count == 16 else {
            throw HartError.badState("register or PMP arrays have the wrong length")
        }
        guard s.pc & 1 == 0 else { throw HartError.badState("pc is odd") }
        guard s.f.count == 32 else { throw HartError.badState("the f register array has the wrong length") }
        guard s.fcsr >> 8 == 0 else { throw HartError.badState("fcsr has bits above frm set") }
        for i in 1..<32 { x[i] = s.x[i] }
        pc = s.pc; privilege = s.privilege
        mstatus = s.mstatus; medeleg = s.medeleg; mideleg = s.mideleg; mie = s.mie; mip = s.mip
        mtvec = s.mtvec; mepc = s.mepc; mcause = s.mcause; mtval = s.mtval; mscratch = s.mscratch
        mcounteren = s.mcounteren; scounteren = s.scounteren; mcountinhibit = s.mcountinhibit
        menvcfg = s.menvcfg; senvcfg = s.senvcfg
        stvec = s.stvec; sepc = s.sepc; scause = s.scause; stval = s.stval; sscratch = s.sscratch
        satp = s.satp; pmp.cfg = s.pmpcfg; pmp.addr = s.pmpaddr
        instret = s.instret; cycleOffset = s.cycleOffset; instretOffset = s.instretOffset
        sbiTimerDeadline = s.sbiTimerDeadline
        runState.store(s.runState.rawValue, ordering: .releasing)
        startParameters.withLock { $0 = (s.startAddress, s.startOpaque, s.startResume) }
        _ = requests.exchange(0, ordering: .relaxed)
        for i in 0..<32 { f[i] = s.f[i] }
        fflags = UInt8(s.fcsr & 0x1F); frm = UInt8(s.fcsr >> 5)
        reservation = .max
        flushTLB()
        for i in 0..<memory.pageCount { dropDecoded(page: i) }
    }
}

/// Errors from hart state handling.
public enum HartError: Error, Equatable, CustomStringConvertible {
    /// A saved state failed validation.
    case badState(String)

    /// A readable message.
    public var description: String {
        switch self { case .badState(let m): return "invalid hart state: \(m)" }
    }
}

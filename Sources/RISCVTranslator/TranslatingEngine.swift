// TranslatingEngine: the binary-translating engine of a hart (`Hart.engine`). It runs guest code
// as translated blocks where it can and hands every other instruction to the interpreter, one
// at a time, on the same hart state. Translations live in W^X executable memory and are found
// through a table per guest-physical page (slot per 2-byte offset) that also records the
// virtual pc each was made for: a block embeds its pc (AUIPC, branch targets), so the same
// physical code seen at another virtual address is translated again. Pages holding translated
// code are marked as code pages of the hart, so a store to them leaves the TLB fast path and
// drops their translations (self-modifying code, loaders); DMA and FENCE.I do the same through
// the hart. When the code memory is full, every translation goes at once. Nothing here is
// part of a VM's saved state.
//
// A change of a page's code is only *suspected* when the hart reports it (a store to a code
// page, DMA, FENCE.I from another hart, which names no page at all): the page's translations are
// kept beside a copy of the page's bytes as they were translated, and the next time the
// dispatcher enters the page it compares the two (4 KiB, ~100 ns). Unchanged, the page is made a
// code page of the hart again and its blocks run on; changed, they are dropped. Linux sends
// remote FENCE.I often on SMP (every exec and text fault on another hart), and dropping every
// translation each time cost a 2-vCPU boot 4x its time.
//
// Blocks chain: an exit to a pc on the same guest page jumps straight into that pc's
// translation once it exists (patched in through the writable view). Links never cross pages,
// so dropping a page's slots makes all of its blocks unreachable at once: nothing outside the
// page jumps in, and the dispatcher finds no slot. Indirect jumps, returns and jumps to another
// page go through the `JumpCache`, which the dispatcher fills and whose entries are checked
// against the fetch TLB and the target page's generation, so they never outlive a remap or a
// code change.
//
// Blocks are translated when they are hot: a block is first run `translationThreshold` times on
// the interpreter (its length decoded once, then one interpreter call per run), and translated
// on the next. A Linux boot runs ~50,000 distinct blocks, most of them a few times; translating
// each on first sight made the boot slower on the translator than on the interpreter (the
// threshold's figures: docs/cpu.md). Tests pass 0 to translate everything on first sight.

#if canImport(Glibc)
import Glibc
#endif
import Machine
import RISCV
import X86

/// Runs a hart's code as x86-64 translations.
public final class TranslatingEngine: ExecutionEngine {
    /// Bytes of code memory (flushed whole when full).
    public let codeCapacity: Int
    /// Interpreted runs of a block before it is translated (0: translate on first sight).
    public let translationThreshold: Int
    /// The threshold VMs run with.
    public static let defaultThreshold = 16
    private let code: ExecutableMemory
    /// Per global RAM page: nil, or 2048 slots (one per 2-byte offset).
    private let pages: UnsafeMutablePointer<UnsafeMutablePointer<Slot>?>
    private let pageCount: Int
    /// Per page: the bytes its translations were made from (nil: none yet).
    private let snapshots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Per page: its code may have changed since the snapshot; check before running it.
    private let suspect: UnsafeMutablePointer<Bool>
    /// Pages with a slot table, so a flush visits only those.
    private var usedPages: [Int] = []
    private var assembler = Assembler()
    private var context: UnsafeMutablePointer<TranslationContext>
    /// Exits not linked yet, per page: the executable address of the rel32 field and the
    /// virtual pc they leave for.
    private var pendingLinks: [Int: [(site: UnsafeRawPointer, target: UInt64)]] = [:]
    private var decoded: [DecodedInstruction] = []
    /// Bytes `decodeBlock` decoded last.
    private var decodedBytes = 0
    private let jumpCache: JumpCache

    /// Blocks translated, blocks run, instructions they retired, side exits, interpreted
    /// instructions and whole flushes (for `bench cpu` and tests).
    public private(set) var statistics = Statistics()

    /// Counters of the engine.
    public struct Statistics: Sendable, Equatable {
        public var translated = 0
        public var blocksRun = 0
        public var translatedInstructions = 0
        public var sideExits = 0
        public var interpreted = 0
        public var flushes = 0
        public var linked = 0
        public var invalidations = 0
        public var invalidateAlls = 0
        /// Suspected pages found unchanged (kept) and changed (dropped).
        public var validated = 0
        public var dropped = 0
        /// Jump-cache entries filled by the dispatcher (each after a lookup missed or a block
        /// returned to it).
        public var jumpCacheFills = 0
        /// Blocks an out-of-line instruction ended (a trap, a VMM exit, a code change).
        public var outOfLineExits = 0
        /// Runs of blocks not hot enough to translate yet, on the interpreter.
        public var coldRuns = 0
    }

    /// One translation slot: the virtual pc it was made for (`Slot.none`: empty), its entry
    /// and instruction count (0: the instruction there is left to the interpreter). A cold
    /// slot has no entry yet: `instructions` is the block's length, run on the interpreter,
    /// and `coldRuns` the interpreted runs left before it is translated.
    struct Slot: @unchecked Sendable {
        var pc: UInt64
        var entry: UnsafeRawPointer?
        var instructions: Int
        var coldRuns: Int = 0

        static let none = UInt64.max
        static let empty = Slot(pc: none, entry: nil, instructions: 0)
    }

    /// The entry trampoline (`BlockTranslator.Entry`) at the start of the code memory.
    private var entry: BlockTranslator.Entry

    /// An engine for `hart`, with `codeCapacity` bytes of translations, translating a block
    /// after `translationThreshold` interpreted runs (0: at once).
    public init(hart: Hart, codeCapacity: Int = 32 << 20, translationThreshold: Int = 0) throws {
        precondition(translationThreshold >= 0, "a threshold counts runs")
        self.translationThreshold = translationThreshold
        precondition(MemoryLayout<TLBEntry>.stride == 24 && MemoryLayout<TLBEntry>.offset(of: \.addend) == 8,
                     "the translated TLB lookup assumes 24-byte entries with the addend at 8")
        self.codeCapacity = codeCapacity
        code = try ExecutableMemory(capacity: codeCapacity)
        entry = try Self.emitEntry(into: code)
        pageCount = hart.memory.pageCount
        pages = .allocate(capacity: pageCount)
        pages.initialize(repeating: nil, count: pageCount)
        snapshots = .allocate(capacity: pageCount)
        snapshots.initialize(repeating: nil, count: pageCount)
        suspect = .allocate(capacity: pageCount)
        suspect.initialize(repeating: false, count: pageCount)
        jumpCache = JumpCache(pageCount: pageCount)
        context = .allocate(capacity: 1)
        precondition(TranslationContext.layoutMatches, "the generated code's context offsets must match TranslationContext")
        context.initialize(to: TranslationContext(readTLB: hart.readTLB.entries, writeTLB: hart.writeTLB.entries,
                                                  fetchTLB: hart.fetchTLB.entries, jumpCache: jumpCache,
                                                  controlWords: hart.controlWords, f: hart.f))
    }

    deinit {
        for i in usedPages {
            pages[i]?.deallocate()
            snapshots[i]?.deallocate()
        }
        pages.deallocate()
        snapshots.deallocate()
        suspect.deallocate()
        context.deallocate()
    }

    public func invalidate(page index: Int) {
        guard index >= 0 && index < pageCount, pages[index] != nil else { return }
        suspect[index] = true
        jumpCache.stale(page: index)
        context.pointee.codeChanged = 1
        statistics.invalidations += 1
    }

    public func invalidateAll() {
        for i in usedPages {
            suspect[i] = true
            jumpCache.stale(page: i)
        }
        context.pointee.codeChanged = 1
        statistics.invalidateAlls += 1
    }

    /// Drops a page's translations, waiting links and snapshot.
    private func clear(page index: Int) {
        pages[index]?.update(repeating: .empty, count: 2048)
        jumpCache.stale(page: index)
        pendingLinks[index] = nil
        snapshots[index]?.deallocate()
        snapshots[index] = nil
        suspect[index] = false
    }

    /// Drops every translation and empties the code memory.
    func flush() {
        for i in usedPages { clear(page: i) }
        pendingLinks.removeAll()
        jumpCache.wipe()
        try? code.reset()
        // The trampoline goes first again (emitting it into empty memory cannot fail short of
        // mprotect refusing, when the engine was unusable anyway).
        if let e = try? Self.emitEntry(into: code) { entry = e }
        statistics.flushes += 1
    }

    /// Emits the entry trampoline into `code` and returns it.
    private static func emitEntry(into code: ExecutableMemory) throws -> BlockTranslator.Entry {
        var asm = Assembler()
        BlockTranslator.emitEntry(into: &asm)
        try code.unseal()
        let address = try code.append(asm.bytes)
        try code.seal()
        return unsafeBitCast(address, to: BlockTranslator.Entry.self)
    }

    /// A suspected page: keep its translations when its bytes are those they were made from
    /// (and make it a code page of the hart again first), else drop them.
    private func validate(page: Int, host: UnsafeRawPointer, hart: Hart) {
        if let copy = snapshots[page], memcmp(copy, host, 4096) == 0 {
            hart.markCodePage(page)
            suspect[page] = false
            statistics.validated += 1
        } else {
            clear(page: page)
            statistics.dropped += 1
        }
    }

    public func execute(_ hart: Hart, budget: Int) -> Int {
        var left = budget
        var spent = 0
        let tlb = hart.fetchTLB.entries
        context.pointee.hart = Unmanaged.passUnretained(hart).toOpaque()
        while left > 0 {
            let pc = hart.pc
            let e = tlb[TLB.index(pc)]
            if e.tag == pc & ~0xFFF, e.page >= 0 {
                let slot = self.slot(page: e.page, offset: Int(pc & 0xFFF), pc: pc, host: UnsafeRawPointer(bitPattern: UInt(pc & ~0xFFF &+ e.addend))!, hart: hart)
                if let entry = slot.entry, slot.instructions <= left {
                    jumpCache.fill(pc: pc, page: e.page, entry: entry)
                    statistics.jumpCacheFills += 1
                    context.pointee.left = Int64(left)
                    context.pointee.sideExit = 0
                    let next = self.entry(hart.x, UnsafeMutableRawPointer(context), entry)
                    let n = left - Int(context.pointee.left)
                    hart.instret &+= UInt64(n)
                    left -= n
                    spent += n
                    statistics.blocksRun += 1
                    statistics.translatedInstructions += n
                    let exit = context.pointee.sideExit
                    if exit == TranslationContext.noExit { hart.pc = next; continue }
                    if exit != TranslationContext.memoryExit {
                        // An out-of-line instruction ended the block and set `pc`.
                        statistics.outOfLineExits += 1
                        if exit == TranslationContext.trapExit {
                            // A trap spends budget without retiring, as in the interpreter.
                            left -= 1
                            spent += 1
                        } else if exit == TranslationContext.vmmExit {
                            break
                        }
                        continue
                    }
                    // A side exit: the access at `next` goes through the interpreter.
                    hart.pc = next
                    statistics.sideExits += 1
                    if left == 0 { break }
                } else if slot.entry == nil && slot.coldRuns > 0 {
                    // A block not hot yet: the interpreter runs its length (it ends at the
                    // block's last instruction, or earlier at a trap or exit).
                    let n = hart.execute(budget: min(slot.instructions, left))
                    statistics.coldRuns += 1
                    statistics.interpreted += n
                    left -= n
                    spent += n
                    if hart.pendingExit != nil || n == 0 { break }
                    continue
                }
            }
            // The interpreter runs one instruction (fetch faults, traps and exits included) and
            // spends what it spends: an access that exits for MMIO retires nothing here (the
            // VMM completes it) and spends nothing, as on the interpreter alone. Nothing spent
            // without an exit ends the chunk (the caller's `run` spends at least one unit per
            // chunk), so this loop cannot spin.
            let n = hart.execute(budget: 1)
            statistics.interpreted += 1
            left -= n
            spent += n
            if hart.pendingExit != nil || n == 0 { break }
        }
        return spent
    }

    /// The slot for `pc` (on global page `page` at `offset`, whose host page is `host`),
    /// translating the block there when the slot is empty or was made for another pc.
    private func slot(page: Int, offset: Int, pc: UInt64, host: UnsafeRawPointer, hart: Hart) -> Slot {
        let table: UnsafeMutablePointer<Slot>
        if let t = pages[page] { table = t } else {
            table = .allocate(capacity: 2048)
            table.initialize(repeating: .empty, count: 2048)
            pages[page] = table
            usedPages.append(page)
        }
        if suspect[page] { validate(page: page, host: host, hart: hart) }
        let s = table[offset >> 1]
        if s.pc == pc {
            if s.coldRuns == 0 { return s }
            if s.coldRuns > 1 {
                table[offset >> 1].coldRuns -= 1
                return s
            }
        } else if translationThreshold > 0 {
            let length = decodeBlock(offset: offset, host: host)
            if length > 0 {
                let cold = Slot(pc: pc, entry: nil, instructions: length, coldRuns: translationThreshold)
                table[offset >> 1] = cold
                return cold
            }
        }
        let made = translate(pc: pc, offset: offset, host: host, hart: hart, page: page)
        // A flush (code memory full) emptied the tables: the table pointer stays valid.
        table[offset >> 1] = made
        return made
    }

    /// Aims the new block's exits at translations already on its page (the rest wait in
    /// `pendingLinks`), and the page's waiting exits for `pc` at the new block.
    private func link(entry: UnsafeRawPointer, pc: UInt64, page: Int, links: [BlockTranslation.Link]) {
        let table = pages[page]!
        var waiting = pendingLinks[page] ?? []
        for l in links {
            let site = entry + l.offset
            guard l.target & ~0xFFF == pc & ~0xFFF else { continue }
            let s = table[Int(l.target & 0xFFF) >> 1]
            if s.pc == l.target, let target = s.entry {
                patch(site, to: target)
            } else {
                waiting.append((site, l.target))
            }
        }
        // Blocks waiting for this one (its own loop back to its start included).
        waiting.removeAll { w in
            guard w.target == pc else { return false }
            patch(w.site, to: entry)
            return true
        }
        pendingLinks[page] = waiting.isEmpty ? nil : waiting
    }

    /// Points the rel32 field at `site` to `target`.
    private func patch(_ site: UnsafeRawPointer, to target: UnsafeRawPointer) {
        let distance = target - (site + 4)
        guard let rel = Int32(exactly: distance) else { return }
        try? code.patch32(at: site, rel)
        statistics.linked += 1
    }

    /// Decodes from `host` at `offset` into `decoded`, up to the page end, the longest block
    /// or the first instruction not translated; returns the block's instruction count.
    private func decodeBlock(offset: Int, host: UnsafeRawPointer) -> Int {
        decoded.removeAll(keepingCapacity: true)
        var off = offset
        var count = 0
        while off + 2 <= 4096 && decoded.count < BlockTranslator.maxInstructions {
            let low = UInt32(host.load(fromByteOffset: off, as: UInt16.self))
            let d: DecodedInstruction
            if low & 3 != 3 {
                d = Decoder.decode16(UInt16(truncatingIfNeeded: low))
            } else {
                // An instruction crossing into the next page stays the interpreter's.
                guard off + 4 <= 4096 else { break }
                d = Decoder.decode32(host.loadUnaligned(fromByteOffset: off, as: UInt32.self))
            }
            decoded.append(d)
            off += Int(d.length)
            if !BlockTranslator.translates(d.op) { break }
            count += 1
            if BlockTranslator.endsBlock(d.op) { break }
        }
        decodedBytes = off - offset
        return count
    }

    /// Decodes from `host` at `offset` up to the page end and translates a block.
    private func translate(pc: UInt64, offset: Int, host: UnsafeRawPointer, hart: Hart, page: Int) -> Slot {
        _ = decodeBlock(offset: offset, host: host)
        let off = offset + decodedBytes
        // The page's snapshot: taken with its first translation; a later block whose bytes
        // differ from it (changed without a word from the hart) starts the page afresh.
        if let copy = snapshots[page] {
            if memcmp(copy + offset, host + offset, off - offset) != 0 {
                clear(page: page)
                statistics.dropped += 1
            }
        }
        if snapshots[page] == nil {
            let copy = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
            copy.copyMemory(from: host, byteCount: 4096)
            snapshots[page] = copy
        }
        assembler.reset()
        guard let t = BlockTranslator.translate(decoded, pc: pc, into: &assembler) else {
            return Slot(pc: pc, entry: nil, instructions: 0)
        }
        if code.free < assembler.count + 64 { flush() }
        do {
            try code.unseal()
            let entry = try code.append(assembler.bytes)
            try code.seal()
            hart.markCodePage(page)
            statistics.translated += 1
            link(entry: entry, pc: pc, page: page, links: t.links)
            return Slot(pc: pc, entry: entry, instructions: t.instructions)
        } catch {
            // Out of code memory even after a flush, or mprotect refused: interpret.
            return Slot(pc: pc, entry: nil, instructions: 0)
        }
    }
}

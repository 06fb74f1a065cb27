// LockstepRunner: runs one lockstep program on two boards with identical initial state, one on
// the interpreter and one on the translator, in the same random chunks (`Hart.run(budget:)`,
// which emulates exits and takes interrupts exactly as a VM does). Between chunks it injects the
// same interrupts into both (mip's SSIP/STIP/SEIP from the host, the CLINT's msip and mtimecmp,
// mie bits, mstatus.MIE/SIE). After every chunk the whole `HartState` (x, f, pc, privilege,
// every CSR it holds, instret and the counter offsets), the exit counts (but budget ends) and
// every page the program can write (code, page tables, trap log, data, superpage) must agree;
// the first difference is reported with the seed, the chunk and a diff.

import Foundation
import Machine
@testable import RISCV
import RISCVBoard
@testable import RISCVTranslator
import TestSupport

/// Two boards running one program in lockstep.
final class LockstepRunner {
    typealias M = LockstepMemoryMap
    let program: LockstepProgram
    let interpreter: VirtBoard
    let translator: VirtBoard
    let engine: TranslatingEngine
    private var g: SeededRandom
    /// Chunks run and budget units given so far.
    private(set) var chunks = 0
    private(set) var budgetGiven = 0

    init(seed: UInt64) throws {
        interpreter = try VirtBoard(memoryMiB: 16) { _ in }
        translator = try VirtBoard(memoryMiB: 16) { _ in }
        program = LockstepProgram(seed: seed, template: interpreter.hart.saveState())
        try program.install(on: interpreter)
        try program.install(on: translator)
        // One program in four runs its blocks twice on the interpreter before translating
        // them, as VMs do (TranslatingEngine.defaultThreshold), so cold and hot runs mix.
        engine = try TranslatingEngine(hart: translator.hart, codeCapacity: 1 << 20,
                                       translationThreshold: seed % 4 == 3 ? 2 : 0)
        translator.hart.engine = engine
        g = SeededRandom(seed: seed ^ 0x5eed_1f7e_0000_0000)
    }

    /// Instructions the interpreter retired.
    var instructions: UInt64 { interpreter.hart.instructionsRetired }

    /// Runs chunks until `budget` units were given; returns the first difference.
    func run(budget: Int) -> String? {
        while budgetGiven < budget {
            if g.chance(30) { injectInterrupt() }
            let n: Int
            switch Int.random(in: 0..<10, using: &g) {
            case 0, 1: n = Int.random(in: 1...8, using: &g)
            case 9: n = Int.random(in: 300...3000, using: &g)
            default: n = Int.random(in: 1...300, using: &g)
            }
            _ = interpreter.hart.run(budget: n)
            _ = translator.hart.run(budget: n)
            budgetGiven += n
            chunks += 1
            if let d = difference() {
                return "lockstep seed \(program.seed) (mode \(program.mode), paging \(program.paging)), chunk \(chunks) (budget \(n)), after \(instructions) instructions:\n" + d
            }
        }
        return nil
    }

    /// The same host-side interrupt event on both boards: a source raised (SSIP, STIP or SEIP
    /// in mip, or the CLINT's msip or timer), often with its enable bit and mstatus.MIE or SIE,
    /// or sources lowered.
    private func injectInterrupt() {
        let action = Int.random(in: 0..<8, using: &g)
        let enable = g.chance(60), global = g.chance(30)
        let status = g.chance(50) ? CSRBits.mie : CSRBits.sie
        let bit = [CSRBits.ssip, CSRBits.stip, CSRBits.seip, CSRBits.msip, CSRBits.mtip, 0, 0, 0][action]
        for board in [interpreter, translator] {
            let h = board.hart
            switch action {
            case 0, 1, 2: h.mip |= bit
            case 3: board.clint.write(offset: 0, size: 4, value: 1)
            case 4: board.clint.mtimecmp = 0
            case 5: h.mip &= ~(CSRBits.ssip | CSRBits.stip | CSRBits.seip)
            case 6: board.clint.write(offset: 0, size: 4, value: 0)
            default: board.clint.mtimecmp = .max
            }
            if enable { h.mie |= bit }
            if global { h.mstatus |= status }
        }
    }

    /// A description of how the two boards differ, or nil.
    func difference() -> String? {
        let a = interpreter.hart.saveState(), b = translator.hart.saveState()
        var lines: [String] = []
        if a != b { lines += Self.diff(a, b) }
        let sa = interpreter.hart.exitStatistics, sb = translator.hart.exitStatistics
        for r in [ExitReason.mmioRead, .mmioWrite, .systemRegister, .trapReturn, .tlbFlush, .hypercall,
                  .instructionFence, .interrupt, .exception] where sa[r] != sb[r] {
            lines.append("exits \(r.rawValue): interpreter \(sa[r]), translator \(sb[r])")
        }
        for region in M.compared {
            let length = region.pages << 12
            let pa = interpreter.memory.hostPointer(GuestPhysicalAddress(region.base), length: UInt64(length))!
            let pb = translator.memory.hostPointer(GuestPhysicalAddress(region.base), length: UInt64(length))!
            guard memcmp(pa, pb, length) != 0 else { continue }
            var shown = 0
            for i in stride(from: 0, to: length, by: 8) where shown < 8 {
                let va = pa.loadUnaligned(fromByteOffset: i, as: UInt64.self), vb = pb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if va != vb {
                    lines.append("memory 0x\(Self.hex(region.base + UInt64(i))): interpreter 0x\(Self.hex(va)), translator 0x\(Self.hex(vb))")
                    shown += 1
                }
            }
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    static func hex(_ v: UInt64) -> String { String(v, radix: 16) }

    /// Field-by-field differences of two hart states.
    static func diff(_ a: HartState, _ b: HartState) -> [String] {
        var lines: [String] = []
        for r in 0..<32 where a.x[r] != b.x[r] { lines.append("x\(r): interpreter 0x\(hex(a.x[r])), translator 0x\(hex(b.x[r]))") }
        for r in 0..<32 where a.f[r] != b.f[r] { lines.append("f\(r): interpreter 0x\(hex(a.f[r])), translator 0x\(hex(b.f[r]))") }
        for (ca, cb) in zip(Mirror(reflecting: a).children, Mirror(reflecting: b).children) {
            guard let label = ca.label, label != "x", label != "f" else { continue }
            let va = "\(ca.value)", vb = "\(cb.value)"
            if va != vb {
                let show = { (v: Any, s: String) in (v as? UInt64).map { "0x" + hex($0) } ?? s }
                lines.append("\(label): interpreter \(show(ca.value, va)), translator \(show(cb.value, vb))")
            }
        }
        return lines
    }

    /// Traps the program's handlers recorded (M, S).
    var trapsRecorded: (UInt64, UInt64) {
        let m = (try? interpreter.memory.load(UInt64.self, at: GuestPhysicalAddress(M.log + 16))) ?? 0
        let s = (try? interpreter.memory.load(UInt64.self, at: GuestPhysicalAddress(M.log + 80))) ?? 0
        return (m, s)
    }
}

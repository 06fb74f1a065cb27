// SMPTests: several harts on one board, each on its own thread: AMOs, LR/SC and a spinlock keep
// exact totals across harts, CLINT software interrupts wake other harts, the builtin SBI brings
// secondaries up and down through HSM with IPIs and remote fences, and everything prints what
// QEMU prints for the same binaries (-smp N).
import Foundation
import Machine
@testable import RISCV
import RISCVBoard
import RISCVTranslator
import Testing

@Suite struct SMPTests {
    /// The summary lines of smp.c (all but the banner lines firmware may print).
    static func lines(_ console: String, from first: String) -> [String] {
        let all = console.replacingOccurrences(of: "\r", with: "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = all.firstIndex(where: { $0.hasPrefix(first) }) else { return [] }
        return Array(all[start...]).filter { !$0.isEmpty }
    }

    @Test("AMOs, LR/SC and a spinlock keep exact totals on 1, 2 and 4 harts; CLINT IPIs wake the others",
          arguments: GuestPrograms.engines, [1, 2, 4])
    func atomicsAcrossHarts(_ engine: CPUEngine, harts: Int) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let r = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf("smp"), engine: engine, timeout: 120, harts: harts)
        let got = Self.lines(r.console, from: "harts")
        #expect(got == [
            "harts \(harts)", "amoadd.d ok", "amoadd.w ok", "lr/sc.d ok", "lr/sc.w ok", "spinlock ok",
            "amomax.d \(harts * 20000 - 1)", "ipis answered \(harts - 1)",
        ], "\(r.console)")
        #expect(r.outcome == .powerOff(0))
        // Every hart ran guest code.
        for h in r.board.harts { #expect(h.instructionsRetired > 20000 * 5) }
    }

    @Test("the same program prints the same on QEMU -smp 4", arguments: GuestPrograms.engines)
    func atomicsMatchQEMU(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        guard let (out, status) = try GuestPrograms.runOnQEMU("smp", smp: 4) else {
            print("skipping: qemu-system-riscv64 not installed"); return
        }
        let ours = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf("smp"), engine: engine, timeout: 120, harts: 4)
        #expect(Self.lines(ours.console, from: "harts") == Self.lines(out, from: "harts"))
        #expect(status == 0)
    }

    static let hsmExpected = [
        "harts 3", "boot hart status 0",
        "other hart status 1", "start error 0", "other hart status 1", "start error 0",
        "starting a started hart: already available", "status of hart 99: invalid param",
        "started 2", "ipi error 0", "answered 2", "other hart stopped", "other hart stopped",
        "remote fence.i error 0", "remote sfence.vma error 0",
    ]

    @Test("builtin SBI: HSM start, IPIs, hart_stop and remote fences across 3 harts", arguments: GuestPrograms.engines)
    func builtinHSM(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let r = try GuestPrograms.run(firmware: .builtin, kernel: try GuestPrograms.elf("smp-sbi"), engine: engine, timeout: 60, harts: 3)
        #expect(Self.lines(r.console, from: "harts") == Self.hsmExpected, "\(r.console)")
        #expect(r.outcome == .powerOff(0))
        #expect(r.board.harts.map(\.hsmState).filter { $0 == .stopped }.count == 2)
    }

    @Test("OpenSBI on Switchboard and on QEMU bring up the same 3 harts", arguments: GuestPrograms.engines)
    func openSBIHSM(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        guard FileManager.default.fileExists(atPath: BootTests.openSBI) else { print("skipping: no OpenSBI"); return }
        let fw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: BootTests.openSBI)))
        let r = try GuestPrograms.run(firmware: .elf(fw), kernel: try GuestPrograms.elf("smp-sbi"), engine: engine, timeout: 60, harts: 3)
        #expect(Self.lines(r.console, from: "harts") == Self.hsmExpected, "\(r.console)")
        #expect(r.outcome == .powerOff(0))
        guard let (out, status) = try GuestPrograms.runOnQEMU("smp-sbi", bios: BootTests.openSBI, smp: 3) else {
            print("skipping: qemu-system-riscv64 not installed"); return
        }
        #expect(Self.lines(out, from: "harts") == Self.hsmExpected)
        #expect(status == 0)
    }

    @Test("a power off from any hart ends every hart's run")
    func powerOffFromAnyHart() throws {
        let board = try VirtBoard(memoryMiB: 16, harts: 2) { _ in }
        board.group.requestOutcome(.powerOff(code: 7))
        #expect(board.run(vcpu: 1, budget: 1000) == .powerOff(code: 7))
        #expect(board.run(vcpu: 0, budget: 1000) == .powerOff(code: 7))
    }

    @Test("every hart's state travels in the board state, and a state for other hart counts is refused", arguments: GuestPrograms.engines)
    func stateCoversEveryHart(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let a = try GuestPrograms.board(memoryMiB: 128, harts: 3, engine: engine)
        try a.boot(firmware: .builtin, kernel: try GuestPrograms.elf("smp-sbi"))
        #expect(a.run(vcpu: 0, budget: 200_000) == .continue)
        let state = try a.saveState()
        let decoded = try VirtBoardState(state)
        #expect(decoded.harts.count == 3)
        #expect(decoded.harts[1].runState != .started || decoded.harts[1].pc != 0)
        let b = try GuestPrograms.board(memoryMiB: 128, harts: 3, engine: engine)
        try b.restoreState(state)
        #expect(b.saveVirtState().harts == decoded.harts)
        let c = try VirtBoard(memoryMiB: 128, harts: 2) { _ in }
        #expect(throws: BoardError.self) { try c.restoreState(state) }
    }
}

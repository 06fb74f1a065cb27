// Save and restore: a guest stopped mid-run, its hart/CLINT state sent through JSON and its RAM
// copied, continues on a second board and finishes exactly as an uninterrupted run.
import Foundation
import Testing
import Machine
@testable import RISCV
import RISCVBoard
import RISCVTranslator

@Suite("State save and restore")
struct StateTests {
    @Test(arguments: GuestPrograms.engines)
    func resumeOnAnotherBoard(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let elf = try GuestPrograms.elf("bench")
        let reference = try GuestPrograms.run(firmware: .none, kernel: elf, engine: engine)

        final class Sink: @unchecked Sendable { var bytes: [UInt8] = [] }
        let out = Sink()
        let a = try GuestPrograms.board(memoryMiB: 64, engine: engine) { out.bytes.append($0) }
        try a.boot(firmware: .none, kernel: elf)
        #expect(a.hart.run(budget: 10_000_000) == .continue)

        let hartJSON = try JSONEncoder().encode(a.hart.saveState())
        let clintJSON = try JSONEncoder().encode(a.clint.saveState())
        let uartJSON = try JSONEncoder().encode(a.uart.saveState())
        let ram = try a.memory.read(at: GuestPhysicalAddress(VirtBoard.ramBase), count: 64 << 20)

        let b = try GuestPrograms.board(memoryMiB: 64, engine: engine) { out.bytes.append($0) }
        try b.memory.write(ram, at: GuestPhysicalAddress(VirtBoard.ramBase))
        try b.hart.restoreState(JSONDecoder().decode(HartState.self, from: hartJSON))
        b.clint.restoreState(try JSONDecoder().decode(CLINTState.self, from: clintJSON))
        b.uart.restoreState(try JSONDecoder().decode(UARTState.self, from: uartJSON))
        #expect(b.hart.pc == a.hart.pc)
        #expect(b.run(timeout: 60) == .powerOff(0))
        #expect(String(decoding: out.bytes, as: UTF8.self) == reference.console)
        #expect(b.hart.instructionsRetired == reference.instructions)
    }

    @Test func rejectsMalformedState() throws {
        let board = try VirtBoard(memoryMiB: 16) { _ in }
        var s = HartState()
        s.x = [1, 2, 3]
        #expect(throws: HartError.self) { try board.hart.restoreState(s) }
        s = HartState()
        s.pc = 0x8000_0001
        #expect(throws: HartError.self) { try board.hart.restoreState(s) }
    }
}

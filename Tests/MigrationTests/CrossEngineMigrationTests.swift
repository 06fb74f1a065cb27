// A VM moves between the two CPU engines: from the interpreter to the binary translator and
// back, while its guest dirties memory. Both engines run the same hart state and nothing of
// the translator is migrated, so the destination's RAM and device state must equal the
// source's at commit, and the guest must go on running on the other engine.

import Foundation
import Frames
import Migration
import RISCV
import RISCVBoard
import RISCVTranslator
import Switching
import Testing
import VMHost

struct CrossEngineMigrationTests {
    static func configuration(_ engine: CPUEngine) -> VMConfiguration {
        var config = Guests.configuration("dirtier", mac: nil, bootargs: "", elf: Guests.dirtier)
        var board = VirtBoardSpec(firmware: .none, kernel: Guests.dirtier, bootargs: "")
        board.engine = engine
        config.board = board
        return config
    }

    /// The translating engine of a VM's first hart, if it runs on one.
    static func translator(of vm: VirtualMachine) -> TranslatingEngine? {
        (vm.board as? VirtBoard)?.harts.first?.engine as? TranslatingEngine
    }

    @Test("a memory-dirtying guest migrates interpreter -> translator -> interpreter, identical at each commit")
    func interpreterToTranslatorAndBack() throws {
        let pool = PacketPool(capacity: 64)
        let a = try VirtualMachine(Self.configuration(.interpret), pool: pool)
        #expect(Self.translator(of: a) == nil)
        a.start()
        defer { a.stop() }
        Thread.sleep(forTimeInterval: 0.2)
        var options = MigrationOptions()
        options.maxRounds = 3
        options.stopWhenNotConverging = false
        options.downtimeBudget = -1

        func hop(from source: VirtualMachine, to engine: CPUEngine) throws -> (IncomingMigration, Bool) {
            let listener = try MigrationListener()
            defer { listener.close() }
            let identical = Cell(false)
            var hooks = MigrationDestinationHooks(pool: pool) { _ in Self.configuration(engine) }
            hooks.activate = { vm, _ in
                identical.value = Guests.sameRAM(source, vm) && Guests.sameState(source, vm)
            }
            let hooksBox = UnsafeTransfer(value: hooks)
            let destination = Background { () -> Result<IncomingMigration, MigrationError> in
                Result { () throws(MigrationError) in try listener.receive(hooks: hooksBox.value) }
            }
            _ = try migrate(vm: source, to: "127.0.0.1", port: listener.port, options: options)
            return (try destination.wait().get(), identical.value)
        }

        let (there, identical) = try hop(from: a, to: .translate)
        defer { there.vm.stop() }
        #expect(identical, "RAM or device state differs between the interpreter's VM and the translator's")
        let engine = try #require(Self.translator(of: there.vm), "the destination runs on the translator")
        #expect(Guests.progress(of: there.vm, over: 0.3) > 0)
        #expect(engine.statistics.translatedInstructions > 0, "the guest ran translated code after the move")

        let (back, identicalBack) = try hop(from: there.vm, to: .interpret)
        defer { back.vm.stop() }
        #expect(identicalBack, "RAM or device state differs between the translator's VM and the interpreter's")
        #expect(Self.translator(of: back.vm) == nil)
        #expect(Guests.progress(of: back.vm, over: 0.2) > 0)
    }
}

import Testing
import Machine
@testable import RISCV
import RISCVBoard

@Suite struct PLICTests {
    let enable0: UInt64 = 0x2000, enable1: UInt64 = 0x2080
    let claim0: UInt64 = 0x20_0004, claim1: UInt64 = 0x20_1004

    @Test func levelSourcesClaimAndComplete() {
        let plic = PLIC()
        let line = plic.line(3)
        plic.write(offset: 4 * 3, size: 4, value: 5)       // priority 5
        line.set(true)
        #expect(plic.outputs == 0, "not enabled yet")
        #expect(plic.read(offset: 0x1000, size: 4) == 1 << 3, "but pending")
        plic.write(offset: enable0, size: 4, value: 1 << 3)
        #expect(plic.outputs == CSRBits.meip)
        #expect(plic.read(offset: claim0, size: 4) == 3)
        #expect(plic.outputs == 0 && plic.read(offset: claim0, size: 4) == 0, "claimed: no longer pending")
        plic.write(offset: claim0, size: 4, value: 3)       // complete while still high
        #expect(plic.outputs == CSRBits.meip, "a level source still high pends again")
        _ = plic.read(offset: claim0, size: 4)
        line.set(false)
        plic.write(offset: claim0, size: 4, value: 3)
        #expect(plic.outputs == 0)
    }

    @Test func thresholdPriorityAndContexts() {
        let plic = PLIC()
        plic.write(offset: 4 * 1, size: 4, value: 1)
        plic.write(offset: 4 * 2, size: 4, value: 6)
        plic.write(offset: enable1, size: 4, value: 0b110)  // S-mode context
        plic.line(1).set(true)
        plic.line(2).set(true)
        #expect(plic.outputs == CSRBits.seip)
        plic.write(offset: 0x20_1000, size: 4, value: 6)   // threshold 6 masks both
        #expect(plic.outputs == 0)
        plic.write(offset: 0x20_1000, size: 4, value: 0)
        #expect(plic.read(offset: claim1, size: 4) == 2, "highest priority first")
        #expect(plic.read(offset: claim1, size: 4) == 1)
        #expect(plic.read(offset: claim0, size: 4) == 0, "M context has nothing enabled")
    }

    @Test func sourceZeroCannotBeEnabledAndStateRoundTrips() throws {
        let plic = PLIC()
        plic.write(offset: enable0, size: 4, value: 0xFFFF_FFFF)
        #expect(plic.read(offset: enable0, size: 4) == 0xFFFF_FFFE)
        plic.write(offset: 4 * 7, size: 4, value: 3)
        plic.line(7).set(true)
        let copy = PLIC()
        try copy.restore(plic.saveState())
        #expect(copy.saveState() == plic.saveState() && copy.outputs == CSRBits.meip)
        var bad = plic.saveState()
        bad.priority.removeLast()
        #expect(throws: BoardError.self) { try copy.restore(bad) }
    }

    @Test func boardListsThePLICAndEverySlot() throws {
        let board = try VirtBoard(memoryMiB: 16) { _ in }
        let tree = board.makeDeviceTree(bootargs: "")
        let text = String(decoding: tree, as: UTF8.self)
        #expect(text.contains("plic@c000000") && text.contains("virtio_mmio@10001000") && text.contains("virtio_mmio@10008000"))
        // An empty slot answers like QEMU's: magic, version 2, device 0.
        #expect(board.bus.read(GuestPhysicalAddress(0x1000_1000), size: 4) == 0x7472_6976)
        #expect(board.bus.read(GuestPhysicalAddress(0x1000_1004), size: 4) == 2)
        #expect(board.bus.read(GuestPhysicalAddress(0x1000_1008), size: 4) == 0)
        #expect(throws: BoardError.self) { _ = try board.attachVirtio(VirtioSlot(), slot: 8) }
    }
}

// VirtBoard+Board: the `virt` board as the VMM core's `Board`, built from a `VirtBoardSpec`
// (firmware, kernel, initrd, boot arguments, harts); its saved state holds every hart, the
// CLINT, the UART and the PLIC.

import Foundation
import Machine
import RISCV
import RISCVTranslator

/// What a `virt` board boots: firmware, kernel, initrd, boot arguments, and how many harts.
public struct VirtBoardSpec: BoardSpec, Equatable {
    /// The firmware mode (an M-mode ELF, the builtin SBI, or none).
    public var firmware: VirtBoard.Firmware
    /// The kernel image (ELF or RISC-V Linux Image), if any.
    public var kernel: [UInt8]?
    /// The kernel command line (`/chosen/bootargs`).
    public var bootargs: String
    /// An initramfs loaded high in RAM (its range in `/chosen`), if any.
    public var initrd: [UInt8]?
    /// Harts (1-8).
    public var cpus: Int
    /// The engine the harts run on. Not part of `identity`: a VM may migrate between
    /// engines, since both run the same hart state.
    public var engine: CPUEngine = .hostDefault

    /// A spec booting `kernel` under `firmware` with `bootargs`.
    public init(firmware: VirtBoard.Firmware, kernel: [UInt8]?, bootargs: String = "", initrd: [UInt8]? = nil, cpus: Int = 1) {
        self.firmware = firmware
        self.kernel = kernel
        self.bootargs = bootargs
        self.initrd = initrd
        self.cpus = cpus
    }

    public func makeBoard(memoryMiB: Int, console: @escaping (UInt8) -> Void) throws -> any Board {
        let board = try VirtBoard(memoryMiB: memoryMiB, harts: cpus, console: console)
        try engine.install(on: board.harts)
        board.spec = self
        return board
    }

    public var identity: KeyValuePairs<String, String> {
        let firmwareName: String
        switch firmware {
        case .elf(let bytes): firmwareName = "elf \(Self.checksum(bytes))"
        case .builtin: firmwareName = "builtin"
        case .none: firmwareName = "none"
        }
        return ["board": "riscv-virt", "firmware": firmwareName,
                "kernel": kernel.map { Self.checksum($0) } ?? "none", "bootargs": bootargs,
                "initrd": initrd.map { Self.checksum($0) } ?? "none", "cpus": String(cpus)]
    }

    /// FNV-1a 64 of an image, in hex (enough to tell two images apart; not a security check).
    static func checksum(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return String(h, radix: 16)
    }
}

/// The saved state of a `virt` board (everything but RAM and the virtio devices).
public struct VirtBoardState: Codable, Sendable, Equatable {
    /// The harts, by hart id.
    public var harts: [HartState]
    /// The boot hart's state (tests and tools look at it).
    public var hart: HartState { harts[0] }
    /// The CLINT.
    public var clint: CLINTState
    /// The UART.
    public var uart: UARTState
    /// The PLIC.
    public var plic: PLICState
}

extension VirtBoard: Board {
    /// The kind written into saved states.
    public static let stateKind = "riscv-virt/2"

    public func boot() throws {
        guard let spec else { throw BoardError.badConfiguration("the board was not built from a spec") }
        try boot(firmware: spec.firmware, kernel: spec.kernel, bootargs: spec.bootargs, initrd: spec.initrd)
    }

    public var vcpuCount: Int { harts.count }
    public func run(vcpu: Int, budget: Int) -> VCPURunResult { harts[vcpu].run(budget: budget) }
    public func requestExit() { for h in harts { h.requestExit() } }
    public func typeOnConsole(_ bytes: [UInt8]) { uart.feed(bytes) }
    public var instructionsRetired: UInt64 { harts.reduce(0) { $0 &+ $1.instructionsRetired } }
    public func instructionsRetired(vcpu: Int) -> UInt64 { harts[vcpu].instructionsRetired }
    public var exitStatistics: ExitStatistics {
        var total = ExitStatistics()
        for h in harts { total.add(h.exitStatistics) }
        return total
    }
    public func exitStatistics(vcpu: Int) -> ExitStatistics { harts[vcpu].exitStatistics }
    public var consoleInputPending: Int { uart.pendingInputCount }

    /// The parts' state, unencoded.
    public func saveVirtState() -> VirtBoardState {
        VirtBoardState(harts: harts.map { $0.saveState() }, clint: clint.saveState(), uart: uart.saveState(), plic: plic.saveState())
    }

    public func saveState() throws -> BoardState { try saveVirtState().boardState() }

    public func restoreState(_ state: BoardState) throws {
        let s = try VirtBoardState(state)
        guard s.harts.count == harts.count else {
            throw BoardError.badConfiguration("state of \(s.harts.count) harts for a board of \(harts.count)")
        }
        try clint.validate(s.clint)
        let before = saveVirtState()
        do {
            for (h, hs) in zip(harts, s.harts) { try h.restoreState(hs) }
            try plic.restore(s.plic)
        } catch {
            // Put back what was installed; the old state passed these checks before.
            for (h, hs) in zip(harts, before.harts) { try? h.restoreState(hs) }
            try? plic.restore(before.plic)
            throw error
        }
        group.clearOutcome()
        clint.restoreState(s.clint)
        uart.restoreState(s.uart)
    }
}

extension VirtBoardState {
    /// Reads a `virt` board's state out of a `BoardState` (tests and tools look inside).
    public init(_ state: BoardState) throws {
        guard state.kind == VirtBoard.stateKind else {
            throw BoardError.badConfiguration("board state of kind \(state.kind), not \(VirtBoard.stateKind)")
        }
        self = try BinaryStateCoder.decode(VirtBoardState.self, from: [UInt8](state.data))
    }

    /// This state as a `BoardState`.
    public func boardState() throws -> BoardState {
        BoardState(kind: VirtBoard.stateKind, data: Data(try BinaryStateCoder.encode(self)))
    }
}

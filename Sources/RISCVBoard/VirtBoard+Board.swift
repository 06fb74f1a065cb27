// VirtBoard+Board: the `virt` board as the VMM core's `Board`, built from a `VirtBoardSpec`
// (firmware, kernel, boot arguments); its saved state holds the hart, the CLINT, the UART and
// the PLIC.

import Foundation
import Machine
import RISCV

/// What a `virt` board boots: firmware, kernel and boot arguments.
public struct VirtBoardSpec: BoardSpec, Equatable {
    /// The firmware mode (an M-mode ELF, the builtin SBI, or none).
    public var firmware: VirtBoard.Firmware
    /// The kernel image, if any.
    public var kernel: [UInt8]?
    /// The kernel command line (`/chosen/bootargs`).
    public var bootargs: String

    /// A spec booting `kernel` under `firmware` with `bootargs`.
    public init(firmware: VirtBoard.Firmware, kernel: [UInt8]?, bootargs: String = "") {
        self.firmware = firmware
        self.kernel = kernel
        self.bootargs = bootargs
    }

    public func makeBoard(memoryMiB: Int, console: @escaping (UInt8) -> Void) throws -> any Board {
        let board = try VirtBoard(memoryMiB: memoryMiB, console: console)
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
                "kernel": kernel.map { Self.checksum($0) } ?? "none", "bootargs": bootargs]
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
    /// The hart.
    public var hart: HartState
    /// The CLINT.
    public var clint: CLINTState
    /// The UART.
    public var uart: UARTState
    /// The PLIC.
    public var plic: PLICState
}

extension VirtBoard: Board {
    /// The kind written into saved states.
    public static let stateKind = "riscv-virt/1"

    public func boot() throws {
        guard let spec else { throw BoardError.badConfiguration("the board was not built from a spec") }
        try boot(firmware: spec.firmware, kernel: spec.kernel, bootargs: spec.bootargs)
    }

    public func run(budget: Int) -> VCPURunResult { hart.run(budget: budget) }
    public func requestExit() { hart.requestExit() }
    public func typeOnConsole(_ bytes: [UInt8]) { uart.feed(bytes) }
    public var consoleInputPending: Int { uart.input.count - uart.inputHead }
    public var instructionsRetired: UInt64 { hart.instructionsRetired }
    public var exitStatistics: ExitStatistics { hart.exitStatistics }

    /// The parts' state, unencoded.
    public func saveVirtState() -> VirtBoardState {
        VirtBoardState(hart: hart.saveState(), clint: clint.saveState(), uart: uart.saveState(), plic: plic.saveState())
    }

    public func saveState() throws -> BoardState { try saveVirtState().boardState() }

    public func restoreState(_ state: BoardState) throws {
        let s = try VirtBoardState(state)
        let before = saveVirtState()
        do {
            try hart.restoreState(s.hart)
            try plic.restore(s.plic)
        } catch {
            // Put back what was installed; the old state passed these checks before.
            try? hart.restoreState(before.hart)
            try? plic.restore(before.plic)
            throw error
        }
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

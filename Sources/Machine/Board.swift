// Board: the machine a VM runs on, as the VMM core sees it, whatever executes the guest (the
// software RISC-V CPU on the `virt` board today; a binary translator shares that board; a KVM
// board would be another). VMHost builds every VM on a `Board` made from a `BoardSpec` and
// never names a CPU, an interrupt controller or a device tree.

import Foundation

/// A machine that VMs run on: guest RAM, slots for virtio-mmio devices, a console, the vCPU
/// loop, reset, and the saved state of everything but RAM and the devices VMHost attached.
public protocol Board: AnyObject {
    /// Guest-physical RAM.
    var memory: GuestMemory { get }
    /// Puts `device` in virtio-mmio slot `slot`; returns the interrupt line it raises.
    func attachVirtio(_ device: any MMIODevice, slot: Int) throws -> any InterruptLine
    /// Loads the boot images and readies the boot vCPU (after the devices are attached).
    func boot() throws
    /// A system reset: devices and vCPUs back to power-on state, the images loaded again.
    func reboot() throws
    /// The number of vCPUs (each runs on its own host thread: `VCPUThreads`).
    var vcpuCount: Int { get }
    /// Runs vCPU `vcpu`'s guest code for up to `budget` instructions, on that vCPU's thread. A
    /// machine-wide outcome (power off, reset) is returned by every vCPU's `run`.
    func run(vcpu: Int, budget: Int) -> VCPURunResult
    /// Asks every vCPU's `run` in progress to return soon; safe from any thread.
    func requestExit()
    /// Bytes typed on the guest's console (its UART's receive side).
    func typeOnConsole(_ bytes: [UInt8])
    /// Bytes typed on the console that the guest has not read yet (on the vCPU thread): the
    /// host holds further input back while this is high.
    var consoleInputPending: Int { get }
    /// Instructions retired so far, over every vCPU.
    var instructionsRetired: UInt64 { get }
    /// Instructions retired so far by one vCPU (read on that vCPU's thread, or while it is parked).
    func instructionsRetired(vcpu: Int) -> UInt64
    /// VMM exits so far by reason, over every vCPU.
    var exitStatistics: ExitStatistics { get }
    /// VMM exits so far by reason, of one vCPU.
    func exitStatistics(vcpu: Int) -> ExitStatistics
    /// The state of the vCPUs and the board's own devices (paused board only).
    func saveState() throws -> BoardState
    /// Installs a state from `saveState` of an identically built board; validates everything
    /// first and changes nothing when it throws.
    func restoreState(_ state: BoardState) throws
}

extension Board {
    /// Runs vCPU 0 (single-vCPU tools and tests).
    public func run(budget: Int) -> VCPURunResult { run(vcpu: 0, budget: budget) }
}

/// What a VM's board is built from (its boot images and parameters); the board module
/// provides the concrete kind (RISCVBoard's `VirtBoardSpec`).
public protocol BoardSpec: Sendable {
    /// Builds the board with `memoryMiB` of RAM, its console's output going to `console`.
    func makeBoard(memoryMiB: Int, console: @escaping (UInt8) -> Void) throws -> any Board
    /// What must be equal on both sides of a migration, by name (kind, firmware and kernel
    /// checksums, boot arguments ...), in a stable order.
    var identity: KeyValuePairs<String, String> { get }
}

/// A board's saved state: its kind and the state of its parts in the binary state form
/// (`BinaryStateCoder`), opaque to everything but the board that made it.
public struct BoardState: Codable, Sendable, Equatable {
    /// The board kind that wrote it (a board refuses another kind's state).
    public var kind: String
    /// The encoded state.
    public var data: Data

    /// A state of board kind `kind`.
    public init(kind: String, data: Data) {
        self.kind = kind
        self.data = data
    }
}

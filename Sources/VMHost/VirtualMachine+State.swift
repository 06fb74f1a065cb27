// VirtualMachine+State: the whole VM's saved state (the board's: vCPUs and platform devices;
// every virtio transport and device) as one Codable `VMState`, and its validating restore. Guest RAM is
// not part of it: snapshots and live migration move RAM separately.

import Foundation
import Machine
import Virtio

/// Everything but RAM needed to resume a paused VM on an identically built machine.
public struct VMState: Codable, Sendable, Equatable {
    /// The state format; `restore` refuses others.
    public static let currentVersion = 2

    /// One virtio slot: the transport and, for its kind, the device's own state.
    public struct Slot: Codable, Sendable, Equatable {
        public var transport: VirtioTransportState
        public var net: VirtioNetState?
        public var block: VirtioBlockState?
    }

    public var version: Int
    /// The VM name it was saved from (informational).
    public var name: String
    /// The board's own state (vCPUs, interrupt controllers, console UART), opaque here.
    public var board: BoardState
    /// Virtio slots in board order: NICs first, then disks.
    public var slots: [Slot]
    /// The console and what was parsed from it (absent in states saved before it existed).
    public var console: ConsoleState?
}

/// Why a `VMState` cannot be taken or installed.
public enum VMStateError: Error, CustomStringConvertible, Equatable {
    /// The vCPU is still running (pause it first).
    case notPaused
    /// The state does not fit this machine; nothing was changed.
    case invalid(String)

    public var description: String {
        switch self {
        case .notPaused: return "the VM must be paused (or not started) to save or restore its state"
        case .invalid(let m): return "invalid VM state: \(m)"
        }
    }
}

extension VirtualMachine {
    /// The virtio-net transports, in NIC order.
    var netTransports: [VirtioMMIOTransport<VirtioNet>] {
        transports.compactMap { $0 as? VirtioMMIOTransport<VirtioNet> }
    }

    /// Captures the VM's state. The vCPU must be paused (or never started): the state is
    /// read while nothing but the datapath (which takes the device locks) touches the VM.
    public func saveState() throws(VMStateError) -> VMState {
        guard isPaused || state != .running else { throw .notPaused }
        var slots: [VMState.Slot] = []
        for t in transports {
            if let n = t as? VirtioMMIOTransport<VirtioNet> {
                slots.append(.init(transport: n.saveState(), net: n.device.saveState(), block: nil))
            } else if let b = t as? VirtioMMIOTransport<VirtioBlock> {
                slots.append(.init(transport: b.saveState(), net: nil, block: b.device.saveState()))
            }
        }
        let boardState: BoardState
        do { boardState = try board.saveState() } catch { throw .invalid("board: \(error)") }
        return VMState(version: VMState.currentVersion, name: name, board: boardState, slots: slots, console: saveConsoleState())
    }

    /// Installs `s` into this (paused or never started) VM after its RAM has been filled.
    /// Everything is checked first; when any part is refused, the parts already installed are
    /// put back as they were, so a throw leaves the VM unchanged. `onDatapath` runs its
    /// argument on the thread that owns the packet pool (virtio-net copies waiting frames into
    /// it); pass `{ $0() }` when no datapath runs.
    public func restore(_ s: VMState, onDatapath: (() -> Void) -> Void = { $0() }) throws(VMStateError) {
        guard isPaused || state != .running else { throw .notPaused }
        guard s.version == VMState.currentVersion else { throw .invalid("state version \(s.version), expected \(VMState.currentVersion)") }
        guard s.slots.count == transports.count else {
            throw .invalid("\(s.slots.count) virtio slots saved, this VM has \(transports.count)")
        }
        for (i, (slot, t)) in zip(s.slots, transports).enumerated() {
            let isNet = t is VirtioMMIOTransport<VirtioNet>
            guard isNet ? slot.net != nil && slot.block == nil : slot.block != nil && slot.net == nil else {
                throw .invalid("slot \(i) holds a different kind of device")
            }
        }
        let before: VMState
        do { before = try saveState() } catch { throw error }
        // The console goes first: it changes nothing when it refuses.
        if let console = s.console { try restoreConsoleState(console) }
        var failure: String?
        do {
            try board.restoreState(s.board)
            for (slot, t) in zip(s.slots, transports) {
                if let n = t as? VirtioMMIOTransport<VirtioNet>, let net = slot.net {
                    try n.restore(slot.transport)
                    var netError: String?
                    onDatapath {
                        do { try n.device.restore(net) } catch { netError = "\(error)" }
                    }
                    if let netError { throw VMStateError.invalid(netError) }
                } else if let b = t as? VirtioMMIOTransport<VirtioBlock>, let block = slot.block {
                    try b.restore(slot.transport)
                    try b.device.restore(block)
                }
            }
        } catch {
            failure = "\(error)"
        }
        if let failure {
            // Put back what was installed; the old state passed these checks before.
            try? board.restoreState(before.board)
            for (slot, t) in zip(before.slots, transports) {
                if let n = t as? VirtioMMIOTransport<VirtioNet>, let net = slot.net {
                    try? n.restore(slot.transport)
                    onDatapath { try? n.device.restore(net) }
                } else if let b = t as? VirtioMMIOTransport<VirtioBlock>, let block = slot.block {
                    try? b.restore(slot.transport)
                    try? b.device.restore(block)
                }
            }
            if let console = before.console { try? restoreConsoleState(console) }
            throw .invalid(failure)
        }
    }
}

extension VirtualMachine {
    /// The virtio-blk devices, in disk order.
    var blockDevices: [VirtioBlock] {
        transports.compactMap { ($0 as? VirtioMMIOTransport<VirtioBlock>)?.device }
    }

    /// Makes every disk's writes durable (the source of a migration, paused, before it hands
    /// the disks over).
    public func flushDisks() throws(VMStateError) {
        for (i, block) in blockDevices.enumerated() {
            do { try block.disk.flush() } catch { throw .invalid("disk \(i): \(error)") }
        }
    }

    /// Gives up every disk image's lock; the images stay open (the source of a migration,
    /// paused and flushed, before the destination takes the shared images over).
    public func releaseDiskLocks() {
        for block in blockDevices { block.disk.releaseLock() }
    }

    /// Takes every disk image's lock again (the source of a migration that failed after
    /// `releaseDiskLocks`); throws naming the disk while another open holds a conflicting lock.
    public func acquireDiskLocks() throws(VMStateError) {
        for (i, block) in blockDevices.enumerated() {
            do { try block.disk.acquireLock() } catch { throw .invalid("disk \(i): \(error)") }
        }
    }

    /// Opens every writable disk image again and serves from the new opening (the destination
    /// of a migration, before it runs: the source wrote to the shared images after they were
    /// first opened here), now holding its write lock (the source released its own after the
    /// flush). Paused or never-started VMs only; on failure nothing is replaced.
    public func reopenDisks() throws(VMStateError) {
        guard isPaused || state != .running else { throw .notPaused }
        var fresh: [(VirtioBlock, any DiskBackend)] = []
        for (disk, block) in zip(configuration.disks, blockDevices) where !disk.readOnly {
            var c = disk
            c.base = nil  // never create: the image exists
            do { fresh.append((block, try Self.openDisk(c, vm: name))) } catch { throw .invalid("\(error)") }
        }
        for (block, backend) in fresh {
            do { try block.replaceDisk(backend) } catch { throw .invalid("\(error)") }
        }
    }
}

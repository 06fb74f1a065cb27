// MigrationDescription: the machine description sent first, enough for the destination to
// build an identical paused machine from its own configuration and to refuse one that differs.

import Frames
import VMHost

/// The hello payload: what the destination's machine must match.
public struct MigrationDescription: Codable, Sendable, Equatable {
    /// A disk as both sides must see it (shared storage: the same path).
    public struct Disk: Codable, Sendable, Equatable {
        public var path: String
        public var qcow2: Bool
        public var readOnly: Bool
    }

    /// Wire format version of the sender.
    public var formatVersion: Int
    /// VM name.
    public var name: String
    /// RAM size.
    public var memoryMiB: Int
    /// Number of 4 KiB RAM pages.
    public var pageCount: Int
    /// The board's identity (`BoardSpec.identity`: its kind, firmware and kernel checksums,
    /// boot arguments), in order: images are reloaded on a reset, so they must match.
    public var board: [BoardPart]
    /// NIC MAC addresses, in slot order.
    public var nicMACs: [String]
    public var disks: [Disk]
    /// A unique id of this migration (the source's `MigrationOutcomes` key).
    public var id: String?
    /// Where the source's listener answers `resolve` ("host:port"), when it runs one.
    public var resolveAddress: String?

    /// The description of `vm`.
    public init(of vm: VirtualMachine) {
        let c = vm.configuration
        formatVersion = Int(MigrationWire.version)
        name = c.name
        memoryMiB = c.memoryMiB
        pageCount = vm.board.memory.pageCount
        board = c.board.identity.map { BoardPart(name: $0.key, value: $0.value) }
        nicMACs = c.nicMACs.map { "\($0)" }
        disks = c.disks.map { Disk(path: $0.path, qcow2: $0.qcow2, readOnly: $0.readOnly) }
        id = nil
        resolveAddress = nil
    }

    /// Why a machine built from `other` could not take this VM, or nil when it can.
    public func incompatibility(with other: MigrationDescription) -> String? {
        if other.formatVersion != formatVersion { return "format version \(formatVersion), destination speaks \(other.formatVersion)" }
        if other.memoryMiB != memoryMiB || other.pageCount != pageCount {
            return "memory size differs: source \(memoryMiB) MiB, destination \(other.memoryMiB) MiB"
        }
        if other.nicMACs != nicMACs { return "NICs differ: source \(nicMACs), destination \(other.nicMACs)" }
        if other.disks != disks { return "disks differ: source \(disks.map(\.path)), destination \(other.disks.map(\.path))" }
        if other.board != board {
            for part in board where !other.board.contains(part) {
                let theirs = other.board.first { $0.name == part.name }?.value ?? "absent"
                return "\(part.name) differs: source \(part.value), destination \(theirs)"
            }
            return "the boards differ: source \(board.map(\.name)), destination \(other.board.map(\.name))"
        }
        return nil
    }

    /// One named part of a board's identity.
    public struct BoardPart: Codable, Sendable, Equatable {
        /// What it names ("board", "firmware", "kernel", "bootargs", ...).
        public var name: String
        /// Its value (a kind, a checksum, the boot arguments).
        public var value: String
    }
}

// MigrationDescription: the machine description sent first, enough for the destination to
// build an identical paused machine from its own configuration and to refuse one that differs.

import Frames
import VMHost

/// The hello payload: what the destination's machine must match.
public struct MigrationDescription: Codable, Sendable, Equatable {
    /// A guest RAM region (guest-physical base and size in bytes).
    public struct RAMRegion: Codable, Sendable, Equatable {
        public var base: UInt64
        public var size: UInt64
    }

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
    /// The RAM regions, by address (nil from a sender that did not send them). The pages of
    /// the wire are global indices over these, so both sides must lay RAM out alike.
    public var ramRegions: [RAMRegion]?
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
    /// The writable disks the source copies (`--with-disks`; nil: shared storage, same paths).
    public var diskCopy: [DiskCopyInfo]?

    /// The description of `vm`.
    public init(of vm: VirtualMachine) {
        let c = vm.configuration
        formatVersion = Int(MigrationWire.version)
        name = c.name
        memoryMiB = c.memoryMiB
        pageCount = vm.board.memory.pageCount
        ramRegions = vm.board.memory.regions.map { RAMRegion(base: $0.base.raw, size: $0.size) }
        board = c.board.identity.map { BoardPart(name: $0.key, value: $0.value) }
        nicMACs = c.nicMACs.map { "\($0)" }
        disks = c.disks.map { Disk(path: $0.path, qcow2: $0.qcow2, readOnly: $0.readOnly) }
        id = nil
        resolveAddress = nil
        diskCopy = nil
    }

    /// Why a machine built from `other` could not take this VM, or nil when it can.
    public func incompatibility(with other: MigrationDescription) -> String? {
        if other.formatVersion != formatVersion { return "format version \(formatVersion), destination speaks \(other.formatVersion)" }
        if other.memoryMiB != memoryMiB {
            return "memory size differs: source \(memoryMiB) MiB, destination \(other.memoryMiB) MiB"
        }
        let layoutsDiffer = ramRegions.flatMap { mine in other.ramRegions.map { $0 != mine } } ?? false
        if other.pageCount != pageCount || layoutsDiffer {
            return "RAM layout differs (both \(memoryMiB) MiB): source \(Self.layout(pageCount, ramRegions)), "
                + "destination \(Self.layout(other.pageCount, other.ramRegions))"
        }
        if other.nicMACs != nicMACs { return "NICs differ: source \(nicMACs), destination \(other.nicMACs)" }
        if comparableDisks(other.disks) != comparableDisks(disks) { return "disks differ: source \(disks.map(\.path)), destination \(other.disks.map(\.path))" }
        if other.board != board {
            for part in board where !other.board.contains(part) {
                let theirs = other.board.first { $0.name == part.name }?.value ?? "absent"
                return "\(part.name) differs: source \(part.value), destination \(theirs)"
            }
            return "the boards differ: source \(board.map(\.name)), destination \(other.board.map(\.name))"
        }
        return nil
    }

    /// "8192 pages in 0x80000000+32768 KiB": a page count and the regions, for messages.
    static func layout(_ pages: Int, _ regions: [RAMRegion]?) -> String {
        guard let regions else { return "\(pages) pages (regions not sent)" }
        let list = regions.map { "0x\(String($0.base, radix: 16))+\($0.size >> 10) KiB" }
        return "\(pages) pages in \(list.joined(separator: ", "))"
    }

    /// One named part of a board's identity.
    public struct BoardPart: Codable, Sendable, Equatable {
        /// What it names ("board", "firmware", "kernel", "bootargs", ...).
        public var name: String
        /// Its value (a kind, a checksum, the boot arguments).
        public var value: String
    }
}

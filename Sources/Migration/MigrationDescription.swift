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
    /// "elf", "builtin" or "none".
    public var firmware: String
    /// CRC32C of the firmware and kernel images (0 when absent): they are reloaded on a reset.
    public var firmwareCRC: UInt32
    public var kernelCRC: UInt32
    public var bootargs: String
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
        switch c.firmware {
        case .elf(let bytes):
            firmware = "elf"
            firmwareCRC = CRC32C.checksum(bytes)
        case .builtin:
            firmware = "builtin"
            firmwareCRC = 0
        case .none:
            firmware = "none"
            firmwareCRC = 0
        }
        kernelCRC = c.kernel.map { CRC32C.checksum($0) } ?? 0
        bootargs = c.bootargs
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
        if other.firmware != firmware || other.firmwareCRC != firmwareCRC { return "firmware differs" }
        if other.kernelCRC != kernelCRC { return "kernel image differs" }
        if other.bootargs != bootargs { return "bootargs differ" }
        return nil
    }
}

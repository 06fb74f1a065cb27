// VirtioSlot: one virtio-mmio window of the virt board. It forwards to the transport put in
// it, and otherwise answers as QEMU's empty slots do: magic, version 2, DeviceID 0 (no
// device), so drivers that probe every slot skip it instead of faulting.
import RISCV

import Machine

/// A virtio-mmio slot of the board, holding a transport or nothing.
public final class VirtioSlot: MMIODevice {
    /// The transport in this slot (a virtio-mmio `MMIODevice`), nil when empty.
    public var device: (any MMIODevice)?
    /// Called on a board reset, so the transport can reset too.
    public var onReset: (() -> Void)?

    public init() {}

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if let device { return device.read(offset: offset, size: size) }
        switch offset {
        case 0x000: return 0x7472_6976 // "virt"
        case 0x004: return 2           // version: modern
        case 0x00C: return 0x554D_4551 // vendor "QEMU", as QEMU's empty slots
        default: return 0              // DeviceID 0: no device
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        device?.write(offset: offset, size: size, value: value)
    }

    func reset() { onReset?() }
}

// Numbers from the virtio 1.x specification: device status bits, feature bits shared by all
// devices, interrupt causes, device ids and the virtio-mmio (version 2) register offsets.

/// Device status bits (the Status register).
public enum VirtioStatus {
    /// The guest has noticed the device.
    public static let acknowledge: UInt32 = 1
    /// The guest has a driver for it.
    public static let driver: UInt32 = 2
    /// The driver is set up and the device may run.
    public static let driverOK: UInt32 = 4
    /// Feature negotiation is complete.
    public static let featuresOK: UInt32 = 8
    /// The device met an error it cannot recover from; the driver must reset it.
    public static let deviceNeedsReset: UInt32 = 0x40
    /// The driver gave up on the device.
    public static let failed: UInt32 = 0x80
}

/// Feature bits independent of the device type.
public enum VirtioFeature {
    /// Indirect descriptor tables (VIRTIO_F_INDIRECT_DESC, bit 28).
    public static let indirectDescriptors: UInt64 = 1 << 28
    /// Used/avail event index suppression (VIRTIO_F_EVENT_IDX, bit 29); not offered.
    public static let eventIndex: UInt64 = 1 << 29
    /// A modern (1.x) device (VIRTIO_F_VERSION_1, bit 32); required by this implementation.
    public static let version1: UInt64 = 1 << 32
}

/// Causes in the InterruptStatus register.
public enum VirtioInterrupt {
    /// A queue has new used buffers.
    public static let usedBuffer: UInt32 = 1
    /// The configuration space (or DEVICE_NEEDS_RESET) changed.
    public static let configChange: UInt32 = 2
}

/// Virtio device type numbers (the DeviceID register).
public enum VirtioDeviceType {
    /// Network card.
    public static let net: UInt32 = 1
    /// Block device.
    public static let block: UInt32 = 2
}

/// Register offsets of the virtio-mmio transport, version 2.
public enum VirtioMMIORegister {
    /// "virt": identifies a virtio-mmio window (read-only).
    public static let magicValue: UInt64 = 0x000
    /// Transport version: 2 for modern devices (read-only).
    public static let version: UInt64 = 0x004
    /// Device type: 1 net, 2 block (read-only).
    public static let deviceID: UInt64 = 0x008
    /// Vendor id (read-only).
    public static let vendorID: UInt64 = 0x00c
    /// 32 bits of the offered features, chosen by DeviceFeaturesSel.
    public static let deviceFeatures: UInt64 = 0x010
    /// Which 32-bit word DeviceFeatures shows.
    public static let deviceFeaturesSel: UInt64 = 0x014
    /// 32 bits of the accepted features, chosen by DriverFeaturesSel.
    public static let driverFeatures: UInt64 = 0x020
    /// Which 32-bit word DriverFeatures sets.
    public static let driverFeaturesSel: UInt64 = 0x024
    /// Which queue the Queue* registers address.
    public static let queueSel: UInt64 = 0x030
    /// Largest size of the selected queue; 0 when it does not exist.
    public static let queueNumMax: UInt64 = 0x034
    /// Size the driver chose for the selected queue.
    public static let queueNum: UInt64 = 0x038
    /// 1 when the selected queue is set up and in use.
    public static let queueReady: UInt64 = 0x044
    /// Write a queue index: new buffers are available.
    public static let queueNotify: UInt64 = 0x050
    /// Pending interrupt causes (used buffer, configuration change).
    public static let interruptStatus: UInt64 = 0x060
    /// Write causes to acknowledge them.
    public static let interruptACK: UInt64 = 0x064
    /// Device status; writing 0 resets the device.
    public static let status: UInt64 = 0x070
    /// Descriptor table address, low 32 bits.
    public static let queueDescLow: UInt64 = 0x080
    /// Descriptor table address, high 32 bits.
    public static let queueDescHigh: UInt64 = 0x084
    /// Available ring address, low 32 bits.
    public static let queueDriverLow: UInt64 = 0x090
    /// Available ring address, high 32 bits.
    public static let queueDriverHigh: UInt64 = 0x094
    /// Used ring address, low 32 bits.
    public static let queueDeviceLow: UInt64 = 0x0a0
    /// Used ring address, high 32 bits.
    public static let queueDeviceHigh: UInt64 = 0x0a4
    /// Changes whenever the configuration space changes.
    public static let configGeneration: UInt64 = 0x0fc
    /// Device-specific configuration space starts here.
    public static let config: UInt64 = 0x100

    /// "virt" in little-endian ASCII.
    public static let magic: UInt32 = 0x7472_6976
    /// The modern (non-legacy) transport version.
    public static let versionModern: UInt32 = 2
    /// Size of one transport's MMIO window: the whole slot, as QEMU's device tree says.
    public static let windowSize: UInt64 = 0x1000
}

/// Where QEMU's `virt` board puts virtio-mmio transports, and which PLIC sources they use.
public enum VirtioMMIOSlots {
    /// Base of the first slot.
    public static let firstBase: UInt64 = 0x1000_1000
    /// Distance between slots.
    public static let stride: UInt64 = 0x1000
    /// Number of slots.
    public static let count = 8
    /// The PLIC interrupt source of the first slot (slot i uses firstIRQ + i).
    public static let firstIRQ = 1

    /// Base address of slot `index` (0 ..< count).
    public static func base(_ index: Int) -> UInt64 { firstBase + UInt64(index) * stride }
    /// Interrupt source of slot `index`.
    public static func irq(_ index: Int) -> Int { firstIRQ + index }
}

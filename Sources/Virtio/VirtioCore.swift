// VirtioCore: the state every virtio device shares with its transport: status, negotiated
// features, interrupt causes, queues, and the lock that serialises the vCPU thread (register
// accesses) against the datapath thread (network frames).

import Machine

/// Transport-independent device state; one per device, owned by the device.
public final class VirtioCore {
    /// Guest RAM the queues live in.
    public let memory: GuestMemory
    /// The device's virtqueues.
    public let queues: [Virtqueue]
    /// Serialises every access to the device and its queues.
    public let lock = DeviceLock()
    /// The device type (DeviceID register).
    public let deviceID: UInt32
    /// The features the device offers.
    public let deviceFeatures: UInt64

    /// The Status register.
    public internal(set) var status: UInt32 = 0
    /// The features the driver accepted.
    public internal(set) var driverFeatures: UInt64 = 0
    /// The InterruptStatus register.
    public internal(set) var interruptStatus: UInt32 = 0
    /// ConfigGeneration: bumped whenever the configuration space changes.
    public internal(set) var configGeneration: UInt32 = 0
    /// Why the device entered DEVICE_NEEDS_RESET (or why a request was refused last).
    public internal(set) var lastError: String?
    /// Notifications ignored because the queue did not exist or was not ready.
    public internal(set) var ignoredNotifications: UInt64 = 0
    /// Where interrupts go; set by the board before the guest runs.
    public var interruptLine: (any InterruptLine)?

    /// A core with `queueCount` queues of at most `queueSize` entries.
    public init(memory: GuestMemory, deviceID: UInt32, deviceFeatures: UInt64, queueCount: Int, queueSize: UInt16) {
        self.memory = memory
        self.deviceID = deviceID
        self.deviceFeatures = deviceFeatures | VirtioFeature.version1
        queues = (0..<queueCount).map { _ in Virtqueue(memory: memory, maxSize: queueSize) }
    }

    /// DRIVER_OK is set and neither DEVICE_NEEDS_RESET nor FAILED: the device may use its queues.
    @inlinable public var isRunning: Bool {
        status & (VirtioStatus.driverOK | VirtioStatus.deviceNeedsReset | VirtioStatus.failed) == VirtioStatus.driverOK
    }

    /// Whether DEVICE_NEEDS_RESET is set.
    public var needsReset: Bool { status & VirtioStatus.deviceNeedsReset != 0 }

    /// Whether the driver accepted `feature`.
    @inlinable public func negotiated(_ feature: UInt64) -> Bool { driverFeatures & feature == feature }

    /// Announces new used buffers in `queue` unless the driver suppressed interrupts.
    public func notifyUsed(_ queue: Virtqueue) {
        if !queue.interruptSuppressed { raise(VirtioInterrupt.usedBuffer) }
    }

    /// The configuration space changed: bumps ConfigGeneration, interrupts a running driver.
    public func configurationChanged() {
        configGeneration &+= 1
        if status & VirtioStatus.driverOK != 0 { raise(VirtioInterrupt.configChange) }
    }

    /// The driver broke the device: sets DEVICE_NEEDS_RESET and, once the driver is running,
    /// sends a configuration change interrupt. The device stops using its queues until reset.
    public func fail(_ message: String) {
        guard status & VirtioStatus.deviceNeedsReset == 0 else { return }
        lastError = message
        status |= VirtioStatus.deviceNeedsReset
        if status & VirtioStatus.driverOK != 0 { raise(VirtioInterrupt.configChange) }
    }

    /// Sets interrupt causes and raises the line if it was low.
    func raise(_ bits: UInt32) {
        let was = interruptStatus
        interruptStatus |= bits
        if was == 0 && interruptStatus != 0 { interruptLine?.set(true) }
    }

    /// InterruptACK: clears causes; lowers the line when none remain.
    func acknowledge(_ bits: UInt32) {
        let was = interruptStatus
        interruptStatus &= ~bits
        if was != 0 && interruptStatus == 0 { interruptLine?.set(false) }
    }

    /// Writing 0 to Status: everything back to the power-on state.
    func reset() {
        status = 0
        driverFeatures = 0
        acknowledge(interruptStatus)
        lastError = nil
        for q in queues { q.reset() }
    }
}

/// A virtio device type (net, block) behind a transport.
///
/// The transport calls these with `core.lock` held; a device must not take the lock itself
/// inside them.
public protocol VirtioDevice: AnyObject {
    /// The shared state and queues.
    var core: VirtioCore { get }
    /// Size of the device-specific configuration space in bytes.
    var configLength: Int { get }
    /// One byte of the configuration space (`offset < configLength`).
    func configByte(at offset: Int) -> UInt8
    /// The driver wrote one byte of the configuration space.
    func writeConfigByte(_ value: UInt8, at offset: Int)
    /// DRIVER_OK was set: the device may start.
    func driverDidStart()
    /// The driver notified a ready queue of a running device.
    func queueNotified(_ index: Int)
    /// The driver reset the device (the core is already reset).
    func deviceDidReset()
}

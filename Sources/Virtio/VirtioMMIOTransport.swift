// VirtioMMIOTransport: the virtio-mmio register window (version 2, modern) in front of one
// device: identification, feature negotiation, the status state machine, queue setup,
// notifications, interrupts and the configuration space at 0x100.

import Machine

/// A virtio-mmio transport; register it on the board's `MMIOBus` at a virtio slot.
///
/// Registers are 32 bits wide; other access sizes to them read 0 and are ignored on write.
/// The configuration space takes 1, 2, 4 and 8-byte accesses.
public final class VirtioMMIOTransport<Device: VirtioDevice>: MMIODevice {
    /// The device behind the window.
    public let device: Device
    /// Shorthand for `device.core`.
    public var core: VirtioCore { device.core }

    var deviceFeaturesSelect: UInt32 = 0
    var driverFeaturesSelect: UInt32 = 0
    var queueSelect: UInt32 = 0
    /// Register writes the transport refused (driver clearing status bits, feature writes
    /// after FEATURES_OK, queue changes while ready, bad offsets).
    public private(set) var ignoredWrites: UInt64 = 0

    /// A transport for `device`.
    public init(device: Device) {
        self.device = device
    }

    /// A transport for `device` restored from saved state; throws when the state does not
    /// fit the device or guest RAM.
    public convenience init(device: Device, restoring state: VirtioTransportState) throws(VirtioStateError) {
        self.init(device: device)
        try restore(state)
    }

    /// The interrupt line (forwarded to the core).
    public var interruptLine: (any InterruptLine)? {
        get { core.lock.withLock { core.interruptLine } }
        set { core.lock.withLock { core.interruptLine = newValue } }
    }

    /// Registers the window on `bus` at `base` (use `VirtioMMIOSlots.base(i)`).
    public func register(on bus: MMIOBus, at base: UInt64, name: String) throws {
        try bus.register(self, at: GuestPhysicalAddress(base), size: VirtioMMIORegister.windowSize, name: name)
    }

    var selectedQueue: Virtqueue? {
        let i = Int(queueSelect)
        return i < core.queues.count ? core.queues[i] : nil
    }

    // MARK: MMIODevice

    /// Reads a register or configuration bytes.
    public func read(offset: UInt64, size: Int) -> UInt64 {
        let core = self.core
        return core.lock.withLock {
            if offset >= VirtioMMIORegister.config { return readConfig(offset - VirtioMMIORegister.config, size: size) }
            guard size == 4 else { return 0 }
            return UInt64(readRegister(offset))
        }
    }

    /// Writes a register or configuration bytes.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        let core = self.core
        core.lock.withLock {
            if offset >= VirtioMMIORegister.config {
                writeConfig(offset - VirtioMMIORegister.config, size: size, value: value)
                return
            }
            guard size == 4 else {
                ignoredWrites &+= 1
                return
            }
            writeRegister(offset, UInt32(truncatingIfNeeded: value))
        }
    }

    func readRegister(_ offset: UInt64) -> UInt32 {
        typealias R = VirtioMMIORegister
        switch offset {
        case R.magicValue: return R.magic
        case R.version: return R.versionModern
        case R.deviceID: return core.deviceID
        case R.vendorID: return 0x554d_4551  // "QEMU", as QEMU's devices report
        case R.deviceFeatures:
            switch deviceFeaturesSelect {
            case 0: return UInt32(truncatingIfNeeded: core.deviceFeatures)
            case 1: return UInt32(truncatingIfNeeded: core.deviceFeatures >> 32)
            default: return 0
            }
        case R.queueNumMax: return UInt32(selectedQueue?.maxSize ?? 0)
        case R.queueNum: return UInt32(selectedQueue?.size ?? 0)
        case R.queueReady: return selectedQueue?.ready == true ? 1 : 0
        case R.queueDescLow: return UInt32(truncatingIfNeeded: selectedQueue?.descriptorTable ?? 0)
        case R.queueDescHigh: return UInt32(truncatingIfNeeded: (selectedQueue?.descriptorTable ?? 0) >> 32)
        case R.queueDriverLow: return UInt32(truncatingIfNeeded: selectedQueue?.driverArea ?? 0)
        case R.queueDriverHigh: return UInt32(truncatingIfNeeded: (selectedQueue?.driverArea ?? 0) >> 32)
        case R.queueDeviceLow: return UInt32(truncatingIfNeeded: selectedQueue?.deviceArea ?? 0)
        case R.queueDeviceHigh: return UInt32(truncatingIfNeeded: (selectedQueue?.deviceArea ?? 0) >> 32)
        case R.interruptStatus: return core.interruptStatus
        case R.status: return core.status
        case R.configGeneration: return core.configGeneration
        default: return 0
        }
    }

    func writeRegister(_ offset: UInt64, _ value: UInt32) {
        typealias R = VirtioMMIORegister
        switch offset {
        case R.deviceFeaturesSel: deviceFeaturesSelect = value
        case R.driverFeaturesSel: driverFeaturesSelect = value
        case R.driverFeatures:
            // Only between DRIVER and FEATURES_OK.
            guard core.status & VirtioStatus.driver != 0, core.status & VirtioStatus.featuresOK == 0 else {
                ignoredWrites &+= 1
                return
            }
            switch driverFeaturesSelect {
            case 0: core.driverFeatures = core.driverFeatures & ~0xFFFF_FFFF | UInt64(value)
            case 1: core.driverFeatures = core.driverFeatures & 0xFFFF_FFFF | UInt64(value) << 32
            default: ignoredWrites &+= 1
            }
        case R.queueSel: queueSelect = value
        case R.queueNum: withIdleQueue { $0.size = UInt16(truncatingIfNeeded: min(value, 0xFFFF)) }
        case R.queueDescLow: withIdleQueue { $0.descriptorTable = $0.descriptorTable & ~0xFFFF_FFFF | UInt64(value) }
        case R.queueDescHigh: withIdleQueue { $0.descriptorTable = $0.descriptorTable & 0xFFFF_FFFF | UInt64(value) << 32 }
        case R.queueDriverLow: withIdleQueue { $0.driverArea = $0.driverArea & ~0xFFFF_FFFF | UInt64(value) }
        case R.queueDriverHigh: withIdleQueue { $0.driverArea = $0.driverArea & 0xFFFF_FFFF | UInt64(value) << 32 }
        case R.queueDeviceLow: withIdleQueue { $0.deviceArea = $0.deviceArea & ~0xFFFF_FFFF | UInt64(value) }
        case R.queueDeviceHigh: withIdleQueue { $0.deviceArea = $0.deviceArea & 0xFFFF_FFFF | UInt64(value) << 32 }
        case R.queueReady: writeQueueReady(value)
        case R.queueNotify: notify(Int(value & 0xFFFF))
        case R.interruptACK: core.acknowledge(value)
        case R.status: writeStatus(value)
        default: ignoredWrites &+= 1
        }
    }

    /// Queue layout registers may change only while the selected queue is not ready.
    private func withIdleQueue(_ body: (Virtqueue) -> Void) {
        guard let q = selectedQueue, !q.ready else {
            ignoredWrites &+= 1
            return
        }
        body(q)
    }

    private func writeQueueReady(_ value: UInt32) {
        guard let q = selectedQueue else {
            ignoredWrites &+= 1
            return
        }
        if value & 1 == 0 {
            q.ready = false
            return
        }
        if q.ready { return }
        guard !core.needsReset else { return }
        q.indirectAllowed = core.negotiated(VirtioFeature.indirectDescriptors)
        do {
            try q.activate()
        } catch {
            core.fail("queue \(queueSelect): \(error)")
        }
    }

    private func notify(_ index: Int) {
        guard index < core.queues.count, core.queues[index].ready, core.isRunning else {
            core.ignoredNotifications &+= 1
            return
        }
        device.queueNotified(index)
    }

    private func writeStatus(_ value: UInt32) {
        if value == 0 {
            core.reset()
            deviceFeaturesSelect = 0
            driverFeaturesSelect = 0
            queueSelect = 0
            device.deviceDidReset()
            return
        }
        let old = core.status
        // DEVICE_NEEDS_RESET belongs to the device; the driver can neither set nor clear it.
        var new = (value & 0xFF & ~VirtioStatus.deviceNeedsReset) | (old & VirtioStatus.deviceNeedsReset)
        guard new & old == old else {
            // Drivers may only add bits; clearing needs a reset.
            ignoredWrites &+= 1
            return
        }
        if new & VirtioStatus.featuresOK != 0 && old & VirtioStatus.featuresOK == 0 {
            let unknown = core.driverFeatures & ~core.deviceFeatures
            if unknown != 0 {
                core.lastError = "driver accepted features the device does not offer (0x\(String(unknown, radix: 16)))"
                new &= ~VirtioStatus.featuresOK
            } else if !core.negotiated(VirtioFeature.version1) {
                core.lastError = "driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)"
                new &= ~VirtioStatus.featuresOK
            }
        }
        if new & VirtioStatus.driverOK != 0 && old & VirtioStatus.driverOK == 0 && new & VirtioStatus.featuresOK == 0 {
            core.status = new & ~VirtioStatus.driverOK
            core.fail("DRIVER_OK set before FEATURES_OK")
            return
        }
        core.status = new
        if new & VirtioStatus.driverOK != 0 && old & VirtioStatus.driverOK == 0 && !core.needsReset {
            device.driverDidStart()
        }
    }

    private func readConfig(_ offset: UInt64, size: Int) -> UInt64 {
        guard size == 1 || size == 2 || size == 4 || size == 8,
              offset <= UInt64(device.configLength), UInt64(size) <= UInt64(device.configLength) - offset else { return 0 }
        var value: UInt64 = 0
        for i in 0..<size { value |= UInt64(device.configByte(at: Int(offset) + i)) << UInt64(8 * i) }
        return value
    }

    private func writeConfig(_ offset: UInt64, size: Int, value: UInt64) {
        guard size == 1 || size == 2 || size == 4 || size == 8,
              offset <= UInt64(device.configLength), UInt64(size) <= UInt64(device.configLength) - offset else {
            ignoredWrites &+= 1
            return
        }
        for i in 0..<size { device.writeConfigByte(UInt8(truncatingIfNeeded: value >> UInt64(8 * i)), at: Int(offset) + i) }
    }

    // MARK: Saved state

    /// The transport's and core's state (the device's own state is saved by the device).
    public func saveState() -> VirtioTransportState {
        core.lock.withLock {
            VirtioTransportState(deviceID: core.deviceID, status: core.status, driverFeatures: core.driverFeatures,
                                 deviceFeaturesSelect: deviceFeaturesSelect, driverFeaturesSelect: driverFeaturesSelect,
                                 queueSelect: queueSelect, interruptStatus: core.interruptStatus,
                                 configGeneration: core.configGeneration, lastError: core.lastError,
                                 queues: core.queues.map(\.state))
        }
    }

    /// Restores a saved state after checking all of it; on error nothing changes.
    public func restore(_ state: VirtioTransportState) throws(VirtioStateError) {
        let core = self.core
        core.lock.lock()
        defer { core.lock.unlock() }
        do {
            guard state.deviceID == core.deviceID else { throw .deviceMismatch(expected: core.deviceID, found: state.deviceID) }
            guard state.queues.count == core.queues.count else {
                throw .queueCount(expected: core.queues.count, found: state.queues.count)
            }
            guard state.driverFeatures & ~core.deviceFeatures == 0 else { throw .features(state.driverFeatures) }
            guard state.status & ~0xFF == 0 else { throw .status(state.status, "unknown bits") }
            if state.status & VirtioStatus.featuresOK != 0 && state.driverFeatures & VirtioFeature.version1 == 0 {
                throw .status(state.status, "FEATURES_OK without VIRTIO_F_VERSION_1")
            }
            if state.status & VirtioStatus.driverOK != 0 && state.status & VirtioStatus.featuresOK == 0 {
                throw .status(state.status, "DRIVER_OK without FEATURES_OK")
            }
            guard state.interruptStatus & ~3 == 0 else { throw .status(state.interruptStatus, "unknown interrupt causes") }
            for (i, q) in state.queues.enumerated() {
                do throws(VirtqueueError) {
                    try core.queues[i].validate(q)
                } catch {
                    throw .queue(i, error)
                }
            }
            let indirect = state.driverFeatures & VirtioFeature.indirectDescriptors != 0
            for (i, q) in state.queues.enumerated() { core.queues[i].apply(q, indirectAllowed: indirect) }
            core.status = state.status
            core.driverFeatures = state.driverFeatures
            core.configGeneration = state.configGeneration
            core.lastError = state.lastError
            deviceFeaturesSelect = state.deviceFeaturesSelect
            driverFeaturesSelect = state.driverFeaturesSelect
            queueSelect = state.queueSelect
            core.acknowledge(core.interruptStatus)
            core.raise(state.interruptStatus)
        }
    }
}

/// The saved form of a virtio-mmio transport and its device's common state.
public struct VirtioTransportState: Codable, Equatable, Sendable {
    /// Which device type the state belongs to.
    public var deviceID: UInt32
    /// The Status register.
    public var status: UInt32
    /// Negotiated features.
    public var driverFeatures: UInt64
    /// DeviceFeaturesSel.
    public var deviceFeaturesSelect: UInt32
    /// DriverFeaturesSel.
    public var driverFeaturesSelect: UInt32
    /// QueueSel.
    public var queueSelect: UInt32
    /// InterruptStatus (pending causes are re-raised on restore).
    public var interruptStatus: UInt32
    /// ConfigGeneration.
    public var configGeneration: UInt32
    /// Why the device needs a reset, if it does.
    public var lastError: String?
    /// Each queue's layout and indices.
    public var queues: [VirtqueueState]
}

/// Saved state that cannot be restored.
public enum VirtioStateError: Error, Equatable, CustomStringConvertible {
    /// The state is for another device type.
    case deviceMismatch(expected: UInt32, found: UInt32)
    /// The number of queues differs.
    case queueCount(expected: Int, found: Int)
    /// Features the device does not offer.
    case features(UInt64)
    /// An impossible status or interrupt status value.
    case status(UInt32, String)
    /// A queue's layout or indices are invalid.
    case queue(Int, VirtqueueError)
    /// A device-specific field is invalid.
    case device(String)

    /// A readable message.
    public var description: String {
        switch self {
        case .deviceMismatch(let e, let f): return "saved state is for device type \(f), this device is type \(e)"
        case .queueCount(let e, let f): return "saved state has \(f) queues, the device has \(e)"
        case .features(let f): return "saved features 0x\(String(f, radix: 16)) include some the device does not offer"
        case .status(let s, let why): return "saved status 0x\(String(s, radix: 16)) is invalid: \(why)"
        case .queue(let i, let e): return "saved queue \(i): \(e)"
        case .device(let why): return "saved device state: \(why)"
        }
    }
}

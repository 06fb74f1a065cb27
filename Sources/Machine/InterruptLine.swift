// InterruptLine: the wire from a device (a virtio-mmio transport, a UART) to an interrupt
// controller (the board's PLIC on RISC-V). Backend-neutral, so devices and controllers meet here.

/// A level-triggered interrupt input. The transport holds it high while its InterruptStatus
/// register is non-zero and lowers it when the driver acknowledges every bit.
///
/// Called with the device lock held, from the vCPU thread (register writes, block requests)
/// or the datapath thread (network frames): implementations must be thread-safe.
public protocol InterruptLine: AnyObject {
    /// Drives the line to `level` (true = asserted).
    func set(_ level: Bool)
}

/// An interrupt line that remembers its level and counts rising edges (tests, debugging).
public final class RecordingInterruptLine: InterruptLine, @unchecked Sendable {
    private let lock = DeviceLock()
    private var _level = false
    private var _raised = 0

    /// A line that starts low.
    public init() {}

    /// Records the level; a low-to-high change counts as one raise.
    public func set(_ level: Bool) {
        lock.withLock {
            if level && !_level { _raised += 1 }
            _level = level
        }
    }

    /// The current level.
    public var level: Bool { lock.withLock { _level } }
    /// How many times the line went from low to high.
    public var raiseCount: Int { lock.withLock { _raised } }
}

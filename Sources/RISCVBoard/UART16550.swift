// UART16550: an NS16550A-compatible serial port (the console) with an output sink and an input
// queue, raising its PLIC line for received data and an empty transmitter as a 16550 does
// (IER/IIR). Every hart's thread and the console's input side reach it: one lock guards it.
import RISCV
import Machine

/// The saved state of the UART.
public struct UARTState: Codable, Sendable, Equatable {
    /// Interrupt enable, line control, modem control, scratch, divisor latch.
    public var ier: UInt8, lcr: UInt8, mcr: UInt8, scr: UInt8, dll: UInt8, dlm: UInt8
    /// Bytes received but not yet read by the guest.
    public var input: [UInt8]
    /// Whether the transmitter-empty interrupt is pending (IIR not yet read since).
    public var transmitterInterrupt: Bool = false
}

/// A 16550A UART.
public final class UART16550: MMIODevice, @unchecked Sendable {
    /// Base address on the virt board.
    public static let base: UInt64 = 0x1000_0000
    /// Size of the register window.
    public static let size: UInt64 = 0x100
    /// Its PLIC source on the virt board (as QEMU's UART0_IRQ).
    public static let interruptSource = 10

    private let lock = DeviceLock()
    var ier: UInt8 = 0, lcr: UInt8 = 0, mcr: UInt8 = 0, scr: UInt8 = 0, dll: UInt8 = 0, dlm: UInt8 = 0
    var input: [UInt8] = []
    var inputHead = 0
    /// THRE interrupt pending: set when the transmitter empties (at once here: bytes leave as
    /// they are written) with ETBEI on; cleared by reading IIR while it is the reason, or by a
    /// write to THR (which empties again and sets it again).
    var transmitterInterrupt = false
    /// Receives every byte the guest transmits.
    public var output: (UInt8) -> Void
    /// Asked for new input bytes when the queue is empty (e.g. from a host terminal thread).
    public var pollInput: (() -> [UInt8])?
    /// The interrupt line (the PLIC source on `virt`).
    public var interrupt: (any InterruptLine)?
    private var lineHigh = false

    /// A UART that hands transmitted bytes to `output`.
    public init(output: @escaping (UInt8) -> Void) { self.output = output }

    /// Queues bytes for the guest to read (from any thread).
    public func feed(_ bytes: [UInt8]) {
        lock.withLock {
            input.append(contentsOf: bytes)
            updateInterrupt()
        }
    }

    /// Whether a byte is ready, polling the input source when the queue is empty. Lock held.
    private func inputReady() -> Bool {
        if inputHead < input.count { return true }
        if let more = pollInput?(), !more.isEmpty { input.append(contentsOf: more) }
        return inputHead < input.count
    }

    /// Bytes queued for the guest and not yet read.
    public var pendingInputCount: Int { lock.withLock { input.count - inputHead } }

    /// Takes one queued input byte (the SBI console's getchar).
    public func takeInput() -> UInt8? {
        lock.withLock {
            let b = takeLocked()
            updateInterrupt()
            return b
        }
    }

    private func takeLocked() -> UInt8? {
        guard inputReady() else { return nil }
        let b = input[inputHead]
        inputHead += 1
        if inputHead == input.count { input.removeAll(keepingCapacity: true); inputHead = 0 }
        return b
    }

    /// Drives the line: high while received data waits with ERBFI on, or THRE is pending with
    /// ETBEI on. Lock held.
    private func updateInterrupt() {
        let high = (ier & 1 != 0 && inputHead < input.count) || (ier & 2 != 0 && transmitterInterrupt)
        if high != lineHigh {
            lineHigh = high
            interrupt?.set(high)
        }
    }

    /// IIR: the highest-priority reason (received data, then THRE), FIFOs enabled.
    private func interruptIdentification() -> UInt64 {
        if ier & 1 != 0 && inputReady() { return 0xC4 }
        if ier & 2 != 0 && transmitterInterrupt {
            transmitterInterrupt = false // reading IIR acknowledges THRE
            return 0xC2
        }
        return 0xC1
    }

    /// Reads a register.
    public func read(offset: UInt64, size: Int) -> UInt64 {
        lock.withLock {
            let dlab = lcr & 0x80 != 0
            let v: UInt64
            switch offset {
            case 0: v = dlab ? UInt64(dll) : UInt64(takeLocked() ?? 0)
            case 1: v = dlab ? UInt64(dlm) : UInt64(ier)
            case 2: v = interruptIdentification()
            case 3: v = UInt64(lcr)
            case 4: v = UInt64(mcr)
            case 5: v = 0x60 | (inputReady() ? 1 : 0) // THR empty, transmitter empty, data ready
            case 6: v = 0xB0 // CTS, DSR, DCD
            case 7: v = UInt64(scr)
            default: v = 0
            }
            updateInterrupt()
            return v
        }
    }

    /// Writes a register.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        let b = UInt8(truncatingIfNeeded: value)
        // The byte leaves outside the lock: the console may type into this UART in response
        // (an expect step), which takes the lock again.
        let transmit = lock.withLock { () -> Bool in
            let dlab = lcr & 0x80 != 0
            var sent = false
            switch offset {
            case 0:
                if dlab { dll = b } else {
                    sent = true
                    transmitterInterrupt = true
                }
            case 1:
                if dlab { dlm = b } else {
                    // Enabling ETBEI with the transmitter empty raises THRE (as a 16550 does).
                    if b & 2 != 0 && ier & 2 == 0 { transmitterInterrupt = true }
                    ier = b & 0x0F
                }
            case 3: lcr = b
            case 4: mcr = b
            case 7: scr = b
            default: break
            }
            updateInterrupt()
            return sent
        }
        if transmit { output(b) }
    }

    /// Captures the state.
    public func saveState() -> UARTState {
        lock.withLock {
            UARTState(ier: ier, lcr: lcr, mcr: mcr, scr: scr, dll: dll, dlm: dlm, input: Array(input[inputHead...]),
                      transmitterInterrupt: transmitterInterrupt)
        }
    }

    /// Restores a state.
    public func restoreState(_ s: UARTState) {
        lock.withLock {
            ier = s.ier; lcr = s.lcr; mcr = s.mcr; scr = s.scr; dll = s.dll; dlm = s.dlm
            input = s.input; inputHead = 0
            transmitterInterrupt = s.transmitterInterrupt
            let high = (ier & 1 != 0 && inputHead < input.count) || (ier & 2 != 0 && transmitterInterrupt)
            lineHigh = high
            interrupt?.set(high)
        }
    }

    /// Back to power-on (input queued by the host stays).
    public func reset() {
        lock.withLock {
            ier = 0; lcr = 0; mcr = 0; scr = 0; dll = 0; dlm = 0
            transmitterInterrupt = false
            updateInterrupt()
        }
    }
}

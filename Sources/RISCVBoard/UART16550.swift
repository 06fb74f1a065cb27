// UART16550: an NS16550A-compatible serial port (the console) with an output sink and an input
// queue. No interrupts yet (they need the PLIC of the next issue).
import RISCV
import Machine

/// The saved state of the UART.
public struct UARTState: Codable, Sendable, Equatable {
    /// Interrupt enable, line control, modem control, scratch, divisor latch.
    public var ier: UInt8, lcr: UInt8, mcr: UInt8, scr: UInt8, dll: UInt8, dlm: UInt8
    /// Bytes received but not yet read by the guest.
    public var input: [UInt8]
}

/// A 16550A UART.
public final class UART16550: MMIODevice {
    /// Base address on the virt board.
    public static let base: UInt64 = 0x1000_0000
    /// Size of the register window.
    public static let size: UInt64 = 0x100

    var ier: UInt8 = 0, lcr: UInt8 = 0, mcr: UInt8 = 0, scr: UInt8 = 0, dll: UInt8 = 0, dlm: UInt8 = 0
    var input: [UInt8] = []
    var inputHead = 0
    /// Receives every byte the guest transmits.
    public var output: (UInt8) -> Void
    /// Asked for new input bytes when the queue is empty (e.g. from a host terminal thread).
    public var pollInput: (() -> [UInt8])?

    /// A UART that hands transmitted bytes to `output`.
    public init(output: @escaping (UInt8) -> Void) { self.output = output }

    /// Queues bytes for the guest to read.
    public func feed(_ bytes: [UInt8]) { input.append(contentsOf: bytes) }

    /// Whether a byte is ready, polling the input source when the queue is empty.
    func inputReady() -> Bool {
        if inputHead < input.count { return true }
        if let more = pollInput?(), !more.isEmpty { input.append(contentsOf: more) }
        return inputHead < input.count
    }

    /// Takes one queued input byte.
    public func takeInput() -> UInt8? {
        guard inputReady() else { return nil }
        let b = input[inputHead]
        inputHead += 1
        if inputHead == input.count { input.removeAll(keepingCapacity: true); inputHead = 0 }
        return b
    }

    /// Reads a register.
    public func read(offset: UInt64, size: Int) -> UInt64 {
        let dlab = lcr & 0x80 != 0
        switch offset {
        case 0: return dlab ? UInt64(dll) : UInt64(takeInput() ?? 0)
        case 1: return dlab ? UInt64(dlm) : UInt64(ier)
        case 2: return 0xC1 // FIFOs enabled, no interrupt pending
        case 3: return UInt64(lcr)
        case 4: return UInt64(mcr)
        case 5: return 0x60 | (inputReady() ? 1 : 0) // THR empty, transmitter empty, data ready
        case 6: return 0xB0 // CTS, DSR, DCD
        case 7: return UInt64(scr)
        default: return 0
        }
    }

    /// Writes a register.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        let b = UInt8(truncatingIfNeeded: value)
        let dlab = lcr & 0x80 != 0
        switch offset {
        case 0: if dlab { dll = b } else { output(b) }
        case 1: if dlab { dlm = b } else { ier = b & 0x0F }
        case 3: lcr = b
        case 4: mcr = b
        case 7: scr = b
        default: break
        }
    }

    /// Captures the state.
    public func saveState() -> UARTState {
        UARTState(ier: ier, lcr: lcr, mcr: mcr, scr: scr, dll: dll, dlm: dlm, input: Array(input[inputHead...]))
    }

    /// Restores a state.
    public func restoreState(_ s: UARTState) {
        ier = s.ier; lcr = s.lcr; mcr = s.mcr; scr = s.scr; dll = s.dll; dlm = s.dlm
        input = s.input; inputHead = 0
    }
}

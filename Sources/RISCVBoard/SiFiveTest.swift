// SiFiveTest: the "sifive,test0" finisher at 0x10_0000 that powers the machine off (0x5555),
// fails with a code ((code << 16) | 0x3333) or resets (0x7777).
import RISCV
import Machine

/// The SiFive test/finisher device.
public final class SiFiveTest: MMIODevice {
    /// Base address on the virt board.
    public static let base: UInt64 = 0x10_0000
    /// Size of the register window.
    public static let size: UInt64 = 0x1000

    /// Called with the requested outcome.
    public var onRequest: (VCPURunResult) -> Void

    /// A finisher that reports requests to `onRequest`.
    public init(onRequest: @escaping (VCPURunResult) -> Void) { self.onRequest = onRequest }

    /// Reads as zero.
    public func read(offset: UInt64, size: Int) -> UInt64 { 0 }

    /// Decodes a finisher command.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard offset == 0 else { return }
        switch value & 0xFFFF {
        case 0x5555: onRequest(.powerOff(code: 0))
        case 0x3333: onRequest(.powerOff(code: Int32(truncatingIfNeeded: (value >> 16) & 0xFFFF)))
        case 0x7777: onRequest(.reset)
        default: break
        }
    }
}

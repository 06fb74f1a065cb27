// CLINT: the SiFive core-local interruptor at 0x0200_0000: msip (software interrupt), mtimecmp and
// mtime, a 10 MHz timer derived from the host's monotonic clock.
import RISCV
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Machine

/// The saved state of the CLINT.
public struct CLINTState: Codable, Sendable, Equatable {
    /// msip of hart 0.
    public var msip: UInt32
    /// mtimecmp of hart 0.
    public var mtimecmp: UInt64
    /// mtime at save time.
    public var mtime: UInt64
}

/// Core-local interruptor for one hart.
public final class CLINT: MMIODevice {
    /// Base address on the virt board.
    public static let base: UInt64 = 0x0200_0000
    /// Size of the register window.
    public static let size: UInt64 = 0x10000
    /// Ticks per second of mtime.
    public static let frequency: UInt64 = 10_000_000

    /// Software interrupt pending bit (hart 0).
    public var msip: UInt32 = 0
    /// Timer compare value (hart 0).
    public var mtimecmp: UInt64 = .max
    /// mtime = host monotonic time since creation + `offset` (ticks).
    var offset: UInt64 = 0
    let start: UInt64

    /// A CLINT whose mtime starts at 0.
    public init() { start = CLINT.hostNanos() }

    static func hostNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The current mtime in 10 MHz ticks.
    public var mtime: UInt64 {
        get { (CLINT.hostNanos() &- start) / 100 &+ offset }
        set { offset = newValue &- (CLINT.hostNanos() &- start) / 100 }
    }

    /// Reads msip (0x0), mtimecmp (0x4000) or mtime (0xBFF8).
    public func read(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case 0..<4: return UInt64(msip) >> (8 * offset)
        case 0x4000..<0x4008: return mtimecmp >> (8 * (offset - 0x4000))
        case 0xBFF8..<0xC000: return mtime >> (8 * (offset - 0xBFF8))
        default: return 0
        }
    }

    /// Writes msip, mtimecmp (either half) or mtime.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        switch (offset, size) {
        case (0, _): msip = UInt32(value & 1)
        case (0x4000, 8): mtimecmp = value
        case (0x4000, 4): mtimecmp = (mtimecmp & 0xFFFF_FFFF_0000_0000) | (value & 0xFFFF_FFFF)
        case (0x4004, 4): mtimecmp = (mtimecmp & 0xFFFF_FFFF) | (value << 32)
        case (0xBFF8, 8): mtime = value
        case (0xBFF8, 4): mtime = (mtime & 0xFFFF_FFFF_0000_0000) | (value & 0xFFFF_FFFF)
        case (0xBFFC, 4): mtime = (mtime & 0xFFFF_FFFF) | (value << 32)
        default: break
        }
    }

    /// Captures the state.
    public func saveState() -> CLINTState { CLINTState(msip: msip, mtimecmp: mtimecmp, mtime: mtime) }

    /// Restores a state.
    public func restoreState(_ s: CLINTState) {
        msip = s.msip & 1
        mtimecmp = s.mtimecmp
        mtime = s.mtime
    }
}

extension CLINT: HartTimerInputs {
    public func timerCompare(hart: UInt64) -> UInt64 { mtimecmp }
    public func softwareInterrupt(hart: UInt64) -> Bool { msip & 1 != 0 }
}

// CLINT: the SiFive core-local interruptor at 0x0200_0000: per hart an msip (software interrupt)
// and an mtimecmp, and one mtime, a 10 MHz timer derived from the host's monotonic clock. Every
// hart's thread reads and writes it, so the registers are atomics; a software interrupt raised
// for another hart wakes that hart.
import RISCV
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Machine
import Synchronization

/// The saved state of the CLINT.
public struct CLINTState: Codable, Sendable, Equatable {
    /// msip of each hart.
    public var msip: [UInt32]
    /// mtimecmp of each hart.
    public var mtimecmp: [UInt64]
    /// mtime at save time.
    public var mtime: UInt64
}

/// Core-local interruptor for up to `maxHarts` harts.
public final class CLINT: MMIODevice, @unchecked Sendable {
    /// Base address on the virt board.
    public static let base: UInt64 = 0x0200_0000
    /// Size of the register window.
    public static let size: UInt64 = 0x10000
    /// Ticks per second of mtime.
    public static let frequency: UInt64 = 10_000_000
    /// The most harts a CLINT serves here.
    public static let maxHarts = 8

    /// The number of harts wired.
    public let hartCount: Int
    private let msipBits: UnsafeMutablePointer<Atomic<UInt32>>
    private let compare: UnsafeMutablePointer<Atomic<UInt64>>
    /// mtime = host monotonic time since creation + `offset` (ticks).
    private let offset = Atomic<UInt64>(0)
    let start: UInt64
    /// Called with a hart id when its software interrupt is raised (to wake it from WFI).
    public var onSoftwareInterrupt: ((Int) -> Void)?

    /// A CLINT for `harts` harts whose mtime starts at 0.
    public init(harts: Int = 1) {
        precondition(harts >= 1 && harts <= CLINT.maxHarts, "CLINT hart count out of range")
        hartCount = harts
        msipBits = .allocate(capacity: harts)
        compare = .allocate(capacity: harts)
        for h in 0..<harts {
            (msipBits + h).initialize(to: Atomic(0))
            (compare + h).initialize(to: Atomic(.max))
        }
        start = CLINT.hostNanos()
    }

    deinit {
        msipBits.deinitialize(count: hartCount); msipBits.deallocate()
        compare.deinitialize(count: hartCount); compare.deallocate()
    }

    static func hostNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The current mtime in 10 MHz ticks.
    public var mtime: UInt64 {
        get { (CLINT.hostNanos() &- start) / 100 &+ offset.load(ordering: .relaxed) }
        set { offset.store(newValue &- (CLINT.hostNanos() &- start) / 100, ordering: .relaxed) }
    }

    /// msip of hart 0 (single-hart tools and tests).
    public var msip: UInt32 {
        get { msipBits[0].load(ordering: .acquiring) }
        set { setSoftware(hart: 0, newValue & 1) }
    }

    /// mtimecmp of hart 0 (single-hart tools and tests).
    public var mtimecmp: UInt64 {
        get { compare[0].load(ordering: .acquiring) }
        set { compare[0].store(newValue, ordering: .releasing) }
    }

    private func setSoftware(hart h: Int, _ bit: UInt32) {
        let was = msipBits[h].exchange(bit, ordering: .acquiringAndReleasing)
        if bit != 0 && was == 0 { onSoftwareInterrupt?(h) }
    }

    /// Back to power-on: no software interrupts, every compare at the maximum.
    public func reset() {
        for h in 0..<hartCount {
            msipBits[h].store(0, ordering: .releasing)
            compare[h].store(.max, ordering: .releasing)
        }
    }

    /// Reads msip (0x0 + 4 h), mtimecmp (0x4000 + 8 h) or mtime (0xBFF8).
    public func read(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case 0..<UInt64(4 * hartCount):
            return UInt64(msipBits[Int(offset / 4)].load(ordering: .acquiring)) >> (8 * (offset % 4))
        case 0x4000..<0x4000 + UInt64(8 * hartCount):
            let h = Int((offset - 0x4000) / 8)
            return compare[h].load(ordering: .acquiring) >> (8 * ((offset - 0x4000) % 8))
        case 0xBFF8..<0xC000: return mtime >> (8 * (offset - 0xBFF8))
        default: return 0
        }
    }

    /// Writes msip, mtimecmp (either half) or mtime.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        switch offset {
        case 0..<UInt64(4 * hartCount) where offset % 4 == 0:
            setSoftware(hart: Int(offset / 4), UInt32(value & 1))
        case 0x4000..<0x4000 + UInt64(8 * hartCount):
            let h = Int((offset - 0x4000) / 8), within = (offset - 0x4000) % 8
            let old = compare[h].load(ordering: .acquiring)
            let new: UInt64
            switch (within, size) {
            case (0, 8): new = value
            case (0, 4): new = (old & 0xFFFF_FFFF_0000_0000) | (value & 0xFFFF_FFFF)
            case (4, 4): new = (old & 0xFFFF_FFFF) | (value << 32)
            default: return
            }
            compare[h].store(new, ordering: .releasing)
        case 0xBFF8 where size == 8: mtime = value
        case 0xBFF8 where size == 4: mtime = (mtime & 0xFFFF_FFFF_0000_0000) | (value & 0xFFFF_FFFF)
        case 0xBFFC where size == 4: mtime = (mtime & 0xFFFF_FFFF) | (value << 32)
        default: break
        }
    }

    /// Captures the state.
    public func saveState() -> CLINTState {
        CLINTState(msip: (0..<hartCount).map { msipBits[$0].load(ordering: .acquiring) },
                   mtimecmp: (0..<hartCount).map { compare[$0].load(ordering: .acquiring) }, mtime: mtime)
    }

    /// Checks that a saved state fits this CLINT.
    func validate(_ s: CLINTState) throws {
        guard s.msip.count == hartCount, s.mtimecmp.count == hartCount else {
            throw BoardError.badConfiguration("CLINT state is for \(s.msip.count) harts, this board has \(hartCount)")
        }
    }

    /// Restores a state (validated with `validate`).
    public func restoreState(_ s: CLINTState) {
        for h in 0..<min(hartCount, s.msip.count, s.mtimecmp.count) {
            msipBits[h].store(s.msip[h] & 1, ordering: .releasing)
            compare[h].store(s.mtimecmp[h], ordering: .releasing)
        }
        mtime = s.mtime
    }
}

extension CLINT: HartTimerInputs {
    public func timerCompare(hart: UInt64) -> UInt64 {
        hart < UInt64(hartCount) ? compare[Int(hart)].load(ordering: .relaxed) : .max
    }
    public func softwareInterrupt(hart: UInt64) -> Bool {
        hart < UInt64(hartCount) && msipBits[Int(hart)].load(ordering: .relaxed) & 1 != 0
    }
}

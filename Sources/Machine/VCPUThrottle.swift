// VCPUThrottle: the share of their time a VM's vCPUs sleep (live migration's auto-converge, as
// QEMU's cpu-throttle): at p percent each vCPU thread, after a run chunk of t seconds, sleeps
// t * p / (100 - p). The vCPU loop reads the percentage once per chunk (one relaxed atomic
// load); the interpreter's per-instruction path never sees it.
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A throttle percentage shared between the migration (writer) and the vCPU threads (readers).
public final class VCPUThrottle: Sendable {
    /// The highest percentage accepted: the vCPUs always run a little.
    public static let maximum = 99
    /// The longest sleep after one chunk, seconds (a chunk that waited for interrupts in WFI
    /// counts as running, so this bounds what a throttled idle guest waits).
    public static let longestSleep = 2.0

    /// The run budget while throttled is the normal one divided by this: shorter chunks make
    /// the throttle fine-grained (as QEMU's 10 ms time slices), not one long burst and a long
    /// sleep.
    public static let budgetDivisor = 10

    private let value = Atomic<Int>(0)
    private let slept = Atomic<Int>(0)

    /// An idle throttle (0 %).
    public init() {}

    /// The percentage now (0: not throttled).
    @inline(__always) public var percent: Int { value.load(ordering: .relaxed) }

    /// Sets the percentage, clamped to 0...`maximum`; returns what was stored.
    @discardableResult
    public func set(_ percent: Int) -> Int {
        let p = min(max(percent, 0), Self.maximum)
        value.store(p, ordering: .relaxed)
        return p
    }

    /// Nanoseconds the vCPUs have slept for the throttle so far (all of them together).
    public var sleptNanoseconds: Int { slept.load(ordering: .relaxed) }

    /// Adds a throttled sleep to `sleptNanoseconds` (vCPU threads, once per throttled chunk).
    public func recordSleep(_ seconds: Double) {
        if seconds > 0 { slept.wrappingAdd(Int(seconds * 1e9), ordering: .relaxed) }
    }

    /// Seconds to sleep after running `ran` seconds at `percent` (0 for 0 %).
    public static func sleep(after ran: Double, percent: Int) -> Double {
        guard percent > 0, ran > 0 else { return 0 }
        let p = Double(min(percent, maximum))
        return min(ran * p / (100 - p), longestSleep)
    }

    /// CLOCK_MONOTONIC in seconds (vDSO, no system call).
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

// Clocks for the datapath: the wall clock in production, a manual one that tests warp.

#if canImport(Glibc)
import Glibc
#endif

/// A source of nanosecond timestamps. The datapath reads it once per batch and passes the
/// value down, so nothing in the pipeline reads time on its own.
public protocol DatapathClock: AnyObject, Sendable {
    /// Nanoseconds since the Unix epoch (or since any fixed origin, for tests).
    func now() -> Int64
}

/// CLOCK_REALTIME, so capture timestamps are wall-clock times.
public final class SystemClock: DatapathClock {
    public init() {}
    public func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// A clock that moves only when told to: tests warp time instead of sleeping.
public final class ManualClock: DatapathClock, @unchecked Sendable {
    private var current: Int64
    public init(start: Int64 = 1_700_000_000_000_000_000) { current = start }
    public func now() -> Int64 { current }
    /// Moves time forward.
    public func advance(seconds: Double) { current += Int64(seconds * 1e9) }
    public func set(_ value: Int64) { current = value }
}

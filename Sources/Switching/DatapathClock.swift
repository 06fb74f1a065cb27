// Clocks for the datapath: CLOCK_MONOTONIC for everything that measures time (learning, MAC
// aging), the wall clock only for timestamps people read (pcap captures), and a manual clock
// that tests warp, both its monotonic time and its wall clock.

#if canImport(Glibc)
import Glibc
#endif

/// A source of nanosecond timestamps. The datapath reads it once per batch and passes the
/// value down, so nothing in the pipeline reads time on its own.
///
/// Two times, kept apart: `now()` never steps (NTP, an administrator or a suspended VM may
/// step the wall clock; a MAC table aged by it would forget every entry at a step forward
/// and keep dead ones for the length of a step back), and capture files want wall-clock
/// timestamps, which are `now() + wallClockOffset()`.
public protocol DatapathClock: AnyObject, Sendable {
    /// Monotonic nanoseconds from an arbitrary fixed origin; never goes back or jumps.
    func now() -> Int64
    /// Nanoseconds to add to `now()` for wall-clock time (since the Unix epoch), at this
    /// moment; changes when the wall clock is stepped.
    func wallClockOffset() -> Int64
}

/// CLOCK_MONOTONIC for `now()`; CLOCK_REALTIME minus it for the wall-clock offset.
public final class SystemClock: DatapathClock {
    public init() {}
    /// CLOCK_MONOTONIC in nanoseconds.
    public func now() -> Int64 { Self.read(CLOCK_MONOTONIC) }
    /// CLOCK_REALTIME - CLOCK_MONOTONIC in nanoseconds.
    public func wallClockOffset() -> Int64 { Self.read(CLOCK_REALTIME) &- Self.read(CLOCK_MONOTONIC) }

    static func read(_ id: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// A clock that moves only when told to: tests warp time instead of sleeping, and step its
/// wall clock without moving its monotonic time.
public final class ManualClock: DatapathClock, @unchecked Sendable {
    private var current: Int64
    private var offset: Int64 = 0
    /// A clock at `start` monotonic nanoseconds whose wall clock reads the same.
    public init(start: Int64 = 1_700_000_000_000_000_000) { current = start }
    public func now() -> Int64 { current }
    public func wallClockOffset() -> Int64 { offset }
    /// Moves time forward (both clocks).
    public func advance(seconds: Double) { current += Int64(seconds * 1e9) }
    /// Sets the monotonic time.
    public func set(_ value: Int64) { current = value }
    /// Steps the wall clock by `seconds` (back when negative), as NTP or `date -s` would;
    /// the monotonic time does not move.
    public func stepWallClock(seconds: Double) { offset += Int64(seconds * 1e9) }
}

// DatapathClock: the system clock's `now()` is CLOCK_MONOTONIC and its wall-clock offset
// CLOCK_REALTIME minus that; a manual clock steps its wall clock without moving `now()`. A
// switch ages by `now` and stamps captures with the wall clock.

import Foundation
import Frames
@testable import Switching
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct DatapathClockTests {
    static func read(_ id: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    @Test func systemClockNowIsMonotonicAndTheOffsetGivesWallTime() {
        let clock = SystemClock()
        let before = Self.read(CLOCK_MONOTONIC)
        let now = clock.now()
        let after = Self.read(CLOCK_MONOTONIC)
        #expect(before <= now && now <= after)
        // now + offset is the wall clock, within the time the reads take (a second is generous).
        let wall = clock.now() + clock.wallClockOffset()
        #expect(abs(wall - Self.read(CLOCK_REALTIME)) < 1_000_000_000)
    }

    @Test func manualClockStepsItsWallClockAlone() {
        let clock = ManualClock(start: 5_000)
        clock.stepWallClock(seconds: -1)
        #expect(clock.now() == 5_000 && clock.wallClockOffset() == -1_000_000_000)
        clock.advance(seconds: 1)
        #expect(clock.now() == 1_000_005_000 && clock.wallClockOffset() == -1_000_000_000)
    }

    @Test func aSwitchAgesByNowButStampsCapturesWithTheWallClock() throws {
        let clock = ManualClock()
        let stamps = RecordingSink()
        let sw = vlanLab()
        try sw.setObservers([ObserverConfiguration(name: "cap", selection: ObserverSelection(ingressPorts: ["a1"]), output: .sink(stamps))])
        sw.wallClockOffset = clock.wallClockOffset()
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1", now: clock.now())
        // The wall clock jumps an hour ahead (an NTP step); 10 monotonic seconds pass.
        clock.stepWallClock(seconds: 3600)
        clock.advance(seconds: 10)
        sw.wallClockOffset = clock.wallClockOffset()
        #expect(sw.macTable.age(now: clock.now()) == 0)
        #expect(sw.macTable.lookup(key: MACTable.key(vlan: 10, mac: mac(1).rawValue), now: clock.now()) == 0)
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1", now: clock.now())
        #expect(stamps.timestamps == [t0, t0 + 3_610_000_000_000])
        _ = sw.drain()
    }
}

// VCPUThrottleTests: the throttle's arithmetic (sleep = ran * p / (100 - p), capped) and its
// clamping.

import Machine
import Testing

struct VCPUThrottleTests {
    @Test func theSleepIsTheThrottlesShareOfTheChunk() {
        #expect(VCPUThrottle.sleep(after: 0.01, percent: 0) == 0)
        #expect(abs(VCPUThrottle.sleep(after: 0.01, percent: 20) - 0.0025) < 1e-12)
        #expect(abs(VCPUThrottle.sleep(after: 0.01, percent: 50) - 0.01) < 1e-12)
        #expect(abs(VCPUThrottle.sleep(after: 0.01, percent: 99) - 0.99) < 1e-9)
        // Capped, and never negative.
        #expect(VCPUThrottle.sleep(after: 1, percent: 99) == VCPUThrottle.longestSleep)
        #expect(VCPUThrottle.sleep(after: -1, percent: 50) == 0)
        #expect(VCPUThrottle.sleep(after: 0.01, percent: 500) == VCPUThrottle.sleep(after: 0.01, percent: 99))
    }

    @Test func thePercentageIsClamped() {
        let t = VCPUThrottle()
        #expect(t.percent == 0)
        #expect(t.set(40) == 40 && t.percent == 40)
        #expect(t.set(100) == VCPUThrottle.maximum && t.set(-3) == 0 && t.percent == 0)
    }
}

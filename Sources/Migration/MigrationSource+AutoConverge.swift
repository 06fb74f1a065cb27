// MigrationSource+AutoConverge: QEMU's auto-converge for pre-copy. When rounds stall (the dirty
// set stops shrinking) the source throttles the VM's vCPUs: 20 % first, then 10 % more per
// further stalled round, at most 99 %, and keeps iterating while the throttle can still rise.
// The throttle is removed when the VM is paused for the stop-and-copy and on every failure.

import VMHost

/// The auto-converge schedule (QEMU's defaults: cpu-throttle-initial 20, increment 10).
public enum AutoConverge {
    /// The first throttle, percent.
    public static let initial = 20
    /// Added for each further stalled round, percent.
    public static let increment = 10
    /// The highest throttle, percent.
    public static let maximum = 99

    /// The throttle after one more stalled round at `current` percent; nil when it cannot rise.
    public static func next(after current: Int) -> Int? {
        if current <= 0 { return initial }
        if current >= maximum { return nil }
        return min(current + increment, maximum)
    }
}

extension SourceRun {
    /// Raises the vCPU throttle one step (auto-converge); false when it is at its maximum.
    mutating func raiseThrottle() -> Bool {
        guard let next = AutoConverge.next(after: throttle) else { return false }
        throttle = vm.setThrottle(next)
        report.throttlePct = max(report.throttlePct ?? 0, throttle)
        return true
    }

    /// Takes the throttle off (stop-and-copy, success, failure).
    mutating func removeThrottle() {
        guard throttle > 0 || vm.throttlePercent > 0 else { return }
        vm.setThrottle(0)
        throttle = 0
    }
}

// VCPUThreads: runs a board's vCPUs, one host thread each (as QEMU and Firecracker do), and
// coordinates them: pause parks every vCPU at an instruction boundary (migration, snapshots),
// the first power off or failure ends them all, and a guest reset parks the others while one
// thread reboots the board.

import Foundation

/// The vCPU threads of one board.
public final class VCPUThreads: @unchecked Sendable {
    /// How the vCPUs ended.
    public enum Outcome: Equatable, Sendable {
        /// The guest powered off with this code.
        case poweredOff(Int32)
        /// The VMM could not go on (a fatal trap, a failed reset).
        case failed(String)
        /// `stop` ended them.
        case stopped
    }

    private let board: any Board
    private let name: String
    private let budget: Int
    private let afterRun: (Int) -> Void
    private let onFinish: (Outcome) -> Void
    private let condition = NSCondition()
    private var started = false
    private var live = 0
    private var parked = 0
    private var pauseRequested = false
    private var resetting = false
    private var stopRequested = false
    private var outcome: Outcome?
    /// The share of their time the vCPUs sleep (auto-converge); read once per run chunk.
    public let throttle = VCPUThrottle()

    /// Threads for `board`'s vCPUs named `vcpu-NAME-i`; `afterRun(i)` runs on vCPU i's thread
    /// after each `run` (housekeeping such as console timeouts); `onFinish` runs once, on the
    /// last thread to end.
    public init(board: any Board, name: String, budget: Int = 2_000_000,
                afterRun: @escaping (Int) -> Void = { _ in }, onFinish: @escaping (Outcome) -> Void) {
        self.board = board
        self.name = name
        self.budget = budget
        self.afterRun = afterRun
        self.onFinish = onFinish
    }

    /// Starts one thread per vCPU (once).
    public func start() {
        let count = board.vcpuCount
        let go = condition.withLock { () -> Bool in
            guard !started else { return false }
            started = true
            live = count
            return true
        }
        guard go else { return }
        for i in 0..<count {
            let thread = Thread { [self] in self.loop(vcpu: i) }
            thread.name = "vcpu-\(name)-\(i)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Asks every vCPU to end (a paused one too); `onFinish` reports `.stopped`.
    public func requestStop() {
        condition.withLock {
            stopRequested = true
            condition.broadcast()
        }
        board.requestExit()
    }

    /// Parks every vCPU at an instruction boundary and waits up to `timeout` seconds until they
    /// are. True when all are parked or none runs any more.
    public func pause(timeout: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        pauseRequested = true
        board.requestExit()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while parked < live {
            if !condition.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.01))) && Date() >= deadline {
                return parked >= live
            }
            if parked < live { board.requestExit() }
        }
        return true
    }

    /// Lets parked vCPUs run again.
    public func resume() {
        condition.withLock {
            pauseRequested = false
            condition.broadcast()
        }
    }

    /// Throttles the vCPUs to `percent` (0 removes the throttle and wakes sleeping vCPUs at
    /// once); returns the percentage stored.
    @discardableResult
    public func setThrottle(_ percent: Int) -> Int {
        let p = throttle.set(percent)
        condition.withLock { condition.broadcast() }
        return p
    }

    /// Sleeps (under `condition`) until `until` (monotonic seconds) while throttled; a pause,
    /// stop or reset interrupts the sleep (the caller parks, then sleeps the rest), removing
    /// the throttle ends it.
    private func throttleSleep(until: Double) {
        let began = VCPUThrottle.now()
        while !pauseRequested && !stopRequested && !resetting && throttle.percent > 0 {
            let left = until - VCPUThrottle.now()
            if left <= 0 { break }
            _ = condition.wait(until: Date(timeIntervalSinceNow: left))
        }
        throttle.recordSleep(VCPUThrottle.now() - began)
    }

    /// Whether a pause was requested and every running vCPU is parked.
    public var isPaused: Bool { condition.withLock { pauseRequested && parked >= live } }

    private func loop(vcpu i: Int) {
        // When this vCPU's throttled sleep ends (0: not sleeping); a pause in between does not
        // cut it short, or every migration round would hand a throttled guest a fresh chunk.
        var sleepUntil = 0.0
        while true {
            condition.lock()
            if stopRequested { condition.unlock(); break }
            if pauseRequested || resetting {
                parked += 1
                condition.broadcast()
                while (pauseRequested || resetting) && !stopRequested { condition.wait() }
                parked -= 1
                condition.broadcast()
                condition.unlock()
                continue
            }
            if sleepUntil > 0 {
                throttleSleep(until: sleepUntil)
                if pauseRequested || resetting || stopRequested { condition.unlock(); continue }
                sleepUntil = 0
            }
            condition.unlock()
            // One relaxed load per chunk; the clock is read only while throttled.
            let throttled = throttle.percent
            let began = throttled > 0 ? VCPUThrottle.now() : 0
            let chunk = throttled > 0 ? max(budget / VCPUThrottle.budgetDivisor, 1) : budget
            switch board.run(vcpu: i, budget: chunk) {
            case .continue:
                afterRun(i)
                if throttled > 0 {
                    let now = VCPUThrottle.now()
                    let pause = VCPUThrottle.sleep(after: now - began, percent: throttled)
                    if pause > 0 { sleepUntil = now + pause }
                }
            case .powerOff(let code):
                finish(.poweredOff(code))
            case .failed(let message):
                finish(.failed(message))
            case .reset:
                reset()
            }
        }
        let last = condition.withLock { () -> Outcome? in
            live -= 1
            condition.broadcast()
            return live == 0 ? (outcome ?? .stopped) : nil
        }
        if let last { onFinish(last) }
    }

    /// The first terminal outcome ends every vCPU.
    private func finish(_ o: Outcome) {
        condition.withLock {
            if outcome == nil { outcome = o }
            stopRequested = true
            condition.broadcast()
        }
        board.requestExit()
    }

    /// A guest reset: this thread parks the others, reboots the board and lets them go (a
    /// vCPU that sees the same reset meanwhile just parks).
    private func reset() {
        condition.lock()
        if resetting { condition.unlock(); return }
        resetting = true
        board.requestExit()
        while parked < live - 1 && !stopRequested {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.01))
            if parked < live - 1 { board.requestExit() }
        }
        condition.unlock()
        var failure: String?
        do { try board.reboot() } catch { failure = "reset failed: \(error)" }
        condition.withLock {
            resetting = false
            condition.broadcast()
        }
        if let failure { finish(.failed(failure)) }
    }
}

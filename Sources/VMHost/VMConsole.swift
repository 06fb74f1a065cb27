// VMConsole: where a VM's UART output goes (a log file, stdout with a `name | ` prefix), the
// lines the host parses (appliance reports), and the expect script that drives the console.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Frames

/// Serialises the stdout lines of all VMs so prefixes never interleave.
let stdoutLock = NSLock()

/// One step of a console dialogue: wait for `wait` to appear, then type `send` and Enter.
public struct ExpectStep: Sendable, Equatable {
    public var wait: String
    public var send: String?
    public var timeoutSeconds: Double
    public init(wait: String, send: String? = nil, timeoutSeconds: Double = 30) {
        self.wait = wait
        self.send = send
        self.timeoutSeconds = timeoutSeconds
    }
}

/// The state of a VM's expect script.
public enum ExpectStatus: Equatable, Sendable {
    /// No script.
    case none
    /// Waiting for step `index`.
    case waiting(index: Int)
    /// Every step matched.
    case passed
    /// Step `index` timed out waiting for its pattern.
    case failed(index: Int, pattern: String)
}

/// The console of one VM. `put` runs on the VM's vCPU thread; readers take the lock.
public final class VMConsole: @unchecked Sendable {
    public let name: String
    private let lock = NSLock()
    private var log: UnsafeMutablePointer<FILE>?
    private let toStdout: Bool
    private var line: [UInt8] = []
    private var lines: [String] = []
    private let keepLines: Int
    /// Bytes since the current expect step began (matched by suffix as bytes arrive).
    private var window: [UInt8] = []
    private var steps: [ExpectStep]
    private var stepIndex = 0
    private var stepStarted: Double
    private var status: ExpectStatus
    /// Typed into the guest when a step matches (the VM feeds it to its UART).
    var type: (([UInt8]) -> Void)?
    /// Called for every complete line (the VM parses appliance reports).
    var onLine: ((String) -> Void)?
    /// The output ring and input queue of attached console sessions (`switchboard console`).
    public let tap = ConsoleTap()

    /// `logPath` nil: no log file. Throws when the log cannot be created. With `appendLog`
    /// the log is continued rather than truncated (a VM arriving by migration).
    public init(name: String, logPath: String?, toStdout: Bool, expect: [ExpectStep], keepLines: Int = 200,
                appendLog: Bool = false, now: Double) throws(VMError) {
        self.name = name
        self.toStdout = toStdout
        self.keepLines = keepLines
        steps = expect
        stepStarted = now
        status = expect.isEmpty ? .none : .waiting(index: 0)
        if let logPath {
            // fopen would stop at a NUL and create another file.
            guard !logPath.unicodeScalars.contains("\u{0}") else {
                throw .configuration("VM \(name): console log \(logPath.escapedForTerminal) contains a NUL character")
            }
            guard let f = fopen(logPath, appendLog ? "a" : "w") else {
                throw .configuration("VM \(name): cannot create console log \(logPath): \(String(cString: strerror(errno)))")
            }
            log = f
        }
    }

    deinit { if let log { fclose(log) } }

    /// A byte from the guest's UART.
    public func put(_ byte: UInt8) {
        tap.put(byte)
        lock.lock()
        if let log { fputc(Int32(byte), log) }
        if byte == 10 {
            let text = String(decoding: line, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
            line.removeAll(keepingCapacity: true)
            lines.append(text)
            if lines.count > keepLines { lines.removeFirst(lines.count - keepLines) }
            lock.unlock()
            if toStdout {
                stdoutLock.lock()
                print("\(name) | \(text)")
                fflush(nil)  // a pipe reader (a test, a log collector) sees each line as it comes
                stdoutLock.unlock()
            }
            onLine?(text)
            lock.lock()
        } else if line.count < 4096 {
            line.append(byte)
        }
        var send: [UInt8]? = nil
        if case .waiting(let i) = status {
            window.append(byte)
            let pattern = Array(steps[i].wait.utf8)
            if window.count >= pattern.count && window.suffix(pattern.count).elementsEqual(pattern) {
                window.removeAll(keepingCapacity: true)
                if let s = steps[i].send { send = Array((s + "\n").utf8) }
                stepIndex = i + 1
                stepStarted = monotonicSeconds()
                status = stepIndex == steps.count ? .passed : .waiting(index: stepIndex)
            } else if window.count > 65536 {
                window.removeFirst(32768)
            }
        }
        lock.unlock()
        if let send { type?(send) }
    }

    /// Fails the current step when its timeout has passed; returns the status.
    @discardableResult
    public func checkTimeout(now: Double) -> ExpectStatus {
        lock.lock()
        defer { lock.unlock() }
        if case .waiting(let i) = status, now - stepStarted > steps[i].timeoutSeconds {
            status = .failed(index: i, pattern: steps[i].wait)
        }
        return status
    }

    /// The expect script's state.
    public var expectStatus: ExpectStatus { lock.withLock { status } }

    /// The last lines printed (at most `keepLines`), including an unfinished one.
    public var recentLines: [String] {
        lock.withLock { line.isEmpty ? lines : lines + [String(decoding: line, as: UTF8.self)] }
    }

    /// Flushes the log file.
    public func flush() { lock.withLock { if let log { fflush(log) } } }

    /// The console's state (lines, expect position); the VM adds what it parsed.
    func saveState(now: Double) -> ConsoleState {
        lock.withLock {
            var failed: Int? = nil
            if case .failed(let i, _) = status { failed = i }
            return ConsoleState(partialLine: line, lines: lines, window: window, stepIndex: stepIndex,
                                failedStep: failed, stepElapsed: max(0, now - stepStarted))
        }
    }

    /// Continues from a saved state: the same script must be loaded (the position is checked
    /// against it), so a console of another script is refused and left unchanged.
    func restore(_ s: ConsoleState, now: Double) throws(VMStateError) {
        lock.lock()
        defer { lock.unlock() }
        guard s.stepIndex >= 0, s.stepIndex <= steps.count, s.failedStep.map({ $0 >= 0 && $0 < steps.count }) ?? true else {
            throw .invalid("console expect position \(s.stepIndex) does not fit a script of \(steps.count) steps")
        }
        line = Array(s.partialLine.prefix(4096))
        lines = Array(s.lines.suffix(keepLines))
        window = Array(s.window.suffix(65536))
        stepIndex = s.stepIndex
        stepStarted = now - max(0, s.stepElapsed)
        if steps.isEmpty { status = .none }
        else if let f = s.failedStep { status = .failed(index: f, pattern: steps[f].wait) }
        else if stepIndex == steps.count { status = .passed }
        else { status = .waiting(index: stepIndex) }
        // Sessions attaching here see the lines the VM printed before it moved.
        var tail = lines.suffix(20).flatMap { Array(($0 + "\n").utf8) }
        tail += line
        tap.seed(tail)
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

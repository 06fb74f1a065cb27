// GuestSession: a VM in a child process (`switchboard vm` or QEMU) driven through its serial
// console on stdin/stdout, as a person at the terminal would: wait for text, type a line. Times
// are seconds since the spawn; the CPU the process used comes from /proc/PID/stat.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A guest console session with a child process.
final class GuestSession: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let lock = NSCondition()
    private var text: [UInt8] = []
    private var errorText: [UInt8] = []
    private var ended = false
    private(set) var start = Date()

    /// A session running `executable` with `arguments` (not started).
    init(executable: String, arguments: [String]) {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
    }

    /// Spawns the process and starts collecting its output.
    func run() throws {
        start = Date()
        try process.run()
        for (handle, isError) in [(output.fileHandleForReading, false), (errors.fileHandleForReading, true)] {
            let t = Thread { [self] in
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    lock.withLock {
                        if isError { errorText.append(contentsOf: data) } else { text.append(contentsOf: data) }
                        lock.broadcast()
                    }
                }
                if !isError { lock.withLock { ended = true; lock.broadcast() } }
            }
            t.start()
        }
    }

    /// Everything printed on stdout so far.
    var console: String { lock.withLock { String(decoding: text, as: UTF8.self) } }
    /// Everything printed on stderr so far.
    var stderr: String { lock.withLock { String(decoding: errorText, as: UTF8.self) } }

    /// Waits until stdout holds `needle` at or after byte `from`; returns the seconds since the
    /// spawn and the byte offset just past the match, or nil on timeout or exit.
    func waitFor(_ needle: String, from: Int = 0, timeout: Double) -> (seconds: Double, end: Int)? {
        let pattern = Array(needle.utf8)
        let deadline = Date(timeIntervalSinceNow: timeout)
        lock.lock()
        defer { lock.unlock() }
        var searched = from
        while true {
            if let end = Self.find(pattern, in: text, from: searched) {
                return (Date().timeIntervalSince(start), end)
            }
            searched = max(from, text.count - pattern.count)
            if ended || !lock.wait(until: deadline) { return nil }
        }
    }

    static func find(_ p: [UInt8], in t: [UInt8], from: Int) -> Int? {
        guard !p.isEmpty, t.count >= p.count, from <= t.count - p.count else { return nil }
        var i = max(0, from)
        while i <= t.count - p.count {
            if t[i] == p[0] && t[i..<(i + p.count)].elementsEqual(p) { return i + p.count }
            i += 1
        }
        return nil
    }

    /// Bytes printed so far.
    var length: Int { lock.withLock { text.count } }

    /// Types `line` and Enter on the console.
    func type(_ line: String) {
        input.fileHandleForWriting.write((line + "\n").data(using: .utf8) ?? Data())
    }

    /// User plus system CPU seconds the process has used (from /proc/PID/stat).
    func cpuSeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Waits up to `timeout` seconds for the process to exit, then kills it.
    @discardableResult
    func finish(timeout: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        lock.withLock { _ = lock.wait(until: Date(timeIntervalSinceNow: 1)) }
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    /// The path of this very `switchboard` binary.
    static var selfExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

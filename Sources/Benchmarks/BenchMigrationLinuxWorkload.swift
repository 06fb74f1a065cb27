// `bench migration --linux`, what both systems share: the guest's command line for a workload,
// the TCP stream (Tools/tcp-stream in a namespace host) and the pinger (iputils ping every
// 10 ms from the same host), what sb-tcpsink prints on the guest's console, and a text buffer
// that collects a console from files or pipes.

import ArgumentParser
import Foundation
import HostNetworking

/// The guest side of a row, typed at its shell prompt (the same line on both systems).
enum LinuxBenchGuest {
    /// The guest's address and MAC, the sender/pinger host's address, the stream's port.
    static let guestIP = "10.0.41.1", hostIP = "10.0.41.8", mac = "52:54:00:00:41:01", port = 5001
    /// The line the guest prints when its workload runs.
    static let ready = "bench-ready"

    /// Bootargs of a row: root on the disk for the disk rows (no initramfs), else the initramfs.
    static func bootargs(_ row: LinuxBenchRow) -> String {
        "console=ttyS0 sb.ip=\(guestIP)/24 sb.hostname=linux" + (row.workload.usesDisk ? " root=/dev/vda rw" : "")
    }

    /// The shell line that starts the row's workload in the background and prints `ready`
    /// (written so the echo of the typed line does not contain it).
    static func command(_ row: LinuxBenchRow) -> String {
        var parts: [String] = []
        if row.workload.streams { parts.append("sb-tcpsink \(port) 1099511627776 &") }
        if row.workload.usesDisk {
            parts.append("(while :; do dd if=/dev/urandom of=/bench.dat bs=4096 count=64 2>/dev/null; sync; sleep 1; done) &")
        }
        if row.workload.writesFast { parts.append("sb-dirty \(row.dirtyMiB) \(row.dirtyRateMiB) 86400 > /tmp/dirty.log &") }
        parts.append("echo bench-\"\"ready")
        return parts.joined(separator: " ")
    }
}

/// What sb-tcpsink printed: its gaps over 20 ms and its closing line.
struct TCPSinkLines {
    var gapsMs: [Double] = []
    var received: Int?
    var longestGapMs: Double?
    var status: String?

    /// Parses the sink's lines out of console text (other lines are skipped; a prefix such
    /// as a run's "[bla] linux | " is ignored).
    init(console: String) {
        for raw in console.split(whereSeparator: \.isNewline) {
            guard let start = raw.range(of: "sb-tcpsink: ")?.lowerBound else { continue }
            let line = raw[start...].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("sb-tcpsink: gap "), let ms = Double(line.dropFirst(16).prefix { $0 != " " }) {
                gapsMs.append(ms)
            } else if line.hasPrefix("sb-tcpsink: received ") {
                let words = line.split(separator: " ")
                // sb-tcpsink: received N bytes in S s, longest gap G ms, STATUS
                if words.count >= 12 {
                    received = Int(words[2])
                    longestGapMs = Double(words[9])
                    status = String(words[words.count - 1])
                }
            }
        }
    }
}

/// Console text gathered by reader threads (from pipes) or read from a file, waited on.
final class ConsoleBuffer: @unchecked Sendable {
    private let condition = NSCondition()
    private var text = ""
    private var file: String?

    /// A buffer filled by `follow` (pipes).
    init() {}

    /// A buffer that reads `path` (a console log another process writes) whenever it is asked.
    init(file path: String) { file = path }

    /// Appends everything `handle` delivers, on a thread of its own, until its end.
    func follow(_ handle: FileHandle) {
        Thread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                condition.lock()
                text += String(decoding: data, as: UTF8.self)
                condition.broadcast()
                condition.unlock()
            }
        }.start()
    }

    /// Everything so far.
    var contents: String {
        if let file { return (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }
        condition.lock()
        defer { condition.unlock() }
        return text
    }

    /// Waits until `pattern` occurs after character `offset`; returns the offset past it, or nil.
    func wait(for pattern: String, after offset: Int = 0, timeout: Double) -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let now = contents
            let utf8 = Array(now.utf8)
            if offset < utf8.count, let range = String(decoding: utf8[offset...], as: UTF8.self).range(of: pattern) {
                let tail = String(decoding: utf8[offset...], as: UTF8.self)
                return offset + tail[..<range.upperBound].utf8.count
            }
            if Date() >= deadline { return nil }
            if file != nil {
                usleep(50_000)
            } else {
                condition.lock()
                _ = condition.wait(until: min(deadline, Date().addingTimeInterval(0.1)))
                condition.unlock()
            }
        }
    }

    /// The UTF-8 length of the contents (an offset for `wait`).
    var length: Int { contents.utf8.count }
}

/// A program run in a network namespace (`ip netns exec` execs it in place: signals reach it),
/// its output collected.
final class NamespaceProgram: @unchecked Sendable {
    let process = Process()
    let output = ConsoleBuffer()

    /// Starts `arguments` in namespace `namespace`.
    init(namespace: String, _ arguments: [String]) throws {
        guard let ip = IPCommand.path else { throw ValidationError("ip (iproute2) not found") }
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = ["netns", "exec", namespace] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        LinuxBenchChildren.add(process, signal: SIGKILL)
        output.follow(out.fileHandleForReading)
    }

    /// Sends `signal` and waits up to `timeout` seconds for the exit (SIGKILL after that).
    func stop(_ signal: Int32, timeout: Double) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        LinuxBenchChildren.remove(process)
        usleep(50_000)  // the reader's last bytes
    }
}

/// The stream and the pinger of one row, from namespace host `namespace`.
final class LinuxBenchTraffic {
    private var stream: NamespaceProgram?
    private var ping: NamespaceProgram?
    private let namespace: String

    /// Starts the pinger (every 10 ms), and the stream (1 MiB/s, until stopped) when `streams`.
    init(namespace: String, streams: Bool, tcpStream: String) throws {
        self.namespace = namespace
        ping = try NamespaceProgram(namespace: namespace, ["ping", "-n", "-i", "0.01", "-W", "2", LinuxBenchGuest.guestIP])
        if streams {
            stream = try NamespaceProgram(namespace: namespace, [tcpStream, LinuxBenchGuest.guestIP, String(LinuxBenchGuest.port),
                                                                "--bytes", "1024G", "--rate", "1M", "--connect-timeout", "60", "--timeout", "86400"])
        }
    }

    /// Waits until the stream's connection is established (as `ss` sees it in the sender's
    /// namespace), then a second more; false when it never was.
    func waitForStream(timeout: Double) -> Bool {
        guard let stream else { return true }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && stream.process.isRunning {
            if let ss = try? NamespaceProgram(namespace: namespace, ["ss", "-Htn", "state", "established", "dst", LinuxBenchGuest.guestIP]) {
                ss.process.waitUntilExit()
                LinuxBenchChildren.remove(ss.process)
                usleep(20_000)
                if ss.output.contents.contains(":\(LinuxBenchGuest.port)") {
                    usleep(1_000_000)
                    return stream.process.isRunning
                }
            }
            usleep(200_000)
        }
        return false
    }

    /// Ends the stream (SIGTERM: it hands over what it wrote and reports) and the pinger,
    /// waits for sb-tcpsink's closing line on `console`, and fills in `outcome`.
    func finish(console: ConsoleBuffer, into outcome: inout LinuxRowOutcome) {
        if let stream {
            stream.stop(SIGTERM, timeout: 60)
            let text = stream.output.contents
            if let line = text.split(whereSeparator: \.isNewline).last,
               let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] {
                outcome.streamSent = object["bytes"] as? Int
                outcome.retransmits = object["retransmits"] as? Int
                if let error = object["error"] as? String { outcome.failure = "the TCP stream failed: \(error)" }
            } else {
                outcome.failure = "tcp-stream printed no report: \(text.suffix(300))"
            }
            _ = console.wait(for: "sb-tcpsink: received", timeout: 60)
            let sink = TCPSinkLines(console: console.contents)
            outcome.tcpGapsMs = sink.gapsMs
            outcome.tcpStallMs = sink.longestGapMs
            outcome.streamReceived = sink.received
            if outcome.failure == nil {
                if sink.received == nil {
                    outcome.failure = "sb-tcpsink printed no closing line"
                } else if sink.status == "corrupt" || sink.status == "reset" {
                    outcome.failure = "the stream arrived \(sink.status ?? "?")"
                } else if let sent = outcome.streamSent, sink.received != sent {
                    outcome.failure = "the receiver got \(sink.received ?? 0) of \(sent) bytes"
                }
            }
        }
        if let ping {
            ping.stop(SIGINT, timeout: 5)
            let (answered, lost) = Self.pingFigures(ping.output.contents)
            outcome.pingsAnswered = answered
            outcome.pingsLost = lost
        }
    }

    /// Answered pings, and those unanswered before the last answer (the ones still in flight
    /// when the pinger stopped are not counted as lost), from iputils ping's lines.
    static func pingFigures(_ text: String) -> (answered: Int, lost: Int) {
        var seen = Set<Int>()
        var base = 0, last = -1, highest = 0
        for line in text.split(whereSeparator: \.isNewline) {
            guard line.contains(" bytes from "), let r = line.range(of: "icmp_seq=") else { continue }
            guard let raw = Int(line[r.upperBound...].prefix { $0.isNumber }) else { continue }
            if raw < last - 30_000 { base += 65_536 }  // the 16-bit sequence wrapped
            last = raw
            let sequence = base + raw
            seen.insert(sequence)
            highest = max(highest, sequence)
        }
        guard !seen.isEmpty else { return (0, 0) }
        let first = seen.min() ?? 1
        return (seen.count, (highest - first + 1) - seen.count)
    }
}

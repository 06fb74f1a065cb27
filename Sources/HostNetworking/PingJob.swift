// PingJob: a Linux host's ping run (`"ping"` in a topology). A thread enters the host's
// network namespace and pings through the kernel's stack there (a raw ICMP socket, as
// iputils ping does, with the namespace's ARP, routing and eth0), sending on an exact
// schedule (iputils' own timer, asked for 10 ms, sends every 16 ms on this kernel) and
// timestamping every reply, so the run reports what a user of the network saw: echoes sent,
// answered, duplicated, and the longest silence between two answers (the outage a
// migration causes, as a pinging host sees it).

import CLinuxShims
import Foundation
import Frames

/// What a ping job saw.
public struct PingReport: Codable, Sendable, Equatable {
    /// The Linux host that pinged, and the address it pinged.
    public var host: String
    public var target: String
    /// The interval asked for, milliseconds.
    public var intervalMs: Double
    /// Echo requests sent, replies received (duplicates not counted), duplicate replies.
    public var transmitted: Int
    public var received: Int
    public var duplicates: Int
    /// Requests never answered.
    public var lost: Int
    /// The longest time between two consecutive replies, milliseconds.
    public var longestGapMs: Double
    /// How much longer than one interval the longest gap was: the network outage seen.
    public var outageMs: Double
    /// The slowest reply, milliseconds.
    public var maxRttMs: Double
    /// Why the job could not run or ended early (nil: it ran).
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case host, target, intervalMs = "interval_ms", transmitted, received, duplicates, lost
        case longestGapMs = "longest_gap_ms", outageMs = "outage_ms", maxRttMs = "max_rtt_ms", error
    }

    /// A report.
    public init(host: String, target: String, intervalMs: Double, transmitted: Int = 0, received: Int = 0,
                duplicates: Int = 0, lost: Int = 0, longestGapMs: Double = 0, outageMs: Double = 0, maxRttMs: Double = 0,
                error: String? = nil) {
        self.host = host
        self.target = target
        self.intervalMs = intervalMs
        self.transmitted = transmitted
        self.received = received
        self.duplicates = duplicates
        self.lost = lost
        self.longestGapMs = longestGapMs
        self.outageMs = outageMs
        self.maxRttMs = maxRttMs
        self.error = error
    }
}

/// Counts echo replies as they arrive: answered, duplicated, gaps, round trips.
public struct PingTally: Sendable {
    /// Send times (monotonic ns) by sequence number (1-based; index 0 unused).
    private var sentAt: [Int64] = [0]
    private var answered: [Bool] = [false]
    private var lastReply: Int64?
    public private(set) var received = 0
    public private(set) var duplicates = 0
    public private(set) var longestGap: Int64 = 0
    public private(set) var maxRtt: Int64 = 0

    public init() {}

    /// Sequence numbers sent so far.
    public var transmitted: Int { sentAt.count - 1 }

    /// Records that the next request (sequence `transmitted + 1`) went out at `now`.
    public mutating func sent(at now: Int64) {
        sentAt.append(now)
        answered.append(false)
    }

    /// Records a reply to `sequence` at `now`.
    public mutating func reply(_ sequence: Int, at now: Int64) {
        guard sequence >= 1 && sequence < sentAt.count else { return }
        if answered[sequence] {
            duplicates += 1
            return
        }
        answered[sequence] = true
        received += 1
        maxRtt = max(maxRtt, now - sentAt[sequence])
        if let last = lastReply { longestGap = max(longestGap, now - last) }
        lastReply = now
    }

    /// Whether every request sent has its reply.
    public var allAnswered: Bool { received == transmitted }
}

/// A ping run inside a namespace, in the background.
public final class PingJob: @unchecked Sendable {
    /// The Linux host that pings.
    public let host: String
    public let target: String
    private let namespace: String
    private let intervalMs: Int
    private let count: Int?
    private let lock = NSLock()
    private var tally = PingTally()
    private var finished = false
    private var failure: String?
    private var stopped = false
    private let ended = DispatchSemaphore(value: 0)

    /// A job for `host` (namespace `namespace`) pinging `target` every `intervalMs`,
    /// `count` times (nil: until `stop`).
    public init(host: String, namespace: String, target: String, intervalMs: Int, count: Int?) {
        self.host = host
        self.namespace = namespace
        self.target = target
        self.intervalMs = intervalMs
        self.count = count
    }

    /// Whether the job ends by itself (it has a count).
    public var isCounted: Bool { count != nil }

    /// Whether the job has ended (its count reached and answered, stopped, or failed).
    public var isDone: Bool { lock.withLock { finished } }

    /// Starts in the background: first waits (up to `readyTimeout` seconds) until the target
    /// answers one echo, so the measured run does not count a guest still booting, then sends
    /// the measured echoes; after the last it waits up to a second for their replies.
    public func start(readyTimeout: Double = 30) {
        Thread { [self] in
            defer {
                lock.withLock { finished = true }
                ended.signal()
            }
            guard let address = IPv4Address(target) else { return fail("\(target) is not an IPv4 address") }
            let entered = sb_enter_netns("/var/run/netns/" + namespace)
            guard entered == 0 else { return fail("cannot enter namespace \(namespace): \(HostNetworkingError.errorText(-entered))") }
            let fd = sb_icmp_socket()
            guard fd >= 0 else { return fail("cannot open an ICMP socket in \(namespace): \(HostNetworkingError.errorText(-fd))") }
            defer { _ = sb_close(fd) }
            let destination = address.rawValue.bigEndian
            let identifier = UInt16(truncatingIfNeeded: getpid() ^ Int32(truncatingIfNeeded: UInt(bitPattern: ObjectIdentifier(self).hashValue)))
            var buffer = [UInt8](repeating: 0, count: 2048)

            // Ready: one answered probe (its own identifier, so it never counts).
            let probeID = identifier &+ 1
            let readyBy = sb_monotonic_ns() + Int64(readyTimeout * 1e9)
            var ready = false
            var probe: UInt16 = 0
            while !ready && sb_monotonic_ns() < readyBy && !lock.withLock({ stopped }) {
                probe &+= 1
                _ = sb_icmp_send(fd, destination, Self.echo(identifier: probeID, sequence: probe), 64)
                let until = sb_monotonic_ns() + 50_000_000
                while !ready, let reply = receive(fd, &buffer, until: until) {
                    ready = reply.0 == probeID
                }
            }
            guard ready else { return fail("\(target) never answered a first echo within \(Int(readyTimeout)) s") }

            // The measured run, on an absolute schedule.
            let interval = Int64(intervalMs) * 1_000_000
            var next = sb_monotonic_ns()
            var sequence = 0
            while !lock.withLock({ stopped }) && (count.map { sequence < $0 } ?? true) {
                sequence += 1
                let now = sb_monotonic_ns()
                lock.withLock { tally.sent(at: now) }
                _ = sb_icmp_send(fd, destination, Self.echo(identifier: identifier, sequence: UInt16(truncatingIfNeeded: sequence)), 64)
                next += interval
                drain(fd, &buffer, identifier: identifier, until: next)
            }
            // Linger for the last replies.
            let lingerUntil = sb_monotonic_ns() + (lock.withLock({ stopped }) ? 200_000_000 : 1_000_000_000)
            while !lock.withLock({ tally.allAnswered }) && sb_monotonic_ns() < lingerUntil {
                drain(fd, &buffer, identifier: identifier, until: min(lingerUntil, sb_monotonic_ns() + 10_000_000))
            }
        }.start()
    }

    /// Reads replies until `until` (monotonic ns), recording those to `identifier`.
    private func drain(_ fd: Int32, _ buffer: inout [UInt8], identifier: UInt16, until: Int64) {
        while let (id, sequence) = receive(fd, &buffer, until: until) {
            if id != identifier { continue }
            let now = sb_monotonic_ns()
            lock.withLock {
                // Sequence numbers wrap at 65536: map to the latest request with those low bits.
                var s = Int(sequence)
                let sent = tally.transmitted
                if sent >= 65_536 { s += (sent - s) / 65_536 * 65_536 }
                tally.reply(s, at: now)
            }
        }
    }

    /// The next echo reply before `until`: its identifier and sequence; nil at the deadline.
    private func receive(_ fd: Int32, _ buffer: inout [UInt8], until: Int64) -> (UInt16, UInt16)? {
        while true {
            let left = until - sb_monotonic_ns()
            if left <= 0 { return nil }
            let n = buffer.withUnsafeMutableBytes { Int(sb_icmp_recv(fd, $0.baseAddress, UInt32($0.count), left / 1000)) }
            if n <= 0 { if n < 0 { usleep(1000) }; continue }
            // An IPv4 header, then ICMP: type 0 (echo reply), code, checksum, id, sequence.
            let ihl = Int(buffer[0] & 0x0F) * 4
            guard n >= ihl + 8, buffer[ihl] == 0 else { continue }
            let id = UInt16(buffer[ihl + 4]) << 8 | UInt16(buffer[ihl + 5])
            let seq = UInt16(buffer[ihl + 6]) << 8 | UInt16(buffer[ihl + 7])
            return (id, seq)
        }
    }

    /// An ICMP echo request of 64 bytes (8 of header, 56 of pattern), checksum set.
    static func echo(identifier: UInt16, sequence: UInt16) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: 64)
        packet[0] = 8
        packet[4] = UInt8(identifier >> 8); packet[5] = UInt8(identifier & 0xFF)
        packet[6] = UInt8(sequence >> 8); packet[7] = UInt8(sequence & 0xFF)
        for i in 8..<64 { packet[i] = UInt8(truncatingIfNeeded: i) }
        let sum = InternetChecksum.of(packet)
        packet[2] = UInt8(sum >> 8); packet[3] = UInt8(sum & 0xFF)
        return packet
    }

    private func fail(_ message: String) {
        lock.withLock { failure = message }
    }

    /// Ends the job early and waits for it.
    public func stop(timeout: Double = 5) {
        lock.withLock { stopped = true }
        if ended.wait(timeout: .now() + timeout) == .success { ended.signal() }
    }

    /// What the job saw so far (final once `isDone`).
    public var report: PingReport {
        lock.withLock {
            let t = tally
            let gap = Double(t.longestGap) / 1e6
            return PingReport(host: host, target: target, intervalMs: Double(intervalMs), transmitted: t.transmitted,
                              received: t.received, duplicates: t.duplicates, lost: t.transmitted - t.received,
                              longestGapMs: (gap * 1000).rounded() / 1000,
                              outageMs: (max(0, gap - Double(intervalMs)) * 1000).rounded() / 1000,
                              maxRttMs: (Double(t.maxRtt) / 1e6 * 1000).rounded() / 1000, error: failure)
        }
    }
}

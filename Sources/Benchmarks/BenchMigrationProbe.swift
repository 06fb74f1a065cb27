// The outage probe of `bench migration`: numbered UDP echo requests to the appliance (port 7),
// the replies' arrival times, and from them the network outage (the longest gap between two
// replies around the migration) and the requests never answered. Shared by the Switchboard
// and the QEMU side, which differ only in how the frames travel.

import Foundation

/// Nanoseconds on CLOCK_MONOTONIC.
func monotonicNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// The probe's frames: an echo request to the appliance, and reading its reply.
enum EchoProbeFrame {
    static let vmMAC: [UInt8] = [0x52, 0x54, 0, 0, 0, 1]
    static let probeMAC: [UInt8] = [0x52, 0x54, 0, 0, 0, 9]
    static let vmIP: [UInt8] = [10, 0, 0, 1]
    static let probeIP: [UInt8] = [10, 0, 0, 9]
    static let probePort: UInt16 = 40007
    /// "SBPR", then the sequence number, in the UDP payload.
    static let magic: [UInt8] = [0x53, 0x42, 0x50, 0x52]

    /// Ethernet + IPv4 + UDP (no UDP checksum, which the appliance accepts) to port 7,
    /// carrying `sequence`; 60 bytes.
    static func request(_ sequence: UInt32) -> [UInt8] {
        let payload = magic + be32(sequence) + [UInt8](repeating: 0, count: 8)
        let udp = be16(probePort) + be16(7) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
        var ip: [UInt8] = [0x45, 0] + be16(UInt16(20 + udp.count)) + be16(UInt16(truncatingIfNeeded: sequence)) + [0x40, 0, 64, 17, 0, 0]
        ip += probeIP + vmIP
        let sum = checksum(ip)
        ip[10] = UInt8(sum >> 8)
        ip[11] = UInt8(sum & 0xff)
        let frame = vmMAC + probeMAC + [0x08, 0x00] + ip + udp
        return frame + [UInt8](repeating: 0, count: max(0, 60 - frame.count))
    }

    /// The sequence number of an echo reply to the probe, nil for any other frame.
    static func replySequence(_ f: UnsafeRawBufferPointer) -> UInt32? {
        // SAFETY: the caller's view is valid for the call; every offset read is checked
        // against its count first.
        guard f.count >= 42 + 8, f[12] == 0x08, f[13] == 0x00, f[14] >> 4 == 4, f[23] == 17 else { return nil }
        let udp = 14 + Int(f[14] & 0x0f) * 4
        guard f.count >= udp + 16, field16(f, udp) == 7, field16(f, udp + 2) == probePort,
              f[udp + 8] == magic[0], f[udp + 9] == magic[1], f[udp + 10] == magic[2], f[udp + 11] == magic[3] else { return nil }
        return UInt32(field16(f, udp + 12)) << 16 | UInt32(field16(f, udp + 14))
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xffff)) }
    static func field16(_ f: UnsafeRawBufferPointer, _ at: Int) -> UInt16 { UInt16(f[at]) << 8 | UInt16(f[at + 1]) }

    /// The Internet checksum of an IPv4 header.
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for i in stride(from: 0, to: bytes.count, by: 2) { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

/// What a probe sent and got back (kept by the one thread that sends and receives).
struct ProbeLog {
    /// Send time of each request, by sequence number.
    var sentAt: [Int64] = []
    /// Arrival time of each reply (a request may be answered twice: QEMU's destination can
    /// answer requests that waited in its socket before it ran).
    var replies: [(sequence: Int, at: Int64)] = []

    /// Records a request sent now; returns its sequence number.
    mutating func sent(at time: Int64) -> UInt32 {
        sentAt.append(time)
        return UInt32(sentAt.count - 1)
    }

    /// Records a reply (ignored when its number was never sent).
    mutating func replied(_ sequence: UInt32, at time: Int64) {
        if Int(sequence) < sentAt.count { replies.append((Int(sequence), time)) }
    }

    /// The outage from the migration's start (`from`) to the end of the window (`to`): the
    /// longest time between two consecutive replies, the first being the last one before
    /// the start (or the start itself) and the last gap running to `to`; and the requests
    /// never answered.
    func result(from start: Int64, to end: Int64) -> ProbeResult {
        var previous = replies.last(where: { $0.at <= start })?.at ?? start
        var gap: Int64 = 0, gapStart = previous
        for r in replies where r.at > start && r.at <= end {
            if r.at - previous > gap { (gap, gapStart) = (r.at - previous, previous) }
            previous = r.at
        }
        if end - previous > gap { (gap, gapStart) = (end - previous, previous) }
        let answered = Set(replies.map(\.sequence)).count
        // The same measure before the migration, as a baseline (from the second reply on).
        var quiet: Int64 = 0
        let before = replies.filter { $0.at <= start }.map(\.at)
        for (a, b) in zip(before.dropFirst(), before.dropFirst(2)) { quiet = max(quiet, b - a) }
        return ProbeResult(outageMs: Double(gap) / 1e6, outageAtMs: Double(gapStart - start) / 1e6,
                           baselineMs: Double(quiet) / 1e6, sent: sentAt.count, lost: sentAt.count - answered)
    }
}

/// The figures of one probe run.
struct ProbeResult {
    /// The longest gap between replies, around the migration (milliseconds).
    var outageMs: Double
    /// When that gap began, from the migration's start (milliseconds; negative: the last
    /// reply came before the start).
    var outageAtMs: Double
    /// The longest gap between replies while probing before the migration (milliseconds).
    var baselineMs: Double
    /// Requests sent, and those never answered.
    var sent: Int
    var lost: Int
}

/// How the probe is scheduled around one migration.
struct ProbeTiming {
    /// Between requests (nanoseconds).
    var interval: Int64
    /// Probing before the migration starts, and after it ended (seconds).
    var lead = 0.3
    var tail = 0.3
    /// Waiting for late replies after the last request (seconds).
    var grace = 0.1
}

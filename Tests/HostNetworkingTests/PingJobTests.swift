// PingJobTests: the tally of a ping run (answered, duplicates, gaps, round trips), and a real
// run from a namespace through its kernel stack to a peer namespace (root only).

import Foundation
import Testing
import TestSupport
@testable import HostNetworking

@Suite struct PingJobTests {
    @Test func theTallyCountsRepliesOnceAndMeasuresTheLongestSilence() {
        var t = PingTally()
        let ms: Int64 = 1_000_000
        for i in 0..<5 { t.sent(at: Int64(i) * 10 * ms) }
        t.reply(1, at: 1 * ms)
        t.reply(2, at: 11 * ms)
        t.reply(2, at: 12 * ms)          // a duplicate
        t.reply(4, at: 47 * ms)          // 3 never answered; 36 ms of silence
        t.reply(9, at: 50 * ms)          // never sent: ignored
        #expect(t.transmitted == 5 && t.received == 3 && t.duplicates == 1 && !t.allAnswered)
        #expect(t.longestGap == 36 * ms && t.maxRtt == 17 * ms)
        t.reply(3, at: 48 * ms)
        t.reply(5, at: 49 * ms)
        #expect(t.allAnswered)
    }

    @Test func echoRequestsCarryAValidChecksum() {
        let e = PingJob.echo(identifier: 0x1234, sequence: 7)
        #expect(e.count == 64 && e[0] == 8 && e[4] == 0x12 && e[5] == 0x34 && e[7] == 7)
        #expect(InternetChecksumCheck.sum(e) == 0xFFFF)
    }

    /// Two namespaces joined by a veth pair: the job pings the peer 50 times, 5 ms apart.
    @Test func aJobPingsThroughTheNamespacesKernelStack() throws {
        guard NamespaceLab.skipReason("ping job") == nil else { return }
        let a = "sb-pj-a-\(getpid() % 10000)", b = "sb-pj-b-\(getpid() % 10000)"
        defer {
            IPCommand.attempt(["netns", "delete", a])
            IPCommand.attempt(["netns", "delete", b])
        }
        try IPCommand.run(["netns", "add", a])
        try IPCommand.run(["netns", "add", b])
        try IPCommand.run(["link", "add", "pja\(getpid() % 10000)", "netns", a, "type", "veth", "peer", "name", "pjb\(getpid() % 10000)", "netns", b])
        for (ns, dev, ip) in [(a, "pja\(getpid() % 10000)", "10.77.0.1/24"), (b, "pjb\(getpid() % 10000)", "10.77.0.2/24")] {
            try IPCommand.run(["-n", ns, "addr", "add", ip, "dev", dev])
            try IPCommand.run(["-n", ns, "link", "set", dev, "up"])
        }
        let job = PingJob(host: "a", namespace: a, target: "10.77.0.2", intervalMs: 5, count: 50)
        let started = Date()
        job.start(readyTimeout: 10)
        while !job.isDone && Date().timeIntervalSince(started) < 20 { usleep(10_000) }
        let r = job.report
        #expect(job.isDone && r.error == nil, "\(r)")
        #expect(r.transmitted == 50 && r.received == 50 && r.lost == 0 && r.duplicates == 0, "\(r)")
        #expect(r.longestGapMs > 2 && r.longestGapMs < 50, "replies about 5 ms apart: \(r)")
        // A target nobody answers: the job says so instead of counting a run.
        let silent = PingJob(host: "a", namespace: a, target: "10.77.0.99", intervalMs: 5, count: 5)
        silent.start(readyTimeout: 0.5)
        while !silent.isDone { usleep(10_000) }
        #expect(silent.report.error?.contains("never answered") == true)
    }
}

/// One's-complement sum over 16-bit words (a valid ICMP message sums to 0xFFFF).
enum InternetChecksumCheck {
    static func sum(_ bytes: [UInt8]) -> UInt16 {
        var s: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { s += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { s += UInt32(bytes[i]) << 8 }
        while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
        return UInt16(s)
    }
}

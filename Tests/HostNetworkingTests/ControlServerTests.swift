// ControlServerTests: the control socket served by the datapath loop (no root needed):
// fdb and stats replies, a capture started and stopped at run time, errors as replies, and
// hostile clients: thousands of idle connections, requests dribbled or never finished.
import ControlProtocol
import CLinuxShims
import Foundation
import Testing
import Frames
import Switching
import TestSupport
@testable import HostNetworking

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ControlServerTests {
    /// Runs the loop on a thread while `body` talks to the socket.
    /// With `streaming`, that handler answers instead of a `ControlService`.
    func withServer(_ lab: SocketLab, streaming: ((ControlRequest, Datapath, ControlReplyStream) -> ControlResponse?)? = nil,
                    _ body: (String) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("sub/control.sock")
        let service = ControlService()
        let server = try ControlServer(path: path, datapath: lab.datapath,
                                       streaming: streaming ?? { request, dp, _ in service.handle(request, dp) })
        let datapath = lab.datapath
        let thread = Thread { datapath.run() }
        thread.start()
        defer {
            datapath.requestStop()
            while !thread.isFinished { usleep(1000) }
            server.closeSocket()
            service.closeAll()
        }
        try body(path)
    }

    @Test func fdbAndStatsComeFromTheLoop() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1", mode: .access(VLANID(unchecked: 1)))])
        lab.send(frame(from: macA, to: macB), on: 0)
        lab.pump()
        try withServer(lab) { path in
            let fdb = try ControlClient.send(.fdb(switchName: "sw0"), to: path)
            #expect(fdb.ok)
            #expect(fdb.fdb == [FDBEntry(port: "p0", vlan: 1, mac: "02:00:00:00:00:0a", age: 0, isStatic: false)])
            let stats = try ControlClient.send(.stats(switchName: nil), to: path)
            let p0 = stats.stats?.first?.ports.first
            #expect(p0?.name == "p0" && p0?.rxFrames == 1 && p0?.device == "pair p0")
            let bad = try ControlClient.send(.fdb(switchName: "nope"), to: path)
            #expect(!bad.ok && bad.error?.contains("no switch named nope") == true)
            // Lines a typed client cannot send: the server answers each with the reason.
            #expect(Self.rawReply(#"{"command": "reboot"}"#, to: path).contains(#"unknown command \"reboot\""#))
            #expect(Self.rawReply(#"{"version": 2, "command": "stats"}"#, to: path).contains("unsupported control protocol version 2"))
            #expect(Self.rawReply(#"{"command": "fdb"}"#, to: path).contains("malformed request"))
            // The first, untyped format (no version) still works.
            #expect(Self.rawReply(#"{"command": "stats"}"#, to: path).contains(#""ok":true"#))
        }
    }

    @Test func captureStartedAtRunTimeWritesFrames() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("live.pcap")
        try withServer(lab) { path in
            let start = try ControlClient.send(ControlRequest.captureStart(.init(switchName: "sw0", port: "p1",
                                                                                 file: file, direction: "tx")), to: path)
            #expect(start.ok, "\(start.error ?? "")")
            lab.send(frame(from: macA, to: macB), on: 0)
            usleep(100_000)
            let stop = try ControlClient.send(.captureStop(switchName: nil, name: nil), to: path)
            #expect(stop.ok && stop.message?.contains("1 frames") == true, "\(stop.message ?? stop.error ?? "")")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        #expect(size == 24 + 16 + 60)
    }

    @Test func captureStartRefusesControlCharactersAndErrorsEscapeNames() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try withServer(lab) { path in
            // "x\0y.pcap" would write "x" (libpcap's fopen stops at the NUL).
            let nul = try ControlClient.send(ControlRequest.captureStart(.init(switchName: "sw0",
                                                                               file: dir.file("x\u{0}y.pcap"))), to: path)
            #expect(!nul.ok && nul.error?.contains("control character") == true, "\(nul)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("x")))
            let newline = try ControlClient.send(ControlRequest.captureStart(.init(switchName: "sw0",
                                                                                   file: dir.file("a.pcap"), name: "c\nfake line")), to: path)
            #expect(!newline.ok)
            #expect(try ControlClient.send(.captureList, to: path).captures == [])
            // Names the switch does not have come back escaped, never raw.
            for request: ControlRequest in [.fdb(switchName: "sw\u{1b}[2J"),
                                            .captureStart(.init(switchName: "sw0", port: "p\n9", file: dir.file("b.pcap")))] {
                let reply = try ControlClient.send(request, to: path)
                let error = reply.error ?? ""
                #expect(!reply.ok && !error.unicodeScalars.contains { $0.value < 0x20 }, "\(error.debugDescription)")
                #expect(error.contains(#"sw\u001b[2J"#) || error.contains(#"p\n9"#), "\(error)")
            }
        }
    }

    @Test func aStreamedReplyArrivesLineByLineFromAnotherThread() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0")])
        try withServer(lab, streaming: { request, _, stream in
            guard request == .vmList else { return ControlResponse(ok: true, message: "now") }
            // Answered later, from another thread, in three lines.
            Thread {
                for i in 1...3 {
                    usleep(20_000)
                    stream.send(ControlResponse(ok: true, message: "line \(i)"))
                }
                stream.finish()
            }.start()
            return nil
        }) { path in
            var lines: [String] = []
            let last = try ControlClient.stream(.vmList, to: path) { lines.append($0.message ?? "") }
            #expect(lines == ["line 1", "line 2", "line 3"] && last.message == "line 3")
            // The loop went on serving one-line requests meanwhile and after.
            #expect(try ControlClient.send(.stop, to: path).message == "now")
        }
    }

    @Test func syncRunsOnTheLoopThreadAndInlineOnceItEnded() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0")])
        let datapath = lab.datapath
        let loop = Thread { datapath.run() }
        loop.start()
        var ranOn: Thread?
        var waited = false
        datapath.sync {
            ranOn = Thread.current
            waited = true
        }
        #expect(waited && ranOn !== Thread.current && ranOn != nil)
        datapath.requestStop()
        while !loop.isFinished { usleep(1000) }
        let caller = Thread.current
        var inline = false
        datapath.sync { inline = Thread.current === caller }
        #expect(inline, "after the loop ended, sync runs the body in the caller instead of waiting forever")
    }

    /// Runs the loop on a thread with a server of `limits` while `body` attacks it.
    func withLimitedServer(_ lab: SocketLab, _ limits: ControlLimits, _ body: (String, ControlServer) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("control.sock")
        let service = ControlService()
        let server = try ControlServer(path: path, datapath: lab.datapath, limits: limits,
                                       streaming: { request, dp, _ in service.handle(request, dp) })
        let datapath = lab.datapath
        let thread = Thread { datapath.run() }
        thread.start()
        defer {
            datapath.requestStop()
            while !thread.isFinished { usleep(1000) }
            server.closeSocket()
            service.closeAll()
        }
        try body(path, server)
    }

    /// Client connections the test may open: two descriptors each (client and server end in
    /// this process), under RLIMIT_NOFILE with room to spare.
    static func attackers(wanted: Int) -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return max(100, min(wanted, (Int(limit.rlim_cur) - 512) / 2))
    }

    /// A connected client socket, non-blocking.
    static func connectClient(_ path: String) -> Int32 {
        let fd = sb_unix_connect(path)
        if fd >= 0 { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        return fd
    }

    /// Whether the server has closed `fd` (end of stream or reset); reads and drops what waits.
    static func closedByServer(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n == 0 { return true }
            return errno != EAGAIN && errno != EINTR
        }
    }

    /// Sends one raw request line and returns the reply line (blocking, up to 5 s).
    static func rawReply(_ line: String, to path: String) -> String {
        let fd = sb_unix_connect(path)
        guard fd >= 0 else { return "connect failed" }
        defer { _ = Glibc.close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard send(fd, Array((line + "\n").utf8)) else { return "send failed" }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply += buffer[0..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    /// Sends `bytes` without SIGPIPE; false once the server has closed the connection.
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    @Test func thousandsOfIdleClientsNeitherStopForwardingNorCrowdOutARealRequest() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        let count = Self.attackers(wanted: 2000)
        print("control socket attack: \(count) idle clients (RLIMIT_NOFILE allows it)")
        // The held connections keep their slots for the whole test: the deadline is not what
        // saves the real request here.
        var limits = ControlLimits()
        limits.requestTimeout = 600
        try withLimitedServer(lab, limits) { path, server in
            var clients: [Int32] = []
            defer { for fd in clients { _ = Glibc.close(fd) } }
            for i in 0..<count {
                let fd = Self.connectClient(path)
                try #require(fd >= 0, "connect \(i): \(-fd)")
                clients.append(fd)
                // Some never finish their request line.
                if i % 2 == 0 { _ = Self.send(fd, Array(#"{"command":"st"#.utf8)) }
            }
            // Every connection beyond the cap is closed at once (after a "busy" line); the
            // ones inside it stay open.
            var closed = 0
            #expect(waitUntil(60) {
                closed = clients.filter { Self.closedByServer($0) }.count
                return closed == count - limits.maxConnections
            }, "\(closed) of \(count) closed")
            var open = 0
            lab.datapath.sync { open = server.openConnections }
            #expect(open == limits.maxConnections)

            // The loop forwards every frame meanwhile.
            let frames = 2000
            var received = 0
            for batch in stride(from: 0, to: frames, by: 50) {
                for i in batch..<min(frames, batch + 50) { lab.send(frame(from: macA, to: macB, fill: UInt8(truncatingIfNeeded: i)), on: 0) }
                let want = min(frames, batch + 50)
                #expect(waitUntil(30) {
                    received += lab.received(on: 1).count
                    return received >= want
                })
            }
            #expect(received == frames, "lost \(frames - received)")

            // A real request is answered though every slot is held.
            let stats = try ControlClient.send(.stats(switchName: nil), to: path)
            #expect(stats.ok && stats.stats?.first?.ports.first?.rxFrames == UInt64(frames), "\(stats)")
            lab.datapath.sync { open = server.openConnections }
            #expect(open == limits.maxConnections, "the held connections were not disturbed")
        }
    }

    @Test func aRequestMustArriveWholeWithinItsDeadlineHoweverItIsPaced() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0")])
        var limits = ControlLimits()
        limits.requestTimeout = 0.5
        try withLimitedServer(lab, limits) { path, server in
            let idle = Self.connectClient(path)
            let half = Self.connectClient(path)
            let dribbler = Self.connectClient(path)
            defer { for fd in [idle, half, dribbler] { _ = Glibc.close(fd) } }
            try #require(idle >= 0 && half >= 0 && dribbler >= 0)
            _ = Self.send(half, Array(#"{"command":"#.utf8))
            // A valid request, one byte every 50 ms (about 2 s): each byte arrives well
            // within any per-byte timeout, but the whole line misses the total deadline.
            let request = Array(#"{"command":"stats","switch":null,"name":null}"#.utf8) + [UInt8(ascii: "\n")]
            var sent = 0
            while sent < request.count, Self.send(dribbler, [request[sent]]) {
                sent += 1
                usleep(50_000)
                if Self.closedByServer(dribbler) { break }
            }
            #expect(sent < request.count, "the dribbled request was cut off by the deadline")
            #expect(waitUntil(30) { Self.closedByServer(idle) && Self.closedByServer(half) }, "idle and half-sent connections closed")
            var expired = 0
            lab.datapath.sync { expired = server.expiredConnections }
            #expect(expired == 3)
            // A prompt client is still served.
            #expect(try ControlClient.send(.stats(switchName: nil), to: path).ok)
        }
    }

    @Test func anOverlongRequestGetsAnErrorAndBadLimitsAreRefused() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0")])
        var limits = ControlLimits()
        limits.maxRequestBytes = 1024
        try withLimitedServer(lab, limits) { path, _ in
            let fd = sb_unix_connect(path)
            try #require(fd >= 0)
            defer { _ = Glibc.close(fd) }
            _ = Self.send(fd, [UInt8](repeating: UInt8(ascii: "x"), count: 4096))
            var reply = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 4096)
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                reply += chunk[0..<n]
            }
            #expect(String(decoding: reply, as: UTF8.self).contains("request longer than 1024 bytes"))
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: HostNetworkingError.self) {
            _ = try ControlServer(path: dir.file("bad.sock"), datapath: lab.datapath,
                                  limits: ControlLimits(maxConnections: 0)) { _, _ in .failure("unused") }
        }
    }

    @Test func clientSaysWhenNothingRuns() {
        #expect(throws: ControlClientError.self) {
            _ = try ControlClient.send(.stats(switchName: nil), to: "/tmp/sb-no-such-dir/none.sock")
        }
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
private func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

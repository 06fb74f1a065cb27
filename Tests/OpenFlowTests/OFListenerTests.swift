// OFListenerTests: the passive listener over real TCP: a raw client's HELLO and echo, the
// connection cap, the handshake deadline, and Open vSwitch's ovs-ofctl driving a minimal
// in-test switch (skipped, with the reason printed, when ovs-ofctl is absent).

import Foundation
import NIOCore
import NIOPosix
import TestSupport
import XCTest
@testable import OpenFlow

/// Runs a command with a deadline; returns status, stdout and stderr.
func runTool(_ path: String, _ arguments: [String], timeout: Double = 30) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    killer.cancel()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// A blocking TCP client for the tests (POSIX sockets).
final class RawClient {
    let fd: Int32

    /// Wraps an accepted socket.
    init(adopting fd: Int32) {
        self.fd = fd
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let r = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 { close(fd); throw StreamFailure.connect }
    }

    enum StreamFailure: Error { case connect, closed }

    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }

    /// The next whole message, or nil at EOF / timeout.
    var buffer: [UInt8] = []
    func next() -> (xid: UInt32, message: OFMessage)? {
        while true {
            if buffer.count >= 8 {
                let length = Int(buffer[2]) << 8 | Int(buffer[3])
                if buffer.count >= length {
                    let m = Array(buffer[..<length])
                    buffer.removeFirst(length)
                    return try? OFCodec.decode(m)
                }
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { if ProcessInfo.processInfo.environment["OFDEBUG"] != nil { print("client read \(n) errno \(errno)") }; return nil }
            buffer += chunk[..<n]
        }
    }

    /// Whether the server closed the connection (EOF) within the socket timeout.
    func sawEOF() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n == 0 { return true }
            if n < 0 { return false }
        }
    }

    deinit { close(fd) }
}

final class OFListenerTests: XCTestCase {
    func testRawClientHelloEchoAndErrorsOverTCP() throws {
        let fake = FakeSwitch()
        let listener = try OFListener(host: "127.0.0.1", port: 0) { _ in fake }
        defer { listener.close() }
        let client = try RawClient(port: listener.port)
        client.send(OFCodec.encode(.hello(OFHello(elements: [.versionBitmap([0x10])])), xid: 1)
                    + OFCodec.encode(.echoRequest([9, 9]), xid: 2) + [4, 77, 0, 8, 0, 0, 0, 3]
                    + OFCodec.encode(.featuresRequest, xid: 4))
        XCTAssertEqual(client.next()?.message.name, "HELLO")
        XCTAssertEqual(client.next()?.message, .echoReply([9, 9]))
        let error = client.next()
        XCTAssertEqual(error?.xid, 3)
        if case .error(let e)? = error?.message { XCTAssertEqual(e.error, .badType) } else { XCTFail("no error") }
        XCTAssertEqual(client.next()?.message, .featuresReply(OFFeatures(datapathID: 0x5B, nTables: 4, capabilities: 0x4F)))
    }

    func testUnusableLimitsAreRefused() {
        var limits = OFTransportLimits()
        limits.probeInterval = 0
        XCTAssertThrowsError(try OFListener(host: "127.0.0.1", port: 0, limits: limits) { _ in FakeSwitch() }) {
            XCTAssertTrue("\($0)".contains("probeInterval"), "\($0)")
        }
        limits = OFTransportLimits()
        limits.backoffMax = 0.001
        XCTAssertThrowsError(try OFConnector(host: "127.0.0.1", port: 1, limits: limits) { _ in FakeSwitch() })
        XCTAssertThrowsError(try OFListener(.active(host: "127.0.0.1", port: 1)) { _ in FakeSwitch() })
    }

    func testConnectionCapAndHandshakeDeadline() throws {
        var limits = OFTransportLimits()
        limits.maxConnections = 2
        limits.handshakeTimeout = 0.5
        let listener = try OFListener(host: "127.0.0.1", port: 0, limits: limits) { _ in FakeSwitch() }
        defer { listener.close() }
        let a = try RawClient(port: listener.port), b = try RawClient(port: listener.port)
        XCTAssertEqual(a.next()?.message.name, "HELLO")
        XCTAssertEqual(b.next()?.message.name, "HELLO")
        let c = try RawClient(port: listener.port)
        XCTAssertTrue(c.sawEOF(), "a third connection is closed at once")
        // a and b never sent HELLO: closed at the deadline.
        XCTAssertTrue(a.sawEOF())
        XCTAssertTrue(b.sawEOF())
    }

    /// A controller that sends echo requests and stops reading: the listener stops reading too
    /// (the channel's queue past its read-pause mark), so the controller's writes block with a
    /// bounded amount in flight; the connection is not dropped, and once the controller reads
    /// again every reply arrives, in order.
    func testControllerThatStopsReadingIsPausedNotDropped() throws {
        let fake = FakeSwitch()
        let listener = try OFListener(host: "127.0.0.1", port: 0) { _ in fake }
        defer { listener.close() }
        let client = try RawClient(port: listener.port)
        client.send(OFCodec.encode(.hello(OFHello()), xid: 0))
        XCTAssertEqual(client.next()?.message.name, "HELLO")
        let flags = fcntl(client.fd, F_GETFL)
        _ = fcntl(client.fd, F_SETFL, flags | O_NONBLOCK)
        var written = 0, bytes = 0
        var pending: [UInt8] = []
        while true {
            if pending.isEmpty { pending = OFCodec.encode(.echoRequest([UInt8](repeating: 0xEE, count: 1000)), xid: UInt32(written + 1)) }
            let n = pending.withUnsafeBytes { write(client.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes += n
                pending.removeFirst(n)
                if pending.isEmpty { written += 1 }
                continue
            }
            // Blocked: wait up to 2 s for room; none means the switch has stopped reading.
            var p = pollfd(fd: client.fd, events: Int16(POLLOUT), revents: 0)
            if poll(&p, 1, 2000) == 0 { break }
            XCTAssertLessThan(bytes, 256 << 20, "the switch kept reading")
            if bytes >= 256 << 20 { return }
        }
        XCTAssertLessThan(bytes, 64 << 20, "bounded in flight")
        XCTAssertGreaterThan(written, 1000)
        XCTAssertEqual(listener.connectionCount, 1)
        // Read everything back. The last request may be partly written: its rest goes out
        // as the switch reads again (a blocking write here would wait on a switch that waits
        // for us to read).
        if !pending.isEmpty { written += 1 }
        var buffer: [UInt8] = []
        var expected: UInt32 = 1
        let end = Date(timeIntervalSinceNow: 60)
        while expected <= UInt32(written) && Date() < end {
            if !pending.isEmpty {
                let n = pending.withUnsafeBytes { write(client.fd, $0.baseAddress, $0.count) }
                if n > 0 { pending.removeFirst(n) }
            }
            var p = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) == 1 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(client.fd, $0.baseAddress, 65536) }
            guard n > 0 else { return XCTFail("connection ended after \(expected - 1) of \(written) replies: \(fake.closeReasons)") }
            buffer += chunk[..<n]
            var at = 0
            while buffer.count - at >= 8 {
                let length = Int(buffer[at + 2]) << 8 | Int(buffer[at + 3])
                guard buffer.count - at >= length else { break }
                let reply = try OFCodec.decode(Array(buffer[at..<at + length]))
                XCTAssertEqual(reply.xid, expected)
                if reply.xid != expected { return }
                expected += 1
                at += length
            }
            buffer.removeFirst(at)
        }
        XCTAssertEqual(expected, UInt32(written) + 1, "every reply arrived")
        print("stopped reading after \(written) echo requests, \(bytes) bytes in flight")
    }

    /// ovs-ofctl against the listener: show, add-flow/dump-flows/del-flows, dump-ports,
    /// add-group/dump-groups/dump-group-stats. Everything ovs-ofctl sent must have decoded.
    func testOvsOfctlDrivesTheListener() throws {
        guard let ofctl = ExternalTool.require("ovs-ofctl", for: "testOvsOfctlDrivesTheListener") else { return }
        let fake = FakeSwitch()
        let listener = try OFListener(host: "127.0.0.1", port: 0) { _ in fake }
        defer { listener.close() }
        let target = "tcp:127.0.0.1:\(listener.port)"
        func ofctl13(_ args: String...) throws -> String {
            let r = try runTool(ofctl.path, ["-O", "OpenFlow13", "-t", "10"] + args)
            XCTAssertEqual(r.status, 0, "ovs-ofctl \(args.joined(separator: " ")): \(r.err)")
            return r.out
        }

        let show = try ofctl13("show", target)
        XCTAssertTrue(show.contains("OFPT_FEATURES_REPLY (OF1.3)"), show)
        XCTAssertTrue(show.contains("dpid:000000000000005b"), show)
        XCTAssertTrue(show.contains("n_tables:4"), show)
        XCTAssertTrue(show.contains("1(p1): addr:02:00:00:00:00:01"), show)
        XCTAssertTrue(show.contains("2(p2): addr:02:00:00:00:00:02"), show)
        XCTAssertTrue(show.contains("OFPT_GET_CONFIG_REPLY"), show)

        _ = try ofctl13("add-flow", target, "priority=100,ip,nw_dst=10.0.0.0/8,actions=output:2")
        _ = try ofctl13("add-flow", target, "table=1,priority=5,cookie=0x77,dl_vlan=10,dl_src=02:00:00:00:00:01/ff:ff:ff:00:00:00,tcp,tp_dst=80,actions=pop_vlan,set_field:10.0.0.9->ip_dst,group:1,goto_table:2")
        XCTAssertEqual(fake.flows.count, 2)
        XCTAssertEqual(fake.flows.first?.match, OFMatch([.ethType(0x0800), .ipv4Dst(.init(10, 0, 0, 0), mask: .init(255, 0, 0, 0))]))
        XCTAssertEqual(fake.flows.first?.instructions, [.applyActions([.output(port: 2, maxLength: 0)])])
        let dump = try ofctl13("dump-flows", target)
        XCTAssertTrue(dump.contains("priority=100,ip,nw_dst=10.0.0.0/8 actions=output:2"), dump)
        XCTAssertTrue(dump.contains("cookie=0x77"), dump)
        XCTAssertTrue(dump.contains("table=1"), dump)
        XCTAssertTrue(dump.contains("tp_dst=80"), dump)
        XCTAssertTrue(dump.contains("dl_vlan=10"), dump)
        XCTAssertTrue(dump.contains("dl_src=02:00:00:00:00:00/ff:ff:ff:00:00:00"), dump)
        XCTAssertTrue(dump.contains("actions=pop_vlan,set_field:10.0.0.9->ip_dst,group:1,goto_table:2"), dump)

        let ports = try ofctl13("dump-ports", target)
        XCTAssertTrue(ports.contains("port  1: rx pkts=10"), ports)
        XCTAssertTrue(ports.contains("port  2: rx pkts=20"), ports)

        _ = try ofctl13("add-group", target, "group_id=1,type=all,bucket=output:1,bucket=output:2")
        XCTAssertEqual(fake.groups[1]?.buckets.map(\.actions), [[.output(port: 1, maxLength: 0)], [.output(port: 2, maxLength: 0)]])
        let groups = try ofctl13("dump-groups", target)
        XCTAssertTrue(groups.contains("group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2"), groups)
        let groupStats = try ofctl13("dump-group-stats", target)
        XCTAssertTrue(groupStats.contains("group_id=1"), groupStats)

        _ = try ofctl13("del-flows", target)
        XCTAssertTrue(fake.flows.isEmpty)
        XCTAssertFalse(try ofctl13("dump-flows", target).contains("priority="))

        // Nothing ovs-ofctl sent failed to decode.
        XCTAssertTrue(fake.undecodable.isEmpty, "undecodable: \(fake.undecodable.map { "\($0.0): \($0.1.prefix(16))" })")
        print("ovs-ofctl log: \(fake.log)")
    }
}

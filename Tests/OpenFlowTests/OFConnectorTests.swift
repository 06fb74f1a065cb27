// OFConnectorTests: the active connection to a controller: the backoff rule, reconnecting to a
// controller that drops us, and os-ken (a real controller, from the venv
// Tools/openflow-controllers makes, running Tools/openflow-apps/learning_switch_13.py: the
// os-ken packages do not ship the simple_switch_13 sample; skipped with the reason printed
// when the venv cannot be made).

import Foundation
import Frames
import TestSupport
import XCTest
@testable import OpenFlow

/// A blocking TCP server for one test: accepts connections as `RawClient`s.
final class RawServer {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a -> Int32 in
                _ = bind(fd, a, length)
                listen(fd, 8)
                return getsockname(fd, a, &length)
            }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The next connection within `timeout` seconds.
    func accept(timeout: Double) -> RawClient? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
        let c = Glibc.accept(fd, nil, nil)
        return c >= 0 ? RawClient(fd: c) : nil
    }

    deinit { close(fd) }
}

extension RawClient {
    convenience init(fd: Int32) {
        self.init(adopting: fd)
    }
}

final class OFConnectorTests: XCTestCase {
    func testBackoffDoublesToTheCapAndResetsAfterAConnection() {
        let limits = OFTransportLimits()
        var delay = limits.backoffInitial
        var waits: [Double] = []
        for _ in 0..<6 {
            let (wait, next) = OFConnector.backoff(previous: delay, opened: false, limits: limits)
            waits.append(wait)
            delay = next
        }
        XCTAssertEqual(waits, [1, 2, 4, 8, 8, 8])
        let (wait, next) = OFConnector.backoff(previous: delay, opened: true, limits: limits)
        XCTAssertEqual(wait, 1)
        XCTAssertEqual(next, 2)
    }

    func testReconnectsAfterTheControllerDropsIt() throws {
        let server = try RawServer()
        var limits = OFTransportLimits()
        limits.backoffInitial = 0.05
        limits.backoffMax = 0.2
        let connector = try OFConnector(host: "127.0.0.1", port: server.port, limits: limits) { _ in FakeSwitch() }
        defer { connector.stop() }
        for round in 0..<3 {
            guard let controller = server.accept(timeout: 20) else { return XCTFail("no connection in round \(round)") }
            controller.send(OFCodec.encode(.hello(OFHello()), xid: 1) + OFCodec.encode(.featuresRequest, xid: 2))
            XCTAssertEqual(controller.next()?.message.name, "HELLO")
            XCTAssertEqual(controller.next()?.message.name, "FEATURES_REPLY")
            // The controller goes away: the switch must come back.
        }
        XCTAssertGreaterThanOrEqual(connector.attempts, 3)
    }

    /// os-ken with a learning-switch app against the connector: its HELLO, FEATURES_REQUEST,
    /// port-description request and table-miss FLOW_MOD all decode; a PACKET_IN to an unknown
    /// MAC comes back as a PACKET_OUT flooding the frame, and the answer from that MAC as a
    /// FLOW_MOD matching in_port, eth_src and eth_dst plus a PACKET_OUT to the learned port.
    func testOsKenLearningSwitch() throws {
        guard let (venv, root) = controllersVenv() else { return }
        let fake = FakeSwitch()
        let port = Int.random(in: 20000...40000)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("osken-\(port).log").path
        let manager = Process()
        manager.executableURL = URL(fileURLWithPath: venv + "/bin/osken-manager")
        manager.arguments = ["--ofp-tcp-listen-port", "\(port)", "--ofp-listen-host", "127.0.0.1", "--log-file", log,
                             root + "/Tools/openflow-apps/learning_switch_13.py"]
        manager.standardOutput = FileHandle.nullDevice
        manager.standardError = FileHandle.nullDevice
        try manager.run()
        defer { manager.terminate(); manager.waitUntilExit() }

        var limits = OFTransportLimits()
        limits.backoffInitial = 0.2
        limits.backoffMax = 0.5
        let connections = ConnectionBox()
        let connector = try OFConnector(host: "127.0.0.1", port: port, limits: limits) { c in connections.set(c); return fake }
        defer { connector.stop() }

        let tableMiss = OFFlowMod(priority: 0, match: OFMatch(), instructions: [.applyActions([.output(port: OFPortNumber.controller, maxLength: OFConstant.controllerNoBuffer)])])
        XCTAssertTrue(waitFor(30) { fake.flows.contains { $0.priority == tableMiss.priority && $0.match == tableMiss.match && $0.instructions == tableMiss.instructions } },
                      "no table-miss flow; log: \(fake.log); os-ken: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        // A frame from port 1 to an unknown MAC: the controller floods it.
        let frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06] + [UInt8](repeating: 0, count: 46)
        connections.get()?.sendAsync(.packetIn(OFPacketIn(totalLength: UInt16(frame.count), reason: 0, tableID: 0, cookie: 0,
                                                          match: OFMatch([.inPort(1)]), data: frame)))
        XCTAssertTrue(waitFor(20) { !fake.packetOuts.isEmpty }, "no packet-out; log: \(fake.log)")
        if let out = fake.packetOuts.first {
            XCTAssertEqual(out.inPort, 1)
            XCTAssertEqual(out.actions.count, 1)
            if case .output(let port, _)? = out.actions.first { XCTAssertEqual(port, OFPortNumber.flood) } else { XCTFail("\(out.actions)") }
            XCTAssertEqual(out.data, frame)
        }
        // The reply from 02:..:02 on port 2: the controller knows 02:..:01 is on port 1.
        let reply: [UInt8] = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x06] + [UInt8](repeating: 0, count: 46)
        connections.get()?.sendAsync(.packetIn(OFPacketIn(totalLength: UInt16(reply.count), reason: 0, tableID: 0, cookie: 0,
                                                          match: OFMatch([.inPort(2)]), data: reply)))
        XCTAssertTrue(waitFor(20) { fake.packetOuts.count >= 2 && fake.flows.count >= 2 }, "no learned flow; log: \(fake.log)")
        let learned = fake.flows.first { $0.priority == 1 }
        XCTAssertEqual(learned.map { Set($0.match.fields) },
                       Set([.inPort(2), .ethSrc(MACAddress(2, 0, 0, 0, 0, 2)), .ethDst(MACAddress(2, 0, 0, 0, 0, 1))]))
        if case .output(let port, _)? = fake.packetOuts.last?.actions.first { XCTAssertEqual(port, 1) } else { XCTFail() }
        XCTAssertTrue(fake.undecodable.isEmpty, "undecodable: \(fake.undecodable.map { "\($0.0)" })")
        print("os-ken log: \(fake.log)")
    }
}

extension OFConnectorTests {
    /// Faucet (from the same venv), configured with one datapath and one VLAN on two ports,
    /// against the connector: it programs the switch; everything it sends decodes, and it
    /// gets no ERROR back.
    func testFaucetProgramsTheSwitch() throws {
        guard let (venv, _) = controllersVenv() else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let config = dir.path + "/faucet.yaml"
        try """
        vlans:
          office:
            vid: 100
        dps:
          sw1:
            dp_id: 0x5b
            hardware: "Open vSwitch"
            interfaces:
              1:
                native_vlan: office
              2:
                native_vlan: office
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let port = Int.random(in: 20000...40000)
        let faucet = Process()
        faucet.executableURL = URL(fileURLWithPath: venv + "/bin/faucet")
        faucet.arguments = ["--ryu-ofp-tcp-listen-port", "\(port)", "--ryu-ofp-listen-host", "127.0.0.1"]
        var env = ProcessInfo.processInfo.environment
        // faucet execs osken-manager from PATH.
        env["PATH"] = venv + "/bin:" + (env["PATH"] ?? "/usr/bin:/bin")
        env["FAUCET_CONFIG"] = config
        env["FAUCET_LOG"] = dir.path + "/faucet.log"
        env["FAUCET_EXCEPTION_LOG"] = dir.path + "/faucet-exception.log"
        env["FAUCET_PROMETHEUS_PORT"] = "\(port + 1)"
        env["FAUCET_PROMETHEUS_ADDR"] = "127.0.0.1"
        faucet.environment = env
        faucet.standardOutput = FileHandle.nullDevice
        faucet.standardError = FileHandle.nullDevice
        try faucet.run()
        defer { faucet.terminate(); faucet.waitUntilExit() }

        let fake = FakeSwitch()
        fake.tableCount = 12
        var limits = OFTransportLimits()
        limits.backoffInitial = 0.2
        limits.backoffMax = 0.5
        let connector = try OFConnector(host: "127.0.0.1", port: port, limits: limits) { _ in fake }
        defer { connector.stop() }
        // Programmed: at least 10 flows, and no change for a second.
        var last = -1
        let programmed = waitFor(40) {
            let n = fake.flows.count
            defer { last = n }
            if n >= 10 && n == last { return true }
            usleep(950_000)
            return false
        }
        let faucetLog = (try? String(contentsOfFile: dir.path + "/faucet.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(programmed, "faucet did not program the switch: \(fake.log.suffix(20)); faucet: \(faucetLog.suffix(3000))")
        usleep(500_000)
        XCTAssertTrue(fake.undecodable.isEmpty, "undecodable: \(fake.undecodable.map { "\($0.0) \($0.1.prefix(24))" })")
        // Faucet logs an ERROR the switch sends back as "OFError type: ..."; its own "DP not up" line
        // (ports reported before it marks the datapath up) is no reply of ours.
        XCTAssertTrue(faucetLog.contains("Cold start configuring DP"), faucetLog)
        XCTAssertFalse(faucetLog.contains("OFError"), "faucet got errors: \(faucetLog)")
        let exceptions = (try? String(contentsOfFile: dir.path + "/faucet-exception.log", encoding: .utf8)) ?? ""
        XCTAssertFalse(exceptions.contains("Traceback"), exceptions)
        print("faucet: \(fake.flows.count) flows, \(fake.groups.count) groups; requests: \(Set(fake.log.map { $0.split(separator: " ").prefix(2).joined(separator: " ") }).sorted())")
    }
}

/// The connection a factory was handed, read from the test thread.
final class ConnectionBox: @unchecked Sendable {
    private let lock = NSLock()
    private var connection: OFConnection?
    func set(_ c: OFConnection) { lock.withLock { connection = c } }
    func get() -> OFConnection? { lock.withLock { connection } }
}

/// Polls `condition` every 50 ms for up to `seconds`.
func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = Date(timeIntervalSinceNow: seconds)
    while Date() < end {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

/// The controllers' venv (Tools/openflow-controllers) and the checkout's root, or nil with the
/// reason printed.
func controllersVenv() -> (venv: String, root: String)? {
    var dir = URL(fileURLWithPath: #filePath)
    while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
        dir.deleteLastPathComponent()
    }
    let script = dir.appendingPathComponent("Tools/openflow-controllers").path
    guard let r = try? runTool("/bin/bash", [script], timeout: 900), r.status == 0,
          let path = r.out.split(separator: "\n").last.map(String.init),
          FileManager.default.isExecutableFile(atPath: path + "/bin/osken-manager") else {
        print("skipping the os-ken test: Tools/openflow-controllers could not make the venv")
        return nil
    }
    return (path, dir.path)
}

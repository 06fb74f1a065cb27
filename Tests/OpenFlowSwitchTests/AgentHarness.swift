// AgentHarness: a switch with an OpenFlow agent, driven in process: frames in through the
// switch, controller connections as `OFChannel`s fed bytes directly, asynchronous messages
// caught by a recorder, the clock and the datapath thread played by the test.

import FlowTables
import Foundation
import Frames
import OpenFlow
import Switching
@testable import OpenFlowSwitch

/// Collects the asynchronous messages the agent sends one connection.
final class AsyncRecorder: OFAsyncSink, @unchecked Sendable {
    private let lock = NSLock()
    private var _messages: [OFMessage] = []
    var messages: [OFMessage] { lock.withLock { _messages } }
    func sendAsync(_ message: OFMessage) { lock.withLock { _messages.append(message) } }
    var packetIns: [OFPacketIn] { messages.compactMap { if case .packetIn(let p) = $0 { p } else { nil } } }
}

/// A clock the test moves.
final class TestClock: @unchecked Sendable {
    var now: Int64 = 1_000_000_000
}

/// One controller connection to the agent, without a socket.
final class TestController {
    let channel: OFChannel
    let recorder = AsyncRecorder()
    private var xid: UInt32 = 100
    private var buffer: [UInt8] = []

    init(agent: OFSwitchAgent, primary: Bool) {
        channel = OFChannel(handler: agent.makeHandler(recorder, primary: primary), generations: agent.generations)
        channel.start()
        channel.receive(OFCodec.encode(.hello(OFHello()), xid: 1))
        _ = replies()  // our HELLO
    }

    /// Sends `message` and returns every message the switch answered with.
    @discardableResult
    func send(_ message: OFMessage) -> [OFMessage] {
        xid += 1
        channel.receive(OFCodec.encode(message, xid: xid))
        return replies()
    }

    /// Sends raw bytes and returns the answers.
    func sendRaw(_ bytes: [UInt8]) -> [OFMessage] {
        channel.receive(bytes)
        return replies()
    }

    func replies() -> [OFMessage] {
        buffer += channel.takeOutput()
        var out: [OFMessage] = []
        while buffer.count >= 8 {
            let length = Int(buffer[2]) << 8 | Int(buffer[3])
            guard length >= 8, buffer.count >= length else { break }
            if let m = try? OFCodec.decode(Array(buffer[..<length])) { out.append(m.message) }
            buffer.removeFirst(length)
        }
        return out
    }

    /// The ERROR among `messages`, if any.
    static func error(in messages: [OFMessage]) -> OFError? {
        for m in messages { if case .error(let e) = m { return e.error } }
        return nil
    }
}

/// A three-port switch (p1, p2, p3, access VLAN 1) with an agent.
final class AgentHarness {
    let pool = PacketPool(capacity: 1024)
    let sw: Switch
    let agent: OFSwitchAgent
    let clock = TestClock()

    init(failMode: OFSwitchAgentConfiguration.FailMode = .secure, hasControllers: Bool = false, tables: Int = 8,
         packetInsPerSecond: Int = 10_000) throws {
        sw = try Switch(configuration: SwitchConfiguration(name: "s1", ports: ["p1", "p2", "p3"].map { PortConfiguration(name: $0) }),
                        pool: pool)
        let clock = self.clock
        agent = try OFSwitchAgent(switch: sw, configuration: OFSwitchAgentConfiguration(
            datapathID: 0xA1, failMode: failMode, hasControllers: hasControllers, tables: tables,
            packetInsPerSecond: packetInsPerSecond),
            clock: { clock.now }, onDatapath: { body in body(clock.now) })
        sw.ingressProcessor = agent
    }

    /// A UDP frame from `src` to `dst` (MAC last bytes), IPv4 10.0.0.src -> 10.0.0.dst.
    static func frame(src: UInt8, dst: UInt8, udpPort: UInt16 = 7) -> [UInt8] {
        var f: [UInt8] = [2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src, 0x08, 0x00]
        f += [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, src, 10, 0, 0, dst]
        f += [0, 9, UInt8(udpPort >> 8), UInt8(udpPort & 0xFF), 0, 8, 0, 0]
        while f.count < 60 { f.append(0) }
        return f
    }

    /// Sends `frame` in on port index `port` and returns, per port, the frames queued for output
    /// (the queues are emptied).
    @discardableResult
    func inject(_ frame: [UInt8], port: Int) -> [[[UInt8]]] {
        let handle = frame.withUnsafeBytes { pool.make(copying: $0) }!
        _ = sw.receive(port: port, handle: handle, now: clock.now)
        return drain()
    }

    func drain() -> [[[UInt8]]] {
        var out: [[[UInt8]]] = []
        for p in 0..<sw.portCount {
            out.append(sw.transmitQueue(port: p).map { Array(pool.bytes($0.handle)) })
            sw.clearTransmitQueue(port: p, releasing: true)
        }
        return out
    }

    /// An apply-actions flow.
    static func flow(_ fields: [OXMField], priority: UInt16 = 100, actions: [OFAction], table: UInt8 = 0,
                     command: OFFlowMod.Command = .add, idle: UInt16 = 0, flags: UInt16 = 0) -> OFMessage {
        .flowMod(OFFlowMod(tableID: table, command: command, idleTimeout: idle, priority: priority, flags: flags,
                           match: OFMatch(fields), instructions: actions.isEmpty ? [] : [.applyActions(actions)]))
    }
}

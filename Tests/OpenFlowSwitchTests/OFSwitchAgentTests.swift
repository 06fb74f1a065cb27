// OFSwitchAgentTests: a switch programmed over OpenFlow, in process: fail modes, flows that
// forward, packet-in and its rate limit, packet-out, the errors the spec names for what the
// datapath does not do, timeouts and port status, roles, statistics, hostile input, and no
// allocation on the forwarding path.

import CAllocationCounter
import FlowTables
import Frames
import OpenFlow
import Switching
import Testing
@testable import OpenFlowSwitch

@Suite struct OFSwitchAgentTests {
    @Test func aSecureSwitchDropsUntilAFlowForwards() throws {
        let h = try AgentHarness(failMode: .secure)
        let frame = AgentHarness.frame(src: 1, dst: 2)
        #expect(h.inject(frame, port: 0).allSatisfy({ $0.isEmpty }), "no flows: nothing forwarded")
        let c = TestController(agent: h.agent, primary: false)
        #expect(c.send(AgentHarness.flow([.inPort(1)], actions: [.output(port: 2, maxLength: 0)])).isEmpty)
        let out = h.inject(frame, port: 0)
        #expect(out[1] == [frame])
        #expect(out[2].isEmpty && out[0].isEmpty)
        let replies = c.send(.multipartRequest(OFMultipartRequest(body: .flow(OFFlowStatsRequest()))))
        guard case .multipartReply(let r)? = replies.first, case .flow(let stats) = r.body else {
            Issue.record("no flow stats: \(replies)")
            return
        }
        #expect(stats.count == 1)
        #expect(stats.first?.packetCount == 1)
        #expect(stats.first?.match == OFMatch([.inPort(1)]))
        #expect(h.sw.counters(port: 0).rxFrames == 2, "frames a flow drops still count as received")
        #expect(h.sw.counters(port: 1).txFrames == 1)
    }

    @Test func withoutControllersStandaloneStartsWithANormalFlow() throws {
        let h = try AgentHarness(failMode: .standalone, hasControllers: false)
        let lines = h.agent.dumpFlows(now: h.clock.now)
        #expect(lines.count == 2)
        #expect(lines.last?.contains("priority=0 actions=NORMAL") == true, "\(lines)")
        // The L2 switch floods an unknown destination, learns, then forwards.
        let out = h.inject(AgentHarness.frame(src: 1, dst: 2), port: 0)
        #expect(out[1].count == 1 && out[2].count == 1)
        h.inject(AgentHarness.frame(src: 2, dst: 1), port: 1)
        let back = h.inject(AgentHarness.frame(src: 1, dst: 2), port: 0)
        #expect(back[1].count == 1 && back[2].isEmpty)
        #expect(h.sw.counters(port: 0).rxFrames == 2, "NORMAL counts a frame once")
    }

    @Test func standaloneFallsBackToL2WhileItsControllersAreAway() throws {
        let h = try AgentHarness(failMode: .standalone, hasControllers: true)
        #expect(!h.agent.takesOver)
        #expect(h.inject(AgentHarness.frame(src: 1, dst: 2), port: 0)[1].count == 1, "L2 floods")
        let service = TestController(agent: h.agent, primary: false)
        #expect(!h.agent.takesOver, "a listener's client (ovs-ofctl) is not a controller")
        let controller = TestController(agent: h.agent, primary: true)
        #expect(h.agent.takesOver)
        #expect(h.inject(AgentHarness.frame(src: 1, dst: 2), port: 0).allSatisfy({ $0.isEmpty }), "empty table: dropped")
        controller.channel.close(.transport("test"))
        #expect(!h.agent.takesOver, "back to L2 when the controller goes")
        #expect(h.inject(AgentHarness.frame(src: 1, dst: 2), port: 0)[1].count == 1)
        _ = service
    }

    @Test func secureStaysOnFlowsWhenTheControllerGoes() throws {
        let h = try AgentHarness(failMode: .secure, hasControllers: true)
        let c = TestController(agent: h.agent, primary: true)
        c.send(AgentHarness.flow([.inPort(1)], actions: [.output(port: 3, maxLength: 0)]))
        c.channel.close(.transport("test"))
        #expect(h.agent.takesOver)
        let out = h.inject(AgentHarness.frame(src: 1, dst: 2), port: 0)
        #expect(out[2].count == 1 && out[1].isEmpty, "installed flows keep forwarding")
        #expect(h.inject(AgentHarness.frame(src: 2, dst: 1), port: 1).allSatisfy({ $0.isEmpty }), "no flow: dropped")
    }

    @Test func tableMissGoesToTheControllerWithinTheRateLimit() throws {
        let h = try AgentHarness(failMode: .secure, packetInsPerSecond: 5)
        let c = TestController(agent: h.agent, primary: true)
        c.send(AgentHarness.flow([], priority: 0, actions: [.output(port: OFPortNumber.controller, maxLength: 0xFFFF)]))
        let frame = AgentHarness.frame(src: 1, dst: 2)
        for _ in 0..<10 { h.inject(frame, port: 1) }
        let ins = c.recorder.packetIns
        #expect(ins.count == 5)
        #expect(ins.first?.reason == 0, "table miss: NO_MATCH")
        #expect(ins.first?.match == OFMatch([.inPort(2)]))
        #expect(ins.first?.data == frame)
        #expect(h.agent.counters.packetInsDropped == 5)
        h.agent.tick(now: h.clock.now)
        h.inject(frame, port: 1)
        #expect(c.recorder.packetIns.count == 6, "the budget refills every second")
        // A flow's CONTROLLER:max_len cuts the data (reason ACTION).
        c.send(AgentHarness.flow([.inPort(3)], actions: [.output(port: OFPortNumber.controller, maxLength: 20)]))
        h.inject(frame, port: 2)
        #expect(c.recorder.packetIns.last?.data == Array(frame.prefix(20)))
        #expect(c.recorder.packetIns.last?.reason == 1)
        #expect(c.recorder.packetIns.last?.totalLength == UInt16(frame.count))
    }

    @Test func packetOutForwardsAndItsMistakesGetErrors() throws {
        let h = try AgentHarness(failMode: .secure)
        let c = TestController(agent: h.agent, primary: true)
        let frame = AgentHarness.frame(src: 9, dst: 8)
        #expect(c.send(.packetOut(OFPacketOut(inPort: OFPortNumber.controller, actions: [.output(port: 3, maxLength: 0)], data: frame))).isEmpty)
        #expect(h.drain()[2] == [frame])
        #expect(c.send(.packetOut(OFPacketOut(inPort: 1, actions: [.output(port: OFPortNumber.flood, maxLength: 0)], data: frame))).isEmpty)
        let flooded = h.drain()
        #expect(flooded[0].isEmpty && flooded[1] == [frame] && flooded[2] == [frame], "FLOOD leaves out in_port")
        #expect(TestController.error(in: c.send(.packetOut(OFPacketOut(inPort: 1, actions: [.output(port: 99, maxLength: 0)], data: frame)))) == .actionBadOutPort)
        #expect(TestController.error(in: c.send(.packetOut(OFPacketOut(bufferID: 7, inPort: 1, actions: [], data: frame)))) == .bufferUnknown)
        #expect(TestController.error(in: c.send(.packetOut(OFPacketOut(inPort: 77, actions: [], data: frame)))) == .badPort)
        #expect(TestController.error(in: c.send(.packetOut(OFPacketOut(inPort: 1, actions: [.pushMPLS(ethertype: 0x8847)], data: frame)))) == .actionBadType)
        // OFPP_TABLE runs the packet through the flow tables.
        c.send(AgentHarness.flow([.inPort(2)], actions: [.output(port: 1, maxLength: 0)]))
        #expect(c.send(.packetOut(OFPacketOut(inPort: 2, actions: [.output(port: OFPortNumber.table, maxLength: 0)], data: frame))).isEmpty)
        #expect(h.drain()[0] == [frame])
        #expect(h.agent.counters.packetOuts == 3)
    }

    @Test func whatTheDatapathCannotDoGetsTheSpecsErrorAndTheConnectionStays() throws {
        let h = try AgentHarness(failMode: .secure, tables: 4)
        let c = TestController(agent: h.agent, primary: true)
        let out1 = [OFAction.output(port: 1, maxLength: 0)]
        #expect(TestController.error(in: c.send(AgentHarness.flow([.ethType(0x86DD), .ipProto(58), OXMField(.icmpv6Type, 135)], actions: out1))) == .matchBadField)
        #expect(TestController.error(in: c.send(AgentHarness.flow([OXMField(.tcpDst, 80)], actions: out1))) == .matchBadPrereq)
        #expect(TestController.error(in: c.send(AgentHarness.flow([], actions: [.copyTTLOut]))) == .actionBadType)
        #expect(TestController.error(in: c.send(AgentHarness.flow([], actions: [.output(port: 4, maxLength: 0)]))) == .actionBadOutPort)
        #expect(TestController.error(in: c.send(AgentHarness.flow([], actions: out1, table: 9))) == .flowModBadTableID)
        let meter = OFMessage.flowMod(OFFlowMod(match: OFMatch(), instructions: [.meter(1)]))
        #expect(TestController.error(in: c.send(meter)) == .instructionUnsupported)
        #expect(TestController.error(in: c.send(.flowMod(OFFlowMod(command: .add, bufferID: 3, match: OFMatch())))) == .bufferUnknown)
        #expect(TestController.error(in: c.send(.multipartRequest(OFMultipartRequest(body: .tableFeatures([1, 2, 3, 4, 5, 6, 7, 8]))))) == .tableFeaturesEPERM)
        #expect(c.send(.echoRequest([1])) == [.echoReply([1])], "still open")
        #expect(h.agent.counters.errors == 7)
        #expect(h.agent.withPipeline { $0.flowCount } == 0)
    }

    @Test func timeoutsSendFlowRemovedAndLinkChangesSendPortStatus() throws {
        let h = try AgentHarness(failMode: .secure)
        let c = TestController(agent: h.agent, primary: true)
        c.send(AgentHarness.flow([.inPort(1)], actions: [.output(port: 2, maxLength: 0)], idle: 1, flags: OFFlowMod.Flag.sendFlowRemoved))
        c.send(AgentHarness.flow([.inPort(2)], actions: [.output(port: 1, maxLength: 0)], idle: 1))
        h.clock.now += 2_000_000_000
        h.agent.tick(now: h.clock.now)
        let removed = c.recorder.messages.compactMap { if case .flowRemoved(let r) = $0 { r } else { nil } }
        #expect(removed.count == 1, "only the flow that asked for it")
        #expect(removed.first?.reason == 0 && removed.first?.match == OFMatch([.inPort(1)]))
        #expect(h.agent.withPipeline { $0.flowCount } == 0)
        h.sw.setPortUp(2, false)
        h.agent.tick(now: h.clock.now)
        let status = c.recorder.messages.compactMap { if case .portStatus(let s) = $0 { s } else { nil } }
        #expect(status.count == 1)
        #expect(status.first?.port.portNo == 3 && status.first?.port.state == 1 && status.first?.reason == 2)
        h.agent.tick(now: h.clock.now)
        #expect(c.recorder.messages.count == 2, "no change, no message")
        h.sw.setPortUp(2, true)
        h.sw.setPortUp(2, false)
        let states = c.recorder.messages.compactMap { if case .portStatus(let s) = $0 { s.port.state } else { nil } }
        #expect(states == [1, 4, 1], "each change at once, without waiting for the tick")
        // Deleting a flow that asked for it: FLOW_REMOVED with reason DELETE.
        c.send(AgentHarness.flow([.inPort(3)], actions: [], flags: OFFlowMod.Flag.sendFlowRemoved))
        c.send(AgentHarness.flow([], actions: [], table: 0xFF, command: .delete))
        #expect(c.recorder.messages.compactMap { if case .flowRemoved(let r) = $0 { Int(r.reason) } else { nil } } == [0, 2])
        // A frame arriving on a port that is down is dropped before the tables, as the L2 switch does.
        c.send(AgentHarness.flow([.inPort(3)], actions: [.output(port: 1, maxLength: 0)]))
        #expect(h.inject(AgentHarness.frame(src: 3, dst: 1), port: 2).allSatisfy({ $0.isEmpty }))
    }

    @Test func aNewMasterDemotesTheOldOne() throws {
        let h = try AgentHarness()
        let a = TestController(agent: h.agent, primary: true)
        let b = TestController(agent: h.agent, primary: true)
        a.send(.roleRequest(OFRoleMessage(role: .master, generationID: 1)))
        #expect(a.channel.role == .master)
        b.send(.roleRequest(OFRoleMessage(role: .master, generationID: 2)))
        #expect(b.channel.role == .master && a.channel.role == .slave)
        #expect(TestController.error(in: a.send(AgentHarness.flow([], actions: []))) == .isSlave)
    }

    @Test func featuresDescriptionsAndTableFeaturesDescribeTheSwitch() throws {
        let h = try AgentHarness(tables: 5)
        let c = TestController(agent: h.agent, primary: false)
        guard case .featuresReply(let f)? = c.send(.featuresRequest).first else { Issue.record("no features"); return }
        #expect(f.datapathID == 0xA1 && f.nTables == 5)
        guard case .multipartReply(let r)? = c.send(.multipartRequest(OFMultipartRequest(body: .portDesc))).first,
              case .portDesc(let ports) = r.body else { Issue.record("no ports"); return }
        #expect(ports.map(\.name) == ["p1", "p2", "p3"] && ports.map(\.portNo) == [1, 2, 3])
        guard case .multipartReply(let t)? = c.send(.multipartRequest(OFMultipartRequest(body: .tableFeatures([])))).first,
              case .tableFeatures(let body) = t.body else { Issue.record("no table features"); return }
        #expect(try OFTableFeatures.decode(body).map(\.tableID) == [0, 1, 2, 3, 4])
        guard case .multipartReply(let s)? = c.send(.multipartRequest(OFMultipartRequest(body: .portStats(port: 9)))).first else {
            // An unknown port is an error, not an empty reply.
            return
        }
        Issue.record("port 9 answered with \(s)")
    }

    @Test func groupsForwardThroughTheSwitch() throws {
        let h = try AgentHarness(failMode: .secure)
        let c = TestController(agent: h.agent, primary: true)
        #expect(c.send(.groupMod(OFGroupMod(command: 0, type: 0, groupID: 5, buckets: [
            OFBucket(actions: [.output(port: 2, maxLength: 0)]), OFBucket(actions: [.output(port: 3, maxLength: 0)]),
        ]))).isEmpty)
        c.send(AgentHarness.flow([.inPort(1)], actions: [.group(5)]))
        let frame = AgentHarness.frame(src: 1, dst: 2)
        let out = h.inject(frame, port: 0)
        #expect(out[1] == [frame] && out[2] == [frame])
        #expect(TestController.error(in: c.send(.groupMod(OFGroupMod(command: 0, type: 0, groupID: 6, buckets: [
            OFBucket(actions: [.output(port: 40, maxLength: 0)]),
        ])))) == .actionBadOutPort)
    }

    @Test func hostileBytesNeverStopForwarding() throws {
        let h = try AgentHarness(failMode: .secure)
        let c = TestController(agent: h.agent, primary: true)
        c.send(AgentHarness.flow([.inPort(1)], actions: [.output(port: 2, maxLength: 0)]))
        var rng = SystemRandomNumberGenerator()
        var seed: UInt64 = 0x5EED
        for round in 0..<2_000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            // Valid headers with random bodies: each message is framed and then rejected or applied.
            let type = UInt8(truncatingIfNeeded: seed >> 33) % 30
            let length = 8 + Int(seed >> 40) % 120
            var bytes: [UInt8] = [4, type, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 0, UInt8(round & 0xFF)]
            for _ in 8..<length { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
            _ = c.sendRaw(bytes)
            if c.channel.isClosed { break }
        }
        #expect(!c.channel.isClosed, "framed garbage gets errors, not a closed connection")
        let frame = AgentHarness.frame(src: 1, dst: 2)
        let out = h.inject(frame, port: 0)
        #expect(out[1].contains(frame), "the flow still forwards")
    }

    @Test func aMatchSurvivesTheWireAndBack() throws {
        let fields: [OXMField] = [.inPort(3), OXMField(.metadata, 0x10, mask: 0xF0), .ethDst(MACAddress(0x02, 0, 0, 0, 0, 1)),
                                  .ethSrc(MACAddress(0x02, 0, 0, 0, 0, 0), mask: MACAddress(0xFF, 0xFF, 0xFF, 0, 0, 0)),
                                  .ethType(0x0800), .vlanVID(0x1000 | 10), OXMField(.vlanPCP, 3), .ipProto(17),
                                  .ipv4Src(IPv4Address(10, 0, 0, 0), mask: IPv4Address(255, 0, 0, 0)),
                                  .ipv4Dst(IPv4Address(10, 1, 2, 3)), OXMField(.udpDst, 53)]
        let flow = try WireTranslation.match(OFMatch(fields))
        #expect(Set(WireTranslation.match(flow).fields) == Set(fields))
        let actions: [OFAction] = [.pushVLAN(ethertype: 0x8100), .setField(.vlanVID(0x1000 | 20)), .popVLAN, .decNWTTL,
                                   .setField(.ipv4Dst(IPv4Address(10, 9, 9, 9))), .group(3), .output(port: 2, maxLength: 0)]
        #expect(try WireTranslation.actions(actions).map { WireTranslation.action($0) } == actions)
    }

    @Test func forwardingByFlowsAllocatesNothing() throws {
        try #require(sb_allocation_counter_active() == 1, "malloc interposition is not in effect")
        let h = try AgentHarness(failMode: .secure)
        let c = TestController(agent: h.agent, primary: true)
        c.send(AgentHarness.flow([.inPort(1), .ethType(0x0800), .ipProto(17)], actions: [.output(port: 2, maxLength: 0)]))
        c.send(AgentHarness.flow([.inPort(2)], actions: [.output(port: OFPortNumber.normal, maxLength: 0)]))
        let frames = (0..<64).map { AgentHarness.frame(src: 1, dst: 2, udpPort: UInt16($0)) }
        let handles = UnsafeMutablePointer<PacketHandle>.allocate(capacity: 64)
        defer { handles.deallocate() }
        var counted: Int64 = 0
        func round(_ i: Int) {
            for (k, f) in frames.enumerated() { handles[k] = f.withUnsafeBytes { h.pool.make(copying: $0) }! }
            let before = sb_thread_allocation_count()
            h.sw.receive(port: i % 2, batch: UnsafeBufferPointer(start: handles, count: 64), now: h.clock.now)
            counted += Int64(sb_thread_allocation_count() - before)
            for p in 0..<3 { h.sw.clearTransmitQueue(port: p, releasing: true) }
        }
        round(0); round(1)
        counted = 0
        for i in 0..<100 { round(i) }
        #expect(counted == 0, "allocations forwarding by flows: \(counted)")
    }
}

// FlowPipeline flow-mod semantics (OF 1.3 §6.4): add/replace, overlap, modify and delete
// strict and not, cookies, out_port/out_group, table ALL, priorities, table miss, the flow
// cap, timeouts on an injected clock, and the exact-match cache's invalidation.

import Testing
import Frames
@testable import FlowTables

@Suite struct FlowPipelineTests {
    let ipMatch = FlowMatch.with { $0.ethType = 0x0800 }
    let udp2000 = FlowMatch.with { $0.ethType = 0x0800; $0.ipProto = 17; $0.udpDst = 2000 }

    @Test func priorityOrderAndTableMiss() {
        let h = Harness()
        #expect(h.ports(udpFrame()) == []) // empty table: drop
        h.add(priority: 10, ipMatch, [out(2)])
        h.add(priority: 20, udp2000, [out(3)])
        h.add(priority: 5, FlowMatch(), [out(4)])
        #expect(h.ports(udpFrame()) == [3])
        #expect(h.ports(udpFrame(dport: 9)) == [2])
        #expect(h.ports(FrameBuilder.arpRequest(from: macA, ipA, for: ipB)) == [4])
        // A table-miss entry sends to the controller with reason NO_MATCH; other entries ACTION.
        let m = Harness()
        m.add(priority: 0, FlowMatch(), [.applyActions([.output(port: OFPort.controller, maxLength: 128)])])
        m.add(priority: 1, ipMatch, [.applyActions([.output(port: OFPort.controller)])])
        let miss = m.run(FrameBuilder.arpRequest(from: macA, ipA, for: ipB))
        #expect(miss.count == 1 && miss[0].decision.kind == .controller && miss[0].decision.reason == .noMatch && miss[0].decision.maxLength == 128)
        let hit = m.run(udpFrame())
        #expect(hit.count == 1 && hit[0].decision.reason == .action)
    }

    @Test func maskedFields() {
        let h = Harness()
        h.add(priority: 10, .with { $0.ethType = 0x0800; $0.ipv4Dst = Masked(0x0A00_0000, mask: 0xFF00_0000) }, [out(2)])
        h.add(priority: 20, .with { $0.ethType = 0x0800; $0.ipv4Dst = Masked(0x0A00_0000, mask: 0xFFFF_FF00) }, [out(3)])
        h.add(priority: 30, .with { $0.ethDst = Masked(0x0100_0000_0000, mask: 0x0100_0000_0000) }, [out(4)])
        h.add(priority: 40, .with { $0.metadata = Masked(0, mask: 1) ; $0.inPort = 9 }, [out(5)])
        #expect(h.ports(udpFrame(dst: IPv4Address(10, 0, 0, 9))) == [3])
        #expect(h.ports(udpFrame(dst: IPv4Address(10, 1, 0, 9))) == [2])
        #expect(h.ports(udpFrame(dst: IPv4Address(11, 1, 0, 9))) == [])
        #expect(h.ports(udpFrame(dstMAC: .broadcast)) == [4])
        #expect(h.ports(udpFrame(), inPort: 9) == [5])
    }

    @Test func addReplacesIdenticalAndKeepsOrResetsCounters() throws {
        let h = Harness()
        h.add(priority: 10, cookie: 1, udp2000, [out(2)])
        h.run(udpFrame()); h.run(udpFrame())
        h.add(priority: 10, cookie: 2, udp2000, [out(3)])
        #expect(h.pipeline.flowCount == 1)
        var e = try h.pipeline.flowStatistics(now: h.now)
        #expect(e.count == 1 && e[0].packets == 2 && e[0].cookie == 2 && e[0].instructions == [out(3)])
        #expect(h.ports(udpFrame()) == [3])
        h.add(priority: 10, flags: .resetCounts, udp2000, [out(3)])
        e = try h.pipeline.flowStatistics(now: h.now)
        #expect(e[0].packets == 0 && e[0].bytes == 0)
        // Same match at another priority is another entry.
        h.add(priority: 11, udp2000, [out(4)])
        #expect(h.pipeline.flowCount == 2 && h.ports(udpFrame()) == [4])
    }

    @Test func checkOverlap() {
        let h = Harness()
        h.add(priority: 10, .with { $0.ethType = 0x0800; $0.ipv4Dst = Masked(0x0A00_0000, mask: 0xFF00_0000) }, [out(2)])
        func add(_ priority: UInt16, _ m: FlowMatch) -> FlowError? {
            do { try h.pipeline.apply(FlowMod(priority: priority, flags: .checkOverlap, match: m, instructions: [out(3)]), now: 0); return nil }
            catch { return error }
        }
        #expect(add(10, udp2000) == .flowModFailed(.overlap))          // a UDP packet to 10/8 matches both
        #expect(add(10, .with { $0.ethType = 0x0806 }) == nil)             // ARP never matches the IPv4 entry
        #expect(add(11, udp2000) == nil)                                   // other priority: no overlap
        #expect(add(10, .with { $0.ethType = 0x0800; $0.ipv4Dst = Masked(0x0B00_0000, mask: 0xFF00_0000) }) == nil)
        #expect(add(10, .with { $0.ethType = 0x0800; $0.ipv4Dst = Masked(0x0A00_0000, mask: 0xFF00_0000) }) == .flowModFailed(.overlap))
    }

    @Test func modifyStrictAndNonStrictWithCookies() throws {
        let h = Harness()
        h.add(priority: 10, cookie: 0x11, ipMatch, [out(2)])
        h.add(priority: 20, cookie: 0x21, udp2000, [out(2)])
        h.add(priority: 30, cookie: 0x12, .with { $0.ethType = 0x0806 }, [out(2)])
        h.run(udpFrame())
        // Non-strict on eth_type=0x0800 selects both IPv4 entries, but the cookie mask keeps one.
        try h.pipeline.apply(FlowMod(command: .modify, cookie: 0x20, cookieMask: 0xF0, match: ipMatch, instructions: [out(5)]), now: 0)
        #expect(h.ports(udpFrame()) == [5] && h.ports(udpFrame(dport: 1)) == [2])
        // Counters survive a modify without RESET_COUNTS; cookies are not changed by modify.
        var e = try h.pipeline.flowStatistics(FlowFilter(match: udp2000), now: 0)
        #expect(e.count == 1 && e[0].packets == 2 && e[0].cookie == 0x21)
        // Strict needs the exact match and priority.
        try h.pipeline.apply(FlowMod(command: .modifyStrict, priority: 11, match: ipMatch, instructions: [out(6)]), now: 0)
        #expect(h.ports(udpFrame(dport: 1)) == [2])
        try h.pipeline.apply(FlowMod(command: .modifyStrict, priority: 10, flags: .resetCounts, match: ipMatch, instructions: [out(6)]), now: 0)
        #expect(h.ports(udpFrame(dport: 1)) == [6])
        e = try h.pipeline.flowStatistics(FlowFilter(match: ipMatch), now: 0)
        #expect(e.first { $0.priority == 10 }?.packets == 1)
        // Non-strict with the empty match selects everything; a modify never adds.
        try h.pipeline.apply(FlowMod(command: .modify, instructions: [out(7)]), now: 0)
        #expect(h.pipeline.flowCount == 3 && h.ports(FrameBuilder.arpRequest(from: macA, ipA, for: ipB)) == [7])
        try h.pipeline.apply(FlowMod(command: .modify, tableID: 1, instructions: [out(7)]), now: 0)
        #expect(h.pipeline.flowCount == 3)
    }

    @Test func deleteFilters() throws {
        let h = Harness(FlowPipelineConfiguration(tableCount: 4))
        try h.pipeline.apply(GroupMod(command: .add, type: .indirect, groupID: 7, buckets: [GroupBucket(actions: [.output(port: 9)])]), now: 0)
        h.add(priority: 10, cookie: 1, ipMatch, [out(2)])
        h.add(priority: 20, cookie: 2, flags: .sendFlowRemoved, udp2000, [.writeActions([.output(port: 3)])])
        h.add(table: 1, priority: 10, cookie: 3, ipMatch, [.applyActions([.group(7)])])
        h.add(table: 2, priority: 10, cookie: 4, ipMatch, [out(3)])
        // out_port looks into apply and write actions.
        var removed = try h.pipeline.apply(FlowMod(command: .delete, tableID: OFTable.all, outPort: 3, match: FlowMatch()), now: 0)
        #expect(Set(removed.map(\.entry.cookie)) == [2, 4] && removed.allSatisfy { $0.reason == .delete })
        #expect(removed.first { $0.entry.cookie == 2 }?.entry.flags.contains(.sendFlowRemoved) == true)
        removed = try h.pipeline.apply(FlowMod(command: .delete, tableID: OFTable.all, outGroup: 7, match: FlowMatch()), now: 0)
        #expect(removed.map(\.entry.cookie) == [3])
        // Strict delete: priority and match must be equal.
        removed = try h.pipeline.apply(FlowMod(command: .deleteStrict, priority: 11, match: ipMatch), now: 0)
        #expect(removed.isEmpty)
        // A non-strict delete with a more specific match leaves the less specific entry.
        removed = try h.pipeline.apply(FlowMod(command: .delete, match: udp2000), now: 0)
        #expect(removed.isEmpty)
        removed = try h.pipeline.apply(FlowMod(command: .deleteStrict, priority: 10, match: ipMatch), now: 0)
        #expect(removed.map(\.entry.cookie) == [1] && h.pipeline.flowCount == 0)
        // Cookie mask on delete.
        h.add(priority: 1, cookie: 0xA1, ipMatch, [out(2)])
        h.add(priority: 2, cookie: 0xB1, ipMatch, [out(2)])
        removed = try h.pipeline.apply(FlowMod(command: .delete, cookie: 0xB0, cookieMask: 0xF0, match: FlowMatch()), now: 0)
        #expect(removed.map(\.entry.cookie) == [0xB1] && h.pipeline.flowCount == 1)
        #expect(throws: FlowError.flowModFailed(.badTableID)) { try h.pipeline.apply(FlowMod(command: .delete, tableID: 9), now: 0) }
        #expect(throws: FlowError.flowModFailed(.badTableID)) { try h.pipeline.apply(FlowMod(command: .add, tableID: OFTable.all), now: 0) }
        #expect(throws: FlowError.flowModFailed(.badTableID)) { try h.pipeline.apply(FlowMod(command: .modify, tableID: OFTable.all), now: 0) }
    }

    @Test func badFlowModsAreRejected() {
        let h = Harness()
        func err(_ mod: FlowMod) -> FlowError? {
            do { try h.pipeline.apply(mod, now: 0); return nil } catch { return error }
        }
        #expect(err(FlowMod(match: .with { $0.tcpDst = 1 })) == .badMatch(.badPrereq))
        #expect(err(FlowMod(flags: FlowModFlags(rawValue: 0x100))) == .flowModFailed(.badFlags))
        #expect(err(FlowMod(instructions: [.gotoTable(0)])) == .badInstruction(.badTableID))
        #expect(err(FlowMod(tableID: 3, instructions: [.gotoTable(2)])) == .badInstruction(.badTableID))
        #expect(err(FlowMod(instructions: [.gotoTable(8)])) == .badInstruction(.badTableID))
        #expect(err(FlowMod(instructions: [.applyActions([.group(5)])])) == .badAction(.badOutGroup))
        #expect(err(FlowMod(instructions: [.applyActions([.setQueue(1)])])) == .badAction(.badType))
        #expect(err(FlowMod(instructions: [.applyActions([.output(port: 0)])])) == .badAction(.badOutPort))
        #expect(err(FlowMod(instructions: [.applyActions([.setField(.tcpDst(1))])])) == .badAction(.matchInconsistent))
        #expect(err(FlowMod(instructions: [.applyActions([.setField(.vlanVID(5))])])) == .badAction(.matchInconsistent))
        #expect(err(FlowMod(instructions: [.applyActions([.pushVLAN(etherType: 0x8100), .setField(.vlanVID(5))])])) == nil)
        #expect(err(FlowMod(instructions: [.writeActions([.output(port: 1), .output(port: 2)])])) == .badAction(.tooMany))
        #expect(err(FlowMod(instructions: [.writeMetadata(value: 3, mask: 1)])) == .badInstruction(.unsupMetadata))
        #expect(err(FlowMod(instructions: [out(1), out(2)])) == .badInstruction(.unsupInst))
        #expect(h.pipeline.flowCount == 1)
    }

    @Test func millionFlowModsHitTheCap() throws {
        // 100,000 fit in table 0 (the per-table default); the next 900,000 adds are TABLE_FULL.
        let h = Harness(FlowPipelineConfiguration(tableCount: 2, maxFlows: 150_000))
        var full = 0
        var mod = FlowMod(priority: 5, match: .with { $0.ethType = 0x0800 }, instructions: [out(2)])
        for i in 0..<1_000_000 {
            mod.match.ipv4Dst = .exact(UInt32(i))
            do { try h.pipeline.apply(mod, now: 0) } catch { #expect(error == .flowModFailed(.tableFull)); full += 1 }
        }
        #expect(h.pipeline.flowCount == 100_000 && full == 900_000)
        // The total cap applies across tables.
        mod.tableID = 1
        for i in 0..<60_000 {
            mod.match.ipv4Dst = .exact(UInt32(i))
            do { try h.pipeline.apply(mod, now: 0) } catch { full += 1 }
        }
        #expect(h.pipeline.flowCount == 150_000 && full == 910_000)
        // Still forwarding, through the classifier.
        #expect(h.ports(udpFrame(dst: IPv4Address(rawValue: 99_999))) == [2])
        #expect(h.ports(udpFrame(dst: IPv4Address(rawValue: 100_000))) == [])
    }

    @Test func timeoutsOnAnInjectedClock() {
        let h = Harness()
        let s: Int64 = 1_000_000_000
        h.now = 100 * s
        h.add(priority: 1, cookie: 1, idle: 10, udp2000, [out(2)])
        h.add(priority: 2, cookie: 2, flags: .sendFlowRemoved, hard: 30, ipMatch, [out(3)])
        h.add(priority: 3, cookie: 3, idle: 5, hard: 8, .with { $0.ethType = 0x0806 }, [out(4)])
        #expect(h.pipeline.expire(now: 104 * s).isEmpty)
        h.now = 104 * s
        h.run(FrameBuilder.arpRequest(from: macA, ipA, for: ipB)) // keeps entry 3 alive past its idle time
        #expect(h.pipeline.expire(now: 107 * s).isEmpty)
        let hard = h.pipeline.expire(now: 108 * s)
        #expect(hard.map(\.entry.cookie) == [3] && hard[0].reason == .hardTimeout)
        // Entry 1 idles out at 110 unless used.
        #expect(h.pipeline.expire(now: 110 * s - 1).isEmpty)
        let idle = h.pipeline.expire(now: 110 * s)
        #expect(idle.map(\.entry.cookie) == [1] && idle[0].reason == .idleTimeout)
        let last = h.pipeline.expire(now: 130 * s)
        #expect(last.map(\.entry.cookie) == [2] && last[0].reason == .hardTimeout && last[0].entry.flags.contains(.sendFlowRemoved))
        #expect(h.pipeline.flowCount == 0 && h.ports(udpFrame()) == [])
    }

    @Test func cacheIsInvalidatedByEveryChange() throws {
        let h = Harness(FlowPipelineConfiguration(tableCount: 2))
        let frame = udpFrame()
        // Cached miss -> add.
        #expect(h.ports(frame) == [])
        #expect(h.ports(frame) == [] && h.pipeline.cacheHits > 0)
        h.add(priority: 10, ipMatch, [out(2)])
        #expect(h.ports(frame) == [2])
        #expect(h.ports(frame) == [2])
        // Cached hit -> a higher-priority add.
        h.add(priority: 20, udp2000, [out(3)])
        #expect(h.ports(frame) == [3])
        // -> modify.
        try h.pipeline.apply(FlowMod(command: .modifyStrict, priority: 20, match: udp2000, instructions: [out(4)]), now: 0)
        #expect(h.ports(frame) == [4])
        // -> delete.
        try h.pipeline.apply(FlowMod(command: .deleteStrict, priority: 20, match: udp2000), now: 0)
        #expect(h.ports(frame) == [2])
        // -> replace.
        h.add(priority: 10, ipMatch, [out(5)])
        #expect(h.ports(frame) == [5])
        // -> expiry.
        h.add(priority: 30, hard: 1, udp2000, [out(6)])
        #expect(h.ports(frame) == [6])
        _ = h.pipeline.expire(now: h.now + 1_000_000_000)
        #expect(h.ports(frame) == [5])
        // -> group modify (the flow is unchanged, the group's bucket is not).
        try h.pipeline.apply(GroupMod(command: .add, type: .indirect, groupID: 1, buckets: [GroupBucket(actions: [.output(port: 7)])]), now: 0)
        h.add(priority: 40, udp2000, [.applyActions([.group(1)])])
        #expect(h.ports(frame) == [7])
        try h.pipeline.apply(GroupMod(command: .modify, type: .indirect, groupID: 1, buckets: [GroupBucket(actions: [.output(port: 8)])]), now: 0)
        #expect(h.ports(frame) == [8])
        // -> group delete (deletes the flow using it).
        try h.pipeline.apply(GroupMod(command: .delete, groupID: 1), now: 0)
        #expect(h.ports(frame) == [5])
    }

    @Test func statsAndCounters() throws {
        let h = Harness(FlowPipelineConfiguration(tableCount: 3))
        h.add(priority: 10, cookie: 1, ipMatch, [.gotoTable(2)])
        h.add(table: 2, priority: 10, cookie: 2, FlowMatch(), [out(2)])
        h.add(table: 2, priority: 10, cookie: 3, flags: [.noPacketCounts, .noByteCounts], .with { $0.ethType = 0x0806 }, [out(2)])
        let f = udpFrame()
        h.run(f); h.run(f); h.run(FrameBuilder.arpRequest(from: macA, ipA, for: ipB))
        let all = try h.pipeline.flowStatistics(now: h.now + 5)
        #expect(all.map(\.cookie) == [1, 2, 3] || all.map(\.cookie) == [1, 3, 2])
        #expect(all.first { $0.cookie == 1 }?.packets == 2 && all.first { $0.cookie == 1 }?.bytes == UInt64(2 * f.count))
        #expect(all.first { $0.cookie == 3 }?.packets == .max && all.first { $0.cookie == 1 }?.durationNanoseconds == 5)
        let agg = try h.pipeline.aggregateStatistics(FlowFilter(tableID: 2))
        #expect(agg.flowCount == 2 && agg.packets == 2)
        let tables = h.pipeline.tableStatistics()
        #expect(tables.count == 3 && tables[0].activeCount == 1 && tables[0].lookups == 3 && tables[0].matched == 2)
        #expect(tables[2].lookups == 2 && tables[2].matched == 2 && tables[1].lookups == 0)
    }
}

@Suite struct FlowPipelineTimeoutTests {
    let s: Int64 = 1_000_000_000

    @Test func trafficPostponesIdleAndAReplaceRearms() {
        let h = Harness()
        h.now = 100 * s
        let ip = FlowMatch.with { $0.ethType = 0x0800 }
        h.add(priority: 1, cookie: 1, idle: 10, ip, [out(2)])
        h.now = 105 * s
        h.run(udpFrame())
        #expect(h.pipeline.expire(now: 110 * s).isEmpty)
        #expect(h.pipeline.expire(now: 115 * s - 1).isEmpty)
        #expect(h.pipeline.expire(now: 115 * s).map(\.reason) == [.idleTimeout])
        // A replace restarts the clock with the new timeouts; the old deadline is void.
        h.now = 200 * s
        h.add(priority: 1, cookie: 2, hard: 5, ip, [out(2)])
        h.now = 203 * s
        h.add(priority: 1, cookie: 3, hard: 50, ip, [out(2)])
        #expect(h.pipeline.expire(now: 210 * s).isEmpty)
        #expect(h.pipeline.expire(now: 253 * s).map(\.entry.cookie) == [3])
        // Without timeouts an entry never expires.
        h.add(priority: 1, cookie: 4, ip, [out(2)])
        #expect(h.pipeline.expire(now: .max).isEmpty && h.pipeline.flowCount == 1)
    }

    @Test func manyTimedEntriesAndReplacesKeepTheHeapBounded() throws {
        let h = Harness()
        var mod = FlowMod(priority: 1, hardTimeout: 60, match: .with { $0.ethType = 0x0800 }, instructions: [out(2)])
        for round in 0..<20 {
            for i in 0..<1000 {
                mod.match.ipv4Dst = .exact(UInt32(i))
                mod.hardTimeout = UInt16(60 + round)
                try h.pipeline.apply(mod, now: Int64(round) * s)
            }
        }
        #expect(h.pipeline.flowCount == 1000 && h.pipeline.timers.items.count <= 2 * 1000 + 1024)
        // The last replace (at 19 s, hard 79 s) is what counts: all expire at 98 s.
        #expect(h.pipeline.expire(now: 98 * s - 1).isEmpty)
        let gone = h.pipeline.expire(now: 98 * s)
        #expect(gone.count == 1000 && gone.allSatisfy { $0.reason == .hardTimeout } && h.pipeline.flowCount == 0)
    }
}

// OFChannelTests: the channel state machine without a network: framing across partial reads and
// many messages per read, hello and version negotiation, echo, errors that keep the connection,
// roles, barrier ordering, multipart reassembly and splitting, backpressure, and a million
// flow-mods streamed through it.

import Foundation
import XCTest
@testable import OpenFlow
import TestSupport

final class OFChannelTests: XCTestCase {
    /// Splits the channel's output into decoded messages.
    func drain(_ channel: OFChannel) -> [(xid: UInt32, message: OFMessage)] {
        var bytes = channel.takeOutput()
        var out: [(UInt32, OFMessage)] = []
        while bytes.count >= 8 {
            let length = Int(bytes[2]) << 8 | Int(bytes[3])
            guard length >= 8, length <= bytes.count else { XCTFail("bad framing in output"); break }
            do { out.append(try OFCodec.decode(Array(bytes[..<length]))) } catch { XCTFail("output did not decode: \(error)") }
            bytes.removeFirst(length)
        }
        XCTAssertTrue(bytes.isEmpty)
        return out
    }

    /// A channel past its HELLO exchange.
    func openChannel(_ fake: FakeSwitch = FakeSwitch(), limits: OFChannelLimits = OFChannelLimits(),
                     generations: OFRoleGenerations = OFRoleGenerations()) -> OFChannel {
        let channel = OFChannel(handler: fake, limits: limits, generations: generations)
        channel.start()
        channel.receive(OFCodec.encode(.hello(OFHello(elements: [.versionBitmap([0x10])])), xid: 1))
        XCTAssertEqual(channel.state, .open)
        _ = drain(channel)
        return channel
    }

    func send(_ channel: OFChannel, _ m: OFMessage, xid: UInt32) { channel.receive(OFCodec.encode(m, xid: xid)) }

    func testHelloNegotiation() {
        // Bitmap with 1.0 and 1.3: agreed.
        let a = OFChannel(handler: FakeSwitch())
        a.start()
        a.receive(OFCodec.encode(.hello(OFHello(version: 5, elements: [.versionBitmap([0x12])])), xid: 1))
        XCTAssertEqual(a.state, .open)
        let hello = drain(a)
        XCTAssertEqual(hello.first?.message, .hello(OFHello(version: 4, elements: [.versionBitmap([0x10])])))
        // No bitmap, header version 1.5: agreed on 1.3.
        let b = OFChannel(handler: FakeSwitch())
        b.receive(OFCodec.encode(.hello(OFHello(version: 6)), xid: 1))
        XCTAssertEqual(b.state, .open)
        // Bitmap with 1.0 only, and a bare 1.0 hello: HELLO_FAILED/INCOMPATIBLE, closed.
        for hello in [OFHello(version: 4, elements: [.versionBitmap([0x02])]), OFHello(version: 1)] {
            let fake = FakeSwitch()
            let c = OFChannel(handler: fake)
            c.receive(OFCodec.encode(.hello(hello), xid: 9))
            XCTAssertEqual(c.state, .closed(.incompatible))
            let out = drain(c)
            XCTAssertEqual(out.first?.message.name, "HELLO")
            guard case .error(let e)? = out.last?.message else { return XCTFail("no error") }
            XCTAssertEqual(e.error, .helloIncompatible)
            XCTAssertEqual(out.last?.xid, 9)
            XCTAssertEqual(fake.closeReasons, [.incompatible])
        }
        // Something else first: HELLO_FAILED/EPERM, closed.
        let d = OFChannel(handler: FakeSwitch())
        send(d, .featuresRequest, xid: 3)
        XCTAssertEqual(d.state, .closed(.noHello))
    }

    func testFramingAcrossPartialReadsAndManyPerRead() {
        let fake = FakeSwitch()
        let channel = openChannel(fake)
        var stream: [UInt8] = []
        for i in 0..<50 { stream += OFCodec.encode(.echoRequest([UInt8](repeating: UInt8(i), count: i)), xid: UInt32(i)) }
        // Byte by byte.
        for byte in stream { channel.receive([byte]) }
        var replies = drain(channel)
        XCTAssertEqual(replies.map(\.xid), Array(0..<50))
        XCTAssertEqual(replies[7].message, .echoReply([UInt8](repeating: 7, count: 7)))
        // All at once, and in odd chunks.
        channel.receive(stream)
        XCTAssertEqual(drain(channel).count, 50)
        var i = 0
        while i < stream.count {
            let n = min(13, stream.count - i)
            channel.receive(stream[i..<i + n])
            i += n
        }
        replies = drain(channel)
        XCTAssertEqual(replies.map(\.xid), Array(0..<50))
        // A length beyond what arrived simply waits.
        let big = OFCodec.encode(.echoRequest([UInt8](repeating: 1, count: 1000)), xid: 77)
        channel.receive(big[..<500])
        XCTAssertTrue(drain(channel).isEmpty)
        channel.receive(big[500...])
        XCTAssertEqual(drain(channel).first?.xid, 77)
        XCTAssertEqual(channel.state, .open)
    }

    func testLengthBelowHeaderIsAnErrorAndCloses() {
        let fake = FakeSwitch()
        let channel = openChannel(fake)
        channel.receive([4, 2, 0, 4, 0, 0, 0, 42])
        guard case .error(let e)? = drain(channel).last?.message else { return XCTFail("no error") }
        XCTAssertEqual(e.error, .badLen)
        XCTAssertEqual(channel.state, .closed(.badLength))
    }

    func testUnknownTypesAndBadBodiesGetErrorsAndTheChannelStaysOpen() {
        let fake = FakeSwitch()
        let channel = openChannel(fake)
        channel.receive([4, 99, 0, 8, 0, 0, 0, 5])                  // unknown type
        send(channel, .experimenter(OFExperimenterMessage(experimenter: 0x2320, expType: 1)), xid: 6)
        send(channel, .packetIn(OFPacketIn(totalLength: 0, reason: 0, tableID: 0, cookie: 0, match: OFMatch(), data: [])), xid: 7)
        var bad = OFCodec.encode(.flowMod(OFFlowMod(match: OFMatch([.inPort(1), .inPort(2)]))), xid: 8)
        channel.receive(bad)                                         // duplicate field
        bad = OFCodec.encode(.meterMod(OFMeterMod(command: 0, flags: 0, meterID: 1)), xid: 9)
        channel.receive(bad)
        send(channel, .echoRequest([1]), xid: 10)
        let out = drain(channel)
        let errors = out.compactMap { r -> (UInt32, OFError)? in if case .error(let e) = r.message { return (r.xid, e.error) } else { return nil } }
        XCTAssertEqual(errors.map(\.0), [5, 6, 7, 8, 9])
        XCTAssertEqual(errors.map(\.1), [.badType, .badExperimenter, .badType, .matchDupField, .meterOutOfMeters])
        XCTAssertEqual(out.last?.message, .echoReply([1]))
        XCTAssertEqual(channel.state, .open)
        XCTAssertEqual(fake.undecodable.map(\.0), [.badType, .matchDupField])
        // The error carries the offending message's first bytes.
        if case .error(let e) = out[3].message { XCTAssertEqual(e.data, Array(OFCodec.encode(.flowMod(OFFlowMod(match: OFMatch([.inPort(1), .inPort(2)]))), xid: 8).prefix(64))) }
    }

    func testRolesSlaveGetsIsSlaveAndStaleGenerationsAreRefused() {
        let generations = OFRoleGenerations()
        let fake = FakeSwitch()
        let channel = openChannel(fake, generations: generations)
        send(channel, .roleRequest(OFRoleMessage(role: .noChange)), xid: 1)
        send(channel, .roleRequest(OFRoleMessage(role: .slave, generationID: 10)), xid: 2)
        send(channel, .flowMod(OFFlowMod(priority: 1)), xid: 3)
        send(channel, .packetOut(OFPacketOut(inPort: OFPortNumber.controller, actions: [], data: [1])), xid: 4)
        send(channel, .multipartRequest(OFMultipartRequest(body: .desc)), xid: 5)   // reading is fine
        var out = drain(channel)
        XCTAssertEqual(out[0].message, .roleReply(OFRoleMessage(role: .equal, generationID: 0)))
        XCTAssertEqual(out[1].message, .roleReply(OFRoleMessage(role: .slave, generationID: 10)))
        XCTAssertEqual(out[2].message, .error(OFErrorMessage(type: 1, code: 10, data: OFCodec.encode(.flowMod(OFFlowMod(priority: 1)), xid: 3))))
        if case .error(let e) = out[3].message { XCTAssertEqual(e.error, .isSlave) } else { XCTFail() }
        XCTAssertEqual(out[4].message.name, "MULTIPART_REPLY")
        XCTAssertTrue(fake.flows.isEmpty)
        // Another connection of the same switch with an older generation is stale.
        let other = openChannel(FakeSwitch(), generations: generations)
        send(other, .roleRequest(OFRoleMessage(role: .master, generationID: 9)), xid: 6)
        if case .error(let e) = drain(other).first?.message { XCTAssertEqual(e.error, .roleStale) } else { XCTFail() }
        send(other, .roleRequest(OFRoleMessage(role: .master, generationID: 11)), xid: 7)
        XCTAssertEqual(drain(other).first?.message, .roleReply(OFRoleMessage(role: .master, generationID: 11)))
        // An unknown role value: BAD_ROLE. Back to equal: modifications allowed again.
        send(channel, .roleRequest(OFRoleMessage(rawRole: 7, generationID: 0)), xid: 8)
        send(channel, .roleRequest(OFRoleMessage(role: .equal)), xid: 9)
        send(channel, .flowMod(OFFlowMod(priority: 1)), xid: 10)
        out = drain(channel)
        if case .error(let e) = out[0].message { XCTAssertEqual(e.error, .roleBad) } else { XCTFail() }
        XCTAssertEqual(fake.flows.count, 1)
    }

    func testBarrierReplyComesAfterEverythingBeforeIt() {
        let fake = FakeSwitch()
        let channel = openChannel(fake)
        var stream: [UInt8] = []
        for p in 0..<10 { stream += OFCodec.encode(.flowMod(OFFlowMod(priority: UInt16(p))), xid: UInt32(p)) }
        stream += OFCodec.encode(.flowMod(OFFlowMod(tableID: 9)), xid: 10)     // fails: table 9
        stream += OFCodec.encode(.barrierRequest, xid: 11)
        stream += OFCodec.encode(.echoRequest([]), xid: 12)
        channel.receive(stream)
        let out = drain(channel)
        XCTAssertEqual(out.map(\.xid), [10, 11, 12])
        XCTAssertEqual(out[1].message, .barrierReply)
        XCTAssertEqual(fake.flows.count, 10)
        XCTAssertEqual(fake.barriers, 1)
    }

    func testMultipartRequestReassemblyAndReplySplitting() {
        let fake = FakeSwitch()
        fake.extraFlowsInDump = 2000   // about 130 KB of flow stats: at least 3 replies
        let channel = openChannel(fake)
        send(channel, .multipartRequest(OFMultipartRequest(body: .flow(OFFlowStatsRequest()))), xid: 4)
        let out = drain(channel)
        XCTAssertGreaterThanOrEqual(out.count, 3)
        var total = 0
        for (i, r) in out.enumerated() {
            guard case .multipartReply(let m) = r.message, case .flow(let flows) = m.body else { return XCTFail("not a flow reply") }
            XCTAssertEqual(r.xid, 4)
            XCTAssertEqual(m.flags, i + 1 < out.count ? OFMultipartType.more : 0)
            total += flows.count
        }
        XCTAssertEqual(total, 2000)
        // A table-features request in three parts is handed over once, whole.
        for (i, part) in [[UInt8](repeating: 1, count: 64), [UInt8](repeating: 2, count: 64), [UInt8](repeating: 3, count: 8)].enumerated() {
            send(channel, .multipartRequest(OFMultipartRequest(flags: i < 2 ? 1 : 0, body: .tableFeatures(part))), xid: 20)
        }
        XCTAssertEqual(fake.multipartRequests.last, .tableFeatures([UInt8](repeating: 1, count: 64) + [UInt8](repeating: 2, count: 64) + [UInt8](repeating: 3, count: 8)))
        XCTAssertEqual(drain(channel).count, 1)
        // Parts that never end past the cap: MULTIPART_BUFFER_OVERFLOW.
        var limits = OFChannelLimits()
        limits.maxMultipartRequestBytes = 1000
        let capped = openChannel(FakeSwitch(), limits: limits)
        for _ in 0..<3 { send(capped, .multipartRequest(OFMultipartRequest(flags: 1, body: .tableFeatures([UInt8](repeating: 0, count: 400)))), xid: 30) }
        if case .error(let e) = drain(capped).last?.message { XCTAssertEqual(e.error, .multipartBufferOverflow) } else { XCTFail() }
    }

    /// A flow dump larger than the hard cap (ovs-ofctl dump-flows of 100,000 flows is about
    /// 10 MB) is queued whole, not answered by closing the connection; a second request that
    /// finds the queue still long is held to the cap, so one such reply is the most queued.
    func testAReplyLargerThanTheCapIsQueuedWhole() {
        var limits = OFChannelLimits()
        limits.maxOutputBytes = 64 << 10
        limits.readPauseBytes = 16 << 10
        let fake = FakeSwitch()
        fake.extraFlowsInDump = 2000   // about 130 KB: twice the cap
        let channel = openChannel(fake, limits: limits)
        send(channel, .multipartRequest(OFMultipartRequest(body: .flow(OFFlowStatsRequest()))), xid: 7)
        XCTAssertEqual(channel.state, .open)
        XCTAssertGreaterThan(channel.pendingOutputBytes, limits.maxOutputBytes)
        XCTAssertFalse(channel.wantsInput)
        // A second dump before the first is read: the cap holds.
        send(channel, .multipartRequest(OFMultipartRequest(body: .flow(OFFlowStatsRequest()))), xid: 8)
        XCTAssertEqual(channel.state, .closed(.outputOverflow))
        // Read as it comes, every dump arrives whole and the channel stays open.
        let reader = openChannel(fake, limits: limits)
        for xid: UInt32 in 10..<13 {
            send(reader, .multipartRequest(OFMultipartRequest(body: .flow(OFFlowStatsRequest()))), xid: xid)
            var total = 0
            for r in drain(reader) {
                guard case .multipartReply(let m) = r.message, case .flow(let flows) = m.body else { return XCTFail("not a flow reply") }
                XCTAssertEqual(r.xid, xid)
                total += flows.count
            }
            XCTAssertEqual(total, 2000)
        }
        XCTAssertEqual(reader.state, .open)
    }

    /// A controller that sends requests and never reads: the output queue reaches its hard
    /// cap and the channel closes; the transport has been told to stop reading before that.
    func testControllerThatNeverReadsIsBounded() {
        var limits = OFChannelLimits()
        limits.maxOutputBytes = 64 << 10
        limits.readPauseBytes = 16 << 10
        limits.asyncOutputLimit = 8 << 10
        let fake = FakeSwitch()
        let channel = openChannel(fake, limits: limits)
        let echo = OFCodec.encode(.echoRequest([UInt8](repeating: 0, count: 100)), xid: 1)
        var sawPause = false
        for _ in 0..<10_000 where !channel.isClosed {
            channel.receive(echo)
            if !channel.wantsInput { sawPause = true }
            XCTAssertLessThanOrEqual(channel.pendingOutputBytes, limits.maxOutputBytes)
        }
        XCTAssertTrue(sawPause)
        XCTAssertEqual(channel.state, .closed(.outputOverflow))
        XCTAssertEqual(fake.closeReasons, [.outputOverflow])

        // Asynchronous messages past the async limit are dropped and counted, not queued.
        let other = openChannel(FakeSwitch(), limits: limits)
        let packetIn = OFMessage.packetIn(OFPacketIn(totalLength: 100, reason: 0, tableID: 0, cookie: 0,
                                                     match: OFMatch([.inPort(1)]), data: [UInt8](repeating: 0, count: 100)))
        var sent = 0
        for _ in 0..<1000 where other.sendAsync(packetIn) { sent += 1 }
        XCTAssertGreaterThan(sent, 0)
        XCTAssertLessThan(other.pendingOutputBytes, limits.asyncOutputLimit + 200)
        let droppedBefore = other.counters.asyncDropped
        for _ in 0..<100 { other.sendAsync(packetIn) }
        XCTAssertEqual(other.counters.asyncDropped - droppedBefore, 100)
        XCTAssertEqual(other.counters.asyncSent, sent)
        XCTAssertEqual(other.state, .open)
    }

    func testAsyncConfigFiltersBySlaveRole() {
        let channel = openChannel()
        let packetIn = OFMessage.packetIn(OFPacketIn(totalLength: 1, reason: 0, tableID: 0, cookie: 0, match: OFMatch(), data: [0]))
        XCTAssertTrue(channel.sendAsync(packetIn))
        send(channel, .roleRequest(OFRoleMessage(role: .slave, generationID: 1)), xid: 1)
        XCTAssertFalse(channel.sendAsync(packetIn))
        XCTAssertTrue(channel.sendAsync(.portStatus(OFPortStatus(reason: 0, port: FakeSwitch().ports[0]))))
        send(channel, .setAsync(OFAsyncConfig(packetInMask: [1, 1], portStatusMask: [0, 0], flowRemovedMask: [0, 0])), xid: 2)
        send(channel, .getAsyncRequest, xid: 3)
        XCTAssertTrue(channel.sendAsync(packetIn))
        let out = drain(channel)
        XCTAssertEqual(out.last?.message, .packetIn(OFPacketIn(totalLength: 1, reason: 0, tableID: 0, cookie: 0, match: OFMatch(), data: [0])))
        XCTAssertTrue(out.contains { $0.message == .getAsyncReply(OFAsyncConfig(packetInMask: [1, 1], portStatusMask: [0, 0], flowRemovedMask: [0, 0])) })
    }

    func testSilentPeerGetsAnEchoThenIsClosed() {
        let channel = openChannel()
        channel.tick()                       // input since the last tick: nothing to do
        XCTAssertTrue(drain(channel).isEmpty)
        channel.tick()                       // silent for an interval: echo request
        XCTAssertEqual(drain(channel).first?.message, .echoRequest([]))
        channel.tick()                       // still silent: closed
        XCTAssertEqual(channel.state, .closed(.idle))
    }

    /// A million flow-mods through the channel: each reaches the handler, nothing accumulates
    /// (no output, input buffer emptied), and the decode rate is reported.
    func testMillionFlowModsStreamThroughBounded() {
        let fake = FakeSwitch()
        fake.storeFlows = false
        let channel = openChannel(fake)
        let one = OFCodec.encode(.flowMod(OFFlowMod(priority: 100, match: OFMatch([.ethType(0x0800), .ipv4Dst(.init(10, 0, 0, 0), mask: .init(255, 0, 0, 0))]),
                                                     instructions: [.applyActions([.output(port: 2, maxLength: 0)])])), xid: 1)
        var chunk: [UInt8] = []
        while chunk.count + one.count <= 64 << 10 { chunk += one }
        let perChunk = chunk.count / one.count
        let total = 1_000_000
        let start = Date()
        var sent = 0
        while sent < total {
            let n = min(perChunk, total - sent)
            channel.receive(n == perChunk ? chunk[...] : chunk[..<(n * one.count)])
            sent += n
            XCTAssertEqual(channel.pendingOutputBytes, 0)
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(fake.flowModCount, total)
        XCTAssertEqual(channel.counters.received, total + 1)
        XCTAssertEqual(channel.state, .open)
        print("OFChannel: \(total) flow-mods (\(one.count) bytes each) in \(String(format: "%.2f", seconds)) s = \(Int(Double(total) / seconds)) msgs/s")
    }

    /// A handler that closes the channel from inside a request and then fails it: the ERROR
    /// reply still quotes the request (its bytes were released under it before).
    func testHandlerClosingInsideARequest() {
        final class Closing: OFSwitchHandler {
            func features(channel: OFChannel) -> OFFeatures { OFFeatures(datapathID: 1) }
            func config(channel: OFChannel) -> OFSwitchConfig { OFSwitchConfig() }
            func flowMod(_ mod: OFFlowMod, channel: OFChannel) throws(OFError) {
                channel.close(.transport("switch shutting down"))
                throw .flowModUnknown
            }
        }
        let channel = OFChannel(handler: Closing())
        channel.receive(OFCodec.encode(.hello(OFHello()), xid: 1) + OFCodec.encode(.flowMod(OFFlowMod()), xid: 2)
                        + OFCodec.encode(.echoRequest([]), xid: 3))
        XCTAssertEqual(channel.state, .closed(.transport("switch shutting down")))
        let out = drain(channel)
        XCTAssertEqual(out.last?.xid, 2)
        if case .error(let e)? = out.last?.message { XCTAssertEqual(e.error, .flowModUnknown) } else { XCTFail("no error") }
        channel.receive([1, 2, 3])   // ignored once closed
        XCTAssertEqual(channel.pendingOutputBytes, 0)
    }

    /// Seeded random streams (random bytes, and valid messages with bytes flipped, cut at
    /// random read boundaries) through open channels: no trap, every ERROR in the output is
    /// well formed, and a channel either stays open or closed for one of its reasons.
    func testRandomStreamsThroughTheChannel() {
        var rng = SeededRandom(seed: 0x0F14)
        var gen = MessageGenerator(seed: 0x0F15)
        var stillOpen = 0
        for round in 0..<300 {
            let channel = openChannel()
            var stream: [UInt8] = []
            for _ in 0..<40 {
                if rng.next() % 3 == 0 {
                    stream += (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                } else {
                    var m = OFCodec.encode(gen.message(), xid: UInt32(round))
                    if m.count > 8, rng.next() % 2 == 0 { m[Int.random(in: 8..<m.count, using: &rng)] ^= 0xFF }
                    m[0] = 4
                    stream += m
                }
            }
            var i = 0
            while i < stream.count && !channel.isClosed {
                let n = min(Int.random(in: 1...300, using: &rng), stream.count - i)
                channel.receive(stream[i..<i + n])
                i += n
                _ = drain(channel)
            }
            if channel.state == .open { stillOpen += 1 }
        }
        XCTAssertGreaterThan(stillOpen, 0)
    }
}

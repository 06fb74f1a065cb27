import Testing
import Frames
@testable import Switching

@Suite struct SwitchPipelineTests {
    @Test func unknownUnicastFloodsInsideTheVLANOnly() {
        let sw = vlanLab()
        let d = sw.inject(frame(from: mac(1), to: mac(2)), on: "a1")
        #expect(d == FrameDecision(vlan: 10, action: .flood, reason: nil))
        let out = sw.drain()
        #expect(Set(out.keys) == ["a2", "t1"], "never b1 (VLAN 20), never back out of a1")
        #expect(tagOf(out["a2"]![0]) == nil)
        #expect(tagOf(out["t1"]![0]) == 10)
    }

    @Test func splitHorizonPortsDoNotFloodToEachOther() {
        let all = VLANSet(Array(1...4094).map { vlan($0) })
        let tunnels = ["vxlan@b", "vxlan@c"].map {
            PortConfiguration(name: $0, mode: .trunk(allowed: all, native: nil), splitHorizon: true)
        }
        let sw = vlanLab(extraPorts: tunnels)
        // From a tunnel: to the local ports of the VLAN only, never to the other tunnel.
        sw.inject(frame(from: mac(1), to: .broadcast, tag: 10), on: "vxlan@b")
        #expect(Set(sw.drain().keys) == ["a1", "a2", "t1"])
        // From a local port: to every tunnel, tagged.
        sw.inject(frame(from: mac(2), to: .broadcast), on: "a1")
        let out = sw.drain()
        #expect(Set(out.keys) == ["a2", "t1", "vxlan@b", "vxlan@c"])
        #expect(tagOf(out["vxlan@c"]![0]) == 10)
        // Unicast between tunnels is still forwarded (a learned path is never a loop).
        let d = sw.inject(frame(from: mac(3), to: mac(1), tag: 10), on: "vxlan@c")
        #expect(d.action == .forward && Array(sw.drain().keys) == ["vxlan@b"])
    }

    @Test func learnedDestinationIsForwarded() {
        let sw = vlanLab()
        sw.inject(frame(from: mac(1), to: mac(2)), on: "a1")
        _ = sw.drain()
        let d = sw.inject(frame(from: mac(2), to: mac(1)), on: "a2")
        #expect(d.action == .forward && d.vlan == 10)
        #expect(Array(sw.drain().keys) == ["a1"])
        // The same MAC in VLAN 20 is another entry: it floods there.
        let d20 = sw.inject(frame(from: mac(3), to: mac(1), tag: 20), on: "t1")
        #expect(d20.action == .flood && d20.vlan == 20)
        #expect(Array(sw.drain().keys) == ["b1"])
    }

    @Test func accessPortsDropTaggedFrames() {
        let sw = vlanLab()
        let d = sw.inject(frame(from: mac(1), to: .broadcast, tag: 20), on: "a1")
        #expect(d.reason == .taggedOnAccessPort && d.action == .drop)
        #expect(sw.drain().isEmpty)
        #expect(sw.counters(port: 0)[.taggedOnAccessPort] == 1)
        // Priority-tagged (VID 0) frames belong to the access VLAN.
        let p = sw.inject(frame(from: mac(1), to: .broadcast, tag: 0, pcp: 5), on: "a1")
        #expect(p.action == .flood && p.vlan == 10)
        let out = sw.drain()
        #expect(tagOf(out["a2"]![0]) == nil)
        #expect(out["t1"]![0][14] >> 5 == 5, "priority carried into the trunk's tag")
    }

    @Test func trunkIngressFiltering() {
        let sw = vlanLab()
        #expect(sw.inject(frame(from: mac(1), to: .broadcast, tag: 30), on: "t1").reason == .vlanNotAllowed)
        let d = sw.inject(frame(from: mac(1), to: .broadcast, tag: 20), on: "t1")
        #expect(d.vlan == 20 && d.action == .flood)
        let out = sw.drain()
        #expect(Set(out.keys) == ["b1"])
        #expect(tagOf(out["b1"]![0]) == nil && out["b1"]![0].count == 60, "untagged and padded to 60 bytes")
        // Untagged frames on the trunk belong to native VLAN 1, which no other port carries.
        let native = sw.inject(frame(from: mac(1), to: .broadcast), on: "t1")
        #expect(native.vlan == 1 && native.action == .flood)
        #expect(sw.drain().isEmpty)
    }

    @Test func trunkWithoutNativeVLANDropsUntagged() {
        let sw = vlanLab(extraPorts: [PortConfiguration(name: "t2", mode: .trunk(allowed: VLANSet([vlan(10)]), native: nil))])
        #expect(sw.inject(frame(from: mac(1), to: .broadcast), on: "t2").reason == .untaggedWithoutNativeVLAN)
        let d = sw.inject(frame(from: mac(1), to: .broadcast, tag: 10), on: "t2")
        #expect(d.action == .flood)
        let out = sw.drain()
        #expect(Set(out.keys) == ["a1", "a2", "t1"])
        #expect(tagOf(out["t1"]![0]) == 10)
    }

    @Test func frameThatArrivesOnNativeLeavesTaggedElsewhere() {
        let sw = vlanLab(extraPorts: [PortConfiguration(name: "t2", mode: .trunk(allowed: VLANSet([vlan(10)]), native: vlan(10)))])
        sw.inject(frame(from: mac(1), to: .broadcast), on: "t2")
        let out = sw.drain()
        #expect(tagOf(out["t1"]![0]) == 10 && tagOf(out["a1"]![0]) == nil)
        #expect(out["t1"]![0].count == 64, "a 4-byte tag pushed")
    }

    @Test(arguments: [
        (frame(from: mac(1), to: MACAddress(0x01, 0x80, 0xc2, 0, 0, 0)), DropReason.linkLocalDestination),
        (frame(from: mac(1), to: MACAddress(0x01, 0x80, 0xc2, 0, 0, 0x0e)), DropReason.linkLocalDestination),
        (frame(from: MACAddress(0x01, 0, 0x5e, 0, 0, 1), to: .broadcast), DropReason.multicastSource),
        (Array(repeating: UInt8(0xff), count: 13), DropReason.runt),
        (mac(2).bytes + mac(1).bytes + [0x81, 0x00, 0x00], DropReason.malformedTag),
        (frame(from: mac(1), to: .broadcast, tag: 4095), DropReason.malformedTag),
        (frame(from: mac(1), to: .broadcast, tag: 10, tpid: EtherType.qinq), DropReason.serviceTag),
    ])
    func dropsWithReason(bytes: [UInt8], reason: DropReason) {
        let sw = vlanLab()
        let d = sw.inject(bytes, on: "t1")
        #expect(d.action == .drop && d.reason == reason)
        #expect(sw.drain().isEmpty)
        #expect(sw.counters(port: 3)[reason] == 1 && sw.counters(port: 3).totalDrops == 1)
    }

    /// 00:00:00:00:00:00 is no station's address (the Linux bridge drops it as a source):
    /// dropped and counted, never learned, never forwarded or flooded.
    @Test(arguments: ["a1", "t1"])
    func anAllZeroSourceIsDroppedNotLearned(port: String) {
        let sw = vlanLab()
        let zero = MACAddress(rawValue: 0)
        let d = sw.inject(frame(from: zero, to: .broadcast, tag: port == "t1" ? 10 : nil), on: port)
        #expect(d.action == .drop && d.reason == .zeroSource && d.vlan == 10)
        #expect(sw.drain().isEmpty)
        #expect(sw.macTable.count == 0 && sw.macTable.counters.learned == 0)
        let counters = sw.counters(port: sw.portIndex(named: port)!)
        #expect(counters[.zeroSource] == 1 && counters.totalDrops == 1)
        #expect(DropReason.zeroSource.description == "zero-source")
        // A unicast frame to the zero MAC from a real host is not affected by the rule.
        #expect(sw.inject(frame(from: mac(1), to: zero), on: "a1").action == .flood)
    }

    @Test func countersSavedBeforeTheZeroSourceReasonStillRead() {
        var old = PortCounters()
        old.drops = Array(old.drops.dropLast())  // a state from before `zeroSource` existed
        #expect(old[.zeroSource] == 0 && old[.multicastSource] == 0)
        let sw = vlanLab()
        sw.setCounters(port: 0, old)
        #expect(sw.counters(port: 0)[.zeroSource] == 0)
    }

    @Test func otherLinkLocalMulticastIsFlooded() {
        let sw = vlanLab()
        #expect(sw.inject(frame(from: mac(1), to: MACAddress(0x01, 0x80, 0xc2, 0, 0, 0x10)), on: "a1").action == .flood)
    }

    @Test func hairpinIsDropped() {
        let sw = vlanLab()
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1")
        sw.inject(frame(from: mac(2), to: .broadcast), on: "a1")
        _ = sw.drain()
        #expect(sw.inject(frame(from: mac(2), to: mac(1)), on: "a1").reason == .hairpin)
    }

    @Test func portDown() {
        let sw = vlanLab()
        sw.inject(frame(from: mac(2), to: .broadcast), on: "a2")
        _ = sw.drain()
        sw.setPortUp(1, false)
        #expect(sw.inject(frame(from: mac(5), to: .broadcast), on: "a2").reason == .portDown)
        // The MAC learned on a2 is gone, so frames for it flood, and a2 is left out.
        #expect(sw.inject(frame(from: mac(1), to: mac(2)), on: "a1").action == .flood)
        #expect(Set(sw.drain().keys) == ["t1"])
    }

    @Test func countersCountFramesAndBytes() {
        let sw = vlanLab()
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1")
        _ = sw.drain()
        let a1 = sw.counters(port: 0), t1 = sw.counters(port: 3), a2 = sw.counters(port: 1)
        #expect(a1.rxFrames == 1 && a1.rxBytes == 60)
        #expect(a2.txFrames == 1 && a2.txBytes == 60)
        #expect(t1.txFrames == 1 && t1.txBytes == 64)
    }

    @Test func batchesRecordADecisionPerFrameAndReleaseEverySlot() {
        let pool = PacketPool(capacity: 256)
        let sw = vlanLab(pool: pool)
        var frames: [[UInt8]] = []
        for i in 0..<32 {
            let destination: MACAddress = i % 2 == 0 ? .broadcast : mac(1)
            let tag: UInt16? = i % 3 == 0 ? 10 : nil
            frames.append(frame(from: mac(UInt8(i + 1)), to: destination, tag: tag))
        }
        let handles = frames.map { pool.make(copying: $0)! }
        handles.withUnsafeBufferPointer { sw.receive(port: 3, batch: $0, now: t0) }
        #expect(sw.lastDecisions.count == 32)
        let decisions = sw.lastDecisions
        // Odd frames tagged 10 go to mac(1), which frame 0 taught the switch is behind t1 itself.
        #expect(decisions.filter { $0.reason == .hairpin }.count == 5)
        #expect(decisions.filter { $0.vlan == 1 }.count == 21, "untagged frames belong to native VLAN 1")
        #expect(decisions.filter { $0.action == .forward }.count == 0)
        for p in 0..<sw.portCount { sw.clearTransmitQueue(port: p, releasing: true) }
        #expect(pool.available == pool.capacity, "no slot leaked")
    }

    @Test func staticEntriesForward() throws {
        let config = SwitchConfiguration(name: "s", ports: [PortConfiguration(name: "p1"), PortConfiguration(name: "p2"),
                                                             PortConfiguration(name: "p3")],
                                         staticEntries: [StaticEntry(mac: mac(9), vlan: .defaultVLAN, port: "p3")])
        let sw = try Switch(configuration: config, pool: PacketPool(capacity: 64))
        #expect(sw.inject(frame(from: mac(1), to: mac(9)), on: "p1").action == .forward)
        #expect(Array(sw.drain().keys) == ["p3"])
    }

    @Test func stateRoundTrips() throws {
        let sw = vlanLab()
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1")
        sw.inject(frame(from: mac(3), to: .broadcast, tag: 20), on: "t1")
        _ = sw.drain()
        let state = sw.saveState(now: t0)
        #expect(state.entries.count == 2)
        let copy = vlanLab()
        try copy.restore(state)
        #expect(copy.saveState(now: t0) == state)
        #expect(copy.inject(frame(from: mac(2), to: mac(1)), on: "a2").action == .forward)
        var bad = state
        bad.entries[0].port = "nope"
        #expect(throws: SwitchStateError.unknownPort("nope")) { try copy.restore(bad) }
        // A port configured differently refuses the state, and nothing changes.
        #expect(state.ports[0].configuration == "access 10" && state.ports[3].configuration == "trunk 10,20 native 1")
        var other = state
        other.ports[0].configuration = "access 20"
        let fresh = vlanLab()
        #expect(throws: SwitchStateError.configurationDiffers(port: "a1", saved: "access 20", here: "access 10")) {
            try fresh.restore(other)
        }
        #expect(fresh.macTable.count == 0)
    }
}

@Suite struct ObserverTests {
    @Test func ingressMirrorCopiesFramesAsReceived() {
        let mirror = ObserverConfiguration(name: "m", selection: ObserverSelection(ingressPorts: ["t1"]), output: .port("span"))
        let sw = vlanLab(observers: [mirror], extraPorts: [PortConfiguration(name: "span", mode: .access(vlan(99)))])
        let original = frame(from: mac(1), to: .broadcast, tag: 20)
        sw.inject(original, on: "t1")
        let out = sw.drain()
        #expect(out["span"] == [original], "as received, tag and all")
        #expect(out["b1"]?.count == 1)
        #expect(sw.inject(frame(from: mac(5), to: .broadcast), on: "span").reason == .mirrorPort)
    }

    @Test func egressMirrorCopiesFramesAsSent() {
        let mirror = ObserverConfiguration(name: "m", selection: ObserverSelection(egressPorts: ["t1"]), output: .port("span"))
        let sw = vlanLab(observers: [mirror], extraPorts: [PortConfiguration(name: "span", mode: .trunk(allowed: .all, native: nil))])
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1")
        let out = sw.drain()
        #expect(out["span"]?.count == 1)
        #expect(tagOf(out["span"]![0]) == 10, "as it left t1")
        #expect(out["t1"] == out["span"])
        // The span port is not a flooding target even though it carries every VLAN.
        sw.inject(frame(from: mac(2), to: .broadcast, tag: 20), on: "t1")
        #expect(sw.drain()["span"] == nil)
    }

    @Test func vlanSelectionAndCaptureSink() {
        let sink = RecordingSink()
        let capture = ObserverConfiguration(name: "c", selection: ObserverSelection(vlans: [vlan(20)]), output: .sink(sink))
        let sw = vlanLab(observers: [capture])
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1", now: t0 + 1)
        sw.inject(frame(from: mac(2), to: .broadcast), on: "b1", now: t0 + 2)
        sw.inject(frame(from: mac(3), to: .broadcast, tag: 20), on: "t1", now: t0 + 3)
        _ = sw.drain()
        #expect(sink.frames.count == 2 && sink.timestamps == [t0 + 2, t0 + 3])
    }

    @Test func switchWideCaptureTakesEachFrameOnce() {
        let sink = RecordingSink()
        let capture = ObserverConfiguration(name: "c", selection: ObserverSelection(allIngress: true, allEgress: true), output: .sink(sink))
        let sw = vlanLab(observers: [capture])
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1")
        _ = sw.drain()
        #expect(sink.frames.count == 1)
    }

    @Test func egressCaptureSeesTheEgressTag() {
        let sink = RecordingSink()
        let capture = ObserverConfiguration(name: "c", selection: ObserverSelection(egressPorts: ["t1"]), output: .sink(sink))
        let sw = vlanLab(observers: [capture])
        sw.inject(frame(from: mac(1), to: .broadcast), on: "a1")
        sw.inject(frame(from: mac(2), to: .broadcast), on: "b1")
        _ = sw.drain()
        #expect(sink.frames.map(tagOf) == [10, 20])
    }
}

@Suite struct FabricAndTraceTests {
    func twoSwitches() throws -> (Fabric, PacketPool) {
        let pool = PacketPool(capacity: 512)
        let fabric = Fabric(pool: pool)
        let trunk = PortConfiguration(name: "t1", mode: .trunk(allowed: VLANSet([vlan(10), vlan(20)]), native: .defaultVLAN))
        for name in ["sw0", "sw1"] {
            let ports = [PortConfiguration(name: "a1", mode: .access(vlan(10))), PortConfiguration(name: "b1", mode: .access(vlan(20))), trunk]
            fabric.add(try Switch(configuration: SwitchConfiguration(name: name, ports: ports), pool: pool))
        }
        try fabric.link(try fabric.port("sw0", "t1"), try fabric.port("sw1", "t1"))
        return (fabric, pool)
    }

    final class Collector: PortSink {
        var frames: [[UInt8]] = []
        func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: pool.slotSize + 64, alignment: 16)
            defer { buffer.deallocate() }
            for e in entries {
                let n = Switch.materialize(e, pool: pool, into: buffer)
                frames.append(Array(UnsafeRawBufferPointer(start: buffer, count: n)))
                pool.release(e.handle)
            }
        }
    }

    @Test func framesCrossATrunkLinkInTheirVLAN() throws {
        let (fabric, pool) = try twoSwitches()
        let a1 = Collector(), b1 = Collector()
        try fabric.attach(try fabric.port("sw1", "a1"), sink: a1)
        try fabric.attach(try fabric.port("sw1", "b1"), sink: b1)
        let f = frame(from: mac(1), to: .broadcast)
        f.withUnsafeBytes { _ = fabric.inject($0, at: try! fabric.port("sw0", "a1"), now: t0) }
        #expect(a1.frames == [f] && b1.frames.isEmpty)
        #expect(fabric.switches[1].counters(port: 2).rxFrames == 1)
        #expect(pool.available == pool.capacity, "no slot leaked across the link")
        // sw1 learned mac(1) behind its trunk in VLAN 10.
        #expect(fabric.switches[1].macTable.lookup(key: MACTable.key(vlan: 10, mac: mac(1).rawValue), now: t0) == 2)
    }

    @Test func loopsAndDoubleUseAreRefused() throws {
        let (fabric, _) = try twoSwitches()
        #expect(throws: Fabric.FabricError.loop(["sw0", "sw1"])) {
            try fabric.link(try fabric.port("sw0", "a1"), try fabric.port("sw1", "a1"))
        }
        #expect(throws: Fabric.FabricError.portInUse("sw0", "t1")) {
            try fabric.link(try fabric.port("sw0", "t1"), try fabric.port("sw1", "b1"))
        }
        #expect(throws: Fabric.FabricError.unknownPort("sw0", "zz")) { try fabric.port("sw0", "zz") }
    }

    @Test func traceReportsDecisionsAndTags() {
        let tracer = FrameTracer(switch: vlanLab(), now: t0)
        let first = tracer.trace(frame(from: mac(1), to: mac(2)), port: 0)
        #expect(first == TraceRecord(frame: 1, action: "flood", vlan: 10,
                                     out: [.init(port: "a2", vlan: nil), .init(port: "t1", vlan: 10)],
                                     reason: "destination 02:00:00:00:00:02 unknown in VLAN 10"))
        let second = tracer.trace(frame(from: mac(2), to: mac(1), tag: 10), port: 3)
        #expect(second.action == "forward" && second.out == [.init(port: "a1", vlan: nil)] && second.vlan == 10)
        let third = tracer.trace(frame(from: mac(3), to: mac(1), tag: 10), port: 0)
        #expect(third == TraceRecord(frame: 3, action: "drop", vlan: nil, out: [], reason: "tagged-on-access-port"))
    }
}

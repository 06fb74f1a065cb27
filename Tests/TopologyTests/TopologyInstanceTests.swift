// A topology's captures end to end: selection by port, direction, VLAN, filter and rotation,
import Foundation
// read back with our reader, tcpdump and tshark.

import Capture
import Frames
import Switching
import Testing
import TestSupport
@testable import Topology

@Suite struct TopologyInstanceTests {
    static let document = #"""
    {"version": 1, "name": "captures",
     "switches": [{"name": "sw0", "ports": [
        {"name": "a1", "vlan": 10}, {"name": "a2", "vlan": 10}, {"name": "b1", "vlan": 20},
        {"name": "t1", "mode": "trunk", "allowed_vlans": [10, 20]}]},
      {"name": "sw1", "ports": [{"name": "t1", "mode": "trunk", "allowed_vlans": [10, 20]}, {"name": "b1", "vlan": 20}]}],
     "links": [{"a": "sw0:t1", "b": "sw1:t1"}],
     "captures": [
        {"name": "t1-rx", "file": "out/t1-rx.pcap", "switch": "sw0", "port": "t1", "direction": "rx"},
        {"name": "t1-tx", "file": "out/t1-tx.pcap", "switch": "sw0", "port": "t1", "direction": "tx"},
        {"name": "vlan20", "file": "out/vlan20.pcap", "switch": "sw0", "vlan": 20},
        {"name": "arp", "file": "out/arp.pcap", "switch": "sw0", "filter": "arp or (vlan and arp)", "snaplen": 64},
        {"name": "sw1", "file": "out/sw1.pcap", "switch": "sw1", "direction": "both"},
        {"name": "rotating", "file": "out/rot.pcap", "switch": "sw0", "port": "a1", "direction": "rx",
         "rotate": {"size_mb": 1, "files": 3}}
     ]}
    """#

    @Test func capturesSelectByPortDirectionVLANAndFilter() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let topology = try Topology.decode(Array(Self.document.utf8), file: "captures.json")
        var options = TopologyInstance.Options()
        options.captureDirectory = dir.path
        let instance = try TopologyInstance(topology, options: options)
        let fabric = instance.fabric
        let m = (1...4).map { MACAddress(0x02, 0, 0, 0, 0, UInt8($0)) }
        let ip = (1...4).map { IPv4Address(10, 0, 0, UInt8($0)) }
        let t0: Int64 = 1_700_000_000_000_000_000
        func send(_ frame: [UInt8], _ sw: String, _ port: String, _ dt: Int64) throws {
            let ref = try fabric.port(sw, port)
            frame.withUnsafeBytes { _ = fabric.inject($0, at: ref, now: t0 + dt) }
        }
        try send(FrameBuilder.arpRequest(from: m[0], ip[0], for: ip[1]), "sw0", "a1", 1)        // VLAN 10 flood: a2, t1
        try send(FrameBuilder.ping(from: m[1], ip[1], to: m[0], ip[0], vlan: 10), "sw0", "t1", 2) // t1 rx -> a1
        try send(FrameBuilder.arpRequest(from: m[2], ip[2], for: ip[3]), "sw0", "b1", 3)        // VLAN 20 flood: t1 -> sw1:b1
        try send(FrameBuilder.ping(from: m[3], ip[3], to: m[2], ip[2]), "sw1", "b1", 4)         // back over the trunk to sw0:b1
        #expect(instance.closeCaptures().isEmpty)

        func read(_ name: String) throws -> [PcapPacket] { try PcapReader(path: dir.file("out/" + name)).readAll() }
        #expect(try read("t1-rx.pcap").count == 2, "the tagged ping from t1 and sw1's reply")
        #expect(try read("t1-tx.pcap").count == 2, "the ARP flood tagged 10 and the VLAN 20 ARP")
        #expect(try read("vlan20.pcap").count == 2)
        let arp = try read("arp.pcap")
        #expect(arp.count == 2 && arp.allSatisfy { $0.capturedLength <= 64 })
        let sw1 = try read("sw1.pcap")
        #expect(sw1.count == 3, "both ARP floods arriving over the trunk and the ping leaving, once each")
        #expect(try read("t1-rx.pcap").map(\.timestampNanoseconds) == [UInt64(t0 + 2), UInt64(t0 + 4)])

        guard let tshark = ExternalTool.require("tshark", for: "capturesSelectByPortDirectionVLANAndFilter"),
              let tcpdump = ExternalTool.require("tcpdump", for: "capturesSelectByPortDirectionVLANAndFilter") else { return }
        let tx = try tshark.run(["-r", dir.file("out/t1-tx.pcap"), "-T", "fields", "-e", "vlan.id", "-e", "arp.opcode"])
        #expect(tx.output.split(separator: "\n").map(String.init) == ["10\t1", "20\t1"], "\(tx.output)")
        let vlan20 = try tcpdump.run(["-r", dir.file("out/vlan20.pcap"), "-nn", "-e"])
        #expect(vlan20.status == 0 && vlan20.output.contains("Request who-has 10.0.0.4 tell 10.0.0.3"), "\(vlan20.output)")
        #expect(vlan20.output.contains("ICMP echo request"))
    }

    @Test func rotationWritesTcpdumpNamedFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let topology = try Topology.decode(Array(Self.document.utf8), file: "captures.json")
        var options = TopologyInstance.Options()
        options.captureDirectory = dir.path
        let instance = try TopologyInstance(topology, options: options)
        let a1 = try instance.fabric.port("sw0", "a1")
        // ~2.5 MB of frames into a capture rotating at 1 MB, keeping 3 files.
        let frame = FrameBuilder.padded(FrameBuilder.ethernet(destination: .broadcast, source: MACAddress(0x02, 0, 0, 0, 0, 9),
                                                              etherType: 0x88b5, payload: [UInt8](repeating: 7, count: 1000)))
        for i in 0..<2_500 {
            frame.withUnsafeBytes { _ = instance.fabric.inject($0, at: a1, now: 1_700_000_000_000_000_000 + Int64(i)) }
        }
        #expect(instance.closeCaptures().isEmpty)
        let files = try TemporaryDirectory.list(dir.file("out")).filter { $0.hasPrefix("rot.pcap") }
        #expect(files == ["rot.pcap0", "rot.pcap1", "rot.pcap2"], "\(files)")
        var total = 0
        for f in files { total += try PcapReader(path: dir.file("out/" + f)).readAll().count }
        #expect(total == 2_500)
        if let tcpdump = ExternalTool.require("tcpdump", for: "rotationWritesTcpdumpNamedFiles") {
            for f in files { #expect(try tcpdump.run(["-r", dir.file("out/" + f), "-c", "1"]).status == 0) }
        }
    }

    @Test func captureIntoAMissingDirectoryIsCreatedAndABadPathIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let ok = #"{"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}]}], "captures": [{"name": "c", "file": "a/b/c.pcap", "switch": "sw0"}]}"#
        var options = TopologyInstance.Options()
        options.captureDirectory = dir.path
        let instance = try TopologyInstance(try Topology.decode(Array(ok.utf8), file: "ok.json"), options: options)
        #expect(instance.closeCaptures().isEmpty)
        try "x".write(toFile: dir.file("file"), atomically: true, encoding: .utf8)
        let bad = #"{"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}]}], "captures": [{"name": "c", "file": "file/c.pcap", "switch": "sw0"}]}"#
        #expect(throws: TopologyInstanceError.self) {
            _ = try TopologyInstance(try Topology.decode(Array(bad.utf8), file: "bad.json"), options: options)
        }
    }
}

// Tests of Topology.part(for:) and the tunnel numbering: segments and tunnel ports with
// their UDP ports, VNIs and addresses; pinned ports, static entries, mirrors, captures,
// links between hypervisors, VMs and hosts; both ends of every tunnel agree.
import Frames
import Switching
import Testing
import Topology

@Suite("Topology partition")
struct PartitionTests {
    let three: Topology
    let v1 = VLANID(unchecked: 1), v10 = VLANID(unchecked: 10)

    init() throws {
        three = try Topology.decode(Array(threeHypervisorExample.utf8), file: "three.json")
    }

    /// The VXLAN endpoint of port `port` of switch `sw` in `part`.
    func vxlan(_ part: Topology, _ sw: String, _ port: String) -> VXLANSpec? {
        guard case .vxlan(let spec)? = part.switchSpec(named: sw)?.port(named: port)?.attach else { return nil }
        return spec
    }

    func address(_ last: UInt8) -> IPv4Address { IPv4Address(192, 0, 2, last) }

    @Test("tunnels are numbered: spanning switches by hypervisor pairs, then links between hypervisors")
    func tunnelNumbering() {
        let tunnels = three.tunnels
        #expect(tunnels.map(\.number) == [0, 1, 2, 3, 4])
        #expect(tunnels.map(\.origin) == [.switchSegments(switchIndex: 0), .switchSegments(switchIndex: 0),
                                          .switchSegments(switchIndex: 0), .switchSegments(switchIndex: 2), .link(index: 1)])
        #expect(tunnels.map(\.vni) == [1, 1, 1, 500, 10_001])
        #expect(tunnels.map { "\($0.first.hypervisor)\($0.second.hypervisor)" } == ["ab", "ac", "bc", "ab", "ab"])
        // a and c have base port 4789, b 5000: tunnel t binds base + 2t on its first end, + 2t + 1 on the second.
        #expect(tunnels.map(\.first.udpPort) == [4789, 4791, 5004, 4795, 4797])
        #expect(tunnels.map(\.second.udpPort) == [5001, 4792, 4794, 5007, 5009])
        #expect(tunnels[0].first == TunnelSpec.End(hypervisor: "a", switchName: "core", port: "vxlan@b", udpPort: 4789))
        #expect(tunnels[4].first == TunnelSpec.End(hypervisor: "a", switchName: "far", port: "x", udpPort: 4797))
        #expect(tunnels[4].second == TunnelSpec.End(hypervisor: "b", switchName: "island", port: "i1", udpPort: 5009))
    }

    @Test("a segment keeps its ports but those pinned elsewhere and gains split-horizon tunnel ports")
    func segmentPorts() throws {
        let a = try three.part(for: "a"), b = try three.part(for: "b"), c = try three.part(for: "c")
        #expect(a.switches.map(\.name) == ["core", "far"])
        #expect(b.switches.map(\.name) == ["core", "far", "island"])
        #expect(c.switches.map(\.name) == ["core", "edge"])
        #expect(a.switchSpec(named: "core")?.ports.map(\.name) == ["uplink", "vm1p", "h1p", "vxlan@b", "vxlan@c"])
        #expect(b.switchSpec(named: "core")?.ports.map(\.name) == ["vm1p", "h1p", "hb", "mon", "vxlan@a", "vxlan@c"])
        #expect(c.switchSpec(named: "core")?.ports.map(\.name) == ["vm1p", "h1p", "t-edge", "vxlan@a", "vxlan@b"])
        #expect(a.switchSpec(named: "far")?.ports.map(\.name) == ["x", "vxlan@b"])
        #expect(b.switchSpec(named: "far")?.ports.map(\.name) == ["y", "vxlan@a"])

        let tunnel = try #require(a.switchSpec(named: "core")?.port(named: "vxlan@b"))
        #expect(tunnel == PortSpec(name: "vxlan@b", mode: .trunk(allowed: .all, native: nil), learning: true,
                                   attach: .vxlan(VXLANSpec(remote: address(2), local: address(1), vni: 1,
                                                            remotePort: 5001, localPort: 4789)),
                                   splitHorizon: true))
        #expect(tunnel.configuration.splitHorizon && tunnel.carries(VLANID(unchecked: 4094)))
        #expect(vxlan(c, "core", "vxlan@b") == VXLANSpec(remote: address(2), local: address(3), vni: 1, remotePort: 5004, localPort: 4794))
        #expect(vxlan(b, "far", "vxlan@a") == VXLANSpec(remote: address(1), local: address(2), vni: 500, remotePort: 4795, localPort: 5007))
        // User ports are not split horizon; the attachment of a pinned port stays with it.
        #expect(a.switchSpec(named: "core")?.port(named: "uplink")?.attach == .pcap(interface: "eth1"))
        for part in [a, b, c] {
            for sw in part.switches {
                for port in sw.ports { #expect(port.splitHorizon == port.name.contains("@") && port.hypervisor == nil) }
                #expect(sw.hypervisors.isEmpty && sw.vni == nil)
            }
        }
    }

    @Test("both ends of every tunnel agree on addresses, ports and VNI")
    func tunnelEndsMatch() throws {
        var parts: [String: Topology] = [:]
        for name in three.hypervisorNames { parts[name] = try three.part(for: name) }
        for tunnel in three.tunnels {
            let first = try #require(vxlan(parts[tunnel.first.hypervisor]!, tunnel.first.switchName, tunnel.first.port))
            let second = try #require(vxlan(parts[tunnel.second.hypervisor]!, tunnel.second.switchName, tunnel.second.port))
            #expect(first.localPort == second.remotePort && first.remotePort == second.localPort, "tunnel \(tunnel.number)")
            #expect(first.local == second.remote && first.remote == second.local, "tunnel \(tunnel.number)")
            #expect(first.vni == tunnel.vni && second.vni == tunnel.vni)
        }
    }

    @Test("a link between hypervisors becomes tunnel ends; a link within one stays a link")
    func links() throws {
        let a = try three.part(for: "a"), b = try three.part(for: "b"), c = try three.part(for: "c")
        #expect(a.links.isEmpty && b.links.isEmpty)
        #expect(c.links == [LinkSpec(a: PortRef(switchName: "core", port: "t-edge"), b: PortRef(switchName: "edge", port: "t-core"))])
        let x = try #require(vxlan(a, "far", "x")), i1 = try #require(vxlan(b, "island", "i1"))
        #expect(x == VXLANSpec(remote: address(2), local: address(1), vni: 10_001, remotePort: 5009, localPort: 4797))
        #expect(i1 == VXLANSpec(remote: address(1), local: address(2), vni: 10_001, remotePort: 4797, localPort: 5009))
        #expect(a.switchSpec(named: "far")?.port(named: "x")?.splitHorizon == false)
    }

    @Test("static entries on ports pinned elsewhere point into the tunnel towards them")
    func staticEntries() throws {
        func entries(_ hypervisor: String) throws -> [String] {
            try three.part(for: hypervisor).switchSpec(named: "core")?.macTable.staticEntries.map { "\($0.mac.description.suffix(2))>\($0.port)" } ?? []
        }
        #expect(try entries("a") == ["11>vxlan@b", "12>uplink", "13>vm1p", "14>vxlan@c"])
        #expect(try entries("b") == ["11>hb", "12>vxlan@a", "13>vm1p", "14>vxlan@c"])
        #expect(try entries("c") == ["11>vxlan@b", "12>vxlan@a", "13>vm1p", "14>t-edge"])
        // Without the tunnel (the pinned port's hypervisor is not the switch's), the entry goes.
        var topology = three
        topology.switches[2].macTable.staticEntries = [StaticMACSpec(mac: MACAddress(2, 0, 0, 0, 0, 0x21), vlan: v1, port: "y")]
        #expect(try topology.part(for: "a").switchSpec(named: "far")?.macTable.staticEntries.map(\.port) == ["vxlan@b"])
        topology.switches[2].ports[1].hypervisor = "c"
        #expect(try topology.part(for: "a").switchSpec(named: "far")?.macTable.staticEntries.isEmpty == true)
    }

    @Test("mirrors lose the sources that are elsewhere; without a criterion or output they go")
    func mirrors() throws {
        let a = try three.part(for: "a"), b = try three.part(for: "b"), c = try three.part(for: "c")
        #expect(a.switchSpec(named: "core")?.mirrors.map(\.name) == ["m-cap", "m-vlan"])
        #expect(b.switchSpec(named: "core")?.mirrors == [
            MirrorSpec(name: "m-mon", select: MirrorSelectSpec(ingressPorts: ["vm1p"]), output: .port("mon")),
            MirrorSpec(name: "m-vlan", select: MirrorSelectSpec(vlans: [v10]), output: .capture("vlancap")),
        ])
        #expect(c.switchSpec(named: "core")?.mirrors.map(\.name) == ["m-vlan"])
    }

    @Test("captures follow their switch, port or mirror, with the hypervisor in the file name")
    func captures() throws {
        let a = try three.part(for: "a"), b = try three.part(for: "b"), c = try three.part(for: "c")
        #expect(a.captures.map(\.name) == ["core-all", "vm-port", "uplink-cap", "upcap", "vlancap"])
        #expect(a.captures.map(\.file) == ["captures/core-a.pcap", "captures/vm.d/port-a", "uplink-a.pcap", "out-a",
                                           "captures/vlan-a.pcap"])
        #expect(b.captures.map(\.name) == ["core-all", "vm-port", "vlancap"])
        #expect(c.captures.map(\.file) == ["captures/core-c.pcap", "captures/vm.d/port-c", "captures/vlan-c.pcap",
                                           "captures/edge-c.pcap"])
        #expect(a.captures[1] == CaptureSpec(name: "vm-port", file: "captures/vm.d/port-a", switchName: "core", port: "vm1p"))
        #expect(Topology.fileName(".hidden", onHypervisor: "a") == ".hidden-a")
        #expect(Topology.fileName("d/x.tar.gz", onHypervisor: "b") == "d/x.tar-b.gz")
    }

    @Test("VMs and hosts are where they start; placement and schedule are gone from the parts")
    func machines() throws {
        let a = try three.part(for: "a"), b = try three.part(for: "b"), c = try three.part(for: "c")
        #expect(a.vms.map(\.name) == ["vm1"] && b.vms.isEmpty && c.vms.map(\.name) == ["vm2"])
        #expect(a.hosts.map(\.name) == ["h1"] && b.hosts.map(\.name) == ["hb"] && c.hosts.isEmpty)
        #expect(a.hosts[0].ping == PingSpec(to: IPv4Address(10, 0, 0, 2), intervalMs: 10, count: 5))
        for part in [a, b, c] {
            #expect(part.hypervisors.isEmpty && part.migrations.isEmpty)
            #expect(part.vms.allSatisfy { $0.hypervisor == nil } && part.hosts.allSatisfy { $0.hypervisor == nil })
            #expect(part.name == "three")
            #expect(part.validate().isEmpty, "\(part.validate())")
        }
        #expect(three.hypervisor(ofVM: "vm1", at: 12) == "c")
        #expect(three.hypervisor(ofPort: PortRef(switchName: "core", port: "vm1p")) == nil, "follows its VM")
        #expect(three.hypervisor(ofPort: PortRef(switchName: "edge", port: "e1")) == "c")
    }

    @Test("the migration example: one segment each, tunnel 0 between 127.0.0.1 and 127.0.0.2")
    func migrationExampleParts() throws {
        let topology = try Topology.decode(Array(migrationExample.utf8), file: "migration.json")
        let a = try topology.part(for: "a"), b = try topology.part(for: "b")
        #expect(a.switches.map { $0.ports.map(\.name) } == [["src", "dst", "pinger", "vxlan@b"]])
        #expect(b.switches.map { $0.ports.map(\.name) } == [["src", "dst", "pinger", "vxlan@a"]])
        let loopback = IPv4Address(127, 0, 0, 1), second = IPv4Address(127, 0, 0, 2)
        #expect(vxlan(a, "sw0", "vxlan@b") == VXLANSpec(remote: second, local: loopback, vni: 1, remotePort: 4790, localPort: 4789))
        #expect(vxlan(b, "sw0", "vxlan@a") == VXLANSpec(remote: loopback, local: second, vni: 1, remotePort: 4789, localPort: 4790))
        #expect(a.vms.map(\.name) == ["src"] && b.vms.map(\.name) == ["dst"])
        #expect(a.hosts.map(\.name) == ["pinger"] && b.hosts.isEmpty)
        #expect(a.captures.map(\.file) == ["captures/migration-a.pcap"] && b.captures.map(\.file) == ["captures/migration-b.pcap"])
    }

    @Test("with a single hypervisor the part is the topology, capture names unchanged")
    func singleHypervisor() throws {
        let json = doc(#""hypervisors":[{"name":"solo"}],"switches":[{"name":"sw0","ports":[{"name":"v1"},{"name":"p1","hypervisor":"solo"}]}],"# +
                       #""captures":[{"name":"c","file":"c.pcap","switch":"sw0"}],"# +
                       #""vms":[{"name":"vm1","nics":[{"mac":"52:54:00:00:00:01","switch":"sw0","port":"v1"}]}]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "solo.json")
        let part = try topology.part(for: "solo")
        var expected = topology
        expected.hypervisors = []
        expected.switches[0].hypervisors = []
        expected.switches[0].vni = nil
        expected.switches[0].ports[1].hypervisor = nil
        expected.vms[0].hypervisor = nil
        #expect(part == expected)
    }

    @Test("part(for:) refuses an unknown hypervisor and a topology without hypervisors")
    func partErrors() throws {
        #expect(throws: TopologyInstanceError("hypervisor \"d\" not found; the topology has a, b, c")) {
            _ = try three.part(for: "d")
        }
        let plain = Topology(switches: [SwitchSpec(name: "sw0", ports: [PortSpec(name: "p1")])])
        #expect(throws: TopologyInstanceError("the topology lists no hypervisors")) { _ = try plain.part(for: "a") }
    }
}

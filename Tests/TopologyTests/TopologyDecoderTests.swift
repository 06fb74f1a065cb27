// Tests of decoding: defaults, VLAN ranges, the vlan-lab example, error format, unknown-key
// suggestions, collected errors and unreadable files.
import Foundation
import Frames
import Switching
import Testing
import Topology
import RISCVTranslator

@Suite("Topology decoding")
struct TopologyDecoderTests {
    @Test("defaults are applied")
    func defaults() throws {
        let json = oneSwitch(#"{"name":"a1"},{"name":"t1","mode":"trunk"}"#,
                             rest: #""captures":[{"name":"c","file":"c.pcap","switch":"sw0"}],"# +
                                   #""vms":[{"name":"vm1","disks":[{"path":"d.img"}],"expect":[{"wait":"$ "}]}],"# +
                                   #""hosts":[{"name":"h1","switch":"sw0","port":"a1","ip":"10.10.0.1/24"}]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "d.json")
        #expect(topology.name == nil && topology.links.isEmpty)
        let sw = try #require(topology.switches.first)
        #expect(sw.macTable == MACTableSpec(capacity: 8192, agingSeconds: 300, staticEntries: []))
        #expect(sw.mirrors.isEmpty)
        #expect(sw.ports[0] == PortSpec(name: "a1", mode: .access(VLANID(unchecked: 1)), learning: true, learnLimit: nil, attach: nil))
        #expect(sw.ports[1].mode == .trunk(allowed: .all, native: VLANID(unchecked: 1)))
        #expect(topology.captures[0] == CaptureSpec(name: "c", file: "c.pcap", switchName: "sw0", port: nil, vlan: nil,
                                                    direction: .both, snaplen: 262_144, filter: nil, rotate: nil))
        let vm = topology.vms[0]
        #expect(vm.cpus == 1 && vm.memoryMiB == 64 && vm.firmware == .builtin && vm.kernel == nil && vm.engine == nil)
        #expect(vm.disks == [DiskSpec(path: "d.img", format: .raw, readOnly: false, base: nil)])
        #expect(vm.console == ConsoleSpec(log: nil, stdout: false))
        #expect(vm.expect == [ExpectStep(wait: "$ ", send: nil, timeoutSeconds: 30)])
        let host = topology.hosts[0]
        #expect(host.link == .veth && host.mac == nil && host.ip.description == "10.10.0.1/24" && host.ip.prefixLength == 24)
    }

    @Test("a VM's cpu engine decodes")
    func cpuEngine() throws {
        let json = oneSwitch(#"{"name":"a1"}"#, rest: #""vms":[{"name":"vm1","cpu":{"engine":"translate"}},{"name":"vm2","cpu":{}}]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "d.json")
        #expect(topology.vms.map(\.engine) == [.translate, nil])
    }

    @Test("allowed_vlans ranges are expanded and merged")
    func ranges() throws {
        let json = oneSwitch(#"{"name":"t1","mode":"trunk","allowed_vlans":[10,20,"30-40","35-36",4094],"native_vlan":null}"#)
        let topology = try Topology.decode(Array(json.utf8), file: "r.json")
        guard case .trunk(let allowed, let native) = topology.switches[0].ports[0].mode else {
            Issue.record("not a trunk")
            return
        }
        #expect(native == nil)
        #expect(allowed.members.map(\.rawValue) == [10, 20] + Array(30...40) + [4094])
        #expect(allowed.count == 14)
        #expect(allowed.description == "10,20,30-40,4094")
        #expect(!allowed.contains(VLANID(unchecked: 29)) && allowed.contains(VLANID(unchecked: 30)))
    }

    @Test("the vlan-lab example decodes into the expected model")
    func vlanLabRoundTrip() throws {
        let path = packageRoot.appendingPathComponent("Topologies/vlan-lab.json").path
        let topology = try Topology.load(contentsOf: path)
        let v = { (n: Int) in VLANID(unchecked: UInt16(n)) }
        let expected = Topology(
            name: "vlan-lab",
            description: topology.description,
            switches: [SwitchSpec(
                name: "sw0",
                ports: [
                    PortSpec(name: "a1", mode: .access(v(10))),
                    PortSpec(name: "a2", mode: .access(v(10))),
                    PortSpec(name: "b1", mode: .access(v(20))),
                    PortSpec(name: "t1", mode: .trunk(allowed: VLANSet([v(10), v(20)]), native: v(1))),
                ],
                mirrors: [MirrorSpec(name: "vlan20", select: MirrorSelectSpec(vlans: [v(20)]),
                                     output: .capture("vlan20-mirror"))])],
            captures: [
                CaptureSpec(name: "trunk", file: "captures/vlan-lab-t1.pcap", switchName: "sw0", port: "t1"),
                CaptureSpec(name: "vlan20-mirror", file: "captures/vlan-lab-vlan20.pcap"),
            ])
        #expect(topology == expected)
        #expect(topology.description?.isEmpty == false)
    }

    @Test("the quickstart example: two appliance VMs on one switch and an ICMP/ARP capture")
    func quickstart() throws {
        let topology = try Topology.load(contentsOf: packageRoot.appendingPathComponent("Topologies/quickstart.json").path)
        #expect(topology.switches.map(\.name) == ["sw0"])
        #expect(topology.captures.map(\.filter) == ["icmp or arp"])
        #expect(topology.captures.first?.file == "captures/quickstart.pcap")
        #expect(topology.vms.map(\.name) == ["vm1", "vm2"])
        #expect(topology.vms.allSatisfy { $0.kernel == .appliance && $0.firmware == .none && $0.nics.count == 1 })
        #expect(topology.vms[0].bootargs?.contains("role=flow") == true && topology.vms[1].bootargs?.contains("role=sink") == true)
    }

    @Test("errors print as file:line:column: path: message")
    func errorFormat() {
        let json = """
            {
              "version": 1,
              "switches": [
                { "name": "sw0",
                  "ports": [ { "name": "a1", "vlan": 5000 } ] }
              ]
            }
            """
        let errors = decodeErrors(json, file: "Topologies/x.json")
        #expect(errors.map(\.description) == ["Topologies/x.json:5:42: $.switches[0].ports[0].vlan: VLAN 5000 is outside 1-4094"])
        #expect(errors.first?.line == 5 && errors.first?.column == 42)
    }

    @Test("an unknown key is reported at the key with a suggestion")
    func misspelling() {
        let json = "{\n \"version\": 1,\n \"switches\": [ { \"name\": \"sw0\", \"prots\": [] } ]\n}"
        let errors = decodeErrors(json, file: "m.json")
        #expect(errors.map(\.description) == [
            #"m.json:3:16: $.switches[0]: missing required key "ports""#,
            #"m.json:3:33: $.switches[0].prots: unknown key "prots"; did you mean "ports"?"#,
        ])
    }

    @Test("a key unlike any known key gets no suggestion")
    func noSuggestion() {
        let errors = decodeErrors(oneSwitch(#"{"name":"a1","colour":"red"}"#))
        #expect(errors.map(\.message) == [#"unknown key "colour""#])
    }

    @Test("all errors of a file are collected, in source order")
    func collectsErrors() {
        let json = doc(#""switches":[{"name":"sw0","ports":[{"name":"a1","vlan":0},{"name":"t1","mode":"trunk","vlan":3}],"# +
                       #""mac_table":{"capacity":"big"}}],"links":[{"a":"x"}],"extra":true"#)
        let errors = decodeErrors(json)
        #expect(errors.map(\.path) == ["$.switches[0].ports[0].vlan", "$.switches[0].ports[1].vlan",
                                       "$.switches[0].mac_table.capacity", "$.links[0]", "$.links[0].a", "$.extra"])
    }

    @Test("the number of errors is capped")
    func capped() {
        let ports = (0..<80).map { #"{"name":"p\#($0)","vlan":9999}"# }.joined(separator: ",")
        do {
            _ = try Topology.decode(Array(oneSwitch(ports).utf8), file: "cap.json")
            Issue.record("decoded")
        } catch {
            #expect(error.errors.count == TopologyErrors.limit)
            #expect(error.truncated)
            #expect(error.description.hasSuffix("(too many errors; only the first 50 are shown)"))
        }
    }

    @Test("integers written as 10.0 are accepted, as JSON Schema does")
    func integralDouble() throws {
        let topology = try Topology.decode(Array(oneSwitch(#"{"name":"a1","vlan":1e1}"#).utf8), file: "i.json")
        #expect(topology.switches[0].ports[0].mode == .access(VLANID(unchecked: 10)))
    }

    @Test("attachments decode with their defaults")
    func attachments() throws {
        let json = oneSwitch(#"{"name":"p1","attach":{"type":"tap","device":"sbtap0"}},"# +
                             #"{"name":"p2","attach":{"type":"pcap","interface":"veth0"}},"# +
                             #"{"name":"p3","attach":{"type":"vxlan","remote":"192.0.2.2","vni":42}},"# +
                             #"{"name":"p4","attach":{"type":"vxlan","remote":"192.0.2.2","local":"192.0.2.1","vni":0,"remote_port":4790,"local_port":4791}}"#)
        let ports = try Topology.decode(Array(json.utf8), file: "a.json").switches[0].ports
        #expect(ports[0].attach == .tap(device: "sbtap0", mtu: nil))
        #expect(ports[1].attach == .pcap(interface: "veth0"))
        let remote = try #require(IPv4Address("192.0.2.2"))
        #expect(ports[2].attach == .vxlan(VXLANSpec(remote: remote, local: nil, vni: 42, remotePort: 4789, localPort: 4789)))
        #expect(ports[3].attach == .vxlan(VXLANSpec(remote: remote, local: IPv4Address("192.0.2.1"), vni: 0,
                                                    remotePort: 4790, localPort: 4791)))
    }

    @Test("a VM decodes every field")
    func vmFields() throws {
        let json = oneSwitch(#"{"name":"vm1p"}"#, rest: #""vms":[{"name":"vm1","memory_mib":128,"firmware":"/fw.elf","kernel":"appliance","# +
            #""bootargs":"ip=10.0.0.1/24","disks":[{"path":"o.qcow2","format":"qcow2","read_only":true,"base":"b.img"}],"# +
            #""nics":[{"mac":"52:54:00:12:34:56","switch":"sw0","port":"vm1p"}],"console":{"log":"vm1.log","stdout":true},"# +
            #""expect":[{"wait":"=> ","send":"ping 10.0.0.2","timeout_seconds":10}]}]"#)
        let vm = try #require(try Topology.decode(Array(json.utf8), file: "v.json").vms.first)
        #expect(vm.memoryMiB == 128 && vm.firmware == .path("/fw.elf") && vm.kernel == .appliance)
        #expect(vm.disks == [DiskSpec(path: "o.qcow2", format: .qcow2, readOnly: true, base: "b.img")])
        #expect(vm.nics == [NICSpec(mac: try #require(MACAddress("52:54:00:12:34:56")), switchName: "sw0", port: "vm1p")])
        #expect(vm.console == ConsoleSpec(log: "vm1.log", stdout: true))
        #expect(vm.expect == [ExpectStep(wait: "=> ", send: "ping 10.0.0.2", timeoutSeconds: 10)])
    }

    @Test("a syntax error is reported with its position")
    func syntaxError() {
        let errors = decodeErrors("{\n  \"version\": 1,\n  \"switches\": [,]\n}", file: "s.json")
        #expect(errors.map(\.description) == ["s.json:3:16: $: unexpected ',', expected a value"])
    }

    @Test("an unreadable file is an error")
    func unreadable() {
        do {
            _ = try Topology.load(contentsOf: "/nonexistent/topology.json")
            Issue.record("loaded")
        } catch {
            #expect(error.errors.count == 1)
            #expect(error.description == "/nonexistent/topology.json: $: cannot open file: No such file or directory")
        }
    }

    @Test("mutated example files produce errors or topologies, never a crash")
    func mutationsDoNotCrash() throws {
        let path = packageRoot.appendingPathComponent("Topologies/vlan-lab.json").path
        let original = Array(try String(contentsOfFile: path, encoding: .utf8).utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(truncatingIfNeeded: state >> 1)
        }
        let interesting = Array("{}[]\",:0123456789-.eE\\ \ntfnu".utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
        var decoded = 0, rejected = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + next() % 4) {
                let at = next() % bytes.count
                switch next() % 4 {
                case 0: bytes[at] = interesting[next() % interesting.count]
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(interesting[next() % interesting.count], at: at)
                default: bytes.removeSubrange(at..<min(bytes.count, at + next() % 40))
                }
                if bytes.isEmpty { bytes = original }
            }
            do {
                _ = try Topology.decode(bytes, file: "fuzz.json")
                decoded += 1
            } catch {
                rejected += 1
                #expect(!error.errors.isEmpty)
            }
        }
        #expect(decoded + rejected == 3000 && rejected > 0)
    }
}

@Suite("OpenFlow switch keys")
struct OpenFlowKeysTests {
    @Test("controllers, listener, fail mode, datapath id and tables decode; absent keys leave no OpenFlow")
    func decodes() throws {
        let json = oneSwitch(#"{"name":"a1"}"#, extra: #""controllers":["tcp:127.0.0.1","tcp:[::1]:6633"],"openflow_listen":"ptcp:6634:127.0.0.1","fail_mode":"secure","datapath_id":"0x00000000000000a1","openflow_tables":12"#)
        let of = try #require(try Topology.decode(Array(json.utf8), file: "of.json").switches[0].openflow)
        #expect(of.controllers == [.active(host: "127.0.0.1", port: 6653), .active(host: "::1", port: 6633)])
        #expect(of.listen == .passive(host: "127.0.0.1", port: 6634))
        #expect(of.failMode == .secure && of.datapathID == 0xA1 && of.tables == 12)
        let plain = try Topology.decode(Array(oneSwitch(#"{"name":"a1"}"#).utf8), file: "p.json")
        #expect(plain.switches[0].openflow == nil)
        let listenOnly = try Topology.decode(Array(oneSwitch(#"{"name":"a1"}"#, extra: #""openflow_listen":"ptcp:0","datapath_id":17"#).utf8), file: "l.json")
        #expect(listenOnly.switches[0].openflow == OpenFlowSpec(listen: .passive(host: "0.0.0.0", port: 0), datapathID: 17))
    }

    @Test("the default datapath id is stable, tagged 0x5B and differs between switches")
    func defaultDatapathID() {
        let a = OpenFlowSpec.defaultDatapathID(switchName: "sw0")
        #expect(a == OpenFlowSpec.defaultDatapathID(switchName: "sw0"))
        #expect(a >> 56 == 0x5B)
        #expect(a != OpenFlowSpec.defaultDatapathID(switchName: "sw1"))
    }
}

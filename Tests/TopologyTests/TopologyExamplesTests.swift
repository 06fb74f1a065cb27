// Every file in Topologies/ decodes with our decoder and validates against the JSON Schema.
import Foundation
import Testing
import Topology

@Suite("Example topologies")
struct TopologyExamplesTests {
    @Test("the examples exist")
    func examplesExist() throws {
        let names = try exampleFiles().map(\.lastPathComponent)
        #expect(names.contains("vlan-lab.json") && names.contains("quickstart.json"))
    }

    @Test("every example decodes and validates")
    func examplesDecode() throws {
        for url in try exampleFiles() {
            do {
                _ = try Topology.load(contentsOf: url.path)
            } catch {
                Issue.record("\(url.lastPathComponent):\n\(error)")
            }
        }
    }

    @Test("every example validates against the JSON Schema")
    func examplesMatchSchema() throws {
        let files = try exampleFiles()
        let documents = try files.map { try String(contentsOf: $0, encoding: .utf8) }
        guard let verdicts = try schemaVerdicts(documents) else { return }
        for (file, verdict) in zip(files, verdicts) {
            #expect(verdict.valid, "\(file.lastPathComponent): \(verdict.errors)")
        }
    }

    @Test("valid documents of the decoder tests also satisfy the schema")
    func schemaAcceptsValidDocuments() throws {
        let documents = [
            doc(#""switches":[\#(minimalSwitch)]"#),
            oneSwitch(#"{"name":"t1","mode":"trunk","allowed_vlans":[10,"30-40","1-4094"],"native_vlan":null,"learn_limit":5,"learning":false}"#),
            oneSwitch(#"{"name":"p1","attach":{"type":"tap","device":"sbtap0","mtu":9000}},{"name":"p2","attach":{"type":"pcap","interface":"veth0"}},"# +
                      #"{"name":"p3","attach":{"type":"vxlan","remote":"192.0.2.2","local":"192.0.2.1","vni":16777215,"remote_port":4789,"local_port":4789}}"#),
            oneSwitch(twoPorts, extra: #""mac_table":{"capacity":1048576,"aging_seconds":1,"static":[{"mac":"02-00-00-00-00-01","vlan":10,"port":"a1"}]},"# +
                      #""mirrors":[{"name":"m","select":{"ingress_ports":["a1"],"egress_ports":["a1"],"vlans":[10],"all":false},"output":{"port":"a2"}}]"#,
                      rest: #""captures":[{"name":"c","file":"c.pcap","switch":"sw0","port":"a1","vlan":10,"direction":"rx","snaplen":64,"filter":"arp","rotate":{"size_mb":10,"files":5}}]"#),
            oneSwitch(#"{"name":"vm1p"},{"name":"h1p"}"#, rest: #""vms":[{"name":"vm1","cpus":1,"memory_mib":16,"firmware":"none","kernel":"/k","bootargs":"","# +
                      #""disks":[{"path":"o.qcow2","format":"qcow2","read_only":true,"base":"b.img"}],"nics":[{"mac":"52:54:00:12:34:56","switch":"sw0","port":"vm1p"}],"# +
                      #""console":{"log":"vm1.log","stdout":true},"expect":[{"wait":"=> ","send":"ping","timeout_seconds":10}]}],"# +
                      #""hosts":[{"name":"h1","switch":"sw0","port":"h1p","ip":"10.10.0.1/24","mac":"02:00:00:00:00:09","link":"tap"}]"#),
        ]
        for document in documents {
            #expect(decodeErrors(document).isEmpty, "\(decodeErrors(document))")
        }
        guard let verdicts = try schemaVerdicts(documents) else { return }
        for (index, verdict) in verdicts.enumerated() {
            #expect(verdict.valid, "document \(index): \(verdict.errors)")
        }
    }
}

// Tests of decoding the keys of topologies that span hypervisors: hypervisors, placement
// keys and their defaults, migrations, ping jobs; and that the schema accepts the examples.
import Frames
import Testing
import Topology

@Suite("Topology decoding: hypervisors")
struct HypervisorDecoderTests {
    @Test("hypervisors get their default address and ports")
    func hypervisorDefaults() throws {
        let json = doc(#""hypervisors":[{"name":"a"},{"name":"b","address":"192.0.2.2","migration_port":9000,"vxlan_port":5000},{"name":"c"}],"# +
                       #""switches":[\#(minimalSwitch)]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "h.json")
        let loopback = IPv4Address(127, 0, 0, 1)
        #expect(topology.hypervisors == [
            HypervisorSpec(name: "a", address: loopback, migrationPort: 7300, vxlanPort: 4789),
            HypervisorSpec(name: "b", address: IPv4Address(192, 0, 2, 2), migrationPort: 9000, vxlanPort: 5000),
            HypervisorSpec(name: "c", address: loopback, migrationPort: 7302, vxlanPort: 4789),
        ])
        #expect(topology.hypervisorNames == ["a", "b", "c"])
        #expect(topology.migrations.isEmpty)
    }

    @Test("a hypervisor's disk directory is its disk_dir, else one under vm-data named after the topology and it")
    func diskDirectory() throws {
        let json = doc(#""name":"lab","hypervisors":[{"name":"a","disk_dir":"/srv/disks"},{"name":"b","address":"127.0.0.2"}],"# +
                       #""switches":[\#(minimalSwitch)]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "d.json")
        #expect(topology.hypervisors.map(\.diskDir) == ["/srv/disks", nil])
        #expect(topology.hypervisors.map { $0.diskDirectory(topology: topology.name) } == ["/srv/disks", "vm-data/lab-b-disks"])
    }

    @Test("a switch runs on every hypervisor unless it names some; its VNI defaults to index + 1")
    func switchPlacement() throws {
        let json = twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"p1","hypervisor":"b"}"#)),"# +
                                  #"{"name":"sw1","hypervisors":["b"],"vni":77,"ports":[{"name":"p1"}]},"# +
                                  #"{"name":"sw2","hypervisors":["b","a"],"ports":[{"name":"p1","hypervisor":"a"}]}],"# +
                                  #""links":[{"a":"sw0:p1","b":"sw2:p1","vni":4000}]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "s.json")
        #expect(topology.switches.map(\.hypervisors) == [["a", "b"], ["b"], ["b", "a"]])
        #expect(topology.switches.map(\.vni) == [1, 77, 3])
        #expect(topology.switches[0].ports[0].hypervisor == "b" && topology.switches[2].ports[0].hypervisor == "a")
        #expect(topology.switches[0].ports[0].splitHorizon == false)
        #expect(topology.links.map(\.vni) == [4000])
        #expect(topology.hypervisors(of: topology.switches[2]) == ["a", "b"], "topology order, not file order")
        #expect(topology.vni(ofLinkAt: 0) == 4000)
    }

    @Test("with one hypervisor, VMs and hosts are on it without saying so")
    func onlyHypervisorIsTheDefault() throws {
        let json = doc(#""hypervisors":[{"name":"solo"}],"switches":[{"name":"sw0","ports":[{"name":"v1"},{"name":"h1"}]}],"# +
                       #""vms":[{"name":"vm1","nics":[{"mac":"52:54:00:00:00:01","switch":"sw0","port":"v1"}]}],"# +
                       #""hosts":[{"name":"h","switch":"sw0","port":"h1","ip":"10.0.0.1/24"}]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "o.json")
        #expect(topology.vms[0].hypervisor == "solo" && topology.hosts[0].hypervisor == "solo")
        #expect(topology.switches[0].hypervisors == ["solo"] && topology.switches[0].vni == 1)
        #expect(topology.startHypervisor(ofVM: "vm1") == "solo")
        #expect(topology.hypervisor(ofPort: PortRef(switchName: "sw0", port: "v1")) == "solo")
        #expect(topology.tunnels.isEmpty)
    }

    @Test("without hypervisors nothing is placed, and hosts may still ping")
    func noHypervisors() throws {
        let json = oneSwitch(#"{"name":"h1"},{"name":"h2"}"#,
                             rest: #""hosts":[{"name":"h","switch":"sw0","port":"h1","ip":"10.0.0.1/24","ping":{"to":"10.0.0.2"}},"# +
                                   #"{"name":"g","switch":"sw0","port":"h2","ip":"10.0.0.2/24","ping":{"to":"10.0.0.1","interval_ms":250,"count":1e3}}],"# +
                                   #""vms":[{"name":"vm1"}]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "n.json")
        #expect(topology.hypervisors.isEmpty && topology.migrations.isEmpty)
        #expect(topology.switches[0].hypervisors.isEmpty && topology.switches[0].vni == nil)
        #expect(topology.switches[0].ports.allSatisfy { $0.hypervisor == nil })
        #expect(topology.vms[0].hypervisor == nil && topology.hosts[0].hypervisor == nil)
        #expect(topology.hosts[0].ping == PingSpec(to: IPv4Address(10, 0, 0, 2), intervalMs: 1000, count: nil))
        #expect(topology.hosts[1].ping == PingSpec(to: IPv4Address(10, 0, 0, 1), intervalMs: 250, count: 1000))
        #expect(topology.tunnels.isEmpty)
    }

    @Test("the migration example decodes: schedule, ping job, placement")
    func migrationExampleDecodes() throws {
        let topology = try Topology.decode(Array(migrationExample.utf8), file: "migration.json")
        #expect(topology.hypervisors.map(\.address) == [IPv4Address(127, 0, 0, 1), IPv4Address(127, 0, 0, 2)])
        #expect(topology.hypervisors.map(\.migrationPort) == [7300, 7301])
        #expect(topology.vms.map(\.hypervisor) == ["a", "b"])
        #expect(topology.hosts[0].ping == PingSpec(to: IPv4Address(10, 0, 0, 1), intervalMs: 10, count: nil))
        #expect(topology.migrations.count == 11)
        #expect(topology.migrations(ofVM: "src").map(\.to) == ["b", "a", "b", "a", "b", "a", "b", "a", "b", "a"])
        #expect(topology.migrations(ofVM: "src").map(\.at) == (1...10).map { Double($0) / 2 })
        #expect(topology.migrations[0] == MigrationSpec(vm: "src", to: "b", at: 0.5, downtimeMs: nil, maxRounds: nil))
        #expect(topology.migrations[10] == MigrationSpec(vm: "dst", to: "a", at: 6, downtimeMs: 50, maxRounds: 8,
                                                                 withDisks: true, autoConverge: true, postcopy: false))
        #expect(topology.hypervisor(ofVM: "src", at: 0) == "a")
        #expect(topology.hypervisor(ofVM: "src", at: 0.5) == "b")
        #expect(topology.hypervisor(ofVM: "src", at: 1.2) == "a")
        #expect(topology.hypervisor(ofVM: "dst", at: 5.9) == "b" && topology.hypervisor(ofVM: "dst", at: 7) == "a")
        #expect(topology.validate().isEmpty)
    }

    @Test("the hypervisor examples satisfy the schema")
    func examplesMatchSchema() throws {
        let documents = [migrationExample, threeHypervisorExample]
        for document in documents {
            #expect(decodeErrors(document).isEmpty, "\(decodeErrors(document))")
        }
        guard let verdicts = try schemaVerdicts(documents) else { return }
        for (index, verdict) in verdicts.enumerated() {
            #expect(verdict.valid, "document \(index): \(verdict.errors)")
        }
    }

    @Test("validate() checks placement of topologies built in code")
    func validateModel() {
        let a = HypervisorSpec(name: "a", migrationPort: 7300), b = HypervisorSpec(name: "b", migrationPort: 7301)
        let topology = Topology(switches: [SwitchSpec(name: "sw0", ports: [PortSpec(name: "v1")])],
                                vms: [VMSpec(name: "vm1", nics: [NICSpec(mac: MACAddress(0x52, 0x54, 0, 0, 0, 1), switchName: "sw0", port: "v1")])],
                                hypervisors: [a, b], migrations: [MigrationSpec(vm: "vm1", to: "b", at: 1)])
        #expect(topology.validate(file: "code").map(\.description) == [
            #"code: $.vms[0]: VM "vm1" needs "hypervisor": the topology has several hypervisors (a, b)"#,
        ])
        var placed = topology
        placed.vms[0].hypervisor = "a"
        #expect(placed.validate().isEmpty)
    }
}

// TopologyLimitsTests: a file at the limits validates and says what it costs; control
// characters from a file print escaped; disk images are compared by resolved path.
import Foundation
import Testing
@testable import Topology

@Suite("Topology limits, hostile names, shared disks")
struct TopologyLimitsTests {
    @Test("a file within every limit validates and knows its cost")
    func largeAllowedFile() throws {
        // 256 switches of 64 ports: the switch and total port limits exactly.
        let json = doc(#""switches":[\#(manySwitches(256, ports: 64))]"#)
        let topology = try Topology.decode(Array(json.utf8), file: "big.json")
        let cost = topology.cost
        #expect(cost.switches == TopologyLimits.switches.maximum)
        #expect(cost.ports == TopologyLimits.totalPorts.maximum)
        #expect(cost.macTableEntries == 256 * MACTableSpec.defaultCapacity)
        #expect(cost.macTableEntries <= TopologyLimits.totalMACTableCapacity.maximum)
        // The estimate grows with what the file asks for.
        var bigger = topology
        bigger.switches[0].macTable.capacity = 1_048_576
        #expect(bigger.cost.switchBytes > cost.switchBytes + 1_048_576 * 32)
    }

    @Test("limits are checked for topologies built in code too")
    func limitsInCode() {
        let ports = (0..<4097).map { PortSpec(name: "p\($0)") }
        let topology = Topology(switches: [SwitchSpec(name: "sw0", ports: ports)])
        let errors = topology.validate(file: "code")
        #expect(errors.map(\.path) == ["$.switches[0].ports"])
        #expect(errors.first?.message.contains("\"ports_per_switch\" of 4096") == true)
    }

    @Test("names, keys and values with control characters print escaped, one error per line")
    func controlCharactersPrintEscaped() {
        let json = doc(#""switches":[{"name":"sw\n0\u001b[2J","ports":[{"name":"a1","mode":"tr\runk"}],"x\u0007":1}]"#)
        let lines = decodeErrors(json).map(\.description)
        #expect(lines.count == 3, "\(lines)")
        for line in lines {
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "raw control character in \(line.debugDescription)")
        }
        #expect(lines.contains { $0.contains(#"invalid name "sw\n0\u001b[2J""#) })
        #expect(lines.contains { $0.contains(#"invalid value "tr\runk""#) })
        #expect(lines.contains { $0.contains(#"$.switches[0]["x\u0007"]: unknown key "x\u0007""#) })
    }

    @Test("read-only images and qcow2 bases may be shared")
    func sharedReadOnlyImages() {
        let json = withVMs(#"{"name":"a","disks":[{"path":"base.img","read_only":true},{"path":"a.qcow2","format":"qcow2","base":"base.img"}]},"#
            + #"{"name":"b","disks":[{"path":"base.img","read_only":true},{"path":"b.qcow2","format":"qcow2","base":"base.img"}]}"#)
        #expect(decodeErrors(json).isEmpty)
    }

    @Test("an image reached through a symbolic link is the same image")
    func symlinkedImageIsTheSame() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-disks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/real", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        FileManager.default.createFile(atPath: directory + "/real/d.img", contents: Data(count: 4096))
        try FileManager.default.createSymbolicLink(atPath: directory + "/link", withDestinationPath: directory + "/real")
        let json = withVMs(#"{"name":"a","disks":[{"path":"\#(directory)/real/d.img"}]},"#
            + #"{"name":"b","disks":[{"path":"\#(directory)/link/d.img"}]}"#)
        let errors = decodeErrors(json)
        #expect(errors.map(\.path) == ["$.vms[1].disks[0].path"], "\(errors)")
        // A file that does not exist yet is compared through its resolved directory.
        let missing = withVMs(#"{"name":"a","disks":[{"path":"\#(directory)/real/new.img"}]},"#
            + #"{"name":"b","disks":[{"path":"\#(directory)/link/./new.img"}]}"#)
        #expect(decodeErrors(missing).map(\.path) == ["$.vms[1].disks[0].path"])
    }
}

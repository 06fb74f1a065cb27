// OpenFlowMigrationTests: live migration under an OpenFlow controller, end to end
// (`Topologies/openflow-migration.json`): os-ken runs our learning switch, each hypervisor's
// segment of the switch is a datapath of its own (secure: only the controller's flows forward),
// an appliance VM moves a -> b -> a -> b while it streams datagrams and a namespace host
// pings it. Every arrival's RARP announcements reach the controller as packet-ins from both
// datapaths, every link change as a port-status, and the stream loses nothing.

import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct OpenFlowMigrationTests {
    @Test func migrationUnderAControllerAnnouncesAndLosesNothing() throws {
        guard namespacesAvailable(for: "the OpenFlow migration scenario") else { return }
        guard let venv = OpenFlowLab.venv(for: "the OpenFlow migration scenario") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = freeTCPPort()
        let text = try String(contentsOfFile: CLI.topology("openflow-migration.json"), encoding: .utf8)
            .replacingOccurrences(of: "tcp:127.0.0.1:16653", with: "tcp:127.0.0.1:\(port)")
        let file = dir.file("openflow-migration.json")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let controller = try ControllerProcess.osken(venv: venv, app: "learning_switch_13.py", port: port, logFile: dir.file("controller.log"))
        defer { controller.kill() }
        try #require(controller.waitListening(port: port), "os-ken did not listen: \(controller.log.suffix(2000))")

        let r = try CLI.run(["run", file, "--json"], in: dir.path)
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(2000))")
        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(last)")
        #expect(summary["ok"] as? Bool == true)
        let flows = try #require(summary["flows"] as? [[String: Any]])
        #expect(flows.count == 2)
        for flow in flows {
            #expect(flow["sent"] as? Int == 5000 && flow["received"] as? Int == 5000, "\(flow)")
            #expect(flow["lost"] as? Int == 0 && flow["duplicated"] as? Int == 0, "\(flow)")
        }
        let migrations = try #require(summary["migrations"] as? [[String: Any]])
        #expect(migrations.map { "\($0["from"] ?? "?")>\($0["to"] ?? "?")" } == ["a>b", "b>a", "a>b"])
        for m in migrations { #expect(m["error"] == nil && m["lost"] as? Int == 0, "\(m)") }
        let ping = try #require((summary["pings"] as? [[String: Any]])?.first)
        print("OpenFlow migration: pings \(ping["received"] ?? "?")/\(ping["transmitted"] ?? "?"), longest gap \(ping["longest_gap_ms"] ?? "?") ms")
        // A learning controller has to re-learn the VM after each move: a ping in flight while
        // it does may be lost (the L2 switch re-points the MAC at once and loses none).
        #expect((ping["received"] as? Int ?? 0) >= 190, "\(ping)")

        // The controller saw each arrival's announcements, from both datapaths: the destination's
        // VM port, and the other segment's tunnel port (port 4).
        let lines = controller.log.split(separator: "\n")
        let rarp = lines.filter { $0.contains("eth_type 0x8035 52:54:00:00:00:01 ->") }
        let onA = rarp.filter { $0.contains("datapath 00000000000000a1") }, onB = rarp.filter { $0.contains("datapath 00000000000000a2") }
        #expect(onB.filter { $0.contains("in_port 1 ") }.count >= 2, "arrivals on b announced from its VM port: \(rarp)")
        #expect(onA.filter { $0.contains("in_port 1 ") }.count >= 1, "the arrival on a announced: \(rarp)")
        #expect(onA.filter { $0.contains("in_port 4 ") }.count >= 2 && onB.filter { $0.contains("in_port 4 ") }.count >= 1,
                "announcements crossed the tunnel to the other datapath: \(rarp)")
        // Each move took the VM port down on one datapath and up on the other.
        let status = lines.filter { $0.contains("port-status") && $0.contains("port 1 ") }
        #expect(status.count >= 6, "\(status)")
    }
}

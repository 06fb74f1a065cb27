// UnderlayMigrationTests: hypervisors as separate network hosts. `switchboard run` builds the
// underlay (namespaces sbh-a and sbh-b on a bridge, each link shaped to 100 Mbit/s), runs each
// hypervisor's process inside its namespace, migrates an appliance VM a -> b -> a -> b across
// it while it streams datagrams and a namespace host pings it, and removes everything at the
// end; `run --host` outside the hypervisor's namespace is refused with the reason.

import Foundation
import HostNetworking
import Testing
import TestSupport

@Suite(.serialized) struct UnderlayMigrationTests {
    /// migration.json's scenario, shortened, on namespaced hypervisors at 10.97.0.1 and .2.
    static func topology() throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: CLI.topology("migration.json")))
        var root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        root["name"] = "underlay-migration"
        root["hypervisors"] = [
            ["name": "a", "address": "10.97.0.1", "netns": true, "underlay": ["rate_mbit": 100]],
            ["name": "b", "address": "10.97.0.2", "netns": true, "underlay": ["rate_mbit": 100]],
        ]
        var vms = try #require(root["vms"] as? [[String: Any]])
        for i in vms.indices {
            vms[i]["bootargs"] = (vms[i]["bootargs"] as? String)?.replacingOccurrences(of: "rate=10000 count=120000", with: "rate=2000 count=5000")
        }
        root["vms"] = vms
        var hosts = try #require(root["hosts"] as? [[String: Any]])
        hosts[0]["ping"] = ["to": "10.0.0.1", "interval_ms": 10, "count": 200]
        root["hosts"] = hosts
        root["migrations"] = [["vm": "src", "to": "b", "at": 0.5], ["vm": "src", "to": "a", "at": 1.0], ["vm": "src", "to": "b", "at": 1.5]]
        return String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
    }

    @Test func aVMMigratesBetweenNamespacedHypervisorsOverAShapedUnderlay() throws {
        guard namespacesAvailable(for: "the underlay migration") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("underlay.json")
        try Self.topology().write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", file, "--json"], in: dir.path)
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(2000))")
        #expect(r.stdout.contains("switchboard: underlay \(Underlay.bridgeName(topology: "underlay-migration")): a 10.97.0.1 at 100 Mbit/s, b 10.97.0.2 at 100 Mbit/s"), "\(r.stdout.prefix(1500))")
        // The tunnels and the migration listeners are on the underlay addresses, not loopback.
        #expect(r.stdout.contains("[a]   port sw0:vxlan@b -> vxlan 10.97.0.2:"))
        #expect(r.stdout.contains("[b]   migrations on 10.97.0.2:7301"))
        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(last)")
        #expect(summary["ok"] as? Bool == true)
        for flow in try #require(summary["flows"] as? [[String: Any]]) {
            #expect(flow["received"] as? Int == 5000 && flow["lost"] as? Int == 0 && flow["duplicated"] as? Int == 0, "\(flow)")
        }
        let migrations = try #require(summary["migrations"] as? [[String: Any]])
        #expect(migrations.map { "\($0["from"] ?? "?")>\($0["to"] ?? "?")" } == ["a>b", "b>a", "a>b"])
        for m in migrations { #expect(m["error"] == nil && m["lost"] as? Int == 0, "\(m)") }
        let ping = try #require((summary["pings"] as? [[String: Any]])?.first)
        #expect(ping["received"] as? Int == 200, "\(ping)")
        // Nothing is left behind.
        let left = IPCommand.namespaces().filter { $0 == "sbh-a" || $0 == "sbh-b" }
        #expect(left.isEmpty, "\(left)")
        #expect(!IPCommand.attempt(["link", "show", Underlay.bridgeName(topology: "underlay-migration")]))
    }

    @Test func runHostOutsideItsNamespaceIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("underlay.json")
        try Self.topology().write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", file, "--host", "a", "--duration", "1"], in: dir.path)
        #expect(r.status != 0)
        #expect(r.stderr.contains("hypervisor a is a separate network host"), "\(r.stderr)")
        #expect(r.stderr.contains("nsenter --net=/run/netns/sbh-a"), "\(r.stderr)")
    }
}

// NetnsVLANTests: Topologies/netns-vlans.json and its isolation variant with real Linux
// hosts in namespaces (root only; skipped with a reason elsewhere): reachability within a
// VLAN across the trunk, isolation between VLANs, TCP with iperf3, 802.1Q tags on the
// captured trunk, fdb/stats/capture over the control socket, a vanished namespace taking
// only its port down, cleanup after SIGTERM/SIGINT and of a crashed run's leftovers.
import ControlProtocol
import Foundation
import Testing
import HostNetworking
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Namespace names are global: these suites never run at the same time as each other.
@Suite(.serialized) struct NetnsVLANTests {
    static let hosts = ["sb-h1", "sb-h2", "sb-h3", "sb-h4", "sb-h5"]

    @Test func vlansAcrossTheTrunk() throws {
        guard NamespaceLab.skipReason("netns-vlans", tools: ["ping", "iperf3", "tshark"]) == nil else { return }
        let run = try SwitchboardRun(NamespaceLab.topology("netns-vlans.json"))
        defer { run.stop() }
        try #require(run.isReady, "switchboard run did not come up: \(run.stop()) \(run.stderr)")
        #expect(NamespaceLab.namespaces().isSuperset(of: Self.hosts))

        #expect(NamespaceLab.ping(from: "sb-h1", "10.10.0.2"), "h1 -> h2 (same switch, VLAN 10)")
        #expect(NamespaceLab.ping(from: "sb-h1", "10.10.0.4"), "h1 -> h4 (across the trunk, VLAN 10, TAP link)")
        #expect(NamespaceLab.ping(from: "sb-h3", "10.20.0.5"), "h3 -> h5 (across the trunk, VLAN 20)")
        #expect(!NamespaceLab.ping(from: "sb-h1", "10.20.0.3", count: 1), "h1 must not reach h3")
        #expect(!NamespaceLab.ping(from: "sb-h1", "10.20.0.5", count: 1), "h1 must not reach h5")

        // TCP across the trunk: the veths' offloads are off, so checksums are whole.
        let server = NamespaceLab.spawn("sb-h4", ["iperf3", "-s", "-1", "-B", "10.10.0.4"])
        defer { NamespaceLab.end(server) }
        usleep(300_000)
        let iperf = NamespaceLab.exec("sb-h1", ["timeout", "20", "iperf3", "-c", "10.10.0.4", "-t", "1", "-J"])
        #expect(iperf.status == 0, "iperf3: \(iperf.output.suffix(300))")
        let object = try? JSONSerialization.jsonObject(with: Data(iperf.output.utf8)) as? [String: Any]
        let received = ((object?["end"] as? [String: Any])?["sum_received"] as? [String: Any])?["bytes"] as? Int
        #expect((received ?? 0) > 1_000_000, "iperf3 moved \(received ?? 0) bytes")

        // fdb, as ovs-appctl fdb/show, text and JSON.
        let fdb = run.cli(["fdb", "sw0"])
        #expect(fdb.status == 0)
        #expect(fdb.output.contains(" port  VLAN  MAC                Age"))
        #expect(fdb.output.contains("h1    10  02:00:00:00:10:01"), "\(fdb.output)")
        #expect(fdb.output.contains("t1    10  02:00:00:00:10:04"), "\(fdb.output)")
        let fdbJSON = run.cli(["fdb", "sw1", "--json"])
        let entries = try JSONDecoder().decode([FDBEntry].self, from: Data(fdbJSON.output.utf8))
        #expect(entries.contains { $0.port == "h4" && $0.vlan == 10 && $0.mac == "02:00:00:00:10:04" })
        let unknown = run.cli(["fdb", "nope"])
        #expect(unknown.status != 0 && unknown.output.contains("no switch named nope"))

        // A capture started at run time on sw1's trunk sees tagged frames.
        let live = run.directory.file("live.pcap")
        let start = run.cli(["capture", "start", "sw1", "--port", "t1", "-w", live, "icmp or (vlan and icmp)"])
        #expect(start.status == 0, "\(start.output)")
        #expect(NamespaceLab.ping(from: "sb-h5", "10.20.0.3"))
        let stopCapture = run.cli(["capture", "stop"])
        #expect(stopCapture.status == 0 && stopCapture.output.contains("stopped"), "\(stopCapture.output)")

        // A namespace that disappears takes its port down; the others keep forwarding.
        IPCommand.attempt(["netns", "delete", "sb-h2"])
        // Namespace teardown is asynchronous in the kernel: wait for the port to go down.
        #expect(NamespaceLab.waitUntil { NamespaceLab.portUp(run, "sw0", "h2") == false })
        #expect(NamespaceLab.ping(from: "sb-h1", "10.10.0.4"), "h1 -> h4 after h2 vanished")
        let stats = try run.request(.stats(switchName: "sw0"))
        let h2 = stats.stats?.first?.ports.first { $0.name == "h2" }
        #expect(h2?.up == false)
        #expect(h2?.downReason != nil)
        #expect(stats.stats?.first?.ports.first { $0.name == "h1" }?.up == true)

        #expect(run.stop() == 0, "\(run.stderr)")
        #expect(run.stdout.contains("stopped (terminated)"))
        #expect(run.stderr.contains("port sw0:h2 down"), "\(run.stderr)")
        #expect(NamespaceLab.namespaces().isDisjoint(with: Self.hosts), "namespaces left behind")
        #expect(!FileManager.default.fileExists(atPath: run.control), "control socket left behind")

        // The trunk, captured by the topology file, carries tags 10 and 20; so does the live capture.
        if let tshark = ExternalTool.find("tshark") {
            for file in [run.directory.file("captures/netns-vlans-trunk.pcap"), live] {
                let ids = try tshark.run(["-r", file, "-T", "fields", "-e", "vlan.id"])
                let vlans = Set(ids.output.split(whereSeparator: \.isNewline).map(String.init))
                #expect(vlans.contains("10") || file == live, "\(file): \(vlans)")
                #expect(vlans.contains("20"), "\(file): \(vlans)")
            }
        }
    }

    @Test func isolationIsByVLANNotByAddress() throws {
        guard NamespaceLab.skipReason("netns-vlans-isolation") == nil else { return }
        // Leftovers of a crashed run are cleaned at the next start.
        IPCommand.attempt(["netns", "add", "sb-h3"])
        let run = try SwitchboardRun(NamespaceLab.topology("netns-vlans-isolation.json"))
        defer { run.stop() }
        try #require(run.isReady, "switchboard run did not come up: \(run.stop()) \(run.stderr)")
        #expect(NamespaceLab.ping(from: "sb-h1", "10.10.0.2"))
        #expect(NamespaceLab.ping(from: "sb-h3", "10.10.0.5"), "h3 -> h5 in VLAN 20")
        #expect(!NamespaceLab.ping(from: "sb-h1", "10.10.0.3", count: 1), "same subnet, other VLAN: h1 must not reach h3")
        #expect(!NamespaceLab.ping(from: "sb-h1", "10.10.0.5", count: 1), "same subnet, other VLAN: h1 must not reach h5")
        #expect(run.stop(signal: SIGINT) == 0, "\(run.stderr)")
        #expect(run.stdout.contains("stopped (interrupted)"))
        #expect(NamespaceLab.namespaces().isDisjoint(with: Self.hosts), "namespaces left behind")
    }

    @Test func withoutRootTheErrorSaysSoInOneLine() throws {
        guard geteuid() == 0, let nobody = getpwnam("nobody") else {
            print("skipping withoutRootTheErrorSaysSoInOneLine: needs root to switch to user nobody")
            return
        }
        let uid = nobody.pointee.pw_uid
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        chmod(dir.path, 0o777)
        let r = try IPCommand.execute(program: "/usr/bin/setpriv",
                                      ["--reuid=\(uid)", "--regid=\(nobody.pointee.pw_gid)", "--clear-groups",
                                       "/usr/bin/env", "-C", dir.path, NamespaceLab.binary, "run", NamespaceLab.topology("netns-vlans.json"),
                                       "--control", dir.file("control.sock")])
        #expect(r.status != 0)
        let lines = r.error.split(separator: "\n")
        #expect(lines.count == 1, "\(r.error)")
        #expect(r.error.contains("needs root"), "\(r.error)")
    }
}

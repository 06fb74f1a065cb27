// MigrationScenarioTests: live migration between switchboard processes, end to end.
// - The acceptance scenario `Topologies/migration.json` (two hypervisors on this machine, a
//   10,000 datagram/s flow, a namespace host pinging every 10 ms, eleven migrations) through
//   the release binary: 0 lost, 0 duplicated, every ping answered, every report printed, and
//   the RARP self-announcements on the wire as tshark reads them.
// - `switchboard migrate` between two `run --host` processes, there and back, as JSON.
// - Failures across processes: the destination not running (connect), the ack lost in flight
//   (the destination asks the source, which kept the VM), the confirm lost (the destination
//   asks and runs the VM): the VM ends up on exactly one host, which still serves it.

import ControlProtocol
import Foundation
import HostNetworking
import Testing
import TestSupport

/// Whether this machine can make network namespaces (root and `ip netns`); prints why not.
func namespacesAvailable(for test: String) -> Bool {
    guard geteuid() == 0 else {
        print("skipping \(test): needs root for network namespaces")
        return false
    }
    let probe = "sb-probe-\(getpid())"
    guard let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
          (try? ExternalTool(path: ip).run(["netns", "add", probe]))?.status == 0 else {
        print("skipping \(test): ip netns does not work here")
        return false
    }
    _ = try? ExternalTool(path: ip).run(["netns", "delete", probe])
    return true
}

@Suite(.serialized) struct MigrationScenarioTests {
    /// The release binary (the scenario's 10,000 datagrams per second need it); Tools/test builds it.
    static let releaseBinary = CLI.packageRoot + "/.build/release/switchboard"

    @Test func theAcceptanceScenarioMovesBothVMsWithoutLosingAFrame() throws {
        guard namespacesAvailable(for: "the migration acceptance scenario") else { return }
        guard FileManager.default.isExecutableFile(atPath: Self.releaseBinary) else {
            print("skipping the migration acceptance scenario: no release build at \(Self.releaseBinary) (Tools/test builds one)")
            return
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try CLI.run(["run", CLI.topology("migration.json"), "--json"], in: dir.path, binary: Self.releaseBinary)
        let lines = r.stdout.split(separator: "\n")
        for line in lines where line.hasPrefix("switchboard: migration") || line.contains("flow 1 at") || line.contains("ping from") {
            print(line)
        }
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(3000))")
        let last = try #require(lines.last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(last)")
        #expect(summary["ok"] as? Bool == true)
        #expect(summary["stop_reason"] as? String == "every VM powered off")

        // The sink counted every datagram once; the sender got the same report back.
        let flows = try #require(summary["flows"] as? [[String: Any]])
        #expect(flows.count == 2, "\(flows)")
        for flow in flows {
            #expect(flow["sent"] as? Int == 120_000 && flow["received"] as? Int == 120_000, "\(flow)")
            #expect(flow["lost"] as? Int == 0 && flow["duplicated"] as? Int == 0, "\(flow)")
        }
        // Every ping answered, none twice.
        let pings = try #require(summary["pings"] as? [[String: Any]])
        let ping = try #require(pings.first)
        #expect(ping["transmitted"] as? Int == 400 && ping["received"] as? Int == 400 && ping["lost"] as? Int == 0, "\(ping)")
        #expect(ping["duplicates"] as? Int == 0 && ping["error"] == nil, "\(ping)")

        // Eleven reports, in schedule order, each with the figures of `info migrate`.
        let migrations = try #require(summary["migrations"] as? [[String: Any]])
        #expect(migrations.count == 11)
        let hops = migrations.map { "\($0["vm"] ?? "?"):\($0["from"] ?? "?")>\($0["to"] ?? "?")" }
        let expected = (0..<10).map { $0 % 2 == 0 ? "src:a>b" : "src:b>a" } + ["dst:b>a"]
        #expect(hops == expected)
        for m in migrations {
            #expect(m["error"] == nil, "\(m)")
            for key in ["total_ms", "downtime_ms", "rounds", "pages", "queued", "lost", "at"] { #expect(m[key] != nil, "\(key) in \(m)") }
            #expect(m["lost"] as? Int == 0, "\(m)")
        }
        // Both VMs powered off with a pass on hypervisor a, where they ended.
        let vms = try #require(summary["vms"] as? [[String: Any]])
        #expect(Set(vms.map { "\($0["name"] ?? "?")@\($0["hypervisor"] ?? "?"):\($0["exit_code"] ?? "?")" }) == ["src@a:0", "dst@a:0"])

        // Each arrival announced the VM's MAC: RARP requests (opcode 3) from it, as tshark sees
        // them in each hypervisor's capture.
        guard let tshark = ExternalTool.require("tshark", for: "the migration acceptance scenario") else { return }
        func announcers(_ host: String) throws -> [String: Int] {
            let out = try tshark.run(["-r", dir.file("captures/migration-rarp-\(host).pcap"), "-Y", "arp.opcode == 3",
                                      "-T", "fields", "-e", "arp.src.hw_mac"])
            #expect(out.status == 0)
            var counts: [String: Int] = [:]
            for mac in out.output.split(separator: "\n") { counts[String(mac), default: 0] += 1 }
            return counts
        }
        let onA = try announcers("a"), onB = try announcers("b")
        #expect((onB["52:54:00:00:00:01"] ?? 0) >= 5, "src arrived on b five times: \(onB)")
        #expect((onA["52:54:00:00:00:01"] ?? 0) >= 5 && (onA["52:54:00:00:00:02"] ?? 0) >= 1, "\(onA)")
    }

    /// Two hypervisors on loopback with one echo appliance VM; no namespaces, so no root.
    static func twoHostTopology(basePort: Int) -> String {
        TestSupport.twoHostTopology(basePort: basePort, name: "mig-cli")
    }

    /// A `run FILE --host NAME` process in the background.
    final class HostProcess {
        let process = Process()
        let socket: String
        private let output = Pipe()
        init(file: String, host: String, directory: TemporaryDirectory, environment: [String: String] = [:]) throws {
            socket = directory.file("\(host).sock")
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["run", file, "--host", host, "--json", "--control", socket]
            process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = Date(timeIntervalSinceNow: 60)
            while (try? ControlClient.send(.vmList, to: socket, timeoutSeconds: 2))?.ok != true {
                guard process.isRunning, Date() < deadline else { throw CocoaError(.fileNoSuchFile) }
                usleep(20_000)
            }
        }

        /// The VMs running there.
        func vms() throws -> [ControlVMStatus] {
            try ControlClient.send(.vmList, to: socket).vms ?? []
        }

        /// Stops it and returns what it printed.
        func stop() -> String {
            _ = try? ControlClient.send(.stop, to: socket, timeoutSeconds: 2)
            let deadline = Date(timeIntervalSinceNow: 20)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
    }

    /// Waits until `host` reports `vm` running.
    func waitRunning(_ vm: String, on host: HostProcess, timeout: Double = 10) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if let list = try? host.vms(), list.contains(where: { $0.name == vm && $0.running && !$0.migrating }) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Runs `body` with hosts a and b of `twoHostTopology(basePort:)` running (b only when
    /// `startB`), each with its own `SWITCHBOARD_MIGRATION_FAULT`; the VM is running on a.
    func withTwoHosts(basePort: Int, faultA: String? = nil, faultB: String? = nil, startB: Bool = true,
                      _ body: (HostProcess, HostProcess?) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("two.json")
        try Self.twoHostTopology(basePort: basePort).write(toFile: file, atomically: true, encoding: .utf8)
        func environment(_ fault: String?) -> [String: String] { fault.map { ["SWITCHBOARD_MIGRATION_FAULT": $0] } ?? [:] }
        let a = try HostProcess(file: file, host: "a", directory: dir, environment: environment(faultA))
        defer { _ = a.stop() }
        let b = startB ? try HostProcess(file: file, host: "b", directory: dir, environment: environment(faultB)) : nil
        defer { _ = b?.stop() }
        #expect(waitRunning("echo", on: a))
        try body(a, b)
    }

    @Test func migrateMovesAVMBetweenTwoHostProcessesAndBack() throws {
        try withTwoHosts(basePort: 7410) { a, b in
            let b = try #require(b)
            let there = try CLI.run(["migrate", "echo", "--to", "b", "--control", a.socket, "--json"])
            #expect(there.status == 0, "\(there.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(there.stdout.utf8)) as? [String: Any], "\(there.stdout)")
            for key in ["total_ms", "downtime_ms", "rounds", "pages", "queued", "lost"] { #expect(report[key] != nil, "\(key) in \(report)") }
            #expect(report["from"] as? String == "a" && report["to"] as? String == "b" && report["lost"] as? Int == 0)
            #expect(waitRunning("echo", on: b))
            #expect(try a.vms().isEmpty)

            // Back, with the text report and the per-round progress on stderr.
            let back = try CLI.run(["migrate", "echo", "--to", "a", "--control", b.socket])
            #expect(back.status == 0, "\(back.stderr)")
            #expect(back.stdout.contains("Migration status: completed") && back.stdout.contains("downtime:"), "\(back.stdout)")
            #expect(back.stderr.contains("echo -> a:"), "\(back.stderr)")
            #expect(waitRunning("echo", on: a))
            #expect(try b.vms().isEmpty)

            // Refusals: already there; an unknown hypervisor; an unknown VM.
            let same = try CLI.run(["migrate", "echo", "--to", "a", "--control", a.socket])
            #expect(same.status != 0 && same.stderr.contains("already runs on a"), "\(same.stderr)")
            let nowhere = try CLI.run(["migrate", "echo", "--to", "c", "--control", a.socket])
            #expect(nowhere.status != 0 && nowhere.stderr.contains("no hypervisor named c"), "\(nowhere.stderr)")
            let nobody = try CLI.run(["migrate", "ghost", "--to", "b", "--control", a.socket])
            #expect(nobody.status != 0 && nobody.stderr.contains("no VM named ghost"), "\(nobody.stderr)")
        }
    }

    @Test func aDestinationThatIsNotRunningLeavesTheVMWhereItWas() throws {
        try withTwoHosts(basePort: 7420, startB: false) { a, _ in
            let r = try CLI.run(["migrate", "echo", "--to", "b", "--control", a.socket, "--json"])
            #expect(r.status != 0)
            #expect(r.stdout.contains("phase connect"), "\(r.stdout) \(r.stderr)")
            #expect(waitRunning("echo", on: a))
        }
    }

    /// The ack leaves the destination but never arrives: the source keeps the VM, and the
    /// destination, in doubt, asks the source's listener and discards its copy.
    @Test func anAckLostInFlightLeavesTheVMOnTheSourceOnly() throws {
        try withTwoHosts(basePort: 7430, faultB: "ack:lose") { a, b in
            let b = try #require(b)
            let r = try CLI.run(["migrate", "echo", "--to", "b", "--control", a.socket, "--json"])
            #expect(r.status != 0 && r.stdout.contains("phase commit"), "\(r.stdout) \(r.stderr)")
            #expect(waitRunning("echo", on: a))
            usleep(300_000)
            #expect(try b.vms().isEmpty, "the destination discarded its copy")
            // The fault was for one migration only: the next one goes through.
            let again = try CLI.run(["migrate", "echo", "--to", "b", "--control", a.socket, "--json"])
            #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
            #expect(waitRunning("echo", on: b))
            #expect(try a.vms().isEmpty)
        }
    }

    /// The source read the ack (it has let the VM go) but its confirm is lost: the destination
    /// asks the source's listener, learns of the commit, and runs the VM.
    @Test func aConfirmLostInFlightLeavesTheVMOnTheDestinationOnly() throws {
        try withTwoHosts(basePort: 7440, faultA: "confirm:lose") { a, b in
            let b = try #require(b)
            let r = try CLI.run(["migrate", "echo", "--to", "b", "--control", a.socket, "--json"])
            #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
            #expect(waitRunning("echo", on: b), "the destination ran the VM after asking")
            #expect(try a.vms().isEmpty)
        }
    }
}

// LinuxMigrationTests: Topologies/linux-migration.json through the release binary. Hypervisors
// a and b are separate network hosts on a 1000 Mbit/s underlay; a Linux guest receives one
// TCP stream (Tools/tcp-stream in namespace host sender -> sb-tcpsink in the guest) while
// sb-dirty rewrites 16 MiB of its memory and a namespace host pings it every 10 ms; it moves
// a -> b -> a ten times. The stream arrives whole and in order with no reset, the memory
// checks out, every ping is answered and no migration loses a frame. Prints, per migration,
// its total time and downtime, and the stream's stalls (gaps over 20 ms) and retransmissions.

import Foundation
import HostNetworking
import Testing
import TestSupport

@Suite(.serialized) struct LinuxMigrationTests {
    /// The topology with absolute image paths, `cpus` vCPUs and the console log in `dir`.
    static func topology(images: String, cpus: Int, in dir: String) throws -> String {
        let text = try CLI.linuxTopologyText("linux-migration.json", images: images, in: dir)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var vms = try #require(json["vms"] as? [[String: Any]])
        vms[0]["cpus"] = cpus
        json["vms"] = vms
        let file = dir + "/linux-migration.json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
        return file
    }

    // Two tests, not one with arguments: the cases of an argument list may run at once, and
    // both would build the same namespaces.
    @Test("A one-vCPU Linux guest keeps its TCP stream across ten migrations over the underlay")
    func oneVCPU() throws { try tcpSurvivesTenMigrations(cpus: 1) }

    @Test("A two-vCPU Linux guest keeps its TCP stream across ten migrations over the underlay")
    func twoVCPUs() throws { try tcpSurvivesTenMigrations(cpus: 2) }

    func tcpSurvivesTenMigrations(cpus: Int) throws {
        guard namespacesAvailable(for: "the Linux migration over the underlay") else { return }
        guard let images = guestLinuxImages(for: "the Linux migration over the underlay") else { return }
        let binary = MigrationScenarioTests.releaseBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("no release build at \(binary) (Tools/test builds one)"); return
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try Self.topology(images: images, cpus: cpus, in: dir.path)

        // The run in the background; the stream from the test once the sender's namespace is up.
        nonisolated(unsafe) var run: CLI.Result?
        let finished = DispatchSemaphore(value: 0)
        let path = dir.path
        Thread {
            run = try? CLI.run(["run", file, "--json"], in: path, binary: binary, timeout: 290)
            finished.signal()
        }.start()
        let up = Date(timeIntervalSinceNow: 120)
        while !IPCommand.namespaces().contains("sb-sender") && Date() < up { usleep(100_000) }
        usleep(500_000)  // its address and link
        let ip = try #require(IPCommand.path)
        let stream = try ExternalTool(path: ip).run(["netns", "exec", "sb-sender", CLI.packageRoot + "/Tools/tcp-stream",
                                                     "10.0.40.1", "5001", "--bytes", "18M", "--rate", "1M",
                                                     "--connect-timeout", "120", "--timeout", "120"])
        #expect(finished.wait(timeout: .now() + 320) == .success, "the run did not end")
        let r = try #require(run)
        let console = (try? String(contentsOfFile: dir.path + "/linux-migration.log", encoding: .utf8)) ?? "(no console log)"
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(3000))\nconsole:\n\(console.suffix(3000))")

        // The sender: every byte written, no reset; its retransmissions.
        let sent = try #require(try JSONSerialization.jsonObject(with: Data(stream.output.utf8)) as? [String: Any], "\(stream.output)")
        #expect(sent["error"] == nil && sent["bytes"] as? Int == 18 << 20, "\(sent)")

        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(last)")
        #expect(summary["ok"] as? Bool == true)
        let migrations = try #require(summary["migrations"] as? [[String: Any]])
        #expect(migrations.count == 10)
        for m in migrations { #expect(m["error"] == nil && m["lost"] as? Int == 0, "\(m)") }
        let ping = try #require((summary["pings"] as? [[String: Any]])?.first)
        #expect(ping["lost"] as? Int == 0 && (ping["received"] as? Int ?? 0) > 1000, "\(ping)")

        // The receiver: all of it, in order, intact; the memory writer: every page as written.
        let log = try String(contentsOfFile: dir.path + "/linux-migration.log", encoding: .utf8)
        let lines = log.split(whereSeparator: \.isNewline).map(String.init)
        let received = lines.first { $0.hasPrefix("sb-tcpsink: received") }
        #expect(received?.hasPrefix("sb-tcpsink: received \(18 << 20) bytes") == true && received?.hasSuffix(", ok") == true,
                "\(log.suffix(3000))")
        #expect(lines.contains { $0.hasPrefix("sb-dirty: ") && $0.hasSuffix(", ok") }, "\(log.suffix(3000))")
        let stalls = lines.filter { $0.hasPrefix("sb-tcpsink: gap") }
        for m in migrations {
            print("linux migration (\(cpus) vCPU) \(m["from"] ?? "?")->\(m["to"] ?? "?") at \(m["at"] ?? "?") s: total \(m["total_ms"] ?? "?") ms, downtime \(m["downtime_ms"] ?? "?") ms, lost \(m["lost"] ?? "?")")
        }
        print("linux migration (\(cpus) vCPU): \(received ?? "no receiver line"); stalls: \(stalls.joined(separator: "; ")); sender \(sent); pings \(ping["received"] ?? "?")/\(ping["transmitted"] ?? "?") lost \(ping["lost"] ?? "?"), longest gap \(ping["longest_gap_ms"] ?? "?") ms")
    }
}

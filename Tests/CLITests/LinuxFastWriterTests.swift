// LinuxFastWriterTests: Topologies/linux-fastwriter.json through the release binary. A 256 MiB
// Linux guest runs sb-dirty over 64 MiB at 40 MiB/s, about three times what the hypervisors'
// 100 Mbit/s underlay links carry, while a namespace host pings it; it moves a -> b with
// auto-converge, then b -> a with post-copy. Both migrations succeed (the first throttled, the
// second with pages fetched on demand), every sb-dirty stamp checks out and the pings go on.

import Foundation
import HostNetworking
import Testing
import TestSupport

@Suite(.serialized) struct LinuxFastWriterTests {
    /// The topology with absolute image paths and the console log in `dir`.
    static func topology(images: String, in dir: String) throws -> String {
        try CLI.writeLinuxTopology("linux-fastwriter.json", images: images, in: dir)
    }

    @Test("A Linux guest writing faster than the link moves with auto-converge and with post-copy, its memory intact")
    func fastWriterMovesWithAutoConvergeAndPostcopy() throws {
        guard namespacesAvailable(for: "the Linux fast-writer migration") else { return }
        guard let images = guestLinuxImages(for: "the Linux fast-writer migration") else { return }
        let binary = MigrationScenarioTests.releaseBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("no release build at \(binary) (Tools/test builds one)"); return
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try Self.topology(images: images, in: dir.path)
        let r = try CLI.run(["run", file, "--json"], in: dir.path, binary: binary)
        #expect(r.status == 0, "\(r.stderr.suffix(3000)) \(r.stdout.suffix(3000))")

        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(last)")
        #expect(summary["ok"] as? Bool == true)
        let migrations = try #require(summary["migrations"] as? [[String: Any]])
        try #require(migrations.count == 2, "\(migrations)")
        for m in migrations { #expect(m["error"] == nil && m["lost"] as? Int == 0, "\(m)") }
        #expect((migrations[0]["throttle_pct"] as? Int ?? 0) >= 20, "auto-converge throttled: \(migrations[0])")
        #expect((migrations[1]["postcopy_faults"] as? Int ?? 0) > 0, "post-copy fetched pages on demand: \(migrations[1])")
        let ping = try #require((summary["pings"] as? [[String: Any]])?.first)
        let transmitted = ping["transmitted"] as? Int ?? 0, received = ping["received"] as? Int ?? 0
        #expect(transmitted > 1000 && received * 10 >= transmitted * 9, "the pings went on: \(ping)")

        // The memory writer: every page held its last stamp, round after round, on both hosts.
        let log = try String(contentsOfFile: dir.path + "/linux-fastwriter.log", encoding: .utf8)
        let lines = log.split(whereSeparator: \.isNewline).map(String.init)
        let dirty = lines.first { $0.hasPrefix("sb-dirty: ") }
        #expect(dirty?.hasSuffix(", ok") == true, "\(log.suffix(3000))")
        for m in migrations {
            print("linux fast writer \(m["from"] ?? "?")->\(m["to"] ?? "?"): total \(m["total_ms"] ?? "?") ms, downtime \(m["downtime_ms"] ?? "?") ms, rounds \(m["rounds"] ?? "?"), throttle \(m["throttle_pct"] ?? "-") %, post-copy faults \(m["postcopy_faults"] ?? "-")")
        }
        print("linux fast writer: \(dirty ?? "no sb-dirty line"); pings \(received)/\(transmitted) lost \(ping["lost"] ?? "?"), longest gap \(ping["longest_gap_ms"] ?? "?") ms")
    }
}

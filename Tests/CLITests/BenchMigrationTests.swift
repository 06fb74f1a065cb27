// `switchboard bench migration --json` end to end with small VMs (one idle row, one dirtying
// row): the keys and figures a reader of docs/benchmarks.md relies on, the outage probe's
// included.

import Foundation
import Testing

@Suite struct BenchMigrationTests {
    @Test func benchMigrationPrintsOneJSONObjectWithEveryKey() throws {
        let result = try CLI.run(["bench", "migration", "--json", "--sizes", "16", "--rounds", "1",
                                  "--dirty-size", "16", "--dirty-rates", "20", "--dirty-window", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        #expect(object["network_outage"] as? String == "measured")
        #expect(object["probe_interval_ms"] as? Double == 1)
        let probeKeys = ["outage_ms", "outage_max_ms", "baseline_gap_ms", "probe_lost", "probe_sent"]
        for name in ["switchboard_16", "switchboard_dirty_16_20"] {
            let ours = try #require(object[name] as? [String: Any], "\(object.keys.sorted())")
            for key in ["total_ms", "downtime_ms", "rounds", "pages", "zero_pages", "lost"] + probeKeys {
                #expect(ours[key] != nil, "\(name) lacks \(key)")
            }
            #expect((ours["pages"] as? Int ?? 0) >= 16 * 256, "every page of 16 MiB goes in round 0")
            #expect((ours["rounds"] as? Int ?? 0) >= 1 && (ours["lost"] as? Int) == 0)
            #expect((ours["total_ms"] as? Double ?? 0) > 0 && (ours["downtime_ms"] as? Double ?? -1) >= 0)
            // 300 ms of probing before the migration and 300 ms after, one request a millisecond;
            // the port holds the requests of the pause and hands them to the destination.
            #expect((ours["probe_sent"] as? Int ?? 0) >= 500, "\(ours)")
            #expect((ours["probe_lost"] as? Int) == 0, "\(ours)")
            let outage = ours["outage_ms"] as? Double ?? 0
            #expect(outage >= 0.5 && outage < 1000, "\(ours)")
        }
        let dirty = try #require(object["switchboard_dirty_16_20"] as? [String: Any])
        #expect((dirty["pages"] as? Int ?? 0) - (dirty["zero_pages"] as? Int ?? 0) >= 512,
                "the 2 MiB window went as full pages: \(dirty)")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-riscv64") {
            for name in ["qemu_16", "qemu_dirty_16_20"] {
                let qemu = try #require(object[name] as? [String: Any], "\(object[name] ?? "missing")")
                #expect((qemu["total_ms"] as? Double ?? 0) > 0 && qemu["downtime_ms"] != nil)
                for key in probeKeys { #expect(qemu[key] != nil, "\(name) lacks \(key)") }
                #expect((qemu["probe_sent"] as? Int ?? 0) >= 500, "\(qemu)")
                #expect((qemu["probe_lost"] as? Int ?? .max) < (qemu["probe_sent"] as? Int ?? 0) / 2, "most requests answered: \(qemu)")
            }
        } else {
            print("qemu-system-riscv64 not installed: the QEMU columns are not checked")
        }
    }

    @Test func noDirtySkipsTheDirtyingRows() throws {
        let result = try CLI.run(["bench", "migration", "--json", "--sizes", "16", "--no-dirty", "--qemu", "/nonexistent"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        #expect(object["switchboard_16"] != nil && object["qemu_16"] == nil)
        #expect(!object.keys.contains { $0.contains("dirty") }, "\(object.keys.sorted())")
    }
}

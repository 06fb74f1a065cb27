// `switchboard bench migration --json` end to end with a small VM: the keys and figures a
// reader of docs/benchmarks.md relies on.

import Foundation
import Testing

@Suite struct BenchMigrationTests {
    @Test func benchMigrationPrintsOneJSONObjectWithEveryKey() throws {
        let result = try CLI.run(["bench", "migration", "--json", "--sizes", "16", "--rounds", "1", "--no-dirty"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let ours = try #require(object["switchboard_16"] as? [String: Any], "\(object.keys.sorted())")
        for key in ["total_ms", "downtime_ms", "rounds", "pages", "zero_pages", "lost"] {
            #expect(ours[key] != nil, "switchboard_16 lacks \(key)")
        }
        #expect((ours["pages"] as? Int ?? 0) >= 16 * 256, "every page of 16 MiB goes in round 0")
        #expect((ours["rounds"] as? Int ?? 0) >= 1 && (ours["lost"] as? Int) == 0)
        #expect((ours["total_ms"] as? Double ?? 0) > 0 && (ours["downtime_ms"] as? Double ?? -1) >= 0)
        #expect(object["switchboard_dirty_64"] == nil, "--no-dirty skips the dirtying row")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-riscv64") {
            let qemu = try #require(object["qemu_16"] as? [String: Any], "\(object["qemu_16"] ?? "missing")")
            #expect((qemu["total_ms"] as? Double ?? 0) > 0 && qemu["downtime_ms"] != nil)
        } else {
            print("qemu-system-riscv64 not installed: the QEMU column is not checked")
        }
    }
}

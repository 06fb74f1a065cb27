// `switchboard bench migration --linux` end to end, the smallest subset: one 256 MiB idle row at
// 1000 Mbit/s, one migration, Switchboard and QEMU. The table has its header and one line per
// system, and every figure is plausible: downtime above zero, total at least the downtime, no
// frame or ping lost on Switchboard (QEMU loses the pings of its switchover: fewer than 100).
// Bad options are refused with a clear message before anything is built.

import Foundation
import Testing

@Suite(.serialized) struct BenchMigrationLinuxTests {
    /// The cells after a system's label in a table line (fixed-width cells: split on blanks).
    static func cells(_ line: Substring, after label: String) -> [String] {
        guard let r = line.range(of: label) else { return [] }
        return line[r.upperBound...].split(separator: " ").map(String.init)
    }

    @Test func theSmallestSubsetPrintsATableOfPlausibleFigures() throws {
        guard namespacesAvailable(for: "bench migration --linux") else { return }
        guard let images = guestLinuxImages(for: "bench migration --linux") else { return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-riscv64") else {
            print("skipping bench migration --linux: qemu-system-riscv64 is not installed (Tools/bootstrap installs it)")
            return
        }
        let binary = MigrationScenarioTests.releaseBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("no release build at \(binary) (Tools/test builds one)"); return
        }
        setenv("SWITCHBOARD_GUEST_LINUX", images, 1)
        let result = try CLI.run(["bench", "migration", "--linux", "--rates", "1000", "--sizes", "256", "--rows", "idle", "--rounds", "1"],
                                 binary: binary)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        print(result.stdout)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("switchboard bench migration --linux") == true, "\(result.stdout)")
        #expect(lines.contains { $0.contains("row") && $0.contains("total ms") && $0.contains("down ms") && $0.contains("lost f/p") })
        let ours = try #require(lines.first { $0.contains("1000 Mbit/s, 256 MiB, idle") && $0.contains("switchboard  ") }, "\(result.stdout)")
        let theirs = try #require(lines.first { $0.contains("qemu 7.2") }, "\(result.stdout)")
        for (name, line, label) in [("switchboard", ours, "switchboard  "), ("qemu", theirs, "qemu 7.2     ")] {
            let c = Self.cells(line, after: label)
            // total, downtime, stall, retransmits, lost frames/pings, MiB, disk MiB, throttle, faults
            #expect(c.count == 9, "\(name): \(line)")
            guard c.count == 9 else { continue }
            let total = try #require(Double(c[0]), "\(name): \(line)"), downtime = try #require(Double(c[1]), "\(name): \(line)")
            // QEMU reports whole milliseconds: 0 is a pause under 1 ms. Ours has microseconds.
            #expect((name == "qemu" ? downtime >= 0 : downtime > 0) && total >= downtime, "\(name): \(line)")
            #expect(total < 600_000, "\(name): \(line)")
            #expect(c[2] == "-" && c[3] == "-", "an idle row has no stream: \(name): \(line)")
            let lost = c[4].split(separator: "/")
            #expect(lost.count == 2, "\(name): \(line)")
            if name == "switchboard" {
                #expect(c[4] == "0/0", "no frame and no ping lost: \(line)")
            } else {
                // QEMU has no frame count, and its guest misses the pings between its stop and
                // its announce reaching the other bridge: a few tens of ms, not seconds.
                #expect(lost.first == "-" && (Int(lost.last ?? "") ?? .max) < 100, "\(line)")
            }
            let moved = try #require(Double(c[5]), "\(name): \(line)")
            #expect(moved > 0 && moved < 1024, "RAM moved for a 256 MiB guest: \(name): \(line)")
            #expect(c[6] == "-" && c[7] == "-" && c[8] == "-", "no disk, throttle or post-copy figures in an idle row: \(name): \(line)")
        }
    }

    @Test func badOptionsAreRefusedWithAMessage() throws {
        for (arguments, message) in [(["--rows", "idle,bogus"], "--rows: unknown row 'bogus'"),
                                     (["--rates", "0"], "--rates must be"),
                                     (["--sizes", "32"], "--sizes must be"),
                                     (["--rows", ","], "--rows: name at least one")] {
            let result = try CLI.run(["bench", "migration", "--linux"] + arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}

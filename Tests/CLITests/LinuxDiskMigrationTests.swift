// LinuxDiskMigrationTests: Topologies/linux-disk-migration.json through the release binary.
// A Linux guest on hypervisor da mounts its ext4 disk (a qcow2 overlay over rootfs.ext4) and
// appends and syncs records; while it writes, `switchboard migrate --with-disks` moves it to
// db, which keeps the disk in its own disk directory. It then remounts the disk and reads every
// record back (from db's copy), unmounts it, and moves back to da with its disk. da's new copy
// and db's image read the same (`qemu-img compare`) and both check clean (`e2fsck -fn`).

import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct LinuxDiskMigrationTests {
    /// The topology with absolute image paths and everything it writes in `dir`.
    static func topology(images: String, in dir: String) throws -> String {
        try CLI.writeLinuxTopology("linux-disk-migration.json", images: images, in: dir)
    }

    /// Waits (up to `seconds`) until the console log has a line matching `pattern`.
    static func waitForLine(_ log: String, _ pattern: String, seconds: Double) -> Bool {
        let regex = try! NSRegularExpression(pattern: pattern)
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if hasLine(log, regex) { return true }
            usleep(200_000)
        }
        return false
    }

    static func hasLine(_ log: String, _ regex: NSRegularExpression) -> Bool {
        // Decoded leniently: a console log may hold bytes that are not UTF-8, and while the
        // guest writes it may end inside a character.
        guard let data = FileManager.default.contents(atPath: log) else { return false }
        let text = String(decoding: data, as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).contains { line in
            let s = String(line)
            return regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
    }

    /// The one image a hypervisor's disk directory holds for the VM.
    static func copy(in dir: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("diskvm-disk0-") && $0.hasSuffix(".qcow2") }
        #expect(names.count == 1, "\(dir): \(names)")
        return dir + "/" + (try #require(names.first))
    }

    /// A `migrate --with-disks --json` report, checked (`control`: the socket of the host
    /// that has the VM).
    static func migrate(to host: String, control: String, binary: String) throws -> [String: Any] {
        let r = try CLI.run(["migrate", "diskvm", "--to", host, "--with-disks", "--json", "--control", control], binary: binary)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr.suffix(2000))")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout) \(r.stderr)")
        #expect(report["error"] == nil && (report["disk_bytes"] as? Int ?? 0) > 0, "\(report)")
        print("linux disk migration -> \(host): total \(report["total_ms"] ?? "?") ms, downtime \(report["downtime_ms"] ?? "?") ms, "
              + "disk \(report["disk_bytes"] ?? "?") bytes, all \(report["bytes"] ?? "?") bytes")
        return report
    }

    @Test("A Linux guest writing its ext4 disk moves with the disk and back; the copies compare equal and check clean")
    func aLinuxGuestMovesWithItsDiskAndBack() throws {
        guard namespacesAvailable(for: "the Linux disk migration") else { return }
        guard let images = guestLinuxImages(for: "the Linux disk migration") else { return }
        guard let qemuImg = ExternalTool.require("qemu-img", for: "the Linux disk migration"),
              let e2fsck = ExternalTool.require("e2fsck", for: "the Linux disk migration") else { return }
        let binary = MigrationScenarioTests.releaseBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("no release build at \(binary) (Tools/test builds one)"); return
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try Self.topology(images: images, in: dir.path)
        let log = dir.path + "/linux-disk-migration.log"

        nonisolated(unsafe) var run: CLI.Result?
        let finished = DispatchSemaphore(value: 0)
        let path = dir.path
        Thread {
            // Control sockets of our own (ctl-da.sock, ctl-db.sock), not the shared /run/switchboard.
            run = try? CLI.run(["run", file, "--json", "--control", path + "/ctl.sock"], in: path, binary: binary)
            finished.signal()
        }.start()

        // a -> b while the guest appends and syncs records (it writes for 30 s).
        #expect(Self.waitForLine(log, "^writing records", seconds: 300), "the guest never started writing")
        usleep(5_000_000)  // some records on da's disk first; it writes for 30 s in all
        _ = try Self.migrate(to: "db", control: dir.path + "/ctl-da.sock", binary: binary)
        let wroteEarly = Self.hasLine(log, try NSRegularExpression(pattern: "^wrote [0-9]+ records"))
        #expect(!wroteEarly, "the guest had stopped writing before the migration ended (30 s of writing)")

        // Once it has read everything back and unmounted the disk: b -> a.
        #expect(Self.waitForLine(log, "^disk-quiesced", seconds: 300), "the guest never quiesced its disk")
        _ = try Self.migrate(to: "da", control: dir.path + "/ctl-db.sock", binary: binary)
        #expect(finished.wait(timeout: .now() + 300) == .success, "the run did not end")
        let r = try #require(run)
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(3000))")

        // Every record the guest wrote before, during and after the move read back intact.
        let text = String(decoding: try #require(FileManager.default.contents(atPath: log)), as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        let wrote = lines.first { $0.hasPrefix("wrote ") && $0.hasSuffix(" records") }.flatMap { Int($0.split(separator: " ")[1]) }
        let read = lines.first { $0.hasPrefix("read ") && $0.hasSuffix(" bad") }
        #expect((wrote ?? 0) > 0 && read == "read \(wrote ?? -1) records, 0 bad", "\(wrote ?? -1) written; \(read ?? "no read line") \(text.suffix(2000))")
        print("linux disk migration: \(wrote ?? 0) records written and synced, \(read ?? "?")")

        // da's new copy reads as db's image, and both check clean.
        let onB = try Self.copy(in: dir.path + "/disks-db")
        let onA = try Self.copy(in: dir.path + "/disks-da")
        let compare = try qemuImg.run(["compare", onA, onB])
        #expect(compare.status == 0, "\(compare.output)")
        for image in [onA, onB] {
            let raw = image + ".raw"
            let convert = try qemuImg.run(["convert", "-O", "raw", image, raw])
            #expect(convert.status == 0, "\(convert.output)")
            let check = try e2fsck.run(["-fn", raw])
            #expect(check.status == 0, "\(image): \(check.output)")
        }
    }
}

// `switchboard bench migration --linux`: Linux guests (the Tools/guest-linux kernel,
// initramfs and root disk) live-migrated between hypervisors that are separate network hosts
// on a rate-limited underlay, idle, under a TCP stream, with their disks, and while writing
// memory faster than the link; beside QEMU 7.2 migrating the same guest between two
// namespaces over the same kind of underlay, in the same run. Needs root.

import ArgumentParser
import Foundation
import Hypervisor

extension BenchMigrationCommand {
    /// The `--linux` benchmark: every selected row on Switchboard, then on QEMU.
    func runLinux() throws {
        let selected = try linuxRows()
        guard rounds >= 1 && rounds <= 20 else { throw ValidationError("--rounds must be 1...20") }
        guard geteuid() == 0 else { throw ValidationError("bench migration --linux needs root (network namespaces, tc, TAP devices)") }
        let images: GuestLinuxImages
        switch GuestLinuxLocator.locate() {
        case .success(let found): images = found
        case .failure(let error): throw ValidationError("\(error)")
        }
        guard let root = ApplianceLocator.packageRoot(), FileManager.default.isExecutableFile(atPath: root + "/Tools/tcp-stream") else {
            throw ValidationError("cannot find Tools/tcp-stream (run from a source checkout)")
        }
        let tcpStream = root + "/Tools/tcp-stream"
        let haveQEMU = FileManager.default.isExecutableFile(atPath: qemu)
            && FileManager.default.fileExists(atPath: BenchLinuxCommand.openSBI)
        let load = Self.loadAverage()
        var results: [(LinuxBenchRow, LinuxRowOutcome, LinuxRowOutcome?)] = []
        for row in selected {
            Self.progress("\(row.name): switchboard")
            let ours = try switchboardLinuxRow(row, images: images, tcpStream: tcpStream)
            Self.progress("\(row.name): switchboard: " + linuxCells(ours))
            var theirs: LinuxRowOutcome? = nil
            if haveQEMU {
                Self.progress("\(row.name): qemu")
                theirs = qemuLinuxRow(row, images: images, tcpStream: tcpStream)
                Self.progress("\(row.name): qemu: " + linuxCells(theirs!))
            }
            results.append((row, ours, theirs))
        }
        try printLinux(results, haveQEMU: haveQEMU, loadBefore: load)
    }

    /// A line on stderr while the rows run (they take minutes).
    static func progress(_ line: String) {
        FileHandle.standardError.write(Data(("bench migration --linux: " + line + "\n").utf8))
    }

    /// /proc/loadavg's three averages.
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

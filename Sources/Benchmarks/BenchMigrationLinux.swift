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
            && FileManager.default.fileExists(atPath: LinuxBootMeasurement.openSBI)
        let load = Self.loadAverage()
        LinuxBenchChildren.stopOnSignals()
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

/// The processes a `--linux` run started, ended when the bench is interrupted (they run in
/// process groups of their own, so a terminal's Ctrl-C does not reach them): the run gets
/// SIGTERM (it removes its namespaces), the others SIGKILL; then the QEMU rows' namespaces go.
enum LinuxBenchChildren {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var children: [ObjectIdentifier: (Process, Int32)] = [:]
    nonisolated(unsafe) private static var interrupted = false
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Remembers `process`, to be sent `signal` on an interrupt (at once when one came).
    static func add(_ process: Process, signal: Int32) {
        let now = lock.withLock { () -> Bool in
            children[ObjectIdentifier(process)] = (process, signal)
            return interrupted
        }
        if now { kill(process.processIdentifier, signal) }
    }

    /// Forgets `process` (it ended).
    static func remove(_ process: Process) { _ = lock.withLock { children.removeValue(forKey: ObjectIdentifier(process)) } }

    /// Installs the SIGINT/SIGTERM/SIGHUP handlers.
    static func stopOnSignals() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let pending = lock.withLock { () -> [(Process, Int32)] in
                    interrupted = true
                    return Array(children.values)
                }
                FileHandle.standardError.write(Data("bench migration --linux: interrupted, stopping \(pending.count) processes\n".utf8))
                for (process, s) in pending where process.isRunning { kill(process.processIdentifier, s) }
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline && lock.withLock({ children.values.contains { $0.0.isRunning } }) { usleep(100_000) }
                for (process, _) in lock.withLock({ Array(children.values) }) where process.isRunning { kill(process.processIdentifier, SIGKILL) }
                BenchMigrationCommand.removeQEMUNetwork()
                exit(130)
            }
            source.resume()
            lock.withLock { sources.append(source) }
        }
    }
}

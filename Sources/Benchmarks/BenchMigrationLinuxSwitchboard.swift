// `bench migration --linux`, Switchboard side. It generates a topology (hypervisors bla and blb
// in namespaces on a shaped underlay, the Linux guest on bla, namespace host blh beside it) and
// runs it with this very binary's `switchboard run`, the machinery users run; each migration is
// the `migrate` control request `switchboard migrate --json` sends, so the figures are the
// reports users get. One boot serves every migration of a row (bla -> blb -> bla ...).

import ArgumentParser
import ControlProtocol
import Foundation
import Hypervisor
import Topology

extension BenchMigrationCommand {
    /// The namespace host that sends the stream and pings (`sb-` + its name).
    static let linuxHostNamespace = "sb-blh"

    /// The topology of a row for `switchboard run`.
    func linuxTopology(_ row: LinuxBenchRow, images: GuestLinuxImages, dir: String) -> [String: Any] {
        var vm: [String: Any] = [
            "name": "linux", "hypervisor": "bla", "cpus": 1, "memory_mib": row.memoryMiB, "kernel": images.kernel,
            "bootargs": LinuxBenchGuest.bootargs(row),
            "nics": [["mac": LinuxBenchGuest.mac, "switch": "sw0", "port": "vm"]],
            // On the run's stdout, a line at a time ("[bla] linux | ..."): the log file is
            // written in stdio's blocks.
            "console": ["stdout": true],
            "expect": [
                ["wait": "guest# ", "send": LinuxBenchGuest.command(row), "timeout_seconds": 600],
                // Never printed: the run lasts until the bench stops it.
                ["wait": "bench-never-printed", "timeout_seconds": 86_400],
            ],
        ]
        if row.workload.usesDisk {
            vm["disks"] = [["path": dir + "/linux.qcow2", "format": "qcow2", "base": images.rootfs]]
        } else {
            vm["initrd"] = images.initramfs
        }
        return [
            "version": 1, "name": "benchlinux",
            "hypervisors": [
                ["name": "bla", "address": "10.97.0.1", "netns": true, "underlay": ["rate_mbit": row.rateMbit]],
                ["name": "blb", "address": "10.97.0.2", "netns": true, "underlay": ["rate_mbit": row.rateMbit]],
            ],
            "switches": [["name": "sw0", "ports": [["name": "vm"], ["name": "host"]]]],
            "vms": [vm],
            "hosts": [["name": "blh", "hypervisor": "bla", "switch": "sw0", "port": "host", "ip": LinuxBenchGuest.hostIP + "/24"]],
        ]
    }

    /// Runs one row on Switchboard: boots the guest, starts the workload and the traffic,
    /// migrates `rounds` times, and gathers the figures.
    func switchboardLinuxRow(_ row: LinuxBenchRow, images: GuestLinuxImages, tcpStream: String) throws -> LinuxRowOutcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-linux-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/benchlinux.json"
        try JSONSerialization.data(withJSONObject: linuxTopology(row, images: images, dir: dir), options: [.prettyPrinted])
            .write(to: URL(fileURLWithPath: file))
        let control = dir + "/ctl.sock"

        let run = Process()
        run.executableURL = URL(fileURLWithPath: try Self.ownExecutable())
        run.arguments = ["run", file, "--json", "--control", control]
        run.currentDirectoryURL = URL(fileURLWithPath: dir)
        FileManager.default.createFile(atPath: dir + "/run.out", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/run.out"))
        run.standardOutput = out
        run.standardError = out
        run.standardInput = FileHandle.nullDevice
        try run.run()
        LinuxBenchChildren.add(run, signal: SIGTERM)
        defer {
            defer { LinuxBenchChildren.remove(run) }
            if run.isRunning { kill(run.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(60)
            while run.isRunning && Date() < deadline { usleep(50_000) }
            if run.isRunning { kill(run.processIdentifier, SIGKILL) }
            run.waitUntilExit()
        }
        func runOutput() -> String { String(((try? String(contentsOfFile: dir + "/run.out", encoding: .utf8)) ?? "").suffix(600)) }

        var outcome = LinuxRowOutcome()
        let console = ConsoleBuffer(file: dir + "/run.out")
        guard console.wait(for: LinuxBenchGuest.ready, timeout: 900) != nil, run.isRunning else {
            outcome.failure = "the guest did not start its workload: \(runOutput())"
            return outcome
        }
        let traffic = try LinuxBenchTraffic(namespace: Self.linuxHostNamespace, streams: row.workload.streams, tcpStream: tcpStream)
        guard traffic.waitForStream(timeout: 60) else {
            traffic.finish(console: console, into: &outcome)
            outcome.failure = "the TCP stream did not connect"
            return outcome
        }
        usleep(1_000_000)

        for round in 0..<rounds {
            let (from, to) = round % 2 == 0 ? ("bla", "blb") : ("blb", "bla")
            let request = ControlRequest.migrate(.init(vm: "linux", to: to, withDisks: row.workload.usesDisk ? true : nil,
                                                       autoConverge: row.workload == .fastwriterAutoConverge ? true : nil,
                                                       postcopy: row.workload == .fastwriterPostcopy ? true : nil))
            let reply: ControlResponse
            do {
                reply = try ControlClient.stream(request, to: Topology.fileName(control, onHypervisor: from), timeoutSeconds: 900) { _ in }
            } catch {
                outcome.failure = "migration \(round + 1) (\(from) -> \(to)): \(error)"
                break
            }
            guard reply.ok, let r = reply.migration, r.error == nil else {
                outcome.failure = "migration \(round + 1) (\(from) -> \(to)): \(reply.migration?.error ?? reply.error ?? "no report")"
                break
            }
            outcome.migrations.append(LinuxMigrationFigures(totalMs: r.totalMs, downtimeMs: r.downtimeMs, bytes: r.bytes,
                                                            framesLost: r.lost, diskBytes: r.diskBytes, throttlePct: r.throttlePct,
                                                            postcopyFaults: r.postcopyFaults))
            usleep(1_500_000)  // TCP and the pinger settle before the next move
        }
        traffic.finish(console: console, into: &outcome)
        if outcome.failure == nil, let missing = Self.unimplemented(row.workload, outcome.migrations) {
            outcome.unsupported = missing
        }
        return outcome
    }

    /// Why this build's reports show that the row's option did nothing (the field the option
    /// fills is absent), or nil.
    static func unimplemented(_ workload: LinuxBenchWorkload, _ migrations: [LinuxMigrationFigures]) -> String? {
        switch workload {
        case .disk where migrations.contains { $0.diskBytes == nil }: return "--with-disks: no disk_bytes in the report"
        case .fastwriterAutoConverge where migrations.contains { $0.throttlePct == nil }: return "--auto-converge: no throttle_pct in the report"
        case .fastwriterPostcopy where migrations.contains { $0.postcopyFaults == nil }: return "--postcopy: no postcopy_faults in the report"
        default: return nil
        }
    }

    /// This process's executable (the `switchboard` binary the bench runs as).
    static func ownExecutable() throws -> String {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            throw ValidationError("cannot find this binary through /proc/self/exe")
        }
        return path
    }
}

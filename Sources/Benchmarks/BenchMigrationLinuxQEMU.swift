// `bench migration --linux`, QEMU side: QEMU 7.2 (`-M virt`, Debian's OpenSBI, the same
// kernel, initramfs and disk image) migrating between two network namespaces built by the
// same `Underlay` as Switchboard's hypervisors (same rate, same tc token bucket). In each
// namespace the guest's TAP sits on a Linux bridge that a kernel VXLAN device joins to the
// other namespace's bridge over the underlay; the sender/pinger host hangs off side a's
// bridge, so the guest keeps its TCP stream across the move (QEMU announces it afterwards).
// Each migration starts a fresh destination QEMU (`-incoming defer`) on the other side and
// drives both over QMP; pre-copy with QEMU's defaults, block migration of the qcow2 overlay
// for the disk rows, auto-converge or postcopy-ram for the fast writer.

import ArgumentParser
import Foundation
import HostNetworking
import Hypervisor

/// One QEMU process of a row, in its namespace, with its QMP socket.
final class LinuxQEMU {
    let process = Process()
    let qmpPath: String
    let input = Pipe()

    /// Starts QEMU in `namespace` with `arguments`, its console into `console`.
    init(qemu: String, namespace: String, arguments: [String], qmpPath: String, console: ConsoleBuffer) throws {
        self.qmpPath = qmpPath
        process.executableURL = URL(fileURLWithPath: Underlay.nsenter)
        process.arguments = ["--net=/run/netns/" + namespace, "--", qemu] + arguments + ["-qmp", "unix:\(qmpPath),server=on,wait=off"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = input
        try process.run()
        LinuxBenchChildren.add(process, signal: SIGKILL)
        console.follow(out.fileHandleForReading)
    }

    /// Types `line` on the guest's console.
    func type(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

    /// Ends the process (SIGKILL: a source after migrating, or the guest at the end).
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        LinuxBenchChildren.remove(process)
    }
}

extension BenchMigrationCommand {
    /// The two sides: namespace, underlay address.
    static let qemuSides = [("bqa", "10.97.0.1"), ("bqb", "10.97.0.2")]
    /// The namespace of the QEMU rows' sender/pinger host.
    static let qemuHostNamespace = "sbq-blh"

    /// The QEMU rows' underlay at `rateMbit`.
    static func qemuUnderlay(rateMbit: Int?) -> Underlay {
        Underlay(topology: "benchqemu", members: qemuSides.map { UnderlayMember(hypervisor: $0.0, address: $0.1, rateMbit: rateMbit) })
    }

    /// Removes the QEMU rows' namespaces and bridge (after an interrupt).
    static func removeQEMUNetwork() {
        IPCommand.attempt(["netns", "delete", qemuHostNamespace])
        qemuUnderlay(rateMbit: nil).removeLeftovers()
    }

    /// Runs one row on QEMU; a failure (QEMU's, or the network's) is returned in the outcome.
    func qemuLinuxRow(_ row: LinuxBenchRow, images: GuestLinuxImages, tcpStream: String) -> LinuxRowOutcome {
        let underlay = Self.qemuUnderlay(rateMbit: row.rateMbit)
        var outcome = LinuxRowOutcome()
        do {
            try underlay.create()
            defer {
                IPCommand.attempt(["netns", "delete", Self.qemuHostNamespace])
                underlay.destroy()
            }
            try buildQEMUNetwork()
            try qemuMigrations(row, images: images, tcpStream: tcpStream, into: &outcome)
        } catch {
            outcome.failure = "\(error)"
        }
        return outcome
    }

    /// Bridge, TAP and VXLAN device in each side's namespace; the host namespace on side a.
    func buildQEMUNetwork() throws {
        for (i, side) in Self.qemuSides.enumerated() {
            let ns = Underlay.namespace(of: side.0), other = Self.qemuSides[1 - i].1
            for command in [["link", "add", "br0", "type", "bridge"], ["link", "set", "br0", "up"],
                            ["tuntap", "add", "dev", "qtap0", "mode", "tap"], ["link", "set", "qtap0", "master", "br0", "up"],
                            ["link", "add", "vx0", "type", "vxlan", "id", "42", "local", side.1, "remote", other, "dstport", "4789",
                             "dev", Underlay.innerDevice],
                            ["link", "set", "vx0", "master", "br0", "up"]] {
                _ = try IPCommand.run(["-n", ns] + command)
            }
        }
        let a = Underlay.namespace(of: Self.qemuSides[0].0), host = Self.qemuHostNamespace
        IPCommand.attempt(["netns", "delete", host])
        for command in [["netns", "add", host], ["-n", host, "link", "set", "lo", "up"],
                        ["-n", a, "link", "add", "qh0", "type", "veth", "peer", "name", "eth0", "netns", host],
                        ["-n", a, "link", "set", "qh0", "master", "br0", "up"],
                        ["-n", host, "addr", "add", LinuxBenchGuest.hostIP + "/24", "dev", "eth0"],
                        // VXLAN's 50 bytes of headers: the sender's segments fit the underlay's 1500.
                        ["-n", host, "link", "set", "eth0", "mtu", "1450", "up"]] {
            _ = try IPCommand.run(command)
        }
    }

    /// QEMU's arguments for a row (the same on every side; a destination adds `-incoming`).
    func qemuLinuxArguments(_ row: LinuxBenchRow, images: GuestLinuxImages, disk: String?) -> [String] {
        var arguments = ["-M", "virt", "-smp", "1", "-m", "\(row.memoryMiB)", "-nographic", "-monitor", "none", "-serial", "stdio",
                         "-bios", LinuxBootMeasurement.openSBI, "-kernel", images.kernel, "-append", LinuxBenchGuest.bootargs(row),
                         "-netdev", "tap,id=n0,ifname=qtap0,script=no,downscript=no",
                         "-device", "virtio-net-device,netdev=n0,mac=\(LinuxBenchGuest.mac)"]
        if let disk {
            arguments += ["-drive", "file=\(disk),format=qcow2,if=none,id=d0", "-device", "virtio-blk-device,drive=d0"]
        } else {
            arguments += ["-initrd", images.initramfs]
        }
        return arguments
    }

    /// A fresh qcow2 overlay over the raw root image (each side's own disk).
    func qemuOverlay(_ path: String, base: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-img")
        p.arguments = ["create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", path]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("qemu-img create \(path) failed") }
    }

    /// Boots the guest on side a, starts the workload and traffic, migrates `rounds` times.
    func qemuMigrations(_ row: LinuxBenchRow, images: GuestLinuxImages, tcpStream: String, into outcome: inout LinuxRowOutcome) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-qemu-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let console = ConsoleBuffer()
        var disk: String? = nil
        if row.workload.usesDisk {
            disk = dir + "/disk-0.qcow2"
            try qemuOverlay(disk!, base: images.rootfs)
        }
        var current = try LinuxQEMU(qemu: qemu, namespace: Underlay.namespace(of: Self.qemuSides[0].0),
                                    arguments: qemuLinuxArguments(row, images: images, disk: disk), qmpPath: dir + "/qmp-0.sock", console: console)
        var all = [current]
        defer { for q in all { q.kill() } }
        guard console.wait(for: "guest# ", timeout: 300) != nil else { throw ValidationError("QEMU's guest showed no prompt: \(console.contents.suffix(300))") }
        current.type(LinuxBenchGuest.command(row))
        guard console.wait(for: LinuxBenchGuest.ready, timeout: 60) != nil else { throw ValidationError("QEMU's guest did not start its workload") }
        let traffic = try LinuxBenchTraffic(namespace: Self.qemuHostNamespace, streams: row.workload.streams, tcpStream: tcpStream)
        guard traffic.waitForStream(timeout: 60) else {
            traffic.finish(console: console, into: &outcome)
            throw ValidationError("the TCP stream did not connect")
        }
        usleep(1_000_000)

        for round in 0..<rounds {
            let side = Self.qemuSides[(round + 1) % 2]
            var destinationDisk: String? = nil
            if row.workload.usesDisk {
                destinationDisk = dir + "/disk-\(round + 1).qcow2"
                try qemuOverlay(destinationDisk!, base: images.rootfs)
            }
            let destination = try LinuxQEMU(qemu: qemu, namespace: Underlay.namespace(of: side.0),
                                            arguments: qemuLinuxArguments(row, images: images, disk: destinationDisk) + ["-incoming", "defer"],
                                            qmpPath: dir + "/qmp-\(round + 1).sock", console: console)
            all.append(destination)
            do {
                outcome.migrations.append(try qemuMigrate(row, from: current, to: destination, address: side.1))
            } catch {
                outcome.failure = "migration \(round + 1): \(error)"
                break
            }
            current.kill()
            current = destination
            usleep(1_500_000)
        }
        traffic.finish(console: console, into: &outcome)
    }

    /// One migration over QMP; its figures from `query-migrate`.
    func qemuMigrate(_ row: LinuxBenchRow, from source: LinuxQEMU, to destination: LinuxQEMU, address: String) throws -> LinuxMigrationFigures {
        let out = try QMPClient(path: source.qmpPath, timeout: 30), into = try QMPClient(path: destination.qmpPath, timeout: 30)
        defer {
            out.close()
            into.close()
        }
        for q in [out, into] { _ = try q.execute("{\"execute\": \"qmp_capabilities\"}") }
        func capabilities(_ names: [String]) -> String {
            "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": ["
                + names.map { "{\"capability\": \"\($0)\", \"state\": true}" }.joined(separator: ", ") + "]}}"
        }
        switch row.workload {
        case .disk:
            _ = try out.execute(capabilities(["block"]))
            // Only the overlay moves: the destination's overlay has the same base.
            _ = try out.execute("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"block-incremental\": true}}")
        case .fastwriterAutoConverge:
            _ = try out.execute(capabilities(["auto-converge"]))
        case .fastwriterPostcopy:
            for q in [out, into] { _ = try q.execute(capabilities(["postcopy-ram"])) }
        case .idle, .stream:
            break
        }
        let uri = "tcp:\(address):4444"
        _ = try into.execute("{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"\(uri)\"}}")
        _ = try out.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"\(uri)\"}}")
        var throttle = 0, diskBytes = 0, postcopyStarted = false
        let deadline = Date().addingTimeInterval(900)
        while Date() < deadline {
            let reply = try out.execute("{\"execute\": \"query-migrate\"}")
            guard let info = reply["return"] as? [String: Any] else { throw ValidationError("query-migrate returned nothing") }
            let status = info["status"] as? String ?? ""
            let ram = info["ram"] as? [String: Any] ?? [:]
            throttle = max(throttle, (info["cpu-throttle-percentage"] as? NSNumber)?.intValue ?? 0)
            // Block migration's figures vanish with it at completion: keep the last one seen.
            diskBytes = max(diskBytes, ((info["disk"] as? [String: Any])?["transferred"] as? NSNumber)?.intValue ?? 0)
            if row.workload == .fastwriterPostcopy && !postcopyStarted && status == "active"
                && ((ram["dirty-sync-count"] as? NSNumber)?.intValue ?? 0) >= 2 {
                // One full pass and one dirty pass in pre-copy, then the destination runs.
                _ = try out.execute("{\"execute\": \"migrate-start-postcopy\"}")
                postcopyStarted = true
            }
            if status == "completed" && ((info["total-time"] as? NSNumber)?.doubleValue ?? 0) > 0 {
                if ProcessInfo.processInfo.environment["SWITCHBOARD_BENCH_TRACE"] == "1" {
                    FileHandle.standardError.write(Data("bench migration --linux: qemu query-migrate: \(info)\n".utf8))
                }
                diskBytes = max(diskBytes, ((info["disk"] as? [String: Any])?["transferred"] as? NSNumber)?.intValue ?? 0)
                let total = (info["total-time"] as? NSNumber)?.doubleValue ?? 0
                let downtime = (info["downtime"] as? NSNumber)?.doubleValue
                return LinuxMigrationFigures(
                    totalMs: total, downtimeMs: downtime.flatMap { $0 <= total ? $0 : nil },
                    bytes: (ram["transferred"] as? NSNumber)?.intValue ?? 0, framesLost: nil,
                    diskBytes: row.workload.usesDisk ? diskBytes : nil,
                    throttlePct: row.workload == .fastwriterAutoConverge ? throttle : nil,
                    postcopyFaults: row.workload == .fastwriterPostcopy ? (ram["postcopy-requests"] as? NSNumber)?.intValue ?? 0 : nil)
            }
            if status == "failed" || status == "cancelled" || status == "postcopy-paused" {
                throw ValidationError("QEMU's migration \(status): \(info["error-desc"] as? String ?? "no error-desc")")
            }
            usleep(10_000)
        }
        throw ValidationError("QEMU's migration did not complete in 900 s")
    }
}

// `switchboard migrate VM --to HOST`: asks the running host that has the VM (found through
// the control sockets, or named with --control) to live-migrate it to another hypervisor of
// its topology; shows a progress bar and ends with a report like QEMU's `info migrate`.

import ControlProtocol
import ArgumentParser
import Foundation
import HostNetworking

/// Live-migrates a VM between hypervisors of a running topology.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Live-migrate a running VM to another hypervisor.",
        discussion: """
            The VM keeps running while its RAM is copied; it pauses only for the last dirty \
            pages and its device and switch state, and runs on at the destination with its \
            MAC table entries, without losing a frame. On failure it runs on where it was.
            """)

    @Argument(help: "The VM to move.")
    var vm: String

    @Option(help: "The destination hypervisor (a name from the topology's \"hypervisors\").")
    var to: String

    @Option(name: .customLong("control"), help: ArgumentHelp(
        "Control socket of the host running the VM (default: the running switchboard that has it).", valueName: "path"))
    var control: String?

    @Option(name: .customLong("downtime-ms"), help: "Longest pause aimed for, in milliseconds (default 5).")
    var downtimeMs: Double?

    @Option(name: .customLong("max-rounds"), help: "Most pre-copy rounds after the first (default 30).")
    var maxRounds: Int?

    @Flag(name: .customLong("with-disks"), help: ArgumentHelp(
        "Copy the VM's writable disks to the destination too (no shared storage needed).",
        discussion: "Like QEMU's drive-mirror: blocks written during the copy are sent again; a failed copy leaves the VM running here on its own disks."))
    var withDisks = false

    @Flag(name: .customLong("auto-converge"), help: ArgumentHelp(
        "Slow the VM's vCPUs down while pre-copy rounds stall, so a fast writer converges.",
        discussion: "The vCPUs sleep 20 % of their time once rounds stop shrinking the dirty set, 10 % more for every further stalled round, at most 99 %; the throttle comes off when the VM pauses for the last copy, and when the migration fails."))
    var autoConverge = false

    @Flag(help: ArgumentHelp(
        "Switch to post-copy when pre-copy does not converge.",
        discussion: "The VM then runs on the destination and fetches missing pages from here on demand. Until the last page arrives, a crash of either host or a broken link loses the VM: the destination stops it ('VM lost') and this host does not run its stale copy. A failure before the switch leaves the VM running here, as without the flag."))
    var postcopy = false

    @Flag(help: "Print one JSON object (total_ms, downtime_ms, rounds, pages, queued, lost, ...) instead of the report.")
    var json = false

    func validate() throws {
        if let downtimeMs, !(downtimeMs > 0 && downtimeMs <= 60_000) { throw ValidationError("--downtime-ms must be in (0, 60000]") }
        if let maxRounds, !(0...1000).contains(maxRounds) { throw ValidationError("--max-rounds must be 0...1000") }
    }

    func run() throws {
        let path: String
        if let control { path = control } else {
            switch Self.findHost(of: vm) {
            case .success(let p): path = p
            case .failure(let e):
                printError("migrate: \(e.message)")
                throw ExitCode(1)
            }
        }
        if postcopy && !json {
            printError("migrate: warning: with --postcopy, once the VM switches over to \(to) it depends on both hosts and the link until every page has arrived; losing either loses the VM")
        }
        let request = ControlRequest.migrate(.init(vm: vm, to: to, downtimeMs: downtimeMs, maxRounds: maxRounds,
                                                   withDisks: withDisks ? true : nil, autoConverge: autoConverge ? true : nil,
                                                   postcopy: postcopy ? true : nil))
        let bar = ProgressBar(vm: vm, to: to, enabled: !json)
        let last: ControlResponse
        do {
            last = try ControlClient.stream(request, to: path, timeoutSeconds: 300) { reply in
                if let p = reply.progress { bar.show(p) }
            }
        } catch {
            bar.end()
            printError("migrate: \(error)")
            throw ExitCode(1)
        }
        bar.end()
        guard let report = last.migration else {
            printError("migrate: \(last.error ?? "no report")")
            throw ExitCode(1)
        }
        if json {
            print(try jsonLine(report))
        } else {
            print(Self.infoMigrate(report))
        }
        if report.error != nil {
            if !json { printError("migrate: \(report.error!)") }
            throw ExitCode(1)
        }
    }

    /// The control socket of the running switchboard that has `vm`, looked for in the
    /// default socket directories.
    static func findHost(of vm: String) -> Result<String, LookupFailure> {
        var directories: [String] = []
        if let xdg = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], !xdg.isEmpty { directories.append(xdg + "/switchboard") }
        directories.append("/run/switchboard")
        var asked: [String] = []
        for directory in directories {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names.sorted() where name.hasSuffix(".sock") {
                let path = directory + "/" + name
                asked.append(path)
                guard let reply = try? ControlClient.send(.vmList, to: path, timeoutSeconds: 2),
                      reply.ok, let vms = reply.vms else { continue }
                if vms.contains(where: { $0.name == vm }) { return .success(path) }
            }
        }
        let looked = asked.isEmpty ? "no control sockets in \(directories.joined(separator: " or "))" : "asked \(asked.joined(separator: ", "))"
        return .failure(LookupFailure("no running switchboard has a VM named \(vm) (\(looked)); pass --control PATH"))
    }

    /// The report in the words of QEMU's `info migrate`.
    static func infoMigrate(_ r: ControlMigrationReport) -> String {
        var lines = ["Migration of \(r.vm) from \(r.from) to \(r.to)",
                     "Migration status: \(r.error == nil ? "completed" : "failed")"]
        if let e = r.error {
            lines.append("error: \(e)")
            lines.append("VM \(r.vm) runs on \(r.from)")
            return lines.joined(separator: "\n")
        }
        lines += [
            String(format: "total time: %.1f ms", r.totalMs),
            String(format: "downtime: %.2f ms", r.downtimeMs),
            "rounds: \(r.rounds)",
            String(format: "transferred ram: %.1f KiB", Double(r.bytes) / 1024),
            "pages: \(r.pages) (\(r.zeroPages) zero)",
            "frames queued during the pause: \(r.queued)",
            "frames lost: \(r.lost)",
        ]
        if let d = r.diskBytes { lines.append(String(format: "transferred disk: %.1f KiB", Double(d) / 1024)) }
        if let t = r.throttlePct { lines.append("cpu throttle percentage: \(t)") }
        if let f = r.postcopyFaults { lines.append("postcopy page requests: \(f)") }
        if let s = r.tcpStallMs { lines.append(String(format: "longest TCP stall: %.1f ms", s)) }
        return lines.joined(separator: "\n")
    }
}

/// The migration's progress on stderr: one line redrawn on a terminal, a line per round elsewhere.
final class ProgressBar {
    private let vm: String
    private let to: String
    private let enabled: Bool
    private let terminal = isatty(2) != 0
    private var lastRound = -1
    private var drawn = false

    init(vm: String, to: String, enabled: Bool) {
        self.vm = vm
        self.to = to
        self.enabled = enabled
    }

    func show(_ p: ControlMigrationProgress) {
        guard enabled else { return }
        let sent = Double(p.bytesSent) / 1_048_576
        var text = String(format: "%@ -> %@: %@ round %d, %.1f MiB sent, RAM: %d dirty pages left, %.0f MB/s, %.0f ms",
                          vm, to, p.phase, p.round, sent, p.dirtyPages, p.rate / 1e6, p.elapsed * 1000)
        if let d = p.diskBytesSent {
            text += String(format: ", disk: %.1f MiB sent, %.1f MiB left", Double(d) / 1_048_576, Double(p.diskBytesLeft ?? 0) / 1_048_576)
        }
        if let t = p.throttlePct, t > 0 { text += ", throttle \(t)%" }
        if terminal {
            let width = 40
            let total = max(p.pagesSent + p.dirtyPages, 1)
            let filled = min(width, width * p.pagesSent / total)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(text)\u{1B}[K".utf8))
            drawn = true
        } else if p.round != lastRound {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
        lastRound = p.round
    }

    func end() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}

/// Why the host of a VM was not found.
struct LookupFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

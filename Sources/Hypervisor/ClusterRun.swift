// ClusterRun: `switchboard run FILE` for a topology with hypervisors: every hypervisor's part
// runs as its own child process (`run FILE --host NAME`) on this machine, a local cluster. The
// parent forwards their output, runs the file's migration schedule against their control
// sockets, ends the run when every VM and counted ping job is done (or at the duration or a
// signal), stops them all together, and merges their summaries.

import ControlProtocol
import Foundation
import HostNetworking
import Topology

/// Runs every hypervisor of a topology as a child process and coordinates them.
public struct ClusterRun {
    let topology: Topology
    let file: String
    let duration: Double?
    let controlPath: String?
    let appliance: String?
    let json: Bool
    /// `run --engine`, passed on to every child.
    let engine: String?

    /// A cluster run of `topology` (from `file`); children run this same executable.
    public init(topology: Topology, file: String, duration: Double?, controlPath: String?, appliance: String?, json: Bool,
                engine: String? = nil) {
        self.engine = engine
        self.topology = topology
        self.file = file
        self.duration = duration
        self.controlPath = controlPath
        self.appliance = appliance
        self.json = json
    }

    /// One child process.
    final class Child: @unchecked Sendable {
        let hypervisor: String
        let socket: String
        let process = Process()
        private let lock = NSLock()
        private var summaryLine: String?
        private var reader: Thread?
        private let readerDone = DispatchSemaphore(value: 0)

        init(hypervisor: String, socket: String) {
            self.hypervisor = hypervisor
            self.socket = socket
        }

        /// Starts the child; its output lines go to our stdout with a `[name] ` prefix, except
        /// its final JSON summary, which is kept.
        func start(executable: String, arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let prefix = "[\(hypervisor)] "
            let t = Thread { [self] in
                var pending = ""
                while true {
                    let data = out.fileHandleForReading.availableData
                    if data.isEmpty { break }
                    pending += String(decoding: data, as: UTF8.self)
                    while let newline = pending.firstIndex(of: "\n") {
                        let line = String(pending[..<newline])
                        pending.removeSubrange(...newline)
                        if line.hasPrefix("{\"") {
                            lock.withLock { summaryLine = line }
                        } else {
                            ClusterRun.output(prefix + line)
                        }
                    }
                }
                readerDone.signal()
            }
            reader = t
            t.start()
        }

        /// The child's summary, once it has exited.
        var summary: RunSummary? {
            _ = readerDone.wait(timeout: .now() + 5)
            readerDone.signal()
            guard let line = lock.withLock({ summaryLine }) else { return nil }
            return try? JSONDecoder().decode(RunSummary.self, from: Data(line.utf8))
        }
    }

    static let outputLock = NSLock()
    static func output(_ line: String) {
        outputLock.withLock {
            print(line)
            fflush(nil)
        }
    }

    /// Runs until every VM and counted ping job is done, the duration, or a signal; throws
    /// `RunFailed` (after printing why) when a host or a scheduled migration failed.
    public func run() throws {
        let name = topology.name ?? file
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var children: [Child] = []
        for h in topology.hypervisors {
            let socket = controlPath.map { Topology.fileName($0, onHypervisor: h.name) }
                ?? HostedRun.defaultControlPath(topologyName: topology.name, hypervisor: h.name)
            children.append(Child(hypervisor: h.name, socket: socket))
        }
        // Signals stop the cluster; the children get a `stop` (then SIGTERM) from us.
        let stop = StopFlag()
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }

        // Hypervisors that are separate network hosts: their namespaces and the underlay first.
        var underlay: Underlay?
        let namespaced = topology.hypervisors.filter(\.netns)
        if !namespaced.isEmpty {
            let u = Underlay(topology: topology.name ?? file, members: namespaced.map {
                UnderlayMember(hypervisor: $0.name, address: "\($0.address)", rateMbit: $0.underlay?.rateMbit)
            })
            do { try u.create() } catch {
                reportError("run: cannot build the underlay network of the hypervisors: \(error)")
                throw RunFailed()
            }
            underlay = u
            let shaped = namespaced.map { h in "\(h.name) \(h.address)" + (h.underlay?.rateMbit.map { " at \($0) Mbit/s" } ?? "") }
            Self.output("switchboard: underlay \(u.bridge): " + shaped.joined(separator: ", "))
        }
        defer { underlay?.destroy() }

        Self.output("switchboard: running \(name) as a local cluster: \(children.map(\.hypervisor).joined(separator: ", "))")
        for child in children {
            var arguments = ["run", file, "--host", child.hypervisor, "--json", "--control", child.socket]
            if let appliance { arguments += ["--appliance", appliance] }
            if let engine { arguments += ["--engine", engine] }
            var program = executable
            if topology.hypervisor(named: child.hypervisor)?.netns == true {
                // nsenter enters only the network namespace. `ip netns exec` would also give the
                // child a mount namespace of its own, and the namespaces its Linux hosts bind
                // under /run/netns would then be invisible to everyone else (`ip netns exec
                // sb-HOST` outside it fails).
                arguments = ["--net=/run/netns/" + Underlay.namespace(of: child.hypervisor), "--", executable] + arguments
                program = Underlay.nsenter
            }
            do { try child.start(executable: program, arguments: arguments) } catch {
                reportError("run: cannot start the process of hypervisor \(child.hypervisor): \(error)")
                stopAll(children)
                throw RunFailed()
            }
        }
        // Every host up: its control socket answers.
        let upDeadline = Date(timeIntervalSinceNow: 120)
        for child in children {
            while (try? ControlClient.send(.vmList, to: child.socket, timeoutSeconds: 2))?.ok != true {
                if !child.process.isRunning || Date() > upDeadline || stop.isSet {
                    reportError("run: hypervisor \(child.hypervisor) did not come up")
                    stopAll(children)
                    throw RunFailed()
                }
                usleep(20_000)
            }
        }
        let started = Date()
        let scheduler = Scheduler(topology: topology, children: children, started: started)
        scheduler.start()
        let timeUp = StopFlag()
        if let duration {
            DispatchQueue.global().asyncAfter(deadline: .now() + duration) { timeUp.set() }
        }

        // Wait for the end.
        var stopReason = "duration elapsed"
        let vmNames = Set(topology.vms.map(\.name))
        let countedPings = topology.hosts.filter { $0.ping?.count != nil }.count
        while true {
            usleep(100_000)
            if stop.isSet { stopReason = "interrupted"; break }
            if timeUp.isSet { stopReason = "duration elapsed"; break }
            if let dead = children.first(where: { !$0.process.isRunning }) {
                stopReason = "hypervisor \(dead.hypervisor) exited"
                break
            }
            guard scheduler.isDone, !vmNames.isEmpty || countedPings > 0 else { continue }
            var seen: [String: ControlVMStatus] = [:]
            var pingsDone = 0
            var answered = true
            for child in children {
                guard let reply = try? ControlClient.send(.vmList, to: child.socket, timeoutSeconds: 2),
                      reply.ok else { answered = false; break }
                for v in reply.vms ?? [] { seen[v.name] = v }
                pingsDone += (reply.pings ?? []).filter(\.done).count
            }
            guard answered else { continue }
            let vmsDone = Set(seen.keys) == vmNames && seen.values.allSatisfy { !$0.running && !$0.migrating }
            if vmsDone && pingsDone >= countedPings {
                stopReason = vmNames.isEmpty ? "every ping job ended" : "every VM powered off"
                break
            }
        }
        scheduler.cancel()
        stopAll(children)

        // Merge the summaries.
        var ok = true
        var summaries: [RunSummary] = []
        for child in children {
            if let s = child.summary { summaries.append(s); ok = ok && s.ok } else {
                reportError("run: hypervisor \(child.hypervisor) left no summary (exit status \(child.process.terminationStatus))")
                ok = false
            }
        }
        let scheduled = scheduler.reports
        var migrations = scheduled
        for s in summaries {
            for r in s.migrations where !scheduled.contains(where: { $0.vm == r.vm && $0.from == r.from && $0.to == r.to && $0.totalMs == r.totalMs }) {
                migrations.append(r)
            }
        }
        if migrations.contains(where: { $0.error != nil }) || scheduled.count < topology.migrations.count { ok = false }
        let merged = RunSummary(topology: name, hypervisor: nil, stopReason: stopReason,
                                vms: summaries.flatMap(\.vms), flows: summaries.flatMap(\.flows),
                                pings: summaries.flatMap(\.pings), migrations: migrations,
                                switches: summaries.flatMap(\.switches), ok: ok)
        Self.output("switchboard: cluster stopped (\(stopReason))")
        for r in migrations { Self.output("  " + RunReport.describe(r)) }
        for f in merged.flows {
            Self.output("  flow \(f.id) at \(f.vm): sent \(f.sent), received \(f.received), lost \(f.lost), duplicated \(f.duplicated), reordered \(f.reordered)")
        }
        for p in merged.pings { Self.output("  " + HostedRun.describe(p)) }
        if json { Self.output((try? jsonLine(merged)) ?? "{}") }
        if !ok { throw RunFailed() }
    }

    /// Asks every child to stop, then waits; SIGTERM and SIGKILL for those that do not.
    func stopAll(_ children: [Child]) {
        for child in children where child.process.isRunning {
            _ = try? ControlClient.send(.stop, to: child.socket, timeoutSeconds: 2)
        }
        for (signal, wait) in [(Int32(0), 20.0), (SIGTERM, 5.0), (SIGKILL, 5.0)] {
            let deadline = Date(timeIntervalSinceNow: wait)
            for child in children where child.process.isRunning && signal != 0 { kill(child.process.processIdentifier, signal) }
            while children.contains(where: { $0.process.isRunning }) && Date() < deadline { usleep(20_000) }
            if !children.contains(where: { $0.process.isRunning }) { return }
        }
    }
}

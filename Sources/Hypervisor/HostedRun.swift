// HostedRun: the body of `switchboard run` once the topology (or one hypervisor's part of it)
// is instantiated: host devices and namespace hosts plugged into their ports, VMs, ping jobs,
// the control socket, the migration listener, and the epoll datapath loop until a signal, the
// duration or a `stop` request; then everything is removed again.

import ControlProtocol
import Foundation
import HostNetworking
import Migration
import Switching
import Topology

/// Runs an instantiated topology on the datapath loop.
public struct HostedRun {
    let instance: TopologyInstance
    /// What runs here: the file's topology, or one hypervisor's part of it.
    let topology: Topology
    /// The whole file (differs from `topology` when running one hypervisor's part).
    let fullTopology: Topology
    /// The hypervisor this process runs (nil: the whole topology in one process).
    let hypervisor: String?
    let file: String
    let duration: Double?
    let controlPath: String?
    /// The guest appliance ELF for VMs that boot it (nil: none needed or not found).
    let appliance: String?
    /// End with one JSON summary object on stdout.
    let json: Bool

    /// A run of `instance` (built from `topology`, one hypervisor's part of `fullTopology` or all of it).
    public init(instance: TopologyInstance, topology: Topology, fullTopology: Topology, hypervisor: String?, file: String,
                duration: Double?, controlPath: String?, appliance: String?, json: Bool) {
        self.instance = instance
        self.topology = topology
        self.fullTopology = fullTopology
        self.hypervisor = hypervisor
        self.file = file
        self.duration = duration
        self.controlPath = controlPath
        self.appliance = appliance
        self.json = json
    }

    /// The control socket's default path for a topology, or for one hypervisor's part.
    public static func defaultControlPath(topologyName: String?, hypervisor: String?) -> String {
        let base = topologyName ?? "switchboard"
        return ControlServer.defaultPath(topologyName: hypervisor.map { "\(base)-\($0)" } ?? base)
    }

    /// Runs until SIGINT/SIGTERM/SIGHUP, the duration, a `stop` request or (without a
    /// hypervisor) the end of every VM and ping job. Throws `RunFailed` after printing why.
    public func run() throws {
        if let hypervisor, fullTopology.hypervisor(named: hypervisor)?.netns == true, !Underlay.isInside(namespaceOf: hypervisor) {
            reportError("run: hypervisor \(hypervisor) is a separate network host (\"netns\": true) and runs in network namespace "
                + "\(Underlay.namespace(of: hypervisor)): run the whole topology with `switchboard run \(file)`, which builds "
                + "the underlay, or run this inside `nsenter --net=/run/netns/\(Underlay.namespace(of: hypervisor))`")
            throw RunFailed()
        }
        let fabric = instance.fabric
        let datapath: Datapath
        do { datapath = try Datapath(fabric: fabric) } catch {
            reportError("run: \(error)")
            throw RunFailed()
        }
        // Stop signals first, so a Ctrl-C during setup still cleans up.
        datapath.installStopSignals()
        var hosts: [NamespaceHost] = []
        var server: ControlServer?
        var vms: VMRuntime?
        var listener: MigrationService?
        var pings: [PingJob] = []
        var openflow: OpenFlowRuntime?
        let service = ControlService()
        let migrations = MigrationLog()
        let stopRequested = StopFlag()
        let tag = hypervisor.map { "switchboard[\($0)]" } ?? "switchboard"
        let log: @Sendable (String) -> Void = { message in
            FileHandle.standardError.write(Data("\(tag): \(message)\n".utf8))
        }
        func cleanup() {
            openflow?.close()
            pings.forEach { $0.stop() }
            listener?.close(timeout: 2)
            vms?.stop(datapath: datapath)
            datapath.closeAll()
            for host in hosts { host.destroy() }
            server?.closeSocket()
            service.closeAll()
        }

        let name = topology.name ?? file
        do {
            for spec in topology.switches {
                for port in spec.ports {
                    guard let attach = port.attach else { continue }
                    let device = try attach.hostAttachment.open()
                    try datapath.attach(device, at: try fabricPort(spec.name, port.name))
                }
            }
            for spec in topology.hosts {
                let host = try NamespaceHost(spec.namespaceConfiguration)
                hosts.append(host)
                try datapath.attach(host.port, at: try fabricPort(spec.switchName, spec.port))
                if let ping = spec.ping {
                    pings.append(PingJob(host: spec.name, namespace: host.configuration.namespace, target: "\(ping.to)",
                                         intervalMs: ping.intervalMs, count: ping.count))
                }
            }
            if !fullTopology.vms.isEmpty {
                let runtime = try VMRuntime(instance: instance, topology: fullTopology, hypervisor: hypervisor, appliance: appliance)
                vms = runtime
                try runtime.attach(to: datapath)
                if let hypervisor, let spec = fullTopology.hypervisor(named: hypervisor) {
                    let m = try MigrationService(host: "\(spec.address)", port: spec.migrationPort, runtime: runtime,
                                                 datapath: datapath, log: log)
                    listener = m
                }
            }
            if topology.switches.contains(where: { $0.openflow != nil }) {
                openflow = try OpenFlowRuntime(topology: topology, fullTopology: fullTopology, hypervisor: hypervisor,
                                               datapath: datapath, log: log)
            }
            let flowRuntime = openflow
            let path = controlPath ?? Self.defaultControlPath(topologyName: topology.name, hypervisor: hypervisor)
            let runtime = vms
            let here = hypervisor
            let handler: (ControlRequest, Datapath, ControlReplyStream) -> ControlResponse? = { request, dp, stream in
                switch request {
                case .vmList:
                    var reply = ControlResponse(ok: true)
                    reply.hypervisor = here
                    reply.vms = runtime?.statuses ?? []
                    reply.pings = pings.map { ControlPingStatus(host: $0.host, done: $0.isDone) }
                    return reply
                case .stop:
                    stopRequested.set()
                    dp.requestStop()
                    return ControlResponse(ok: true, message: "stopping")
                case .migrate(let m):
                    return Self.startMigration(m, runtime: runtime, stream: stream, log: migrations)
                case .console(let vm):
                    guard let runtime else { return .failure("no VMs run here") }
                    return runtime.attachConsole(vm, stream: stream)
                case .flows, .flowTrace:
                    return flowRuntime?.handle(request, dp) ?? service.handle(request, dp)
                case .fdb, .stats, .captureStart, .captureStop, .captureList:
                    return service.handle(request, dp)
                }
            }
            switch Result(catching: { () throws(HostNetworkingError) -> ControlServer in
                try ControlServer(path: path, datapath: datapath, streaming: handler)
            }) {
            case .success(let s): server = s
            case .failure(let error):
                // Another instance of the same topology may hold the default socket: run without one.
                guard controlPath == nil else { throw error }
                reportError("run: warning: \(error); this instance has no control socket")
            }
        } catch {
            cleanup()
            reportError("run: \(error)")
            throw RunFailed()
        }

        let ports = topology.switches.reduce(0) { $0 + $1.ports.count }
        let place = hypervisor.map { " on hypervisor \($0)" } ?? ""
        print("switchboard: running \(name)\(place): \(topology.switches.count) switches, \(ports) ports, \(topology.links.count) links, \(instance.captures.count) captures")
        for c in instance.captures { print("  capture \(c.spec.name) -> \(c.writer.currentPath)") }
        for a in datapath.attachments {
            let sw = fabric.switches[a.ref.switchIndex]
            print("  port \(sw.name):\(sw.portNames[a.ref.port]) -> \(a.port.name)")
        }
        for h in hosts {
            print("  host \(h.configuration.name): namespace \(h.configuration.namespace), \(h.configuration.address)")
        }
        for spec in topology.vms {
            let nics = spec.nics.map { "\($0.mac) on \($0.switchName):\($0.port)" }.joined(separator: ", ")
            print("  vm \(spec.name): \(spec.memoryMiB) MiB" + (nics.isEmpty ? "" : ", NIC \(nics)"))
        }
        if let listener { print("  migrations on \(listener.listener.host):\(listener.listener.port)") }
        if let server { print("  control socket \(server.path)") }
        fflush(nil)  // all streams: readers of a pipe see the setup lines now

        let captures = instance.captures
        let flowTicks = openflow
        datapath.tick = { [vms] dp, now in
            flowTicks?.tick(now: now)
            for c in captures { try? c.writer.flush() }
            service.flush()
            vms?.service(dp.fabric, now: now)  // a safety net: guests normally kick their NICs
        }
        if let duration {
            DispatchQueue.global().asyncAfter(deadline: .now() + duration) { [datapath] in datapath.requestStop() }
        }
        // Without a hypervisor, a run with VMs or ping jobs ends when every VM has powered off
        // (or failed) and every counted ping job has ended, when every expect script has ended,
        // or at the duration. One hypervisor's part never ends by itself: a VM may still come.
        var watcher: DispatchSourceTimer? = nil
        let jobs = pings
        let counted = jobs.filter(\.isCounted)
        if hypervisor == nil && (vms != nil || !counted.isEmpty) {
            // (A timer source must be resumed before it is released: only make one when used.)
            let timer = DispatchSource.makeTimerSource(queue: .global())
            watcher = timer
            timer.schedule(deadline: .now() + 0.05, repeating: 0.05)
            // After the scripts end, VMs get up to 10 s to act on the last line (a poweroff: a
            // Linux guest's init stops its processes, syncs and unmounts first).
            nonisolated(unsafe) var scriptsEnded: DispatchTime? = nil
            timer.setEventHandler { [datapath, vms] in
                let pingsDone = counted.allSatisfy(\.isDone)
                if (vms?.allFinished ?? true) && pingsDone { datapath.requestStop(); return }
                if let vms, vms.scriptsFinished {
                    if scriptsEnded == nil { scriptsEnded = .now() }
                    if let t = scriptsEnded, DispatchTime.now() > t + 10 { datapath.requestStop() }
                }
            }
            timer.resume()
        }
        listener?.start()
        vms?.start()
        jobs.forEach { $0.start() }
        datapath.run()
        watcher?.cancel()
        var stopReason: String
        switch datapath.stopSignal {
        case SIGINT: stopReason = "interrupted"
        case SIGTERM: stopReason = "terminated"
        case SIGHUP: stopReason = "hung up"
        default:
            if stopRequested.isSet { stopReason = "stop requested" }
            else if vms?.allFinished == true { stopReason = "every VM powered off" }
            else if vms?.scriptsFinished == true { stopReason = "every expect script ended" }
            else if vms == nil && !counted.isEmpty && counted.allSatisfy(\.isDone) { stopReason = "every ping job ended" }
            else { stopReason = "duration elapsed" }
        }
        cleanup()
        let pingReports = jobs.map(\.report)
        var errors = instance.closeCaptures()
        print("switchboard: stopped (\(stopReason))")
        for sw in fabric.switches {
            print("  \(sw.name): \(sw.macTable.count) MAC entries")
            for p in 0..<sw.portCount {
                let c = sw.counters(port: p)
                print("    \(sw.portNames[p]): rx \(c.rxFrames) frames, tx \(c.txFrames) frames, dropped \(c.totalDrops)")
            }
        }
        for c in instance.captures { print("  capture \(c.spec.name): \(c.writer.framesWritten) frames -> \(c.writer.basePath)") }
        if let vms {
            vms.statusLines.forEach { print($0) }
            vms.flowLines.forEach { print($0) }
            errors += vms.expectFailures
            vms.trapStormWarnings.forEach { reportError("run: warning: \($0)") }
        }
        for r in pingReports {
            print("  " + Self.describe(r))
            if let e = r.error { errors.append("ping from \(r.host): \(e)") }
        }
        let done = migrations.reports
        for r in done { print("  " + RunReport.describe(r)) }
        if json {
            let (vmSummary, flows) = vms?.summary ?? ([], [])
            let switches = fabric.switches.map { sw in
                RunSummary.SwitchSummary(name: sw.name, hypervisor: hypervisor, macEntries: sw.macTable.count,
                                         ports: (0..<sw.portCount).map { p in
                    let c = sw.counters(port: p)
                    return RunSummary.Port(name: sw.portNames[p], rxFrames: c.rxFrames, txFrames: c.txFrames, drops: c.totalDrops)
                })
            }
            let summary = RunSummary(topology: name, hypervisor: hypervisor, stopReason: stopReason, vms: vmSummary, flows: flows,
                                     pings: pingReports, migrations: done, switches: switches, ok: errors.isEmpty)
            print((try? jsonLine(summary)) ?? "{}")
        }
        fflush(nil)
        if !errors.isEmpty {
            errors.forEach { reportError("run: \($0)") }
            throw RunFailed()
        }
    }

    /// Starts a `migrate` request (datapath thread): checks it, then migrates on a thread of
    /// its own, streaming progress lines and the final report to the client.
    static func startMigration(_ request: ControlRequest.Migrate, runtime: VMRuntime?, stream: ControlReplyStream,
                               log: MigrationLog) -> ControlResponse? {
        guard let runtime else { return .failure("no VMs run here") }
        let r = VMRuntime.MigrationRequest(vm: request.vm, to: request.to, downtimeMs: request.downtimeMs, maxRounds: request.maxRounds,
                                           withDisks: request.withDisks ?? false, autoConverge: request.autoConverge ?? false,
                                           postcopy: request.postcopy ?? false)
        let prepared: (VMRuntime.Guest, HypervisorSpec)
        do { prepared = try runtime.prepareMigration(r) } catch { return .failure(error.description) }
        let box = GuestBox(guest: prepared.0, destination: prepared.1)
        Thread {
            var last = Date.distantPast
            let report = runtime.migrate(box.guest, to: box.destination, request: r) { p in
                // At most ~20 progress lines a second, and always the round boundaries.
                let now = Date()
                guard now.timeIntervalSince(last) > 0.05 || p.dirtyPages == 0 || p.phase != .round0 else { return }
                last = now
                var reply = ControlResponse(ok: true)
                reply.progress = ControlMigrationProgress(phase: p.phase.rawValue, round: p.round, bytesSent: p.bytesSent,
                                                          pagesSent: p.pagesSent, dirtyPages: p.dirtyPages, rate: p.rate,
                                                          elapsed: p.elapsed, diskBytesSent: p.diskBytesSent,
                                                          diskBytesLeft: p.diskBytesLeft, throttlePct: p.throttlePct)
                stream.send(reply)
            }
            log.append(report)
            var reply = ControlResponse(ok: report.error == nil, error: report.error)
            reply.migration = report
            stream.send(reply)
            stream.finish()
        }.start()
        return nil
    }

    /// A ping job's line in the stop report.
    public static func describe(_ r: PingReport) -> String {
        String(format: "ping from %@ to %@ every %.0f ms: %d transmitted, %d received, %d lost, %d duplicates, longest gap %.1f ms (outage %.1f ms), max rtt %.2f ms",
               r.host, r.target, r.intervalMs, r.transmitted, r.received, r.lost, r.duplicates, r.longestGapMs, r.outageMs, r.maxRttMs)
    }

    private func fabricPort(_ switchName: String, _ port: String) throws -> Fabric.PortRef {
        do { return try instance.fabric.port(switchName, port) } catch { throw HostNetworkingError.invalid("\(error)") }
    }
}

/// The migrations this host sent, in order (thread-safe).
final class MigrationLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [ControlMigrationReport] = []
    func append(_ r: ControlMigrationReport) { lock.withLock { list.append(r) } }
    var reports: [ControlMigrationReport] { lock.withLock { list } }
}

/// A flag set from any thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Hands a prepared migration to its thread.
private struct GuestBox: @unchecked Sendable {
    let guest: VMRuntime.Guest
    let destination: HypervisorSpec
}

extension AttachSpec {
    /// The host-networking form of a port's `attach`.
    var hostAttachment: PortAttachment {
        switch self {
        case .tap(let device, let mtu): return .tap(device: device, mtu: mtu)
        case .pcap(let interface): return .pcap(interface: interface)
        case .vxlan(let v):
            return .vxlan(VXLANEndpoint(remote: v.remote, remotePort: UInt16(clamping: v.remotePort), local: v.local,
                                        localPort: UInt16(clamping: v.localPort), vni: UInt32(clamping: v.vni)))
        }
    }
}

extension HostSpec {
    /// The namespace host this spec describes.
    var namespaceConfiguration: NamespaceHostConfiguration {
        NamespaceHostConfiguration(name: name, address: ip.description, mac: mac,
                                   link: link == .tap ? .tap : .veth)
    }
}

// Scheduler: the migration schedule of a cluster run (`migrations` in the topology file), run
// against the hypervisors' control sockets, each entry at its time and never before the previous
// migration of the same VM has ended.

import ControlProtocol
import Foundation
import HostNetworking
import Topology

/// Runs a topology's migration schedule: each entry at its time (after every host came up),
/// and never before the previous migration of the same VM has ended.
final class Scheduler: @unchecked Sendable {
    private let topology: Topology
    private let sockets: [String: String]
    private let started: Date
    private let lock = NSLock()
    private var done = false
    private var cancelled = false
    private var list: [ControlMigrationReport] = []

    init(topology: Topology, children: [ClusterRun.Child], started: Date) {
        self.topology = topology
        sockets = Dictionary(uniqueKeysWithValues: children.map { ($0.hypervisor, $0.socket) })
        self.started = started
    }

    /// Whether every scheduled migration has run (or was abandoned).
    var isDone: Bool { lock.withLock { done } }

    /// The reports of the migrations run so far.
    var reports: [ControlMigrationReport] { lock.withLock { list } }

    func cancel() { lock.withLock { cancelled = true } }

    func start() {
        Thread { [self] in
            var location: [String: String] = [:]
            for vm in topology.vms { location[vm.name] = topology.startHypervisor(of: vm) }
            // In time order; entries at the same time keep their file order.
            let entries = topology.migrations.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
            for entry in entries {
                let wait = entry.at - Date().timeIntervalSince(started)
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                if lock.withLock({ cancelled }) { break }
                guard let from = location[entry.vm], let socket = sockets[from] else { continue }
                let request = ControlRequest.migrate(.init(vm: entry.vm, to: entry.to, downtimeMs: entry.downtimeMs,
                                                           maxRounds: entry.maxRounds, withDisks: entry.withDisks ? true : nil,
                                                           autoConverge: entry.autoConverge ? true : nil,
                                                           postcopy: entry.postcopy ? true : nil))
                let began = Date().timeIntervalSince(started)
                var report: ControlMigrationReport
                do {
                    let reply = try ControlClient.stream(request, to: socket, timeoutSeconds: 300) { _ in }
                    report = reply.migration ?? ControlMigrationReport(vm: entry.vm, from: from, to: entry.to, totalMs: 0, downtimeMs: 0,
                                                                       rounds: 0, pages: 0, zeroPages: 0, bytes: 0, queued: 0, lost: 0,
                                                                       error: reply.error ?? "no report")
                } catch {
                    report = ControlMigrationReport(vm: entry.vm, from: from, to: entry.to, totalMs: 0, downtimeMs: 0, rounds: 0,
                                                    pages: 0, zeroPages: 0, bytes: 0, queued: 0, lost: 0, error: "\(error)")
                }
                report.at = (began * 1000).rounded() / 1000
                if report.error == nil { location[entry.vm] = entry.to }
                ClusterRun.output("switchboard: " + RunReport.describe(report))
                lock.withLock { list.append(report) }
            }
            lock.withLock { done = true }
        }.start()
    }
}

// MigrationService: the migration listener of one hypervisor's `switchboard run --host`: it
// accepts TCP connections on the hypervisor's address and migration port, answers `resolve`
// questions about migrations this host sent, and receives arriving VMs into the runtime.

import Foundation
import HostNetworking
import Migration

/// Accepts migrations for one host process.
final class MigrationService: @unchecked Sendable {
    let listener: MigrationListener
    private let runtime: VMRuntime
    private let datapath: Datapath
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var closed = false
    private var active = 0
    private let idle = NSCondition()

    /// Listens on `host:port` for migrations into `runtime`.
    init(host: String, port: Int, runtime: VMRuntime, datapath: Datapath, log: @escaping @Sendable (String) -> Void) throws {
        listener = try MigrationListener(host: host, port: port)
        self.runtime = runtime
        self.datapath = datapath
        self.log = log
    }

    /// Accepts connections on a thread of its own until `close`. First removes what a killed
    /// earlier run left of incoming disk copies in this hypervisor's disk directory.
    func start() {
        let topology = runtime.topology
        if let name = runtime.hypervisor, let spec = topology.hypervisors.first(where: { $0.name == name }) {
            for file in DiskDirectory.removeUnfinished(in: spec.diskDirectory(topology: topology.name)) {
                log("removed \(file): the partial disk copy of a migration that never finished")
            }
        }
        Thread { [self] in
            while !lock.withLock({ closed }) {
                let stream: NIOByteStream
                do { stream = try listener.accept(timeout: 0.5) } catch let error as StreamError {
                    if error == .timeout { continue }
                    break
                } catch { break }
                idle.withLock { active += 1 }
                Thread { [self] in
                    defer { idle.withLock { active -= 1; idle.broadcast() } }
                    let hooks = ArrivingVM(into: runtime, datapath: datapath, log: log)
                    do {
                        if let incoming = try MigrationListener.serve(MigrationFaults.shared.wrap(stream), hooks: hooks) {
                            log("VM \(incoming.vm.name) arrived: \(incoming.pages) pages (\(incoming.zeroPages) zero) in \(incoming.rounds) rounds, \(incoming.queued) frames handed over, \(incoming.lost) lost")
                        }
                    } catch {
                        log("incoming migration failed: \(error)")
                    }
                }.start()
            }
        }.start()
    }

    /// Stops accepting and waits (up to `timeout` seconds) for migrations in progress.
    func close(timeout: Double = 10) {
        lock.withLock { closed = true }
        listener.close()
        let deadline = Date(timeIntervalSinceNow: timeout)
        idle.withLock {
            while active > 0 && idle.wait(until: deadline) {}
        }
    }
}

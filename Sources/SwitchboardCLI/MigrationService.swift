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

    /// Accepts connections on a thread of its own until `close`.
    func start() {
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
                    let hooks = runtime.destinationHooks(datapath: datapath, log: log)
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

/// Fault injection for end-to-end tests of the failure paths across processes:
/// `SWITCHBOARD_MIGRATION_FAULT=TYPE:FAULT[:N]` breaks the first N (default 1) migration
/// streams this process writes, at the first message of TYPE it writes (`ack`, `confirm`,
/// `pages`, ...), with FAULT `close`, `lose` or `corrupt` (see `FaultInjectingStream`).
final class MigrationFaults: @unchecked Sendable {
    static let shared = MigrationFaults(ProcessInfo.processInfo.environment["SWITCHBOARD_MIGRATION_FAULT"])
    private let type: MessageType?
    private let fault: FaultInjectingStream.Fault
    private let lock = NSLock()
    private var left: Int

    init(_ spec: String?) {
        let parts = (spec ?? "").split(separator: ":").map(String.init)
        type = parts.first.flatMap { name in MessageType.allCases.first { "\($0)" == name } }
        switch parts.count > 1 ? parts[1] : "close" {
        case "lose": fault = .lose
        case "corrupt": fault = .corrupt
        default: fault = .close
        }
        left = parts.count > 2 ? Int(parts[2]) ?? 1 : 1
    }

    /// `stream`, broken as configured while streams to break are left.
    func wrap(_ stream: any ByteStream) -> any ByteStream {
        guard let type else { return stream }
        let use = lock.withLock { () -> Bool in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        return use ? FaultInjectingStream(stream, at: type, fault: fault) : stream
    }
}

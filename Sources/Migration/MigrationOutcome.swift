// MigrationOutcome: what became of each migration this process sent, kept so a destination
// whose connection broke after its `ack` can ask (a `resolve` on a new connection) and learn
// whether to run the VM. The source alone decides: it has committed once it read the `ack`,
// and aborted when it gave up before that. The answer carries the frames the source held for
// the VM after the `ack`, so none is lost when the `confirm` never arrived.

import Foundation

/// The source's decision about one migration.
public enum MigrationOutcome: Equatable, Sendable {
    /// Still running: ask again.
    case inProgress
    /// The source let the VM go: run it, with these frames held for it since the `ack`.
    case committed([QueuedFrame])
    /// The source kept the VM: discard yours.
    case aborted
    /// This process never sent a migration with that id.
    case unknown

    /// The `outcome` payload: a status byte (0 in progress, 1 committed, 2 aborted,
    /// 3 unknown), then for a commit the frames (`FrameBatch`).
    public var payload: [UInt8] {
        switch self {
        case .inProgress: return [0]
        case .committed(let frames): return [1] + FrameBatch.encode(frames)
        case .aborted: return [2]
        case .unknown: return [3]
        }
    }

    /// Decodes an `outcome` payload.
    public init(payload: [UInt8]) throws(WireError) {
        guard let status = payload.first else { throw .malformed("empty outcome") }
        switch status {
        case 0 where payload.count == 1: self = .inProgress
        case 1: self = .committed(try FrameBatch.decode(Array(payload.dropFirst())))
        case 2 where payload.count == 1: self = .aborted
        case 3 where payload.count == 1: self = .unknown
        default: throw .malformed("outcome status \(status) with \(payload.count - 1) more bytes")
        }
    }
}

/// The outcomes of the migrations this process sent, by migration id (thread-safe).
public final class MigrationOutcomes: @unchecked Sendable {
    /// The registry of this process.
    public static let shared = MigrationOutcomes()
    private let lock = NSLock()
    private var outcomes: [String: MigrationOutcome] = [:]
    private var order: [String] = []
    /// Outcomes kept (the oldest are forgotten beyond this).
    public var capacity = 1024

    /// An empty registry.
    public init() {}

    /// Records the outcome of migration `id`.
    public func record(_ id: String, _ outcome: MigrationOutcome) {
        lock.withLock {
            if outcomes.updateValue(outcome, forKey: id) == nil { order.append(id) }
            while order.count > capacity { outcomes[order.removeFirst()] = nil }
        }
    }

    /// The outcome of migration `id`.
    public func outcome(_ id: String) -> MigrationOutcome {
        lock.withLock { outcomes[id] ?? .unknown }
    }
}

// FlowUpdateQueue: how flow-mods and group-mods from a control thread reach the datapath
// thread without stopping forwarding. The control side submits; the datapath thread drains
// a bounded number between batches (`FlowPipeline.applyUpdates`) and posts the outcomes.

import Foundation

/// A locked hand-off of flow/group changes to the thread that owns a `FlowPipeline`.
public final class FlowUpdateQueue: @unchecked Sendable {
    /// A change to apply.
    public enum Update: Sendable {
        case flow(FlowMod)
        case group(GroupMod)
    }

    /// What became of a submitted change.
    public struct Outcome: Sendable {
        /// The id `submit` returned.
        public var id: UInt64
        /// The OF error to answer with, nil on success.
        public var error: FlowError?
        /// Entries the change removed (flow-removed candidates).
        public var removed: [RemovedFlow]
    }

    private let lock = NSLock()
    private var pending: [(UInt64, Update)] = []
    private var head = 0
    private var outcomes: [Outcome] = []
    private var nextID: UInt64 = 1
    /// Most changes waiting at once; `submit` refuses more (the wire side stops reading).
    public let capacity: Int

    /// A queue holding at most `capacity` waiting changes.
    public init(capacity: Int = 65_536) {
        self.capacity = max(1, capacity)
    }

    /// Queues a change; its id, or nil when the queue is full.
    public func submit(_ update: Update) -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        guard pending.count - head < capacity else { return nil }
        let id = nextID
        nextID += 1
        pending.append((id, update))
        return id
    }

    /// Changes waiting.
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return pending.count - head
    }

    /// Changes held, including those already handed out but not yet dropped (for tests).
    var storedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return pending.count
    }

    /// Takes and clears the outcomes posted so far.
    public func takeOutcomes() -> [Outcome] {
        lock.lock()
        defer { lock.unlock() }
        let out = outcomes
        outcomes = []
        return out
    }

    func take(limit: Int) -> ArraySlice<(UInt64, Update)> {
        lock.lock()
        defer { lock.unlock() }
        let end = min(pending.count, head + limit)
        let batch = pending[head..<end]
        head = end
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= pending.count {
            // A queue that never empties must still drop what it has handed out.
            pending.removeFirst(head)
            head = 0
        }
        return batch
    }

    func post(_ list: [Outcome]) {
        lock.lock()
        outcomes += list
        lock.unlock()
    }
}

extension FlowPipeline {
    /// Applies at most `limit` queued changes (call between batches on the owning thread,
    /// so a flood of flow-mods delays forwarding by one bounded slice at a time); returns
    /// how many were applied.
    @discardableResult
    public func applyUpdates(from queue: FlowUpdateQueue, now: Int64, limit: Int = 1024) -> Int {
        let batch = queue.take(limit: limit)
        guard !batch.isEmpty else { return 0 }
        var out: [FlowUpdateQueue.Outcome] = []
        out.reserveCapacity(batch.count)
        for (id, update) in batch {
            do {
                let removed: [RemovedFlow]
                switch update {
                case .flow(let mod): removed = try apply(mod, now: now)
                case .group(let mod): removed = try apply(mod, now: now)
                }
                out.append(.init(id: id, error: nil, removed: removed))
            } catch {
                out.append(.init(id: id, error: error, removed: []))
            }
        }
        queue.post(out)
        return batch.count
    }
}

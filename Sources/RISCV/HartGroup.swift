// HartGroup: the harts of one machine and what passes between them. Each hart runs on its own
// host thread; a hart never touches another hart's registers. Everything that crosses harts is
// posted as a request bit the target consumes at its next chunk boundary (or on waking from
// WFI): a supervisor software interrupt (SBI IPI), a TLB flush (SBI remote SFENCE.VMA), a
// decode-cache flush (SBI remote FENCE.I), an HSM start. Machine-wide power off and reset are
// published here too, so every hart's `run` returns them.

import Dispatch
import Machine
import Synchronization

/// A hart's state as the SBI hart state management (HSM) extension names it.
public enum HartRunState: UInt8, Sendable, Codable {
    case started = 0, stopped = 1, startPending = 2, stopPending = 3, suspended = 4
}

/// Requests one hart posts to another (bits of `Hart.requests`).
public enum HartRequest {
    /// Raise the supervisor software interrupt (mip.SSIP).
    public static let supervisorSoftware: UInt64 = 1 << 0
    /// Flush the TLBs (a remote SFENCE.VMA).
    public static let flushTLB: UInt64 = 1 << 1
    /// Drop every decoded instruction (a remote FENCE.I).
    public static let flushCode: UInt64 = 1 << 2
}

/// The harts of one machine, with machine-wide power off and reset.
public final class HartGroup: @unchecked Sendable {
    /// The harts, by hart id.
    public private(set) var harts: [Hart] = []
    /// A machine-wide outcome (power off or reset) every hart's `run` returns until cleared.
    private let outcome = Mutex<VCPURunResult?>(nil)
    /// Whether `outcome` is set (read every chunk without the lock).
    let outcomeSet = Atomic<Bool>(false)

    /// An empty group; `add` the harts in hart-id order.
    public init() {}

    /// Adds `hart` (its id must be the next index) and links it to the group.
    public func add(_ hart: Hart) {
        precondition(hart.hartID == UInt64(harts.count), "harts join in hart-id order")
        harts.append(hart)
        hart.group = self
    }

    /// The hart with id `id`, if it exists.
    public func hart(_ id: UInt64) -> Hart? { id < UInt64(harts.count) ? harts[Int(id)] : nil }

    /// Ends every hart's run with `result` (power off wins over a reset asked at the same time).
    public func requestOutcome(_ result: VCPURunResult) {
        outcome.withLock { current in
            if case .powerOff = current { return }
            current = result
        }
        outcomeSet.store(true, ordering: .releasing)
        for h in harts { h.requestExit() }
    }

    /// The machine-wide outcome, if one was requested.
    public var requestedOutcome: VCPURunResult? {
        outcomeSet.load(ordering: .acquiring) ? outcome.withLock { $0 } : nil
    }

    /// Forgets the outcome (after the machine was reset).
    public func clearOutcome() {
        outcome.withLock { $0 = nil }
        outcomeSet.store(false, ordering: .releasing)
    }

    /// Posts `request` to every hart of `mask` (bit i = hart `base + i`; `base == .max` means
    /// every hart) and waits until each running target has acted on it. Returns false when the
    /// mask names a hart that does not exist.
    @discardableResult
    func post(_ request: UInt64, mask: UInt64, base: UInt64, from sender: Hart) -> Bool {
        var targets: [Hart] = []
        if base == .max {
            targets = harts
        } else {
            for bit in 0..<64 where (mask >> UInt64(bit)) & 1 != 0 {
                guard let h = hart(base &+ UInt64(bit)), base &+ UInt64(bit) >= base else { return false }
                targets.append(h)
            }
        }
        for h in targets { h.post(request) }
        // The sender's own request is handled before it returns to the guest; the others are
        // waited for (a fence must be complete when the SBI call returns) unless they are not
        // executing at all: a hart outside `run` acts on its requests before it runs again.
        for h in targets where h !== sender {
            var spins = 0
            while h.requests.load(ordering: .acquiring) & request & ~HartRequest.supervisorSoftware != 0
                    && h.inRun.load(ordering: .acquiring) {
                if sender.exitRequested.load(ordering: .relaxed) { break }
                // Two harts fencing each other at once must not wait for each other forever.
                sender.serviceRequests()
                spins += 1
                if spins > 64 { usleepMicroseconds(50) } else { sched_yieldShim() }
            }
        }
        return true
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) func usleepMicroseconds(_ us: UInt32) { usleep(us) }
@inline(__always) func sched_yieldShim() { _ = sched_yield() }

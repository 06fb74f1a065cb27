// TrapStorm: noticing a guest that floods its vCPU with traps (an interrupt it never clears,
// a fault loop at a bad address) so the run can report it. The VMM does not stop such a
// guest (it harms only its own vCPU threads), but a user must learn why it makes no progress.
//
// The rule is a ratio, not a rate, so it holds on a slow or loaded host: over a window of at
// least a second, a vCPU that took at least `minimumTraps` traps of one kind and retired fewer
// than `instructionsPerTrap` instructions per trap is in a storm. A Linux guest under network
// load takes an interrupt every few thousand instructions and a page fault every few hundred;
// a flooded vCPU retires about one instruction per interrupt, and a fault loop none at all.

import Foundation
import Machine

/// What a vCPU was flooded with, and how hard.
public struct TrapStorm: Sendable, Equatable, Codable {
    /// Which kind of trap dominated.
    public enum Kind: String, Sendable, Codable {
        /// Interrupts taken back to back (a pending interrupt nobody clears).
        case interrupts = "interrupt storm"
        /// Exceptions with no progress between them (a fault loop).
        case exceptions = "exception loop"
    }

    public var kind: Kind
    /// The vCPU it was seen on.
    public var vcpu: Int
    /// Traps of `kind` per second in the worst window.
    public var perSecond: Double
    /// Instructions retired per trap in that window.
    public var instructionsPerTrap: Double
    /// Seconds after the VM started when it was first seen.
    public var firstSeenSeconds: Double

    enum CodingKeys: String, CodingKey {
        case kind, vcpu, perSecond = "per_second", instructionsPerTrap = "instructions_per_trap",
             firstSeenSeconds = "first_seen_s"
    }

    /// One line for a summary: "interrupt storm on vCPU 0: 1,012,345/s, 1.0 instructions each (from 0.4 s)".
    public var description: String {
        "\(kind.rawValue) on vCPU \(vcpu): \(Int(perSecond.rounded()))/s, "
            + "\(String(format: "%.1f", instructionsPerTrap)) instructions each (from "
            + "\(String(format: "%.1f", firstSeenSeconds)) s)"
    }
}

/// Watches one vCPU's exit counts; sampled on that vCPU's own thread between runs.
public struct TrapStormDetector: Sendable {
    /// Shortest window a verdict is based on.
    public static let window = 1.0
    /// Fewest traps of one kind in a window for a storm.
    public static let minimumTraps: UInt64 = 10_000
    /// A storm retires fewer instructions than this per trap.
    public static let instructionsPerTrap = 50.0

    private let vcpu: Int
    private let origin: Double
    private var start: Double
    private var interrupts: UInt64 = 0
    private var exceptions: UInt64 = 0
    private var instructions: UInt64 = 0
    /// Whether the counts above are a baseline (the first sample only takes one: a restored
    /// vCPU's counts include its past).
    private var primed = false

    /// A detector for a vCPU that starts running at `now`.
    public init(vcpu: Int, now: Double) {
        self.vcpu = vcpu
        self.origin = now
        self.start = now
    }

    /// Whether a window has closed (or no baseline is taken yet): only then is `sample` worth
    /// the counts.
    public func isDue(now: Double) -> Bool { !primed || now - start >= Self.window }

    /// Feeds the vCPU's cumulative counts; returns a storm when a window just closed on one.
    public mutating func sample(now: Double, exits: ExitStatistics, instructions retired: UInt64) -> TrapStorm? {
        guard isDue(now: now) else { return nil }
        let elapsed = now - start
        let counts = (exits[.interrupt], exits[.exception], retired)
        // Counts that went backwards (a reset board) start a new baseline too.
        let fresh = !primed || counts.0 < interrupts || counts.1 < exceptions || counts.2 < instructions
        let irq = counts.0 &- interrupts
        let exc = counts.1 &- exceptions
        let ins = counts.2 &- instructions
        (start, interrupts, exceptions, instructions, primed) = (now, counts.0, counts.1, counts.2, true)
        if fresh { return nil }
        let (kind, traps): (TrapStorm.Kind, UInt64) = irq >= exc ? (.interrupts, irq) : (.exceptions, exc)
        guard traps >= Self.minimumTraps else { return nil }
        let perTrap = Double(ins) / Double(traps)
        guard perTrap < Self.instructionsPerTrap else { return nil }
        return TrapStorm(kind: kind, vcpu: vcpu, perSecond: Double(traps) / elapsed,
                         instructionsPerTrap: perTrap, firstSeenSeconds: max(0, now - elapsed - origin))
    }
}

// PLIC: the platform-level interrupt controller of QEMU's virt board at 0x0c00_0000, with
// two contexts for hart 0 (0 = M-mode, 1 = S-mode), level-triggered sources 1...95.
//
// Devices drive their `InterruptLine` from any thread (the datapath thread raises virtio-net
// interrupts while the vCPU thread runs); the state sits behind one lock, and the outputs
// the hart samples (MEIP, SEIP) are published in an atomic word the hart reads without it.
import RISCV

import Machine
import Synchronization

/// The saved state of the PLIC.
public struct PLICState: Codable, Sendable, Equatable {
    public var priority: [UInt32]
    public var levels: [Bool]
    public var pending: [Bool]
    public var claimed: [Bool]
    public var enable: [[UInt32]]
    public var threshold: [UInt32]
}

/// A SiFive-compatible PLIC for one hart.
public final class PLIC: MMIODevice, @unchecked Sendable {
    public static let base: UInt64 = 0x0C00_0000
    /// The register window QEMU's virt board gives a one-hart PLIC.
    public static let size: UInt64 = 0x60_0000
    /// Sources 1...sourceCount (0 means "none").
    public static let sourceCount = 95
    /// Context 0 is hart 0 in M-mode, context 1 hart 0 in S-mode.
    public static let contextCount = 2

    private let lock = DeviceLock()
    private var priority = [UInt32](repeating: 0, count: sourceCount + 1)
    private var level = [Bool](repeating: false, count: sourceCount + 1)
    private var pending = [Bool](repeating: false, count: sourceCount + 1)
    private var claimed = [Bool](repeating: false, count: sourceCount + 1)
    private var enable = [[UInt32]](repeating: [UInt32](repeating: 0, count: 3), count: contextCount)
    private var threshold = [UInt32](repeating: 0, count: contextCount)
    private let outputBits = Atomic<UInt64>(0)
    /// Called (from whatever thread changed a line) when an output rises, so a sleeping
    /// vCPU can wake.
    public var onAssert: (@Sendable () -> Void)?

    public init() {}

    /// The mip bits the PLIC asserts now: MEIP for context 0, SEIP for context 1.
    @inline(__always)
    public var outputs: UInt64 { outputBits.load(ordering: .acquiring) }

    /// The line of source `n` (1...95), for a device to drive.
    public func line(_ n: Int) -> any InterruptLine {
        precondition(n >= 1 && n <= Self.sourceCount, "PLIC source out of range")
        return Source(plic: self, number: n)
    }

    private final class Source: InterruptLine, @unchecked Sendable {
        unowned let plic: PLIC
        let number: Int
        init(plic: PLIC, number: Int) {
            self.plic = plic
            self.number = number
        }
        func set(_ level: Bool) { plic.setLevel(number, level) }
    }

    /// Drives source `n` to `high` (level-triggered: pending while high and not claimed).
    public func setLevel(_ n: Int, _ high: Bool) {
        let rose = lock.withLock { () -> Bool in
            level[n] = high
            if high && !claimed[n] { pending[n] = true }
            if !high { pending[n] = false }
            return update()
        }
        if rose { onAssert?() }
    }

    /// Recomputes the outputs; returns whether any output rose. Called with the lock held.
    private func update() -> Bool {
        var bits: UInt64 = 0
        if best(context: 0) != 0 { bits |= CSRBits.meip }
        if best(context: 1) != 0 { bits |= CSRBits.seip }
        let old = outputBits.exchange(bits, ordering: .acquiringAndReleasing)
        return bits & ~old != 0
    }

    /// The highest-priority pending, enabled source above the context's threshold (0: none).
    private func best(context c: Int) -> Int {
        var bestSource = 0
        var bestPriority: UInt32 = 0
        for n in 1...Self.sourceCount where pending[n] && !claimed[n] {
            guard enable[c][n >> 5] & (1 << UInt32(n & 31)) != 0 else { continue }
            let p = priority[n]
            if p > threshold[c] && p > bestPriority {
                bestPriority = p
                bestSource = n
            }
        }
        return bestSource
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard size == 4 else { return 0 }
        return lock.withLock { () -> UInt64 in
            switch offset {
            case 0..<0x1000:
                let n = Int(offset / 4)
                return n <= Self.sourceCount ? UInt64(priority[n]) : 0
            case 0x1000..<0x1080:
                let word = Int((offset - 0x1000) / 4)
                var bits: UInt32 = 0
                for bit in 0..<32 {
                    let n = word * 32 + bit
                    if n >= 1 && n <= Self.sourceCount && pending[n] { bits |= 1 << UInt32(bit) }
                }
                return UInt64(bits)
            case 0x2000..<0x2000 + 0x80 * UInt64(Self.contextCount):
                let c = Int((offset - 0x2000) / 0x80), word = Int((offset - 0x2000) % 0x80 / 4)
                return word < 3 ? UInt64(enable[c][word]) : 0
            case 0x20_0000..<0x20_0000 + 0x1000 * UInt64(Self.contextCount):
                let c = Int((offset - 0x20_0000) / 0x1000), register = (offset - 0x20_0000) % 0x1000
                if register == 0 { return UInt64(threshold[c]) }
                if register == 4 { return UInt64(claim(context: c)) }
                return 0
            default:
                return 0
            }
        }
    }

    /// Claims the best source of context `c`: it stops being pending until completed.
    private func claim(context c: Int) -> UInt32 {
        let n = best(context: c)
        if n != 0 {
            claimed[n] = true
            pending[n] = false
        }
        _ = update()
        return UInt32(n)
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard size == 4 else { return }
        let v = UInt32(truncatingIfNeeded: value)
        let rose = lock.withLock { () -> Bool in
            switch offset {
            case 0..<0x1000:
                let n = Int(offset / 4)
                if n >= 1 && n <= Self.sourceCount { priority[n] = v & 7 }
            case 0x2000..<0x2000 + 0x80 * UInt64(Self.contextCount):
                let c = Int((offset - 0x2000) / 0x80), word = Int((offset - 0x2000) % 0x80 / 4)
                if word < 3 { enable[c][word] = word == 0 ? v & ~1 : v }
            case 0x20_0000..<0x20_0000 + 0x1000 * UInt64(Self.contextCount):
                let c = Int((offset - 0x20_0000) / 0x1000), register = (offset - 0x20_0000) % 0x1000
                if register == 0 { threshold[c] = v & 7 }
                if register == 4 {
                    // Completion: a source still held high becomes pending again.
                    let n = Int(v)
                    if n >= 1 && n <= Self.sourceCount && claimed[n] {
                        claimed[n] = false
                        if level[n] { pending[n] = true }
                    }
                }
            default:
                break
            }
            return update()
        }
        if rose { onAssert?() }
    }

    /// The current state.
    public func saveState() -> PLICState {
        lock.withLock {
            PLICState(priority: priority, levels: level, pending: pending, claimed: claimed, enable: enable, threshold: threshold)
        }
    }

    /// Restores a saved state; throws without changing anything when its shape is wrong.
    public func restore(_ s: PLICState) throws {
        let n = Self.sourceCount + 1
        guard s.priority.count == n, s.levels.count == n, s.pending.count == n, s.claimed.count == n,
              s.enable.count == Self.contextCount, s.enable.allSatisfy({ $0.count == 3 }),
              s.threshold.count == Self.contextCount else {
            throw BoardError.badConfiguration("PLIC state has the wrong shape")
        }
        lock.withLock {
            priority = s.priority; level = s.levels; pending = s.pending; claimed = s.claimed
            enable = s.enable; threshold = s.threshold
            _ = update()
        }
    }
}

extension PLIC: HartExternalInputs {
    public func externalInterrupts(hart: UInt64) -> UInt64 { outputs }
}

// PLIC: the platform-level interrupt controller of QEMU's virt board at 0x0c00_0000, with
// two contexts per hart (2h = hart h in M-mode, 2h+1 = in S-mode), level-triggered sources 1...95.
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

/// A SiFive-compatible PLIC for up to 8 harts.
public final class PLIC: MMIODevice, @unchecked Sendable {
    public static let base: UInt64 = 0x0C00_0000
    /// The register window QEMU's virt board gives its PLIC.
    public static let size: UInt64 = 0x60_0000
    /// Sources 1...sourceCount (0 means "none").
    public static let sourceCount = 95

    /// Harts served (contexts are 2 per hart).
    public let hartCount: Int
    /// Context 2h is hart h in M-mode, 2h+1 hart h in S-mode.
    public var contextCount: Int { 2 * hartCount }
    private let lock = DeviceLock()
    private var priority = [UInt32](repeating: 0, count: sourceCount + 1)
    private var level = [Bool](repeating: false, count: sourceCount + 1)
    private var pending = [Bool](repeating: false, count: sourceCount + 1)
    private var claimed = [Bool](repeating: false, count: sourceCount + 1)
    private var enable: [[UInt32]]
    private var threshold: [UInt32]
    /// Bit c is context c's output (read by the harts without the lock).
    private let outputBits = Atomic<UInt64>(0)
    /// Per hart: called (from whatever thread changed a line) when one of its outputs rises,
    /// so that hart can wake from WFI.
    private var wakeups: [(@Sendable () -> Void)?]

    /// A PLIC for `harts` harts.
    public init(harts: Int = 1) {
        precondition(harts >= 1 && harts <= 8, "PLIC hart count out of range")
        hartCount = harts
        enable = [[UInt32]](repeating: [UInt32](repeating: 0, count: 3), count: 2 * harts)
        threshold = [UInt32](repeating: 0, count: 2 * harts)
        wakeups = Array(repeating: nil, count: harts)
    }

    /// The mip bits (MEIP, SEIP) the PLIC asserts for hart 0 now.
    @inline(__always)
    public var outputs: UInt64 { externalInterrupts(hart: 0) }

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
        let rose = lock.withLock { () -> UInt64 in
            level[n] = high
            if high && !claimed[n] { pending[n] = true }
            if !high { pending[n] = false }
            return update()
        }
        wake(rose)
    }

    /// Recomputes the outputs; returns the contexts whose output rose. Called with the lock held.
    private func update() -> UInt64 {
        var bits: UInt64 = 0
        for c in 0..<contextCount where best(context: c) != 0 { bits |= 1 << UInt64(c) }
        let old = outputBits.exchange(bits, ordering: .acquiringAndReleasing)
        return bits & ~old
    }

    /// Wakes the harts whose contexts are in `rose` (outside the lock).
    private func wake(_ rose: UInt64) {
        guard rose != 0 else { return }
        for h in 0..<hartCount where (rose >> UInt64(2 * h)) & 3 != 0 { wakeups[h]?() }
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
            case 0x2000..<0x2000 + 0x80 * UInt64(contextCount):
                let c = Int((offset - 0x2000) / 0x80), word = Int((offset - 0x2000) % 0x80 / 4)
                return word < 3 ? UInt64(enable[c][word]) : 0
            case 0x20_0000..<0x20_0000 + 0x1000 * UInt64(contextCount):
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
        let rose = lock.withLock { () -> UInt64 in
            switch offset {
            case 0..<0x1000:
                let n = Int(offset / 4)
                if n >= 1 && n <= Self.sourceCount { priority[n] = v & 7 }
            case 0x2000..<0x2000 + 0x80 * UInt64(contextCount):
                let c = Int((offset - 0x2000) / 0x80), word = Int((offset - 0x2000) % 0x80 / 4)
                if word < 3 { enable[c][word] = word == 0 ? v & ~1 : v }
            case 0x20_0000..<0x20_0000 + 0x1000 * UInt64(contextCount):
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
        wake(rose)
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
              s.enable.count == contextCount, s.enable.allSatisfy({ $0.count == 3 }),
              s.threshold.count == contextCount else {
            throw BoardError.badConfiguration("PLIC state has the wrong shape (\(s.threshold.count) contexts, this board has \(contextCount))")
        }
        lock.withLock {
            priority = s.priority; level = s.levels; pending = s.pending; claimed = s.claimed
            enable = s.enable; threshold = s.threshold
            _ = update()
        }
    }
}

extension PLIC: HartExternalInputs {
    public func externalInterrupts(hart: UInt64) -> UInt64 {
        let bits = outputBits.load(ordering: .acquiring) >> (2 * hart)
        return (bits & 1 != 0 ? CSRBits.meip : 0) | (bits & 2 != 0 ? CSRBits.seip : 0)
    }

    public func onAssert(hart: UInt64, _ wake: @escaping @Sendable () -> Void) {
        guard hart < UInt64(hartCount) else { return }
        lock.withLock { wakeups[Int(hart)] = wake }
    }
}

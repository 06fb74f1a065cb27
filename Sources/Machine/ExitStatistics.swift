// ExitReason and ExitStatistics: why a VCPU left its instruction loop, counted per reason and
// printable like `kvm_stat`.

/// Why a VCPU returned control to the VMM.
public enum ExitReason: String, CaseIterable, Codable, Sendable {
    /// Guest read from an MMIO range.
    case mmioRead = "mmio_read"
    /// Guest wrote to an MMIO range.
    case mmioWrite = "mmio_write"
    /// A control/status register access (CSR on RISC-V, MSR/CR on x86).
    case systemRegister = "csr"
    /// A return from a trap handler (mret/sret).
    case trapReturn = "xret"
    /// The guest waits for an interrupt (wfi/hlt).
    case halt = "wfi"
    /// A TLB flush request (sfence.vma/invlpg).
    case tlbFlush = "sfence_vma"
    /// A hypercall or environment call (ecall into the SBI).
    case hypercall = "ecall"
    /// An instruction cache flush (fence.i).
    case instructionFence = "fence_i"
    /// An interrupt was injected into the guest.
    case interrupt = "irq_injected"
    /// An exception the guest takes itself (page fault, illegal instruction, ...).
    case exception = "exception"
    /// The instruction budget ran out (a chance for the VMM to poll timers and devices).
    case budget = "budget"
    /// The guest asked to power off or reset.
    case shutdown = "shutdown"

    /// Position in `allCases`, used as the counter index.
    @inlinable public var index: Int {
        switch self {
        case .mmioRead: return 0
        case .mmioWrite: return 1
        case .systemRegister: return 2
        case .trapReturn: return 3
        case .halt: return 4
        case .tlbFlush: return 5
        case .hypercall: return 6
        case .instructionFence: return 7
        case .interrupt: return 8
        case .exception: return 9
        case .budget: return 10
        case .shutdown: return 11
        }
    }
}

/// Counts of exits by reason.
public struct ExitStatistics: Codable, Sendable, Equatable {
    /// Counts indexed by `ExitReason.index` (a fixed array: recording never allocates).
    public private(set) var counts: [UInt64] = Array(repeating: 0, count: ExitReason.allCases.count)

    /// All zero.
    public init() {}

    /// Adds one exit.
    public mutating func record(_ reason: ExitReason, count: UInt64 = 1) {
        counts[reason.index] &+= count
    }

    /// Adds another vCPU's counts.
    public mutating func add(_ other: ExitStatistics) {
        for i in counts.indices where i < other.counts.count { counts[i] &+= other.counts[i] }
    }

    /// The count for one reason.
    public subscript(reason: ExitReason) -> UInt64 { counts[reason.index] }

    /// Sum over all reasons.
    public var total: UInt64 { counts.reduce(0, &+) }

    /// Counts by reason name (for JSON output).
    public var byName: [String: UInt64] {
        Dictionary(uniqueKeysWithValues: ExitReason.allCases.map { ($0.rawValue, self[$0]) })
    }

    /// A `kvm_stat`-like table: one line per reason with a non-zero count, largest first.
    public func formatted(title: String = "exits") -> String {
        var lines = ["\(title.rightPadded(20)) \(String(total).leftPadded(12))"]
        let rows = ExitReason.allCases.map { ($0.rawValue, self[$0]) }
            .filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }
        for (name, n) in rows {
            lines.append("  \(name.rightPadded(18)) \(String(n).leftPadded(12))")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func rightPadded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

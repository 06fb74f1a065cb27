// The rows `switchboard bench cpu` can measure, with the names --rows takes.

/// One row of `bench cpu`: a guest workload (or the Linux boot) run on every engine.
enum CPUBenchRowKind: String, CaseIterable {
    case integer
    case fp
    case memory
    case linux

    /// What the row runs, for the table's key.
    var title: String {
        switch self {
        case .integer: return "integer (MIPS)"
        case .fp: return "floating point (MIPS)"
        case .memory: return "memory, Sv39 (MIPS)"
        case .linux: return "Linux boot to prompt (s)"
        }
    }

    /// The guest behind the row, for the text and JSON.
    var guest: String {
        switch self {
        case .integer: return "Tools/riscv/bench.c: CRC-32, integer matrix multiply, byte shuffles (M-mode, RV64IMAC)"
        case .fp: return "Tools/riscv/fpbench.c: n-body steps (double fma, divide, sqrt), single-precision fma matrix multiply, conversions and compares (M-mode, RV64GC)"
        case .memory: return "Tools/riscv/membench.c: page-stride sweeps and random read-modify-writes over shuffled 4 KiB pages (S-mode, Sv39)"
        case .linux: return "the Debian-built Linux guest (Tools/guest-linux), 1 vCPU, to its shell prompt"
        }
    }

    /// The rows named in a comma-separated --rows value.
    static func parse(_ list: String) throws -> [CPUBenchRowKind] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw CPUBenchError("--rows: name at least one row") }
        var rows: [CPUBenchRowKind] = []
        for name in names {
            guard let row = CPUBenchRowKind(rawValue: name) else {
                throw CPUBenchError("--rows: no row named \"\(name)\" (rows: \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if !rows.contains(row) { rows.append(row) }
        }
        return rows
    }
}

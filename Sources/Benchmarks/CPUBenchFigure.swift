// One engine's figure in one row of `bench cpu`.

/// What one engine measured for one row: MIPS for the guest workloads, seconds for the boot.
struct CPUBenchFigure {
    /// Guest instructions retired (ours: the hart's count; QEMU: the guest's minstret in a run with -icount).
    var instructions: UInt64?
    /// Wall seconds of the measured run (QEMU: the full run, start-up not yet subtracted).
    var seconds: Double
    /// Million guest instructions a second (QEMU: its start-up subtracted).
    var mips: Double?
    /// The checksum line the guest printed.
    var checksum: String?
    /// Figures of this engine only (blocks translated, QEMU's start-up, single boots).
    var extra: [String: Any] = [:]

    var json: [String: Any] {
        var d = extra
        d["seconds"] = round3(seconds)
        if let instructions { d["instructions"] = instructions }
        if let mips { d["mips"] = round3(mips) }
        if let checksum { d["checksum"] = checksum }
        return d
    }
}

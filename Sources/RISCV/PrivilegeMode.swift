// Privilege modes, trap causes and the mstatus/mip bit layout of the RISC-V privileged spec.

/// A RISC-V privilege mode.
public enum PrivilegeMode: UInt8, Codable, Sendable, Comparable {
    /// User mode.
    case user = 0
    /// Supervisor mode.
    case supervisor = 1
    /// Machine mode.
    case machine = 3

    /// Orders modes by privilege.
    public static func < (a: PrivilegeMode, b: PrivilegeMode) -> Bool { a.rawValue < b.rawValue }
}

/// Synchronous exception causes (mcause values without the interrupt bit).
public enum ExceptionCause: UInt64, Sendable, Error {
    case instructionMisaligned = 0, instructionAccessFault = 1, illegalInstruction = 2, breakpoint = 3
    case loadMisaligned = 4, loadAccessFault = 5, storeMisaligned = 6, storeAccessFault = 7
    case ecallFromU = 8, ecallFromS = 9, ecallFromM = 11
    case instructionPageFault = 12, loadPageFault = 13, storePageFault = 15
}

/// Bit positions and masks of mstatus, mip/mie and satp.
public enum CSRBits {
    public static let sie: UInt64 = 1 << 1, mie: UInt64 = 1 << 3, spie: UInt64 = 1 << 5
    public static let mpie: UInt64 = 1 << 7, spp: UInt64 = 1 << 8
    public static let mppShift: UInt64 = 11, mpp: UInt64 = 3 << 11
    public static let mprv: UInt64 = 1 << 17, sum: UInt64 = 1 << 18, mxr: UInt64 = 1 << 19
    public static let tvm: UInt64 = 1 << 20, tw: UInt64 = 1 << 21, tsr: UInt64 = 1 << 22
    public static let uxl: UInt64 = 2 << 32, sxl: UInt64 = 2 << 34
    /// mstatus.FS (Off 0, Initial 1, Clean 2, Dirty 3) and SD (FS == Dirty; XS and VS are 0).
    public static let fs: UInt64 = 3 << 13, fsDirty: UInt64 = 3 << 13, sd: UInt64 = 1 << 63
    /// mstatus bits software may write.
    public static let mstatusWritable: UInt64 = sie | mie | spie | mpie | spp | mpp | mprv | sum | mxr | tvm | tw | tsr | fs
    /// The sstatus view of mstatus.
    public static let sstatusMask: UInt64 = sie | spie | spp | sum | mxr | (3 << 32) | (1 << 63) | (3 << 13) | (3 << 15)
    /// sstatus bits S-mode may write.
    public static let sstatusWritable: UInt64 = sie | spie | spp | sum | mxr | fs

    /// `status` with SD recomputed from its FS field.
    @inline(__always) public static func withSD(_ status: UInt64) -> UInt64 {
        status & fs == fsDirty ? status | sd : status & ~sd
    }

    public static let ssip: UInt64 = 1 << 1, msip: UInt64 = 1 << 3, stip: UInt64 = 1 << 5
    public static let mtip: UInt64 = 1 << 7, seip: UInt64 = 1 << 9, meip: UInt64 = 1 << 11
    /// Supervisor-level interrupt bits.
    public static let sInterrupts: UInt64 = ssip | stip | seip
    /// All implemented interrupt bits.
    public static let allInterrupts: UInt64 = 0xAAA
    /// medeleg bits that can be set (ecall from M cannot be delegated).
    public static let medelegWritable: UInt64 = 0xB3FF
}

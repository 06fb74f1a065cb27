// GuestELF: tiny RISC-V guests written as instruction words and wrapped in a one-segment ELF,
// for benchmarks and tests that need a guest with a known behaviour (an endless loop, a
// memory-dirtying loop) without a compiler.
import RISCV

/// Builds minimal 64-bit RISC-V ELF images.
public enum GuestELF {
    /// An ELF whose single PT_LOAD segment at `base` (also the entry) holds `words`.
    public static func image(_ words: [UInt32], base: UInt64 = 0x8000_0000) -> [UInt8] {
        let code = words.count * 4
        var e = [UInt8](repeating: 0, count: 120 + code)
        func put(_ v: UInt64, _ at: Int, _ n: Int) { for i in 0..<n { e[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        e[0] = 0x7f; e[1] = 0x45; e[2] = 0x4c; e[3] = 0x46; e[4] = 2; e[5] = 1; e[6] = 1 // ELF64, LSB, v1
        put(2, 16, 2); put(243, 18, 2); put(1, 20, 4); put(base, 24, 8); put(64, 32, 8)   // EXEC, RISC-V, entry, phoff
        put(64, 52, 2); put(56, 54, 2); put(1, 56, 2)                                     // ehsize, phentsize, phnum
        put(1, 64, 4); put(5, 68, 4); put(120, 72, 8); put(base, 80, 8); put(base, 88, 8) // PT_LOAD R+X, offset, vaddr, paddr
        put(UInt64(code), 96, 8); put(UInt64(code), 104, 8); put(4, 112, 8)               // filesz, memsz, align
        for (i, w) in words.enumerated() { put(UInt64(w), 120 + 4 * i, 4) }
        return e
    }

    /// `j .`: spins forever at the entry.
    public static let endlessLoop = image([0x0000_006f])

    /// Stores a counter (a0) into every page of 8 MiB from 0x8010_0000, over and over,
    /// incrementing it after each sweep: every page is dirty in every migration round.
    public static let memoryDirtier = image([
        0x0000_0417, // auipc s0, 0
        0x0010_03b7, // lui   t2, 0x100
        0x0074_0433, // add   s0, s0, t2      s0 = 0x8010_0000
        0x0080_0337, // lui   t1, 0x800
        0x0064_0333, // add   t1, s0, t1      t1 = end (8 MiB on)
        0x0000_1e37, // lui   t3, 1           page size
        0x0004_0293, // mv    t0, s0
        0x00a2_b023, // 1: sd a0, 0(t0)
        0x01c2_82b3, // add   t0, t0, t3
        0xfe62_ece3, // bltu  t0, t1, 1b
        0x0015_0513, // addi  a0, a0, 1
        0xfedf_f06f, // j     to `mv t0, s0`
    ])
}

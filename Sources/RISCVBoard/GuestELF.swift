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

    /// Jumps in M-mode to 0x800 (no memory there) with mtvec = 0x800: an endless chain of
    /// instruction access faults at a low address.
    public static let lowFaultLoop = image([
        0x0010_0293, // li    t0, 1
        0x00b2_9293, // slli  t0, t0, 11      t0 = 0x800
        0x3052_9073, // csrw  mtvec, t0
        0x0002_8067, // jr    t0
    ])

    /// Runs S-mode code at virtual page 0 under Sv39: virtual pages 0x0000 and 0x1000 both map
    /// the code page (PA 0x8000_0000), and the loop, in either page, counts in the dword at
    /// 0x8000_2000, unmaps and remaps the other virtual page (two sfence.vma exits) and jumps to
    /// itself there. Page tables at +64 KiB; a 1 GiB identity page keeps RAM reachable. Forever.
    public static let lowAddressRemapper = image([
        0x0000_0417, // auipc s0, 0            s0 = code page
        0x0001_02b7, // lui   t0, 0x10
        0x0054_0933, // add   s2, s0, t0       root table
        0x0001_12b7, // lui   t0, 0x11
        0x0054_09b3, // add   s3, s0, t0       level-1 table
        0x0001_22b7, // lui   t0, 0x12
        0x0054_0a33, // add   s4, s0, t0       level-0 table
        0x2000_02b7, // lui   t0, 0x20000
        0x0cf2_8293, // addi  t0, t0, 0xcf     1 GiB identity page at 0x8000_0000, VRWXAD
        0x0059_3823, // sd    t0, 16(s2)       root[2]
        0x00c9_d293, // srli  t0, s3, 12
        0x00a2_9293, // slli  t0, t0, 10
        0x0012_e293, // ori   t0, t0, 1
        0x0059_3023, // sd    t0, 0(s2)        root[0] -> level 1
        0x00ca_5293, // srli  t0, s4, 12
        0x00a2_9293, // slli  t0, t0, 10
        0x0012_e293, // ori   t0, t0, 1
        0x0059_b023, // sd    t0, 0(s3)        level1[0] -> level 0
        0x00c4_5a93, // srli  s5, s0, 12
        0x00aa_9a93, // slli  s5, s5, 10
        0x0cba_ea93, // ori   s5, s5, 0xcb     code page PTE: V R X A D
        0x015a_3023, // sd    s5, 0(s4)        VA 0x0000 -> code page
        0x015a_3423, // sd    s5, 8(s4)        VA 0x1000 -> code page
        0xfff0_0293, // li    t0, -1
        0x3b02_9073, // csrw  pmpaddr0, t0
        0x01f0_0293, // li    t0, 0x1f
        0x3a02_9073, // csrw  pmpcfg0, t0      PMP: all RWX for S
        0x00c9_5293, // srli  t0, s2, 12
        0x0080_0313, // li    t1, 8
        0x03c3_1313, // slli  t1, t1, 60
        0x0062_e2b3, // or    t0, t0, t1
        0x1802_9073, // csrw  satp, t0         Sv39
        0x0010_0293, // li    t0, 1
        0x00b2_9293, // slli  t0, t0, 11
        0x3002_a073, // csrs  mstatus, t0      MPP = S
        0x0000_0b17, // auipc s6, 0
        0x01cb_0b13, // addi  s6, s6, 0x1c
        0x408b_0b33, // sub   s6, s6, s0       s6 = the loop's offset = its VA in page 0
        0x341b_1073, // csrw  mepc, s6
        0x0000_22b7, // lui   t0, 2
        0x0054_04b3, // add   s1, s0, t0       counter at 0x8000_2000
        0x3020_0073, // mret
        0x0015_0513, // loop: addi a0, a0, 1
        0x00a4_b023, // sd    a0, 0(s1)
        0x0000_0397, // auipc t2, 0
        0x00c3_d393, // srli  t2, t2, 12       this virtual page (0 or 1)
        0x0013_c393, // xori  t2, t2, 1        the other one
        0x0033_9e13, // slli  t3, t2, 3
        0x01ca_0e33, // add   t3, s4, t3       its PTE
        0x000e_3023, // sd    zero, 0(t3)      unmap it
        0x1200_0073, // sfence.vma
        0x015e_3023, // sd    s5, 0(t3)        map it again
        0x1200_0073, // sfence.vma
        0x00c3_9393, // slli  t2, t2, 12
        0x0163_83b3, // add   t2, t2, s6
        0x0003_8067, // jr    t2               the same loop in the other virtual page
    ])
}

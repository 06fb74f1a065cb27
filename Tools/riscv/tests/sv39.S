/* Sv39: 4 KiB, 2 MiB and 1 GiB pages, hardware A/D updates, R/W/X/U permissions with SUM and
 * MXR, page faults with the right cause and mtval, non-canonical addresses, misaligned
 * superpages, sfence.vma, and MPRV loads from M-mode. */
#include "test.h"
#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_U 16
#define PTE_A 64
#define PTE_D 128
    .section .rodata
test_name: .asciz "sv39"
    .text
/* PTE for physical address in reg `pa` with flags into `out` */
#define MKPTE(out, pa, flags) srli out, pa, 12; slli out, out, 10; ori out, out, flags
tests:
    CLEARTRAP
    la s0, root
    la s1, l1
    la s2, l0
    /* root[2]: 1 GiB identity gigapage at 0x80000000, RWX A D */
    li t0, 0x80000000
    MKPTE(t1, t0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
    sd t1, 16(s0)
    /* root[0] -> l1, l1[0] -> l0 */
    MKPTE(t1, s1, PTE_V)
    sd t1, 0(s0)
    MKPTE(t1, s2, PTE_V)
    sd t1, 0(s1)
    /* l1[1]: 2 MiB page VA 0x200000 -> PA 0x80200000 RW A D */
    li t0, 0x80200000
    MKPTE(t1, t0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    sd t1, 8(s1)
    /* l1[2]: misaligned megapage (PA 0x80201000) */
    li t0, 0x80201000
    MKPTE(t1, t0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    sd t1, 16(s1)
    la s3, page_a
    /* l0[1]: 0x1000 -> page_a RW, A and D clear */
    MKPTE(t1, s3, PTE_V | PTE_R | PTE_W)
    sd t1, 8(s2)
    /* l0[2]: 0x2000 -> page_a read-only */
    MKPTE(t1, s3, PTE_V | PTE_R | PTE_A)
    sd t1, 16(s2)
    /* l0[3]: 0x3000 -> page_a user RW */
    MKPTE(t1, s3, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)
    sd t1, 24(s2)
    /* l0[4]: 0x4000 -> page_a execute-only */
    MKPTE(t1, s3, PTE_V | PTE_X | PTE_A)
    sd t1, 32(s2)
    /* l0[5]: invalid; l0[6]: W without R (reserved) */
    MKPTE(t1, s3, PTE_V | PTE_W | PTE_A | PTE_D)
    sd t1, 48(s2)
    /* marker data */
    li t0, 0x1111
    sd t0, 0(s3)
    li t0, 0x80200008
    li t1, 0x2222
    sd t1, 0(t0)
    /* satp = Sv39 | root ppn */
    srli t0, s0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    csrr a0, satp
    li gp, 1
    bne a0, t0, fail
    ENTER_MODE(1)
    /* 4 KiB page read sets A; then a write sets D */
    li a0, 0x1000
    ld a1, 0(a0)
    CHECK(2, a1, 0x1111)
    ld t0, 8(s2)
    andi t1, t0, PTE_A
    CHECK(3, t1, PTE_A)
    andi t1, t0, PTE_D
    CHECK(4, t1, 0)
    li a1, 0x3333
    sd a1, 8(a0)
    ld t0, 8(s2)
    andi t1, t0, PTE_D
    CHECK(5, t1, PTE_D)
    /* 2 MiB page */
    li a0, 0x200008
    ld a1, 0(a0)
    CHECK(6, a1, 0x2222)
    /* store to a read-only page */
    li a0, 0x2008
    sd a1, 0(a0)
    EXPECT_TRAP(7, 15, 0x2008)
    /* S reads a U page: fault without SUM, fine with it */
    li a0, 0x3000
    ld a1, 0(a0)
    EXPECT_TRAP(8, 13, 0x3000)
    li t0, 1 << 18
    csrs sstatus, t0
    sfence.vma
    ld a1, 0(a0)
    CHECK(9, a1, 0x1111)
    csrc sstatus, t0
    sfence.vma
    /* execute-only page: load faults without MXR, works with it */
    li a0, 0x4000
    ld a1, 0(a0)
    EXPECT_TRAP(10, 13, 0x4000)
    li t0, 1 << 19
    csrs sstatus, t0
    sfence.vma
    ld a1, 0(a0)
    CHECK(11, a1, 0x1111)
    csrc sstatus, t0
    sfence.vma
    /* invalid PTE, reserved W-without-R, misaligned superpage, non-canonical address */
    li a0, 0x5000
    lw a1, 0(a0)
    EXPECT_TRAP(12, 13, 0x5000)
    li a0, 0x6000
    lw a1, 0(a0)
    EXPECT_TRAP(13, 13, 0x6000)
    li a0, 0x400000
    lw a1, 0(a0)
    EXPECT_TRAP(14, 13, 0x400000)
    li a0, 0x8000000000
    sw a1, 0(a0)
    EXPECT_TRAP(15, 15, 0x8000000000)
    /* fetch from a page without X */
    la t0, 1f
    la t1, trap_resume
    sd t0, 0(t1)
    li a0, 0x1000
    jr a0
1:  EXPECT_TRAP(16, 12, 0x1000)
    ENTER_MODE(1)
    /* remap 0x1000 to page_b: stale until sfence.vma, then visible */
    la t0, page_b
    li t1, 0x4444
    sd t1, 0(t0)
    MKPTE(t1, t0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    sd t1, 8(s2)
    sfence.vma
    li a0, 0x1000
    ld a1, 0(a0)
    CHECK(17, a1, 0x4444)
    BACK_TO_M
    /* MPRV: an M-mode load translated as S */
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, (1 << 11) | (1 << 17)
    csrs mstatus, t0
    li a0, 0x1000
    ld a1, 0(a0)
    li t0, 1 << 17
    csrc mstatus, t0
    CHECK(18, a1, 0x4444)
    /* U mode runs only on U pages: the identity gigapage is not U */
    la t0, 2f
    la t1, trap_resume
    sd t0, 0(t1)
    ENTER_MODE(0)
    nop
2:  EXPECT_CAUSE(19, 12)
    csrw satp, zero
    j pass

    .data
    .balign 4096
root: .space 4096
l1: .space 4096
l0: .space 4096
page_a: .space 4096
page_b: .space 4096

/* Misaligned loads and stores complete, as on QEMU: every width and offset, plain and
 * compressed, against byte-by-byte references; across a page boundary (Sv39, S-mode) they
 * work when both pages are mapped, and fault with the address of the first page that faults
 * (the access itself when that is the first page, else the second page's first byte), a
 * faulting store writing nothing. AMOs and LR still raise their misaligned exceptions. */
#include "test.h"
#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_A 64
#define PTE_D 128
#define MKPTE(out, pa, flags) srli out, pa, 12; slli out, out, 10; ori out, out, flags
#define SEXT(reg, size) slli reg, reg, 64 - 8 * (size); srai reg, reg, 64 - 8 * (size)
#define NOEXT(reg, size)
#define VALUE 0x8877665544332211
/* a trap with `cause` whose tval is the value of register `reg` */
#define EXPECT_TRAP_AT(n, cause, reg) \
    CHECKVAR(n, trap_cause, cause); LOADVAR(t5, trap_tval); bne t5, reg, fail; CHECKVAR(n, trap_count, 1); CLEARTRAP
/* an AMO's misaligned trap: the spec's store/AMO cause 6 (ours); QEMU 7.2 without MTTCG
 * performs an AMO as load-op-store and reports the load's cause 4 */
#define EXPECT_AMO_TRAP_AT(n, reg) \
    li gp, n; LOADVAR(t5, trap_cause); li t6, 6; beq t5, t6, 1f; li t6, 4; bne t5, t6, fail; \
1:  LOADVAR(t5, trap_tval); bne t5, reg, fail; CHECKVAR(n, trap_count, 1); CLEARTRAP

/* Load test n: `insn` at s1 must equal the reference built from byte loads. */
#define TLOAD(n, insn, size, ext) \
    li gp, n; insn a3, 0(s1); mv a1, s1; li a2, size; call ref_load; ext(a0, size); bne a3, a0, fail
/* Store test n: `insn` of VALUE at s1 in scratch, byte stores at the same offset in shadow;
 * then all 64 bytes of both must agree. */
#define TSTORE(n, insn, size) \
    li gp, n; call fill; li a3, VALUE; insn a3, 0(s1); sub a1, s1, s0; add a1, a1, s2; li a2, size; \
    call ref_store; call compare
#define LOADS(n, off) \
    addi s1, s0, off; \
    TLOAD(n + 1, lh, 2, SEXT); TLOAD(n + 2, lhu, 2, NOEXT); TLOAD(n + 3, lw, 4, SEXT); \
    TLOAD(n + 4, lwu, 4, NOEXT); TLOAD(n + 5, ld, 8, NOEXT)
#define STORES(n, off) \
    addi s1, s0, off; TSTORE(n + 1, sh, 2); TSTORE(n + 2, sw, 4); TSTORE(n + 3, sd, 8)

    .section .rodata
test_name: .asciz "misaligned"
    .text
tests:
    CLEARTRAP
    la s0, area
    la s2, shadow
    call fill
    .option push
    .option norvc
    LOADS(100, 1)
    LOADS(110, 2)
    LOADS(120, 3)
    LOADS(130, 4)
    LOADS(140, 5)
    LOADS(150, 6)
    LOADS(160, 7)
    STORES(200, 1)
    STORES(210, 2)
    STORES(220, 3)
    STORES(230, 4)
    STORES(240, 5)
    STORES(250, 6)
    STORES(260, 7)
    .option pop
    /* compressed forms: c.lw/c.ld/c.sw/c.sd on s1, c.lwsp/c.ldsp/c.swsp/c.sdsp on sp */
    call fill
    addi s1, s0, 3
    li gp, 300
    c.lw a3, 4(s1)
    addi a1, s1, 4; li a2, 4; call ref_load; SEXT(a0, 4); bne a3, a0, fail
    li gp, 301
    c.ld a3, 8(s1)
    addi a1, s1, 8; li a2, 8; call ref_load; bne a3, a0, fail
    li gp, 302
    call fill; li a3, VALUE
    c.sw a3, 4(s1)
    addi a1, s2, 7; li a2, 4; call ref_store; call compare
    li gp, 303
    call fill; li a3, VALUE
    c.sd a3, 8(s1)
    addi a1, s2, 11; li a2, 8; call ref_store; call compare
    li gp, 304
    call fill
    mv s3, sp
    addi sp, s0, 5
    c.lwsp a3, 4(sp)
    c.ldsp a4, 8(sp)
    mv sp, s3
    addi a1, s0, 9; li a2, 4; call ref_load; SEXT(a0, 4); bne a3, a0, fail
    li gp, 305
    addi a1, s0, 13; li a2, 8; call ref_load; bne a4, a0, fail
    li gp, 306
    call fill; li a3, VALUE
    addi sp, s0, 5
    c.swsp a3, 4(sp)
    mv sp, s3
    addi a1, s2, 9; li a2, 4; call ref_store; call compare
    li gp, 307
    call fill; li a3, VALUE
    addi sp, s0, 5
    c.sdsp a3, 8(sp)
    mv sp, s3
    addi a1, s2, 13; li a2, 8; call ref_store; call compare
    /* no trap so far */
    CHECKVAR(308, trap_count, 0)

    /* AMOs and LR still trap with their misaligned causes and the address */
    addi a1, s0, 1
    amoadd.w a0, a0, (a1)
    EXPECT_AMO_TRAP_AT(400, a1)
    addi a1, s0, 4
    amoswap.d a0, a0, (a1)
    EXPECT_AMO_TRAP_AT(401, a1)
    addi a1, s0, 2
    lr.w a0, (a1)
    EXPECT_TRAP_AT(402, 4, a1)
    addi a1, s0, 4
    lr.d a0, (a1)
    EXPECT_TRAP_AT(403, 4, a1)

    /* Sv39: VA 0x1000 -> page_a, 0x2000 invalid, 0x3000 -> page_a, 0x4000 -> page_b;
     * 1 GiB identity page at 0x80000000 for code and data. */
    la s4, root
    la s5, l1
    la s6, l0
    li t0, 0x80000000
    MKPTE(t1, t0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
    sd t1, 16(s4)
    MKPTE(t1, s5, PTE_V)
    sd t1, 0(s4)
    MKPTE(t1, s6, PTE_V)
    sd t1, 0(s5)
    la s7, page_a
    la s8, page_b
    MKPTE(t1, s7, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    sd t1, 8(s6)
    sd t1, 24(s6)
    MKPTE(t1, s8, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    sd t1, 32(s6)
    /* page_a ends with 0xa1..0xa8 (bytes 0xff8..0xfff), page_b starts with 0xb1..0xb8 */
    li t0, 0xa8a7a6a5a4a3a2a1
    li t1, 0xff8
    add t1, s7, t1
    sd t0, 0(t1)
    li t0, 0xb8b7b6b5b4b3b2b1
    sd t0, 0(s8)
    srli t0, s4, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    ENTER_MODE(1)
    /* both pages mapped: bytes from both */
    li a1, 0x3ffd
    ld a0, 0(a1)
    CHECK(500, a0, 0xb5b4b3b2b1a8a7a6)
    li a1, 0x3fff
    lw a0, 0(a1)
    CHECK(501, a0, 0xffffffffb3b2b1a8)
    li a1, 0x3ffe
    li a0, 0x1122334455667788
    sd a0, 0(a1)
    li a1, 0x3ff8
    ld a0, 0(a1)
    CHECK(502, a0, 0x7788a6a5a4a3a2a1)
    li a1, 0x4000
    ld a0, 0(a1)
    CHECK(503, a0, 0xb8b7112233445566)
    CHECKVAR(504, trap_count, 0)
    /* second page unmapped: the fault names its first byte; the store changes nothing */
    li a1, 0x1ffd
    ld a0, 0(a1)
    EXPECT_TRAP(505, 13, 0x2000)
    li a1, 0x1fff
    lh a0, 0(a1)
    EXPECT_TRAP(506, 13, 0x2000)
    li a1, 0x1ffc
    li a0, -1
    sw a0, 2(a1)
    EXPECT_TRAP(507, 15, 0x2000)
    li a1, 0x1ff8
    ld a0, 0(a1)
    CHECK(508, a0, 0x7788a6a5a4a3a2a1)
    /* first page unmapped: the fault names the access */
    li a1, 0x2ffd
    ld a0, 0(a1)
    EXPECT_TRAP(509, 13, 0x2ffd)
    li a1, 0x2ffe
    sd a0, 0(a1)
    EXPECT_TRAP(510, 15, 0x2ffe)
    BACK_TO_M
    csrw satp, zero
    sfence.vma
    j pass

/* a0 = the `a2` bytes at a1, little endian, from byte loads (clobbers t0, t1) */
ref_load:
    li a0, 0
    add t0, a1, a2
1:  addi t0, t0, -1
    lbu t1, 0(t0)
    slli a0, a0, 8
    or a0, a0, t1
    bne t0, a1, 1b
    ret

/* the low `a2` bytes of a3 to a1, byte by byte (clobbers t0, t1, t2) */
ref_store:
    mv t0, a3
    mv t1, a1
    add t2, a1, a2
1:  sb t0, 0(t1)
    srli t0, t0, 8
    addi t1, t1, 1
    bne t1, t2, 1b
    ret

/* scratch (s0) and shadow (s2): the same 64 varied bytes, most of them >= 0x80 */
fill:
    li t0, 0x83
    li t1, 0
    li t2, 64
1:  add t3, s0, t1
    sb t0, 0(t3)
    add t3, s2, t1
    sb t0, 0(t3)
    addi t0, t0, 0x1d
    andi t0, t0, 0xff
    addi t1, t1, 1
    bne t1, t2, 1b
    ret

/* scratch must equal shadow (gp is the test number) */
compare:
    li t1, 0
    li t2, 64
1:  add t3, s0, t1
    ld t4, 0(t3)
    add t3, s2, t1
    ld t5, 0(t3)
    bne t4, t5, fail
    addi t1, t1, 8
    bne t1, t2, 1b
    ret

    .data
    .balign 8
area: .space 64
shadow: .space 64
    .balign 4096
root: .space 4096
l1: .space 4096
l0: .space 4096
page_a: .space 4096
page_b: .space 4096

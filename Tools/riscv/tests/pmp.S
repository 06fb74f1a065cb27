/* PMP: a NAPOT entry without permissions makes S-mode loads, stores and fetches fault with
 * access faults while M-mode is unaffected; TOR ranges; a locked entry binds M-mode too. */
#include "test.h"
    .section .rodata
test_name: .asciz "pmp"
    .text
tests:
    CLEARTRAP
    /* entry 0: NAPOT 4 KiB over `guarded`, no permissions */
    la s0, guarded
    srli t0, s0, 2
    ori t0, t0, 0x1ff
    csrw pmpaddr0, t0
    /* entry 1/2: TOR [guarded2, guarded2 + 4096) read-only */
    la s1, guarded2
    srli t0, s1, 2
    csrw pmpaddr1, t0
    li t1, 4096 >> 2
    add t0, t0, t1
    csrw pmpaddr2, t0
    li t0, (0x18) | (0x00 << 8) | (0x09 << 16)
    csrs pmpcfg0, t0
    csrr a0, pmpcfg0
    li t1, 0xffffff
    and a0, a0, t1
    CHECK(1, a0, 0x090018)
    /* M-mode still reads and writes */
    li t0, 5
    sd t0, 0(s0)
    ld a0, 0(s0)
    CHECK(2, a0, 5)
    ENTER_MODE(1)
    ld a0, 0(s0)
    LOADVAR(a1, trap_tval)
    li gp, 3
    bne a1, s0, fail
    EXPECT_CAUSE(3, 5)
    sd a0, 8(s0)
    EXPECT_CAUSE(4, 7)
    ld a0, 0(s1)
    CHECKVAR(5, trap_count, 0)
    sd a0, 0(s1)
    EXPECT_CAUSE(6, 7)
    /* outside the entries: entry 15 allows everything */
    la a0, scratch
    ld a1, 0(a0)
    CHECKVAR(7, trap_count, 0)
    BACK_TO_M
    /* fetch from a guarded page in S */
    la t0, 3f
    la t1, trap_resume
    sd t0, 0(t1)
    ENTER_MODE(1)
    jr s0
3:  EXPECT_CAUSE(8, 1)
    /* lock entry 0: now M-mode faults too, and the entry cannot be changed */
    li t0, 0x80
    csrs pmpcfg0, t0
    ld a0, 0(s0)
    EXPECT_CAUSE(9, 5)
    csrw pmpaddr0, zero
    csrr a0, pmpaddr0
    li gp, 10
    beqz a0, fail
    j pass

    .data
    .balign 4096
guarded: .space 4096
guarded2: .space 4096

/* RV64A: LR/SC (success and failure) and every AMO in word and doubleword form. */
#include "test.h"
    .section .rodata
test_name: .asciz "rv64a"
    .text
#define AMO(n, op, init, src, old, new) la s0, scratch; li t0, init; sd t0, 0(s0); li a1, src; op a0, a1, (s0); CHECK(n, a0, old); ld a2, 0(s0); CHECK(n, a2, new)
#define AMOW(n, op, init, src, old, new) la s0, scratch; li t0, init; sd t0, 0(s0); li a1, src; op a0, a1, (s0); CHECK(n, a0, old); lwu a2, 0(s0); CHECK(n, a2, new)
tests:
    AMO(1, amoswap.d, 5, 9, 5, 9)
    AMO(2, amoadd.d, 5, 9, 5, 14)
    AMO(3, amoxor.d, 5, 3, 5, 6)
    AMO(4, amoand.d, 5, 3, 5, 1)
    AMO(5, amoor.d, 5, 3, 5, 7)
    AMO(6, amomin.d, -5, 3, -5, -5)
    AMO(7, amomax.d, -5, 3, -5, 3)
    AMO(8, amominu.d, -5, 3, -5, 3)
    AMO(9, amomaxu.d, -5, 3, -5, -5)
    AMOW(11, amoswap.w, 5, 9, 5, 9)
    AMOW(12, amoadd.w, 0xffffffff, 1, -1, 0)
    AMOW(13, amoxor.w, 5, 3, 5, 6)
    AMOW(14, amoand.w, 5, 3, 5, 1)
    AMOW(15, amoor.w, 5, 3, 5, 7)
    AMOW(16, amomin.w, 0xfffffffb, 3, -5, 0xfffffffb)
    AMOW(17, amomax.w, 0xfffffffb, 3, -5, 3)
    AMOW(18, amominu.w, 0xfffffffb, 3, -5, 3)
    AMOW(19, amomaxu.w, 0xfffffffb, 3, -5, 0xfffffffb)
    /* LR/SC success */
    la s0, scratch
    li t0, 10
    sd t0, 0(s0)
    lr.d a0, (s0)
    addi a0, a0, 1
    sc.d a1, a0, (s0)
    CHECK(20, a1, 0)
    ld a0, 0(s0)
    CHECK(21, a0, 11)
    /* SC without a reservation fails */
    sc.d a1, a0, (s0)
    li gp, 22
    beqz a1, fail
    /* LR/SC word */
    lr.w a0, (s0)
    CHECK(23, a0, 11)
    li a0, -1
    sc.w a1, a0, (s0)
    CHECK(24, a1, 0)
    lw a0, 0(s0)
    CHECK(25, a0, -1)
    /* a store between LR and SC breaks the reservation */
    lr.d a0, (s0)
    sd zero, 0(s0)
    sc.d a1, a0, (s0)
    li gp, 26
    beqz a1, fail
    j pass

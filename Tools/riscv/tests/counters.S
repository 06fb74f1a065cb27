/* Counter and debug-trigger CSRs as a guest sees them on QEMU too: a write to minstret or
 * mcycle sets that counter only (the other keeps counting), cycle/instret follow them; the
 * mcountinhibit freezes a counter and clearing it resumes counting; the
 * trigger CSRs exist and answer a probe consistently (tselect keeps only valid indexes, the
 * selected trigger's tdata1 type is one tinfo lists), tcontrol/mcontext/dcsr do not exist.
 * QEMU counts host ticks in both counters, so values are checked as ranges, not exactly. */
#include "test.h"
#define BIG (1 << 40)
#define BIGGER (1 << 41)
#define SLACK (1 << 32)
/* n: lo <= reg < lo + SLACK (unsigned) */
#define CHECK_NEAR(n, reg, lo) li gp, n; li t6, lo; bltu reg, t6, fail; sub t5, reg, t6; li t6, SLACK; bgeu t5, t6, fail
    .section .rodata
test_name: .asciz "counters"
    .text
tests:
    CLEARTRAP
    /* minstret takes the value written and keeps counting from it */
    li t0, BIG
    csrw minstret, t0
    csrr a0, minstret
    CHECK_NEAR(1, a0, BIG)
    csrr a1, minstret
    li gp, 2
    bltu a1, a0, fail
    /* a write to mcycle leaves minstret alone */
    csrw mcycle, 5
    csrr a0, minstret
    CHECK_NEAR(3, a0, BIG)
    csrr a0, mcycle
    CHECK_NEAR(4, a0, 5)
    /* and a write to minstret leaves mcycle alone */
    li t0, BIGGER
    csrw mcycle, t0
    csrw minstret, 7
    csrr a0, mcycle
    CHECK_NEAR(5, a0, BIGGER)
    csrr a0, minstret
    CHECK_NEAR(6, a0, 7)
    /* the unprivileged shadows read the same counters */
    rdcycle a0
    CHECK_NEAR(7, a0, BIGGER)
    rdinstret a0
    CHECK_NEAR(8, a0, 7)
    CHECKVAR(9, trap_count, 0)
    /* mcountinhibit.IR freezes minstret at the value written; clearing it resumes counting */
    li t0, 4
    csrs mcountinhibit, t0
    li t0, 1000
    csrw minstret, t0
    csrr a0, minstret
    CHECK(30, a0, 1000)
    nop
    nop
    csrr a0, minstret
    CHECK(31, a0, 1000)
    li t0, 4
    csrc mcountinhibit, t0
    csrr a0, minstret
    CHECK_NEAR(32, a0, 1000)
    nop
    csrr a1, minstret
    li gp, 33
    bgeu a0, a1, fail

    /* triggers: tselect 0 is accepted; what it selects is described consistently */
    csrw tselect, zero
    csrr a0, tselect
    CHECK(10, a0, 0)
    csrr a1, tdata1
    srli a1, a1, 60          /* type */
    csrr a2, tinfo
    srl a2, a2, a1
    andi a2, a2, 1
    CHECK(11, a2, 1)
    csrr a0, tdata2
    csrr a0, tdata3
    /* an index far beyond any trigger is not kept */
    li t0, 0x55
    csrw tselect, t0
    csrr a0, tselect
    li gp, 12
    beq a0, t0, fail
    /* disabling a trigger is harmless */
    csrw tselect, zero
    csrw tdata1, zero
    csrr a1, tdata1
    srli a1, a1, 60
    csrr a2, tinfo
    srl a2, a2, a1
    andi a2, a2, 1
    CHECK(13, a2, 1)
    CHECKVAR(14, trap_count, 0)
    /* registers of the debug spec that neither machine has: illegal instruction */
    csrr a0, 0x7a5           /* tcontrol */
    EXPECT_CAUSE(15, 2)
    csrr a0, 0x7a8           /* mcontext */
    EXPECT_CAUSE(16, 2)
    csrr a0, 0x7b0           /* dcsr: debug mode only */
    EXPECT_CAUSE(17, 2)
    /* the trigger CSRs are M-mode only */
    ENTER_MODE(1)
    csrr a0, tselect
    BACK_TO_M
    EXPECT_CAUSE(18, 2)
    j pass

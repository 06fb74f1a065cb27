/* Misaligned loads and stores trap with the address in mtval (QEMU emulates them instead, so
 * this test runs on Switchboard only). */
#include "test.h"
    .section .rodata
test_name: .asciz "misaligned"
    .text
tests:
    CLEARTRAP
    la s0, scratch
    lw a0, 1(s0)
    addi a1, s0, 1
    LOADVAR(a2, trap_tval)
    li gp, 1
    bne a1, a2, fail
    CHECKVAR(1, trap_cause, 4)
    CLEARTRAP
    sd a0, 4(s0)
    CHECKVAR(2, trap_cause, 6)
    CLEARTRAP
    amoadd.w a0, a0, (a1)
    CHECKVAR(3, trap_cause, 6)
    CLEARTRAP
    lh a0, 2(s0)
    CHECKVAR(4, trap_count, 0)
    j pass

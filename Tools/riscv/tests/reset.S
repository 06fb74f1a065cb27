/* Reset through the SiFive test device (0x7777): the machine restarts at the entry with RAM
 * kept, so the second boot finds the marker the first one left and passes. */
#include "test.h"
#define MARKER 0x80100000
    .section .rodata
test_name: .asciz "reset"
    .text
tests:
    li s0, MARKER
    ld a0, 0(s0)
    li t0, 0x5245424f4f54 /* "REBOOT" */
    beq a0, t0, 1f
    sd t0, 0(s0)
    /* reset: privilege and CSRs must come back to power-on values */
    li t0, 0x1234
    csrw mscratch, t0
    li t0, TESTDEV
    li t1, 0x7777
    sw t1, 0(t0)
2:  j 2b
1:  sd zero, 0(s0)
    csrr a0, satp
    CHECK(1, a0, 0)
    csrr a0, medeleg
    CHECK(2, a0, 0)
    j pass

/* RVC: every RV64C instruction outside the F/D loads and stores, written explicitly. */
#include "test.h"
    .section .rodata
test_name: .asciz "rvc"
    .text
    .option rvc
tests:
    c.li a0, -7
    CHECK(1, a0, -7)
    c.addi a0, 3
    CHECK(2, a0, -4)
    c.addiw a0, 1
    CHECK(3, a0, -3)
    c.lui a1, 0x1f
    CHECK(4, a1, 0x1f000)
    c.mv a2, a1
    CHECK(5, a2, 0x1f000)
    c.add a2, a1
    CHECK(6, a2, 0x3e000)
    c.slli a2, 4
    CHECK(7, a2, 0x3e0000)
    c.srli a2, 8
    CHECK(8, a2, 0x3e00)
    li a3, -64
    c.srai a3, 2
    CHECK(9, a3, -16)
    c.andi a3, 0x1c
    CHECK(10, a3, 0x10)
    li a4, 12
    li a5, 10
    mv s0, a4
    c.sub s0, a5
    CHECK(11, s0, 2)
    mv s0, a4
    c.xor s0, a5
    CHECK(12, s0, 6)
    mv s0, a4
    c.or s0, a5
    CHECK(13, s0, 14)
    mv s0, a4
    c.and s0, a5
    CHECK(14, s0, 8)
    li s0, 0x7fffffff
    li s1, 1
    c.addw s0, s1
    CHECK(15, s0, -0x80000000)
    li s0, 0
    c.subw s0, s1
    CHECK(16, s0, -1)
    /* stack-relative and register-relative loads/stores */
    addi sp, sp, -64
    li a0, 0x1122334455667788
    c.sdsp a0, 8(sp)
    c.ldsp a1, 8(sp)
    CHECK(17, a1, 0x1122334455667788)
    c.swsp a0, 16(sp)
    c.lwsp a1, 16(sp)
    CHECK(18, a1, 0x55667788)
    c.addi4spn s1, sp, 16
    c.lw a1, 0(s1)
    CHECK(19, a1, 0x55667788)
    c.sw a0, 4(s1)
    c.ld a1, 0(s1)
    CHECK(20, a1, 0x5566778855667788)
    c.sd a0, 8(s1)
    c.ld a1, 8(s1)
    CHECK(21, a1, 0x1122334455667788)
    c.addi16sp sp, 64
    /* jumps and branches */
    li s0, 0
    c.beqz s0, 1f
    j fail
1:  li s0, 1
    c.bnez s0, 1f
    j fail
1:  c.j 1f
    j fail
1:  la a0, 2f
    c.jr a0
    j fail
2:  la a0, 3f
    c.jalr a0
4:  j 5f
3:  la a1, 4b
    li gp, 22
    bne ra, a1, fail
    ret
5:  c.nop
    /* c.ebreak traps with cause 3 */
    CLEARTRAP
    c.ebreak
    la t0, trap_epc
    ld t1, 0(t0)
    CHECKVAR(23, trap_cause, 3)
    j pass

/* RV64I: every ALU, immediate, shift, compare, branch, jump, load and store instruction. */
#include "test.h"
    .section .rodata
test_name: .asciz "rv64i"
    .text
tests:
    TEST_RR(1, add, 5, 2, 3)
    TEST_RR(2, add, 0, -1, 1)
    TEST_RR(3, sub, -1, 2, 3)
    TEST_RR(4, sll, 0x80, 1, 7)
    TEST_RR(5, sll, 0x8000000000000000, 1, 127)
    TEST_RR(6, slt, 1, -5, 3)
    TEST_RR(7, slt, 0, 3, -5)
    TEST_RR(8, sltu, 0, -5, 3)
    TEST_RR(9, sltu, 1, 3, -5)
    TEST_RR(10, xor, 0xff0, 0xf0f, 0x0ff)
    TEST_RR(11, srl, 0x7fffffffffffffff, -1, 1)
    TEST_RR(12, sra, -1, -1, 63)
    TEST_RR(13, sra, -4, -16, 66)
    TEST_RR(14, or, 0xfff, 0xf0f, 0x0ff)
    TEST_RR(15, and, 0x00f, 0xf0f, 0x0ff)
    TEST_RI(16, addi, 1, 3, -2)
    TEST_RI(17, slti, 1, -3, -2)
    TEST_RI(18, sltiu, 1, 3, -2)
    TEST_RI(19, xori, -1, 0, -1)
    TEST_RI(20, ori, 0x7ff, 0x700, 0xff)
    TEST_RI(21, andi, 0x700, -1, 0x700)
    TEST_RI(22, slli, 0x100000000, 1, 32)
    TEST_RI(23, srli, 1, 0x8000000000000000, 63)
    TEST_RI(24, srai, -1, 0x8000000000000000, 63)
    TEST_RI(25, addiw, -0x80000000, 0x7fffffff, 1)
    TEST_RI(26, slliw, -0x80000000, 1, 31)
    TEST_RI(27, srliw, 0x7fffffff, -1, 1)
    TEST_RI(28, sraiw, -1, 0x80000000, 31)
    TEST_RR(29, addw, 0, 0xffffffff, 1)
    TEST_RR(30, subw, -1, 0, 1)
    TEST_RR(31, sllw, -0x80000000, 1, 63)
    TEST_RR(32, srlw, 1, 0x80000000, 31)
    TEST_RR(33, sraw, -1, 0x80000000, 31)
    /* lui / auipc */
    lui a0, 0x80000
    CHECK(40, a0, 0xffffffff80000000)
1:  auipc a0, 0
    la a1, 1b
    li gp, 41
    bne a0, a1, fail
    /* branches: each taken and not taken */
    li a1, 1
    li a2, 2
    li gp, 42
    beq a1, a2, fail
    bne a1, a1, fail
    blt a2, a1, fail
    bge a1, a2, fail
    bltu a2, a1, fail
    bgeu a1, a2, fail
    li gp, 43
    beq a1, a1, 2f
    j fail
2:  bne a1, a2, 2f
    j fail
2:  li a3, -1
    blt a3, a1, 2f
    j fail
2:  bge a1, a3, 2f
    j fail
2:  bltu a1, a3, 2f
    j fail
2:  bgeu a3, a1, 2f
    j fail
2:  /* jal / jalr link values */
    jal a0, 3f
3:  la a1, 3b
    li gp, 44
    bne a0, a1, fail
    la a1, 4f
    jalr a0, 1(a1)  /* low bit cleared */
4:  la a1, 4b
    li gp, 45
    bne a0, a1, fail
    /* loads and stores with sign/zero extension */
    la s0, scratch
    li a1, 0x8182838485868788
    sd a1, 0(s0)
    ld a0, 0(s0)
    CHECK(50, a0, 0x8182838485868788)
    lb a0, 0(s0)
    CHECK(51, a0, 0xffffffffffffff88)
    lbu a0, 0(s0)
    CHECK(52, a0, 0x88)
    lh a0, 2(s0)
    CHECK(53, a0, 0xffffffffffff8586)
    lhu a0, 2(s0)
    CHECK(54, a0, 0x8586)
    lw a0, 4(s0)
    CHECK(55, a0, 0xffffffff81828384)
    lwu a0, 4(s0)
    CHECK(56, a0, 0x81828384)
    sb zero, 0(s0)
    sh zero, 2(s0)
    ld a0, 0(s0)
    CHECK(57, a0, 0x8182838400008700)
    li a1, 0x11223344
    sw a1, 4(s0)
    ld a0, 0(s0)
    CHECK(58, a0, 0x1122334400008700)
    /* x0 stays zero */
    addi x0, x0, 5
    li gp, 59
    bnez x0, fail
    lw x0, 4(s0)
    bnez x0, fail
    /* fence and fence.i execute */
    fence
    fence.i
    /* self-modifying code: patch an addi's immediate, fence.i, execute */
    j 6f
    .balign 4
6:  la a1, 5f
    lw a2, 0(a1)
    li a3, 0xfff00000
    and a2, a2, a3
    not a3, a3
    lw a4, 0(a1)
    and a4, a4, a3
    li a5, 42 << 20
    or a4, a4, a5
    sw a4, 0(a1)
    fence.i
    .option push
    .option norvc
    .balign 4
5:  addi a0, zero, 7
    .option pop
    CHECK(60, a0, 42)
    /* the first store into a freshly entered code page (it drops the page's decoded
       instructions) must not change the length of the store itself: c.sw then c.li */
    j 7f
    .balign 4096
7:  la a1, 8f
    li a2, 0x55
    li a0, 0
    c.sw a2, 0(a1)
    c.li a0, 7
    c.nop
    CHECK(61, a0, 7)
    lw a3, 0(a1)
    CHECK(62, a3, 0x55)
    j pass
    .balign 4
8:  .word 0

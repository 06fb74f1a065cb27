/* RV64M: multiply, divide and remainder including the division-by-zero and overflow cases. */
#include "test.h"
    .section .rodata
test_name: .asciz "rv64m"
    .text
tests:
    TEST_RR(1, mul, 42, 6, 7)
    TEST_RR(2, mul, -42, -6, 7)
    TEST_RR(3, mulh, -1, -1, 1)
    TEST_RR(4, mulh, 0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff)
    TEST_RR(5, mulhu, 0xfffffffffffffffe, -1, -1)
    TEST_RR(6, mulhsu, -1, -1, 1)
    TEST_RR(7, mulhsu, -1, -1, -1)
    TEST_RR(30, mulhsu, 1, 2, 0x8000000000000000)
    TEST_RR(8, div, -3, 7, -2)
    TEST_RR(9, div, -1, 7, 0)
    TEST_RR(10, div, 0x8000000000000000, 0x8000000000000000, -1)
    TEST_RR(11, divu, 0x7fffffffffffffff, -1, 2)
    TEST_RR(12, divu, -1, 7, 0)
    TEST_RR(13, rem, 1, 7, -2)
    TEST_RR(14, rem, -1, -7, 2)
    TEST_RR(15, rem, 7, 7, 0)
    TEST_RR(16, rem, 0, 0x8000000000000000, -1)
    TEST_RR(17, remu, 1, 7, 2)
    TEST_RR(18, remu, 7, 7, 0)
    TEST_RR(19, mulw, -0x80000000, 0x40000000, 2)
    TEST_RR(20, divw, -3, 7, -2)
    TEST_RR(21, divw, -1, 7, 0)
    TEST_RR(22, divw, -0x80000000, 0x80000000, -1)
    TEST_RR(23, divuw, 0x7fffffff, 0xffffffff, 2)
    TEST_RR(24, divuw, -1, 7, 0)
    TEST_RR(25, remw, -1, -7, 2)
    TEST_RR(26, remw, 7, 7, 0)
    TEST_RR(27, remw, 0, 0x80000000, -1)
    TEST_RR(28, remuw, 1, 7, 2)
    TEST_RR(29, remuw, -1, 0xffffffff, 0)
    j pass

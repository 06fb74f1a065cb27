/* F and D beside the arithmetic (which the differential test covers): mstatus.FS Off traps FP
 * instructions and the FP CSRs with the encoding as mtval; Dirty and SD are tracked (also in
 * sstatus); fcsr = frm << 5 | fflags; flags accrue; a reserved static rounding mode, or DYN
 * with a reserved frm, is illegal; NaN-boxing; the compressed FP loads and stores. */
#include "test.h"
    .section .rodata
test_name: .asciz "fpu"
    .data
    .balign 8
fpdata: .dword 0x40000000deadbeef, 0
    .text
tests:
    /* FS starts Off: FP instructions and fcsr trap with their encodings */
    csrr a0, mstatus
    srli a0, a0, 13
    andi a0, a0, 3
    CHECK(1, a0, 0)
    .word 0x0020f053            /* fadd.s f0, f1, f2, dyn */
    EXPECT_TRAP(2, 2, 0x0020f053)
    csrr a0, fcsr
    EXPECT_TRAP(3, 2, 0x00302573)
    la s0, fpdata
    .half 0x2000                /* c.fld f8, 0(s0) */
    EXPECT_TRAP(4, 2, 0x2000)
    .word 0x00043007            /* fld f0, 0(s0) */
    EXPECT_TRAP(5, 2, 0x00043007)

    /* FS = Initial: no SD; an FP register write makes it Dirty with SD */
    li t0, 1 << 13
    csrs mstatus, t0
    csrr a0, mstatus
    srli a1, a0, 63
    CHECK(6, a1, 0)
    srli a0, a0, 13
    andi a0, a0, 3
    CHECK(7, a0, 1)
    li a0, 0x3f800000
    fmv.d.x f1, a0              /* 1.0f, but not NaN-boxed */
    csrr a0, mstatus
    srli a1, a0, 63
    CHECK(8, a1, 1)
    srli a0, a0, 13
    andi a0, a0, 3
    CHECK(9, a0, 3)
    /* sstatus shows FS and SD; Clean drops SD; an fcsr write dirties again */
    csrr a0, sstatus
    srli a1, a0, 63
    CHECK(10, a1, 1)
    srli a0, a0, 13
    andi a0, a0, 3
    CHECK(11, a0, 3)
    li t0, 1 << 13
    csrc mstatus, t0            /* FS = Clean */
    csrr a0, mstatus
    srli a1, a0, 63
    CHECK(12, a1, 0)
    csrwi fflags, 0
    csrr a0, mstatus
    srli a1, a0, 63
    CHECK(13, a1, 1)

    /* NaN-boxing: an unboxed single reads as the canonical NaN; results are boxed */
    fadd.s f0, f1, f1
    fmv.x.d a0, f0
    CHECK(14, a0, 0xffffffff7fc00000)
    fmv.x.w a0, f1              /* moves take the raw low bits, sign-extended */
    CHECK(15, a0, 0x3f800000)
    li a0, 0x80000000
    fmv.w.x f2, a0
    fmv.x.d a0, f2
    CHECK(16, a0, 0xffffffff80000000)
    fmv.x.w a0, f2
    CHECK(17, a0, 0xffffffff80000000)
    la s0, fpdata
    flw f3, 4(s0)               /* 2.0f */
    fmv.x.d a0, f3
    CHECK(18, a0, 0xffffffff40000000)
    fsw f2, 8(s0)
    lwu a0, 8(s0)
    CHECK(19, a0, 0x80000000)

    /* fcsr = frm << 5 | fflags; flags accrue */
    li a0, 0x1ff
    csrw fcsr, a0
    csrr a0, fcsr
    CHECK(20, a0, 0xff)
    csrr a0, frm
    CHECK(21, a0, 7)
    csrr a0, fflags
    CHECK(22, a0, 0x1f)
    csrwi fcsr, 0
    li a0, 0x3f800000
    fmv.w.x f4, a0
    fmv.w.x f5, zero
    fdiv.s f6, f4, f5, rne      /* 1/0: DZ */
    li a0, 0x7f800001
    fmv.w.x f7, a0
    fadd.s f6, f7, f4, rne      /* signalling NaN: NV */
    csrr a0, fflags
    CHECK(23, a0, 0x18)
    csrr a0, fcsr
    CHECK(24, a0, 0x18)
    csrwi frm, 3
    csrr a0, fcsr
    CHECK(25, a0, 0x78)

    /* rounding modes: reserved static rm and DYN with reserved frm are illegal; ops without
     * a rounding mode do not care about frm */
    .word 0x0020d053            /* fadd.s f0, f1, f2, rm=5 */
    EXPECT_TRAP(26, 2, 0x0020d053)
    csrwi frm, 5
    .word 0x0020f053            /* fadd.s f0, f1, f2, dyn */
    EXPECT_TRAP(27, 2, 0x0020f053)
    csrwi frm, 7
    .word 0x0220f0d3            /* fadd.d f1, f1, f2, dyn */
    EXPECT_TRAP(28, 2, 0x0220f0d3)
    fsgnj.s f0, f4, f4
    fmin.d f0, f4, f4
    feq.s a0, f4, f4
    CHECK(29, a0, 1)
    csrwi frm, 1                /* DYN = RTZ: 1 + 2^-24 + 2^-25... truncates */
    li a0, 0x3f800001
    fmv.w.x f8, a0
    li a0, 0x33c00000           /* 1.5 * 2^-24 */
    fmv.w.x f9, a0
    fadd.s f10, f8, f9
    fmv.x.w a0, f10
    CHECK(30, a0, 0x3f800001)
    csrwi frm, 3                /* DYN = RUP */
    fadd.s f10, f8, f9
    fmv.x.w a0, f10
    CHECK(31, a0, 0x3f800002)

    /* compressed FP loads and stores */
    addi sp, sp, -32
    li a0, 0x123456789abcdef0
    fmv.d.x f9, a0
    c.fsdsp f9, 8(sp)
    c.fldsp f10, 8(sp)
    fmv.x.d a1, f10
    CHECK(32, a1, 0x123456789abcdef0)
    mv s0, sp
    li a0, 0x0fedcba987654321
    fmv.d.x f11, a0
    c.fsd f11, 16(s0)
    c.fld f12, 16(s0)
    fmv.x.d a1, f12
    CHECK(33, a1, 0x0fedcba987654321)
    ld a1, 16(sp)
    CHECK(34, a1, 0x0fedcba987654321)
    addi sp, sp, 32

    /* FS back to Off: traps again */
    li t0, 3 << 13
    csrc mstatus, t0
    fmv.x.d a0, f1
    EXPECT_TRAP(35, 2, 0xe2008553)
    csrr a0, mstatus
    srli a1, a0, 63
    CHECK(36, a1, 0)
    j pass

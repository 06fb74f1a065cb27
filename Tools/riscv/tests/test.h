/* Self-checking conformance test framework (M-mode, -bios none). Each test sets gp to its
 * number; a mismatch prints "FAIL <n>" on the UART and exits through the SiFive test device with
 * code n; reaching PASS prints "PASS <name>" and powers off with success. An M-mode trap handler
 * records mcause/mtval/mepc/MPP so tests can check trap paths (and resumes in M-mode at
 * trap_resume when that is set); ecall with a7 = 93 from S or U
 * returns to M-mode after the ecall. The S-mode handler records scause/stval/sepc likewise. */
#define UART 0x10000000
#define TESTDEV 0x100000
#define ECALL_TO_M 93

#define CHECK(n, reg, val) li gp, n; li t6, val; bne reg, t6, fail
#define TEST_RR(n, op, res, a, b) li a1, a; li a2, b; op a0, a1, a2; CHECK(n, a0, res)
#define TEST_RI(n, op, res, a, imm) li a1, a; op a0, a1, imm; CHECK(n, a0, res)
#define LOADVAR(reg, var) la t6, var; ld reg, 0(t6)
#define CHECKVAR(n, var, val) li gp, n; la t6, var; ld t5, 0(t6); li t6, val; bne t5, t6, fail
#define CLEARTRAP la t6, trap_count; sd zero, 0(t6); la t6, trap_cause; sd zero, 0(t6)
#define EXPECT_TRAP(n, cause, tval) CHECKVAR(n, trap_cause, cause); CHECKVAR(n, trap_tval, tval); CHECKVAR(n, trap_count, 1); CLEARTRAP
#define EXPECT_CAUSE(n, cause) CHECKVAR(n, trap_cause, cause); CHECKVAR(n, trap_count, 1); CLEARTRAP
#define EXPECT_STRAP(n, cause, tval) CHECKVAR(n, strap_cause, cause); CHECKVAR(n, strap_tval, tval); CHECKVAR(n, strap_count, 1); la t6, strap_count; sd zero, 0(t6)
/* Drop to privilege `mode` (0 = U, 1 = S) and continue at the next instruction. */
#define ENTER_MODE(mode) li t6, 3 << 11; csrc mstatus, t6; li t6, (mode) << 11; csrs mstatus, t6; la t6, 1f; csrw mepc, t6; mret; 1:
#define BACK_TO_M la s11, 2f; li a7, ECALL_TO_M; ecall; 2:

    .section .text.start, "ax"
    .globl _start
_start:
    la t0, trap_handler
    csrw mtvec, t0
    la sp, stack_top
    /* PMP entry 15: NAPOT over all memory, RWX, so S and U may run */
    li t0, -1
    csrw pmpaddr15, t0
    li t0, 0x1f << 56
    csrw pmpcfg2, t0
    j tests

    .text
    .balign 4
trap_handler:
    csrrw sp, mscratch, sp
    la sp, trap_stack_top
    sd t0, 0(sp)
    sd t1, 8(sp)
    csrr t0, mcause
    bltz t0, 3f
    /* ecall from U/S with a7 = ECALL_TO_M: resume in M-mode after the ecall */
    li t1, 8
    beq t0, t1, 5f
    li t1, 9
    beq t0, t1, 5f
    j 6f
5:  li t1, ECALL_TO_M
    bne a7, t1, 6f
    li t1, 3 << 11
    csrs mstatus, t1
    csrr t1, mepc
    addi t1, t1, 4
    csrw mepc, t1
    j 9f
6:  la t1, trap_cause
    sd t0, 0(t1)
    csrr t0, mtval
    la t1, trap_tval
    sd t0, 0(t1)
    csrr t0, mepc
    la t1, trap_epc
    sd t0, 0(t1)
    csrr t0, mstatus
    srli t0, t0, 11
    andi t0, t0, 3
    la t1, trap_mpp
    sd t0, 0(t1)
    la t1, trap_count
    ld t0, 0(t1)
    addi t0, t0, 1
    sd t0, 0(t1)
    /* resume: at trap_resume if set, else after the faulting instruction */
    la t1, trap_resume
    ld t0, 0(t1)
    beqz t0, 7f
    sd zero, 0(t1)
    csrw mepc, t0
    li t0, 3 << 11  /* resuming always continues in M-mode */
    csrs mstatus, t0
    j 9f
7:  csrr t0, mepc
    lhu t1, 0(t0)
    andi t1, t1, 3
    addi t0, t0, 2
    li t6, 3
    bne t1, t6, 8f
    addi t0, t0, 2
8:  csrw mepc, t0
    j 9f
3:  /* interrupt: record, then silence the source */
    la t1, trap_cause
    sd t0, 0(t1)
    la t1, trap_count
    ld t0, 0(t1)
    addi t0, t0, 1
    sd t0, 0(t1)
    li t0, 0x2004000
    li t1, -1
    sd t1, 0(t0)
    li t0, 0x2000000
    sw zero, 0(t0)
    li t0, 0x20
    csrc mip, t0
9:  ld t0, 0(sp)
    ld t1, 8(sp)
    csrrw sp, mscratch, sp
    mret

    .balign 4
strap_handler:
    csrw sscratch, t0
    /* a delegated ECALL_TO_M from U: continue in S at s_escape, which asks M */
    csrr t0, scause
    addi t0, t0, -8
    bnez t0, 4f
    li t0, ECALL_TO_M
    bne a7, t0, 4f
    la t0, s_escape
    csrw sepc, t0
    li t0, 1 << 8
    csrs sstatus, t0
    csrr t0, sscratch
    sret
s_escape:
    ecall
    jr s11
4:  csrr t0, scause
    la t6, strap_cause
    sd t0, 0(t6)
    csrr t0, stval
    la t6, strap_tval
    sd t0, 0(t6)
    la t6, strap_count
    ld t0, 0(t6)
    addi t0, t0, 1
    sd t0, 0(t6)
    csrr t0, scause
    bltz t0, 2f
    csrr t0, sepc
    lhu t6, 0(t0)
    andi t6, t6, 3
    addi t0, t0, 2
    li t5, 3
    bne t6, t5, 1f
    addi t0, t0, 2
1:  csrw sepc, t0
    csrr t0, sscratch
    sret
2:  li t0, 0x222
    csrc sip, t0
    csrc sie, t0
    csrr t0, sscratch
    sret

putc_a0:
    li t0, UART
1:  lbu t1, 5(t0)
    andi t1, t1, 0x20
    beqz t1, 1b
    sb a0, 0(t0)
    ret

puts_a1:
    mv s1, ra
1:  lbu a0, 0(a1)
    beqz a0, 2f
    call putc_a0
    addi a1, a1, 1
    j 1b
2:  mv ra, s1
    ret

fail:
    la t0, trap_handler
    csrw mtvec, t0
    la a1, msg_fail
    call puts_a1
    /* test number in decimal */
    mv s2, gp
    li s3, 10000
1:  divu a0, s2, s3
    li t0, 10
    remu a0, a0, t0
    addi a0, a0, '0'
    call putc_a0
    li t0, 10
    divu s3, s3, t0
    bnez s3, 1b
    li a0, '\n'
    call putc_a0
    li t0, TESTDEV
    slli t1, gp, 16
    li t2, 0x3333
    or t1, t1, t2
    sw t1, 0(t0)
2:  j 2b

pass:
    la a1, msg_pass
    call puts_a1
    la a1, test_name
    call puts_a1
    li a0, '\n'
    call putc_a0
    li t0, TESTDEV
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b

    .section .rodata
msg_fail: .asciz "FAIL "
msg_pass: .asciz "PASS "

    .data
    .balign 8
trap_cause: .dword 0
trap_tval: .dword 0
trap_epc: .dword 0
trap_mpp: .dword 0
trap_count: .dword 0
trap_resume: .dword 0
strap_cause: .dword 0
strap_tval: .dword 0
strap_count: .dword 0
    .balign 16
    .space 1024
trap_stack_top:
    .space 4096
stack_top:
    .balign 8
scratch: .space 64

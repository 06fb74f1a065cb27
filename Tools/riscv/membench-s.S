/* enter_s(fn, arg, satp) for membench: from M-mode, switch satp on, drop to S-mode and call
 * fn(arg) there; fn returns into an ecall, whose trap brings M-mode back here with paging off
 * and returns fn's result. Any other trap goes to bad_trap(mcause, mtval, mepc). */
    .text
    .globl enter_s
enter_s:
    addi sp, sp, -112
    sd ra, 0(sp)
    sd s0, 8(sp)
    sd s1, 16(sp)
    sd s2, 24(sp)
    sd s3, 32(sp)
    sd s4, 40(sp)
    sd s5, 48(sp)
    sd s6, 56(sp)
    sd s7, 64(sp)
    sd s8, 72(sp)
    sd s9, 80(sp)
    sd s10, 88(sp)
    sd s11, 96(sp)
    la t0, saved_sp
    sd sp, 0(t0)
    la t0, m_trap
    csrw mtvec, t0
    csrw satp, a2
    sfence.vma
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0          /* MPP = S */
    csrw mepc, a0
    mv a0, a1
    la ra, s_return
    mret
s_return:
    ecall

    .balign 4
m_trap:
    csrr t0, mcause
    li t1, 9                  /* ecall from S-mode */
    bne t0, t1, 1f
    la t0, saved_sp
    ld sp, 0(t0)
    csrw satp, zero
    sfence.vma
    ld ra, 0(sp)
    ld s0, 8(sp)
    ld s1, 16(sp)
    ld s2, 24(sp)
    ld s3, 32(sp)
    ld s4, 40(sp)
    ld s5, 48(sp)
    ld s6, 56(sp)
    ld s7, 64(sp)
    ld s8, 72(sp)
    ld s9, 80(sp)
    ld s10, 88(sp)
    ld s11, 96(sp)
    addi sp, sp, 112
    ret
1:  mv a0, t0
    csrr a1, mtval
    csrr a2, mepc
    call bad_trap
2:  j 2b

    .bss
    .balign 8
saved_sp:
    .space 8

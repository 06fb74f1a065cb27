/* Switchboard guest appliance: M-mode entry. a0 = hart id, a1 = device tree address (QEMU virt
 * with -bios none, and Switchboard's VMM). Parks other harts, sets up the stack and a trap
 * vector, clears .bss and calls appliance_main(hartid, fdt). */
    .section .text.start, "ax"
    .globl _start
_start:
    csrw mie, zero
    csrci mstatus, 8            /* MIE off: we poll, no interrupts */
    bnez a0, park               /* single hart: only hart 0 runs */
    la t0, trap_entry
    csrw mtvec, t0
    la sp, __stack_top
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call appliance_main
park:
    wfi
    j park

    .align 4
trap_entry:
    la sp, __stack_top          /* the stack may be what failed: start afresh */
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call appliance_trap
    j park

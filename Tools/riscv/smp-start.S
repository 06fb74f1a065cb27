# Entry of the multi-hart M-mode test programs: every hart enters here (a0 = hart id, a1 = the
# device tree, as QEMU's -bios none reset vector and Switchboard's "none" firmware set them),
# takes a 16 KiB stack of its own and calls smp_main(hartid, fdt).
    .section .text.start, "ax"
    .globl _start
_start:
    la sp, __smp_stacks_top
    slli t0, a0, 14
    sub sp, sp, t0
    call smp_main
1:  wfi
    j 1b

    .bss
    .balign 16
    .space 16384 * 8
    .globl __smp_stacks_top
__smp_stacks_top:

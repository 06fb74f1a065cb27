# Entry of the guest test programs: set up a stack, call main(hartid, fdt), then exit with
# main's return value through exit_guest (test device or SBI, see rt.c).
    .section .text.start, "ax"
    .globl _start
_start:
    la sp, __stack_top
    call main
    call exit_guest
1:  j 1b

    .bss
    .balign 16
    .space 65536
    .globl __stack_top
__stack_top:

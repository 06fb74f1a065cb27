/* irqflood: a hostile guest for failure-containment tests. It makes its machine timer
 * interrupt permanently pending (mtimecmp = 0) and returns from the handler without ever
 * clearing it, so the hart takes an interrupt after every instruction, forever. The VMM must
 * report the storm and keep every other VM and the switch running. M-mode (-bios none). */
#include "rt.h"

#define CLINT_MTIMECMP0 0x2004000UL

static void __attribute__((naked, aligned(4))) handler(void) {
    __asm__ volatile("mret");
}

int main(uint64_t hartid, uint64_t fdt) {
    (void)fdt;
    puts_("irqflood: flooding from hart ");
    put_dec(hartid);
    putch('\n');
    __asm__ volatile("csrw mtvec, %0" :: "r"((uint64_t)handler));
    *(volatile uint64_t *)(CLINT_MTIMECMP0 + 8 * hartid) = 0;
    __asm__ volatile("csrs mie, %0" :: "r"(1UL << 7));      /* MTIE */
    __asm__ volatile("csrs mstatus, %0" :: "r"(1UL << 3));  /* MIE */
    for (;;) __asm__ volatile("nop");
}

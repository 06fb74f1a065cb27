/* hello: prints a greeting and the boot arguments (hart id, device tree address), then powers
 * off with success. Runs in M-mode (-bios none) or as an S-mode payload (USE_SBI). */
#include "rt.h"

int main(uint64_t hartid, uint64_t fdt) {
    puts_("Hello from a Switchboard guest\n");
    puts_("hart "); put_dec(hartid);
    puts_(" fdt magic ok: ");
    uint32_t magic = *(volatile uint32_t *)fdt;
    puts_(magic == 0xedfe0dd0 ? "yes" : "no");
    putch('\n');
    return 0;
}

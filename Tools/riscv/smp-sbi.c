/* smp-sbi: an S-mode payload that brings up the other harts through the SBI (HSM hart_start),
 * as Linux does (the boot hart is whichever one the firmware picked): each secondary enters with a0 = its hart id and a1 = its stack, counts
 * itself, waits in WFI for an SBI IPI, answers and stops itself (hart_stop). Hart 0 checks the
 * HSM states, sends the IPIs, issues remote fences to every hart and shuts down through SRST.
 * Prints the same on the builtin SBI and on OpenSBI (Switchboard or QEMU). */
#include "rt.h"
#include "fdt.h"

#define SIE_SSIE (1 << 1)
#define SIP_SSIP (1 << 1)

struct ret { long error, value; };
static struct ret call(long eid, long fid, long a0, long a1, long a2) {
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r6 __asm__("a6") = fid;
    register long r7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
    return (struct ret){ r0, r1 };
}

#define HSM 0x48534DL
#define IPI 0x735049L
#define RFENCE 0x52464E43L

static volatile uint64_t started, answered;
static uint8_t stacks[8][8192] __attribute__((aligned(16)));

void secondary_entry(void);
__asm__(".globl secondary_entry\nsecondary_entry:\n mv sp, a1\n call secondary_main\n1: j 1b\n");

static void amoadd(volatile uint64_t *p) { __asm__ volatile("amoadd.d zero, %1, (%0)" :: "r"(p), "r"(1L) : "memory"); }
static uint64_t sip(void) { uint64_t v; __asm__ volatile("csrr %0, sip" : "=r"(v)); return v; }

void secondary_main(uint64_t hart) {
    (void)hart;
    __asm__ volatile("csrs sie, %0" :: "r"(SIE_SSIE));
    amoadd(&started);
    while (!(sip() & SIP_SSIP)) __asm__ volatile("wfi");
    __asm__ volatile("csrc sip, %0" :: "r"(SIP_SSIP));
    amoadd(&answered);
    call(HSM, 1, 0, 0, 0); /* hart_stop: does not return */
    for (;;) {}
}

int main(uint64_t hart, const void *fdt) {
    long n = fdt_count_cpus(fdt);
    puts_("harts "); put_dec(n); putch('\n');
    struct ret me = call(HSM, 2, (long)hart, 0, 0);
    puts_("boot hart status "); put_dec(me.value); putch('\n');
    for (long h = 0; h < n; h++) {
        if (h == (long)hart) continue;
        struct ret r = call(HSM, 2, h, 0, 0);
        puts_("other hart status "); put_dec(r.value); putch('\n');
        r = call(HSM, 0, h, (long)secondary_entry, (long)(stacks[h] + sizeof stacks[h]));
        puts_("start error "); put_dec((uint64_t)-r.error); putch('\n');
    }
    struct ret again = call(HSM, 0, (long)hart, (long)secondary_entry, 0);
    puts_("starting a started hart: "); puts_(again.error == -6 ? "already available\n" : "?\n");
    struct ret none = call(HSM, 2, 99, 0, 0);
    puts_("status of hart 99: "); puts_(none.error == -3 ? "invalid param\n" : "?\n");
    while (started < (uint64_t)(n - 1)) {}
    puts_("started "); put_dec(started); putch('\n');
    if (n > 1) {
        struct ret r = call(IPI, 0, ((1L << n) - 1) & ~(1L << hart), 0, 0);
        puts_("ipi error "); put_dec(r.error); putch('\n');
    }
    while (answered < (uint64_t)(n - 1)) {}
    puts_("answered "); put_dec(answered); putch('\n');
    for (long h = 0; h < n; h++) {
        if (h == (long)hart) continue;
        struct ret r;
        do { r = call(HSM, 2, h, 0, 0); } while (r.value != 1);
        puts_("other hart stopped\n");
    }
    struct ret f = call(RFENCE, 0, -1, -1, 0);
    puts_("remote fence.i error "); put_dec(f.error); putch('\n');
    f = call(RFENCE, 1, (1L << n) - 1, 0, 0);
    puts_("remote sfence.vma error "); put_dec(f.error); putch('\n');
    return 0;
}

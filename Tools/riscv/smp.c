/* smp: an M-mode program for every hart at once (no firmware). All harts meet at a barrier,
 * then hammer shared counters with AMOs (word and doubleword), LR/SC loops and a spinlock that
 * guards a plain counter; hart 0 checks the totals, then wakes every other hart with a CLINT
 * software interrupt and waits for each to answer. Prints the same on QEMU -smp N. */
#include "rt.h"
#include "fdt.h"

#define ROUNDS 20000
#define CLINT_MSIP ((volatile uint32_t *)0x02000000UL)

static volatile uint64_t arrived, finished, answered;
static volatile uint64_t amo_d, lrsc_d, plain;
static volatile uint32_t amo_w, lrsc_w;
static volatile uint32_t lock;
static volatile int64_t amo_max;

static void amoadd_d(volatile uint64_t *p, uint64_t v) { __asm__ volatile("amoadd.d zero, %1, (%0)" :: "r"(p), "r"(v) : "memory"); }
static void amoadd_w(volatile uint32_t *p, uint32_t v) { __asm__ volatile("amoadd.w zero, %1, (%0)" :: "r"(p), "r"(v) : "memory"); }
static void amomax_d(volatile int64_t *p, int64_t v) { __asm__ volatile("amomax.d zero, %1, (%0)" :: "r"(p), "r"(v) : "memory"); }

static void lrsc_inc_d(volatile uint64_t *p) {
    uint64_t t, fail;
    __asm__ volatile("1: lr.d %0, (%2)\n addi %0, %0, 1\n sc.d %1, %0, (%2)\n bnez %1, 1b"
                     : "=&r"(t), "=&r"(fail) : "r"(p) : "memory");
}

static void lrsc_inc_w(volatile uint32_t *p) {
    uint32_t t, fail;
    __asm__ volatile("1: lr.w %0, (%2)\n addiw %0, %0, 1\n sc.w %1, %0, (%2)\n bnez %1, 1b"
                     : "=&r"(t), "=&r"(fail) : "r"(p) : "memory");
}

static void acquire(void) {
    uint32_t old;
    do { __asm__ volatile("amoswap.w.aq %0, %2, (%1)" : "=r"(old) : "r"(&lock), "r"(1) : "memory"); } while (old);
}

static void release(void) { __asm__ volatile("amoswap.w.rl zero, zero, (%0)" :: "r"(&lock) : "memory"); }

void smp_main(uint64_t hart, const void *fdt) {
    uint64_t n = (uint64_t)fdt_count_cpus(fdt);
    amoadd_d(&arrived, 1);
    while (arrived < n) {}
    for (int i = 0; i < ROUNDS; i++) {
        amoadd_d(&amo_d, 1);
        amoadd_w(&amo_w, 1);
        lrsc_inc_d(&lrsc_d);
        lrsc_inc_w(&lrsc_w);
        acquire();
        plain = plain + 1;
        release();
        amomax_d(&amo_max, (int64_t)(hart * ROUNDS + i));
    }
    amoadd_d(&finished, 1);
    if (hart != 0) {
        /* Wait, with the machine software interrupt enabled in mie but not in mstatus, for
         * hart 0's IPI: WFI wakes, no trap is taken. */
        __asm__ volatile("csrs mie, %0" :: "r"(1 << 3));
        while (!(CLINT_MSIP[hart] & 1)) __asm__ volatile("wfi");
        CLINT_MSIP[hart] = 0;
        amoadd_d(&answered, 1);
        for (;;) __asm__ volatile("wfi");
    }
    while (finished < n) {}
    uint64_t want = n * ROUNDS;
    puts_("harts "); put_dec(n); putch('\n');
    puts_("amoadd.d "); puts_(amo_d == want ? "ok\n" : "LOST\n");
    puts_("amoadd.w "); puts_(amo_w == want ? "ok\n" : "LOST\n");
    puts_("lr/sc.d "); puts_(lrsc_d == want ? "ok\n" : "LOST\n");
    puts_("lr/sc.w "); puts_(lrsc_w == want ? "ok\n" : "LOST\n");
    puts_("spinlock "); puts_(plain == want ? "ok\n" : "LOST\n");
    puts_("amomax.d "); put_dec((uint64_t)amo_max); putch('\n');
    for (uint64_t h = 1; h < n; h++) CLINT_MSIP[h] = 1;
    while (answered < n - 1) {}
    puts_("ipis answered "); put_dec(answered); putch('\n');
    int ok = amo_d == want && amo_w == want && lrsc_d == want && lrsc_w == want && plain == want;
    exit_guest(ok ? 0 : 1);
}

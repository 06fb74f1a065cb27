/* sbi: an S-mode payload that exercises the SBI: base probes, HSM status, IPI, RFENCE, and the
 * timer with WFI (three 100 ms sleeps that must not spin), then shuts down through SRST. Prints
 * the same on OpenSBI (QEMU or Switchboard) and on Switchboard's builtin SBI. */
#include "rt.h"

#define SIE_STIE (1 << 5)
#define SIP_SSIP (1 << 1)
#define SIP_STIP (1 << 5)

struct ret { long error, value; };
static struct ret call(long eid, long fid, long a0, long a1) {
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r6 __asm__("a6") = fid;
    register long r7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r6), "r"(r7) : "memory");
    return (struct ret){ r0, r1 };
}

static uint64_t sip(void) { uint64_t v; __asm__ volatile("csrr %0, sip" : "=r"(v)); return v; }

int main(void) {
    struct ret r = call(0x10, 0, 0, 0);
    puts_("spec "); put_dec((uint64_t)r.value >> 24); putch('.'); put_dec(r.value & 0xffffff); putch('\n');
    static const long exts[] = { 0x54494D45, 0x735049, 0x52464E43, 0x48534D, 0x53525354, 0x12345678 };
    static const char *names[] = { "time", "ipi", "rfence", "hsm", "srst", "bogus" };
    for (int i = 0; i < 6; i++) {
        r = call(0x10, 3, exts[i], 0);
        puts_("probe "); puts_(names[i]); puts_(r.value ? " yes\n" : " no\n");
    }
    r = call(0x48534D, 2, 0, 0);
    puts_("hart 0 status "); put_dec(r.value); putch('\n');
    r = call(0x12345678, 0, 0, 0);
    puts_("unknown extension error "); puts_(r.error == -2 ? "not supported\n" : "?\n");
    r = call(0x52464E43, 1, 1, 0);
    puts_("remote sfence.vma error "); put_dec(r.error); putch('\n');
    /* IPI to ourselves sets sip.SSIP */
    r = call(0x735049, 0, 1, 0);
    puts_("ipi error "); put_dec(r.error); puts_((sip() & SIP_SSIP) ? " pending\n" : " lost\n");
    __asm__ volatile("csrc sip, %0" :: "r"(SIP_SSIP));
    /* timer: three 100 ms waits in WFI with the interrupt enabled in sie but masked by sstatus.SIE */
    __asm__ volatile("csrs sie, %0" :: "r"(SIE_STIE));
    for (int i = 0; i < 3; i++) {
        uint64_t start = read_time_csr();
        call(0x54494D45, 0, (long)(start + 1000000), 0);
        while (!(sip() & SIP_STIP)) __asm__ volatile("wfi");
        uint64_t waited = read_time_csr() - start;
        puts_(waited >= 1000000 && waited < 5000000 ? "timer ok\n" : "timer wrong\n");
        call(0x54494D45, 0, -1L, 0);  /* clears the pending timer */
    }
    puts_((sip() & SIP_STIP) ? "stip still set\n" : "stip cleared\n");
    return 0;
}

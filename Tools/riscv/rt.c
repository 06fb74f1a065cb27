/* Runtime for guest programs. Build with -DUSE_SBI for S-mode payloads; otherwise the program
 * drives the UART and the SiFive test device directly. */
#include "rt.h"

#define UART ((volatile uint8_t *)0x10000000)
#define TEST ((volatile uint32_t *)0x100000)

long sbi_call(long eid, long fid, long a0, long a1, long a2) {
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r6 __asm__("a6") = fid;
    register long r7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
    return r0;
}

void putch(char c) {
#ifdef USE_SBI
    sbi_call(1, 0, c, 0, 0); /* legacy console putchar */
#else
    while (!(UART[5] & 0x20)) {}
    UART[0] = (uint8_t)c;
#endif
}

void puts_(const char *s) { while (*s) putch(*s++); }

void put_hex(uint64_t v) {
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]);
}

void put_dec(uint64_t v) {
    char buf[24]; int n = 0;
    do { buf[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) putch(buf[--n]);
}

void exit_guest(int code) {
#ifdef USE_SBI
    /* SBI SRST: shutdown, reason 0 (none) or 1 (failure). */
    sbi_call(0x53525354, 0, 0, code ? 1 : 0, 0);
#endif
    *TEST = code == 0 ? 0x5555 : ((uint32_t)code << 16) | 0x3333;
    for (;;) __asm__ volatile("wfi");
}

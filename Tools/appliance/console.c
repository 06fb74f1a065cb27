/* Switchboard guest appliance: the 16550 UART console (polled), a small printf, CLINT time and
 * the SiFive test device that powers the machine off with a pass/fail code. */
#include <stdarg.h>
#include "appliance.h"

#define UART_THR 0
#define UART_RBR 0
#define UART_LSR 5
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

uint64_t time_frequency = 10000000;

void console_putc(char c) {
    /* Bounded wait: a UART that never drains must not hang the appliance. */
    for (int i = 0; i < 100000; i++)
        if (mmio_read8(UART_BASE + UART_LSR) & LSR_THR_EMPTY) break;
    mmio_write8(UART_BASE + UART_THR, (uint8_t)c);
}

int console_getc(void) {
    if (!(mmio_read8(UART_BASE + UART_LSR) & LSR_DATA_READY)) return -1;
    return mmio_read8(UART_BASE + UART_RBR);
}

static void put_str(const char *s) {
    if (!s) s = "(null)";
    while (*s) console_putc(*s++);
}

static void put_num(uint64_t v, unsigned base, int width, char pad) {
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v && n < (int)sizeof buf);
    while (width > n && width-- > 0) console_putc(pad);
    while (n > 0) console_putc(buf[--n]);
}

static void put_ip(uint32_t ip) {
    for (int i = 3; i >= 0; i--) {
        put_num((ip >> (i * 8)) & 0xff, 10, 0, ' ');
        if (i) console_putc('.');
    }
}

static void put_mac(const uint8_t *m) {
    for (int i = 0; i < 6; i++) {
        put_num(m[i], 16, 2, '0');
        if (i < 5) console_putc(':');
    }
}

void kprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            console_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0') { pad = '0'; fmt++; }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') { longs++; fmt++; }
        switch (*fmt) {
        case 's': put_str(va_arg(ap, const char *)); break;
        case 'c': console_putc((char)va_arg(ap, int)); break;
        case 'd': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            if (v < 0) { console_putc('-'); v = -v; }
            put_num((uint64_t)v, 10, width, pad);
            break;
        }
        case 'u': put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad); break;
        case 'x': put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad); break;
        case 'I': put_ip(va_arg(ap, uint32_t)); break;
        case 'M': put_mac(va_arg(ap, const uint8_t *)); break;
        case '%': console_putc('%'); break;
        case '\0': va_end(ap); return;
        default: console_putc('%'); console_putc(*fmt); break;
        }
    }
    va_end(ap);
}

uint64_t time_now(void) { return *(volatile uint64_t *)CLINT_MTIME; }

uint64_t ticks_to_us(uint64_t ticks) {
    /* Split to avoid overflow of ticks * 1e6 on long uptimes. */
    uint64_t s = ticks / time_frequency, rem = ticks % time_frequency;
    return s * 1000000 + rem * 1000000 / time_frequency;
}

uint64_t ms_to_ticks(uint64_t ms) { return ms * (time_frequency / 1000); }

void power_off(int pass, int code) {
    uint32_t value = pass ? 0x5555 : (((uint32_t)code & 0xffff) << 16) | 0x3333;
    mmio_write32(TEST_DEVICE, value);
    /* If there is no test device, stop here. */
    for (;;) __asm__ volatile("wfi");
}

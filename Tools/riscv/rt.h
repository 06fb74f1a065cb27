/* A tiny runtime for guest test programs: console output and exit, either through the
 * machine's devices (M-mode, -bios none) or through the SBI (S-mode payloads). */
#pragma once
#include <stdint.h>

void putch(char c);
void puts_(const char *s);
void put_hex(uint64_t v);
void put_dec(uint64_t v);
void exit_guest(int code) __attribute__((noreturn));
long sbi_call(long eid, long fid, long a0, long a1, long a2);

static inline uint64_t read_instret(void) { uint64_t v; __asm__ volatile("csrr %0, minstret" : "=r"(v)); return v; }
static inline uint64_t read_time_csr(void) { uint64_t v; __asm__ volatile("csrr %0, time" : "=r"(v)); return v; }

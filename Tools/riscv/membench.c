/* membench: a memory-bound guest workload under Sv39 paging for `bench cpu`. M-mode opens PMP
 * for S-mode, maps MEM_MIB MiB of RAM at virtual 0x40000000 with 4 KiB pages in a shuffled
 * order (virtual neighbours are physical strangers), keeps the program identity-mapped by one
 * gigapage, then runs the workload in S-mode with paging on (membench-s.S switches modes).
 * Each round sweeps every page once at page stride (a TLB miss per access once the pages
 * outnumber the TLB) and then reads and writes words at random addresses. Prints a checksum
 * and the instructions retired (minstret), then powers off. */
#include "rt.h"

#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_A 64
#define PTE_D 128
#define PAGES (MEM_MIB * 256)
#define VBASE 0x40000000ul
#define PBASE 0x81000000ul /* 16 MiB above the program */
#define RANDOM_PER_ROUND 32768

static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l0[PAGES] __attribute__((aligned(4096)));
static uint32_t perm[PAGES];

uint64_t enter_s(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t satp);

static inline uint64_t pte(uint64_t pa, uint64_t flags) { return (pa >> 12) << 10 | flags; }
static inline uint64_t xorshift(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }

/* Runs in S-mode with paging on: touches only the mapped region and its own stack. */
static uint64_t workload(uint64_t rounds) {
    uint64_t *mem = (uint64_t *)VBASE;
    const uint64_t words = (uint64_t)PAGES * 512;
    uint64_t seed = 0x9e3779b97f4a7c15ull, sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t p = 0; p < PAGES; p++) {
            uint64_t *w = &mem[p * 512 + ((p * 7 + r) & 511)];
            sum += *w;
            *w = sum ^ p;
        }
        for (int i = 0; i < RANDOM_PER_ROUND; i++) {
            uint64_t idx = xorshift(&seed) % words;
            sum = (sum << 1 | sum >> 63) + mem[idx];
            mem[idx] = sum ^ (uint64_t)i;
        }
    }
    return sum;
}

void bad_trap(uint64_t cause, uint64_t tval, uint64_t epc) {
    puts_("unexpected trap: mcause "); put_hex(cause); puts_(" mtval "); put_hex(tval);
    puts_(" mepc "); put_hex(epc); putch('\n');
    exit_guest(3);
}

int main(void) {
    uint64_t start = read_instret();
    /* PMP entry 0: NAPOT over the whole address space, RWX, so S-mode may run. */
    __asm__ volatile("csrw pmpaddr0, %0; csrw pmpcfg0, %1" :: "r"(-1l), "r"(0x1ful));
    uint64_t seed = 88172645463325252ull;
    for (uint32_t i = 0; i < PAGES; i++) perm[i] = i;
    for (uint32_t i = PAGES - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(xorshift(&seed) % (i + 1));
        uint32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    for (uint32_t i = 0; i < PAGES; i++) l0[i] = pte(PBASE + ((uint64_t)perm[i] << 12), PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    for (uint32_t i = 0; i < PAGES / 512; i++) l1[i] = pte((uint64_t)&l0[i * 512], PTE_V);
    root[1] = pte((uint64_t)l1, PTE_V);                                                          /* 0x40000000: the data */
    root[2] = pte(0x80000000ul, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);                   /* identity gigapage */
    uint64_t satp = 8ul << 60 | (uint64_t)root >> 12;
    uint64_t sum = enter_s(workload, ROUNDS, satp);
    /* Back in M-mode with paging off: fold in a few words by their physical addresses. */
    for (uint32_t i = 0; i < PAGES; i += 97) sum += *(volatile uint64_t *)(PBASE + ((uint64_t)perm[i] << 12) + 8 * (i & 511));
    uint64_t n = read_instret() - start;
    puts_("checksum "); put_hex(sum); putch('\n');
    puts_("instret "); put_dec(n); putch('\n');
    return 0;
}

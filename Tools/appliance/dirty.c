/* Switchboard guest appliance: a paced memory writer for migration benchmarks (bootarg
 * dirty=MIB_PER_S). It stores one word into successive pages of a RAM window above the image,
 * at the given rate, a bounded burst per main-loop pass, so the network is still answered.
 * The RAM size comes from the device tree's memory node; nothing is allocated. */
#include "appliance.h"

#define PAGE_SIZE 4096UL
#define MIB (1UL << 20)
/* Pages written at most per main-loop pass (the NIC is polled between bursts). */
#define DIRTY_BURST 64

extern char __stack_top[]; /* link.ld: the end of the image */

uint64_t dirty_pages_written;

static volatile uint64_t *window;   /* first page of the window */
static uint64_t window_pages;
static uint64_t next_page, pass;
static uint64_t pages_per_s;
static uint64_t last_tick;
/* Pages owed, in page-ticks (pages * time_frequency), so no rate is rounded away. */
static uint64_t credit, credit_cap, max_elapsed;

/* A big-endian number of `cells` 32-bit cells (1 or 2). */
static uint64_t read_cells(const uint8_t *p, uint32_t cells) {
    return cells == 2 ? be64(p) : be32(p);
}

static uint32_t root_cells(const void *fdt, const char *prop, uint32_t fallback) {
    uint32_t len = 0;
    const uint8_t *v = fdt_find_property(fdt, "/", prop, &len);
    return v && len == 4 ? be32(v) : fallback;
}

int dirty_init(const void *fdt, uint64_t mib_per_s, uint64_t window_mib) {
    uint32_t acells = root_cells(fdt, "#address-cells", 2), scells = root_cells(fdt, "#size-cells", 1);
    uint32_t len = 0;
    const uint8_t *reg = fdt_find_property(fdt, "/memory", "reg", &len);
    if (!reg || acells < 1 || acells > 2 || scells < 1 || scells > 2 || len < 4 * (acells + scells)) {
        kprintf("appliance: error: dirty= needs the device tree's /memory reg\n");
        return -1;
    }
    uint64_t ram_base = read_cells(reg, acells), ram_size = read_cells(reg + 4 * acells, scells);
    uint64_t ram_end = ram_base + ram_size;
    uint64_t start = ((uint64_t)(uintptr_t)__stack_top + MIB - 1) & ~(MIB - 1);
    /* The device tree sits near the top of RAM: the window stays below it. */
    uint64_t limit = ram_end, fdt_at = (uint64_t)(uintptr_t)fdt & ~(PAGE_SIZE - 1);
    if (fdt_at >= start && fdt_at < limit) limit = fdt_at;
    if (start < ram_base || start > limit || window_mib > (limit - start) / MIB) {
        kprintf("appliance: error: a dirty window of %lu MiB does not fit between 0x%lx and 0x%lx\n",
                window_mib, start, limit);
        return -1;
    }
    window = (volatile uint64_t *)(uintptr_t)start;
    window_pages = window_mib * (MIB / PAGE_SIZE);
    pages_per_s = mib_per_s * (MIB / PAGE_SIZE);
    /* After a long stop (a migration pausing the vCPU, a descheduled host thread) at most
     * 10 ms of writes are made up, and never more than 10 ms are owed. */
    max_elapsed = time_frequency / 100;
    credit_cap = pages_per_s * max_elapsed;
    last_tick = time_now();
    kprintf("appliance: dirty rate=%lu MiB/s window=%lu MiB at 0x%lx ram=%lu MiB\n", mib_per_s, window_mib,
            start, ram_size / MIB);
    return 0;
}

void dirty_poll(uint64_t now) {
    if (!pages_per_s) return;
    uint64_t elapsed = now - last_tick;
    last_tick = now;
    if (elapsed > max_elapsed) elapsed = max_elapsed;
    credit += elapsed * pages_per_s;
    uint64_t n = credit / time_frequency;
    if (n > DIRTY_BURST) n = DIRTY_BURST;
    credit -= n * time_frequency;
    if (credit > credit_cap) credit = credit_cap;
    for (uint64_t i = 0; i < n; i++) {
        /* Never zero, so no migration can send the page as a zero page. */
        window[next_page * (PAGE_SIZE / 8)] = (pass << 32) | (next_page + 1);
        if (++next_page == window_pages) {
            next_page = 0;
            pass++;
        }
    }
    dirty_pages_written += n;
}

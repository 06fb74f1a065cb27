/* fdt.h: counts the cpu@N nodes of a flattened device tree (how many harts the machine has). */
#pragma once
#include <stdint.h>

static inline uint32_t fdt_be32(const uint8_t *b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline int fdt_count_cpus(const void *fdt) {
    const uint8_t *f = fdt;
    if (fdt_be32(f) != 0xd00dfeed) return 1;
    const uint8_t *p = f + fdt_be32(f + 8);
    int n = 0;
    for (;;) {
        uint32_t token = fdt_be32(p);
        p += 4;
        if (token == 1) { /* FDT_BEGIN_NODE: a NUL-terminated name padded to 4 bytes */
            const char *name = (const char *)p;
            if (name[0] == 'c' && name[1] == 'p' && name[2] == 'u' && name[3] == '@') n++;
            unsigned long len = 0;
            while (name[len]) len++;
            p += (len + 4) & ~3UL;
        } else if (token == 3) { /* FDT_PROP: length, name offset, value */
            uint32_t len = fdt_be32(p);
            p += 8 + ((len + 3) & ~3U);
        } else if (token == 2 || token == 4) { /* END_NODE, NOP */
        } else {
            break; /* FDT_END */
        }
    }
    return n ? n : 1;
}

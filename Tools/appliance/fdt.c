/* Switchboard guest appliance: a minimal flattened-device-tree reader. It checks the header,
 * walks the structure block with a bounded loop and finds one property of one node by path. */
#include "appliance.h"

#define FDT_MAGIC 0xd00dfeedU
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9
#define FDT_MAX_SIZE (8U << 20)
#define FDT_MAX_DEPTH 16

static uint32_t align4(uint32_t v) { return (v + 3) & ~3U; }

/* Does `name` (a node name, possibly with @unit) match path component [c, c+n)? */
static int component_matches(const char *name, uint32_t name_len, const char *c, uint32_t n) {
    if (name_len < n || memcmp(name, c, n) != 0) return 0;
    return name_len == n || name[n] == '@';
}

const uint8_t *fdt_find_property(const void *fdt, const char *path, const char *prop, uint32_t *len) {
    const uint8_t *h = fdt;
    if (!h || ((uintptr_t)h & 3)) return NULL;
    if (be32(h) != FDT_MAGIC) return NULL;
    uint32_t total = be32(h + 4), off_struct = be32(h + 8), off_strings = be32(h + 12);
    uint32_t version = be32(h + 20), size_strings = be32(h + 32), size_struct = be32(h + 36);
    if (total > FDT_MAX_SIZE || total < 40 || version < 17) return NULL;
    if (off_struct > total || size_struct > total - off_struct) return NULL;
    if (off_strings > total || size_strings > total - off_strings) return NULL;
    const uint8_t *s = h + off_struct;
    const char *strings = (const char *)h + off_strings;

    /* Path components, e.g. "/chosen" -> ["chosen"]. */
    const char *comp[FDT_MAX_DEPTH];
    uint32_t comp_len[FDT_MAX_DEPTH];
    uint32_t ncomp = 0;
    for (const char *p = path; *p;) {
        while (*p == '/') p++;
        if (!*p) break;
        if (ncomp == FDT_MAX_DEPTH) return NULL;
        comp[ncomp] = p;
        while (*p && *p != '/') p++;
        comp_len[ncomp] = (uint32_t)(p - comp[ncomp]);
        ncomp++;
    }

    /* depth: nesting of the current node (root = 1); matched: how many leading path components
     * the current chain of nodes matches. */
    uint32_t depth = 0, matched = 0, pos = 0;
    size_t prop_len = strlen(prop);
    while (pos + 4 <= size_struct) {
        uint32_t token = be32(s + pos);
        pos += 4;
        switch (token) {
        case FDT_BEGIN_NODE: {
            const char *name = (const char *)s + pos;
            uint32_t n = 0;
            while (pos + n < size_struct && name[n]) n++;
            if (pos + n >= size_struct) return NULL;
            pos = align4(pos + n + 1);
            depth++;
            if (depth > FDT_MAX_DEPTH + 1) return NULL;
            /* The root has an empty name; node at depth d matches component d-2. */
            if (depth >= 2 && matched == depth - 2 && depth - 2 < ncomp &&
                component_matches(name, n, comp[depth - 2], comp_len[depth - 2]))
                matched = depth - 1;
            break;
        }
        case FDT_END_NODE:
            if (depth == 0) return NULL;
            depth--;
            /* The chain is now depth-1 nodes below the root. */
            if (depth == 0) matched = 0;
            else if (matched > depth - 1) matched = depth - 1;
            break;
        case FDT_PROP: {
            if (pos + 8 > size_struct) return NULL;
            uint32_t plen = be32(s + pos), nameoff = be32(s + pos + 4);
            pos += 8;
            if (plen > size_struct - pos) return NULL;
            if (depth >= 1 && matched == ncomp && depth - 1 == ncomp && nameoff < size_strings) {
                const char *pname = strings + nameoff;
                size_t room = size_strings - nameoff;
                if (room > prop_len && memcmp(pname, prop, prop_len) == 0 && pname[prop_len] == 0) {
                    *len = plen;
                    return s + pos;
                }
            }
            pos = align4(pos + plen);
            break;
        }
        case FDT_NOP:
            break;
        case FDT_END:
            return NULL;
        default:
            return NULL;
        }
    }
    return NULL;
}

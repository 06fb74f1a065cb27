// Interposes the allocator entry points to count calls. See CAllocationCounter.h.
#include "CAllocationCounter.h"
#include <stddef.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static uint64_t allocations;
static __thread uint64_t thread_allocations __attribute__((tls_model("initial-exec")));

static inline void count(void) {
    __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
    thread_allocations++;
}

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }

uint64_t sb_allocation_count(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }

uint64_t sb_thread_allocation_count(void) { return thread_allocations; }

int sb_allocation_counter_active(void) {
    uint64_t before = sb_allocation_count();
    void *volatile p = malloc(16);
    free(p);
    return sb_allocation_count() > before;
}

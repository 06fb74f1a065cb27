// Counts heap allocations made by this process, for allocation-free tests.
//
// Linking this target into an executable interposes malloc, calloc, realloc,
// posix_memalign and aligned_alloc: each call bumps a counter and forwards to
// glibc's implementation. Tests read the counter before and after a loop.
#ifndef SWITCHBOARD_ALLOCATION_COUNTER_H
#define SWITCHBOARD_ALLOCATION_COUNTER_H
#include <stdint.h>

/// Number of allocation calls (malloc, calloc, realloc, posix_memalign,
/// aligned_alloc) since the process started.
uint64_t sb_allocation_count(void);

/// Allocation calls made by the calling thread (immune to other threads' work).
uint64_t sb_thread_allocation_count(void);

/// 1 when the interposed functions are in effect (a malloc issued from here was counted).
int sb_allocation_counter_active(void);
#endif

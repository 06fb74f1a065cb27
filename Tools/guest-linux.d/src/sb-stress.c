/* sb-stress: a multi-threaded stress of the atomics a guest's user space and kernel rely on.
 * THREADS threads (default: the online harts, times two) each run ITERATIONS rounds of:
 *   - amoadd.d on a shared counter (atomic fetch-add),
 *   - an LR/SC compare-and-swap loop adding 3 to another,
 *   - a spinlock (amoswap with acquire, store with release) guarding a plain counter and a
 *     pair of words that must stay equal,
 *   - a pthread mutex (futex system calls: sleeping, waking, IPIs) guarding a plain counter,
 *   - 32-bit amoor.w / amomaxu.w / amominu.w on shared words.
 * It prints one line of totals, identical on any correct machine whatever the interleaving,
 * and exits 0 when every total is what the arithmetic says, 1 otherwise.
 * Usage: sb-stress [THREADS [ITERATIONS]] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t add_total, cas_total, spin_total, mutex_total;
static uint64_t pair_a, pair_b, pair_torn;
static uint32_t or_mask, max_seen, min_seen = UINT32_MAX;
static uint32_t spin;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_line;
static long iterations;

static void lock(void) {
    while (__atomic_exchange_n(&spin, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&spin, __ATOMIC_RELAXED)) {}
}

static void unlock(void) { __atomic_store_n(&spin, 0, __ATOMIC_RELEASE); }

static void *worker(void *arg) {
    uint32_t id = (uint32_t)(uintptr_t)arg;
    pthread_barrier_wait(&start_line);
    for (long i = 0; i < iterations; i++) {
        __atomic_fetch_add(&add_total, 1, __ATOMIC_RELAXED);
        uint64_t seen = __atomic_load_n(&cas_total, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&cas_total, &seen, seen + 3, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {}
        lock();
        spin_total++;
        if (pair_a != pair_b) pair_torn++;
        pair_a++;
        pair_b++;
        unlock();
        if ((i & 7) == 0) {
            pthread_mutex_lock(&mutex);
            mutex_total++;
            pthread_mutex_unlock(&mutex);
        }
        __atomic_fetch_or(&or_mask, 1u << (id % 32), __ATOMIC_RELAXED);
        uint32_t v = id * 1000003u + (uint32_t)i;
        /* GCC has no fetch-max builtin: the instructions themselves. */
        __asm__ volatile("amomaxu.w zero, %1, %0" : "+A"(max_seen) : "r"(v) : "memory");
        __asm__ volatile("amominu.w zero, %1, %0" : "+A"(min_seen) : "r"(v) : "memory");
    }
    return NULL;
}

int main(int argc, char **argv) {
    long threads = argc > 1 ? atol(argv[1]) : 2 * sysconf(_SC_NPROCESSORS_ONLN);
    iterations = argc > 2 ? atol(argv[2]) : 100000;
    if (threads < 1 || threads > 64 || iterations < 1 || iterations > 100000000) {
        fprintf(stderr, "usage: sb-stress [THREADS 1-64 [ITERATIONS 1-100000000]]\n");
        return 2;
    }
    pthread_t tid[64];
    pthread_barrier_init(&start_line, NULL, (unsigned)threads);
    for (long t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)t) != 0) { perror("pthread_create"); return 2; }
    for (long t = 0; t < threads; t++) pthread_join(tid[t], NULL);

    uint64_t n = (uint64_t)threads * (uint64_t)iterations;
    uint64_t mutex_expected = (uint64_t)threads * (uint64_t)((iterations + 7) / 8);
    uint32_t mask_expected = threads >= 32 ? UINT32_MAX : (1u << threads) - 1;
    uint32_t max_expected = (uint32_t)(threads - 1) * 1000003u + (uint32_t)(iterations - 1);
    int ok = add_total == n && cas_total == 3 * n && spin_total == n && pair_a == n && pair_b == n
          && pair_torn == 0 && mutex_total == mutex_expected && or_mask == mask_expected
          && max_seen == max_expected && min_seen == 0;
    printf("sb-stress: threads %ld iterations %ld add %llu cas %llu spin %llu torn %llu mutex %llu or %#x max %u min %u: %s\n",
           threads, iterations, (unsigned long long)add_total, (unsigned long long)cas_total,
           (unsigned long long)spin_total, (unsigned long long)pair_torn, (unsigned long long)mutex_total,
           or_mask, max_seen, min_seen, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}

/* sb-dirty: rewrites a region of memory at a steady pace and checks that it holds what was
 * written, for Switchboard's migration tests (a guest whose memory changes while it moves).
 * It takes MIB mebibytes, then for SECONDS seconds rewrites RATE MiB per second, page by page,
 * round robin: before writing a page it checks the page still holds the previous round's
 * stamp in every word. It prints one line:
 *   sb-dirty: N MiB rewritten in S s, R rounds, ok|corrupt at page P
 * Usage: sb-dirty MIB RATE SECONDS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: sb-dirty MIB RATE SECONDS\n");
        return 2;
    }
    long mib = atol(argv[1]), rate = atol(argv[2]);
    double seconds = atof(argv[3]);
    if (mib < 1 || mib > 4096 || rate < 1 || rate > 100000 || seconds <= 0) {
        fprintf(stderr, "sb-dirty: MIB 1-4096, RATE 1-100000, SECONDS > 0\n");
        return 2;
    }
    size_t page = 4096, pages = (size_t)mib << 8;
    uint64_t *mem = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        perror("sb-dirty: mmap");
        return 2;
    }
    size_t words = page / 8;
    uint64_t *stamp = calloc(pages, sizeof *stamp);
    double start = now(), end = start + seconds;
    long long written = 0;
    size_t p = 0, rounds = 0;
    const size_t slice = 64; /* pages per pacing step: 256 KiB */
    while (now() < end) {
        for (size_t k = 0; k < slice; k++, p++) {
            if (p == pages) {
                p = 0;
                rounds++;
            }
            uint64_t *w = mem + p * words;
            uint64_t expect = stamp[p] ^ (uint64_t)p;
            for (size_t i = 0; stamp[p] != 0 && i < words; i++) {
                if (w[i] != expect + i) {
                    printf("sb-dirty: %lld MiB rewritten in %.1f s, %zu rounds, corrupt at page %zu\n", written >> 20,
                           now() - start, rounds, p);
                    return 1;
                }
            }
            uint64_t next = ((uint64_t)rounds + 1) * 0x9E3779B97F4A7C15ull;
            for (size_t i = 0; i < words; i++) w[i] = (next ^ (uint64_t)p) + i;
            stamp[p] = next;
            written += (long long)page;
        }
        /* Pace: the time the bytes written so far should have taken. */
        double due = start + (double)written / ((double)rate * 1048576.0);
        double wait = due - now();
        if (wait > 0) usleep((useconds_t)(wait * 1e6));
    }
    printf("sb-dirty: %lld MiB rewritten in %.1f s, %zu rounds, ok\n", written >> 20, now() - start, rounds);
    return 0;
}

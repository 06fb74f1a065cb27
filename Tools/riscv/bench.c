/* bench: a compute-bound guest workload (CRC-32, integer matrix multiply, memory shuffles).
 * Prints a checksum and the instructions retired (minstret), then powers off. */
#include "rt.h"

#define N 48
static uint32_t table[256];
static int32_t A[N][N], B[N][N], C[N][N];
static uint8_t buf[65536];

static uint32_t crc32(const uint8_t *p, int n) {
    uint32_t c = 0xffffffffu;
    for (int i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

int main(void) {
    uint64_t start = read_instret();
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint64_t seed = 88172645463325252ull;
    for (int i = 0; i < (int)sizeof buf; i++) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; buf[i] = (uint8_t)seed; }
    uint32_t sum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        sum ^= crc32(buf, sizeof buf);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) { A[i][j] = (int32_t)(i * 7 + j + round); B[i][j] = (int32_t)(i - j * 3 + sum); }
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                int32_t acc = 0;
                for (int k = 0; k < N; k++) acc += A[i][k] * B[k][j];
                C[i][j] = acc;
            }
        for (int i = 0; i < N; i++) sum += (uint32_t)C[i][(i + round) % N];
        /* memory shuffle: Fisher-Yates over the buffer with 64-bit xorshift */
        for (int i = sizeof buf - 1; i > 0; i--) {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
            int j = (int)(seed % (uint64_t)(i + 1));
            uint8_t t = buf[i]; buf[i] = buf[j]; buf[j] = t;
        }
    }
    uint64_t n = read_instret() - start;
    puts_("checksum "); put_hex(sum); putch('\n');
    puts_("instret "); put_dec(n); putch('\n');
    return 0;
}

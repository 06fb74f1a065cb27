/* fpbench: a floating-point guest workload for `bench cpu`. Each round advances a small
 * gravitational n-body system (double: multiply-adds, divide, square root), multiplies two
 * single-precision matrices with fused multiply-adds, and folds the results through
 * conversions (float <-> double, to and from integers) and compares (min, max, lt, le, eq).
 * Prints a checksum of the exact result bits and the instructions retired (minstret), then
 * powers off. Built for RV64GC with the lp64d ABI; mstatus.FS is switched on before any FP
 * instruction runs. */
#include "rt.h"

#define BODIES 6
#define STEPS 200
#define M 20

typedef struct { double x, y, z, vx, vy, vz, mass; } body;
static body sys[BODIES];
static float A[M][M], B[M][M], C[M][M];

static inline uint64_t bits_d(double d) { union { double d; uint64_t u; } v = { .d = d }; return v.u; }
static inline uint32_t bits_f(float f) { union { float f; uint32_t u; } v = { .f = f }; return v.u; }

/* Initial positions and velocities from integer formulas, converted to double. */
static void init_bodies(void) {
    for (int i = 0; i < BODIES; i++) {
        int k = i + 1;
        sys[i].x = (double)(k * 37 % 11 - 5) * 0.75;
        sys[i].y = (double)(k * 53 % 13 - 6) * 0.5;
        sys[i].z = (double)(k * 17 % 7 - 3) * 0.25;
        sys[i].vx = (double)(k % 3 - 1) * 0.01;
        sys[i].vy = (double)(k % 5 - 2) * 0.02;
        sys[i].vz = (double)(k % 4 - 2) * 0.005;
        sys[i].mass = 1.0 + (double)k / 7.0;
    }
}

static void advance(double dt) {
    for (int i = 0; i < BODIES; i++) {
        body *a = &sys[i];
        for (int j = i + 1; j < BODIES; j++) {
            body *b = &sys[j];
            double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
            double d2 = __builtin_fma(dx, dx, __builtin_fma(dy, dy, __builtin_fma(dz, dz, 0.01)));
            double mag = dt / (d2 * __builtin_sqrt(d2));
            double ma = a->mass * mag, mb = b->mass * mag;
            a->vx = __builtin_fma(-dx, mb, a->vx); a->vy = __builtin_fma(-dy, mb, a->vy); a->vz = __builtin_fma(-dz, mb, a->vz);
            b->vx = __builtin_fma(dx, ma, b->vx); b->vy = __builtin_fma(dy, ma, b->vy); b->vz = __builtin_fma(dz, ma, b->vz);
        }
    }
    for (int i = 0; i < BODIES; i++) {
        body *a = &sys[i];
        a->x = __builtin_fma(dt, a->vx, a->x); a->y = __builtin_fma(dt, a->vy, a->y); a->z = __builtin_fma(dt, a->vz, a->z);
    }
}

static double energy(void) {
    double e = 0;
    for (int i = 0; i < BODIES; i++) {
        body *a = &sys[i];
        e += 0.5 * a->mass * (a->vx * a->vx + a->vy * a->vy + a->vz * a->vz);
        for (int j = i + 1; j < BODIES; j++) {
            body *b = &sys[j];
            double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
            e -= a->mass * b->mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz + 0.01);
        }
    }
    return e;
}

/* Single-precision matrix multiply; then clamp, compare and convert each element. */
static uint64_t matrix(int round, double seed) {
    float s = (float)seed;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            A[i][j] = (float)((i * j + round) % 17) * 0.125f - 1.0f + s;
            B[i][j] = (float)((i + 3 * j + round) % 13) * 0.25f - 1.5f;
        }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            float acc = 0.0f;
            for (int k = 0; k < M; k++) acc = __builtin_fmaf(A[i][k], B[k][j], acc);
            C[i][j] = acc;
        }
    uint64_t h = 0;
    int above = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            float c = __builtin_fminf(__builtin_fmaxf(C[i][j], -40.0f), 40.0f);
            if (c > 1.0f) above++;
            if (c <= -1.0f) above += 2;
            if (c == C[j][i]) above += 4;
            double wide = (double)c * 1.0000001;
            h = h * 31 + (uint64_t)(int64_t)(wide * 1024.0) + bits_f((float)(wide / 3.0));
        }
    return h + (uint64_t)above;
}

static __attribute__((noinline)) uint64_t run(void) {
    init_bodies();
    uint64_t h = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int s = 0; s < STEPS; s++) advance(0.001);
        double e = energy();
        h = (h << 7 | h >> 57) ^ bits_d(e);
        h += matrix(round, e);
    }
    return h;
}

int main(void) {
    __asm__ volatile("csrs mstatus, %0" :: "r"(1ul << 13)); /* FS = Initial */
    uint64_t start = read_instret();
    uint64_t h = run();
    uint64_t n = read_instret() - start;
    puts_("checksum "); put_hex(h); putch('\n');
    puts_("instret "); put_dec(n); putch('\n');
    return 0;
}

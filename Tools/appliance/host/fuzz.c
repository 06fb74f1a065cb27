/* Switchboard guest appliance, host build: feeds random and half-valid frames to the network
 * stack (net.c, ping.c, flow.c) in every role, and corrupted device trees to fdt.c, under
 * AddressSanitizer and UndefinedBehaviorSanitizer. The NIC, console and clock are stubs.
 * Usage: fuzz DTB [ITERATIONS]; prints "fuzz: ok ..." and exits 0, or dies on the first bug. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "appliance.h"

config_t cfg;
int role_fail_code;
nic_info nic;
uint64_t time_frequency = 10000000;

static uint64_t fake_time;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next_random(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}

uint64_t time_now(void) { return fake_time += 1 + next_random() % 5000; }
uint64_t ticks_to_us(uint64_t t) { return t / 10; }
uint64_t ms_to_ticks(uint64_t ms) { return ms * 10000; }
void kprintf(const char *fmt, ...) { (void)fmt; }
int str_eq(const char *a, const char *b) { return strcmp(a, b) == 0; }

static uint8_t tx_frame[2048 - 12];
static uint64_t transmitted;
uint8_t *nic_tx_alloc(void) { return next_random() % 16 == 0 ? NULL : tx_frame; }
uint8_t *nic_tx_alloc_wait(uint64_t timeout_ticks) { (void)timeout_ticks; return nic_tx_alloc(); }
void nic_tx_commit(uint8_t *frame, uint32_t len) {
    if (frame != tx_frame || len < 60 || len > NET_MTU_FRAME) {
        fprintf(stderr, "fuzz: bad transmit of %u bytes\n", len);
        abort();
    }
    transmitted++;
}

static const uint8_t our_mac[6] = {0x52, 0x54, 0, 0, 0, 1};
#define OUR_IP 0x0a000001U
#define PEER_IP 0x0a000002U

/* A random frame, often with valid Ethernet/IPv4/UDP/flow headers so deeper code runs. */
static uint32_t make_frame(uint8_t *f) {
    uint32_t len = next_random() % 1530;
    for (uint32_t i = 0; i < len; i++) f[i] = (uint8_t)next_random();
    if (len < 14) return len;
    if (next_random() % 2) memcpy(f, our_mac, 6);
    if (next_random() % 4 == 0) memset(f, 0xff, 6);
    f[12] = next_random() % 2 ? 0x08 : f[12];
    f[13] = f[12] == 0x08 ? (next_random() % 3 ? 0x00 : 0x06) : f[13];
    if (len >= 42 && f[13] == 0x06 && next_random() % 2) {
        f[14] = 0; f[15] = 1; f[16] = 8; f[17] = 0; f[18] = 6; f[19] = 4;
        put32(f + 38, OUR_IP);
    }
    if (len >= 34 && f[13] == 0x00 && next_random() % 4) {
        uint32_t total = next_random() % 8 ? len - 14 : next_random() % 2000;
        f[14] = next_random() % 8 ? 0x45 : (uint8_t)next_random();
        put16(f + 16, (uint16_t)total);
        put16(f + 20, next_random() % 8 ? 0x4000 : (uint16_t)next_random());
        f[23] = next_random() % 2 ? 17 : 1;
        put32(f + 26, next_random() % 2 ? PEER_IP : next_random());
        put32(f + 30, next_random() % 8 ? OUR_IP : next_random());
        put16(f + 24, 0);
        put16(f + 24, inet_checksum(f + 14, 20, 0));
        if (f[23] == 17 && len >= 42) {
            put16(f + 36, next_random() % 2 ? 5001 : 7);
            put16(f + 38, (uint16_t)(next_random() % 8 ? len - 34 : next_random()));
            put16(f + 40, 0);
            if (len >= 74 && next_random() % 2) {
                put32(f + 42, 0x5342464cU);
                f[46] = (uint8_t)(1 + next_random() % 3);
                f[47] = 1;
                put32(f + 50, next_random() % 3);
                put64(f + 58, next_random() % 4 ? next_random() % 100000 : ((uint64_t)next_random() << 32));
            }
        } else if (f[23] == 1 && len >= 42) {
            f[34] = next_random() % 2 ? 0 : 8;
            f[35] = 0;
            put16(f + 38, 0x5342);
            put16(f + 36, 0);
            put16(f + 36, inet_checksum(f + 34, len - 34, 0));
        }
    }
    return len;
}

static void fuzz_stack(uint64_t iterations) {
    static uint8_t frame[1600];
    for (int role = ROLE_ECHO; role <= ROLE_PING; role++) {
        memset(&cfg, 0, sizeof cfg);
        cfg.role = (enum role)role;
        cfg.port = 5001; cfg.flows = 0; cfg.flow_id = 1; cfg.peer = PEER_IP; cfg.has_peer = 1;
        cfg.interval_ms = 1; cfg.rate = 100000; cfg.count = 1000; cfg.has_count = 1; cfg.confirm = 1;
        memcpy(net.mac, our_mac, 6);
        net.ip = OUR_IP;
        net.prefix_len = 24;
        if (role == ROLE_PING) ping_start();
        if (role == ROLE_FLOW) flow_start();
        for (uint64_t i = 0; i < iterations; i++) {
            uint32_t len = make_frame(frame);
            net_input(frame, len);
            uint64_t now = time_now();
            if (role == ROLE_PING) ping_poll(now);
            if (role == ROLE_FLOW) flow_poll(now);
            if (role == ROLE_SINK) { sink_poll(now); if (i % 1000 == 0) sink_progress(); }
        }
        if (role == ROLE_SINK) { sink_finish_all(); (void)sink_result(); }
    }
}

static void fuzz_fdt(const uint8_t *dtb, size_t size, uint64_t iterations) {
    uint32_t len = 0;
    if (!fdt_find_property(dtb, "/chosen", "bootargs", &len)) {
        fprintf(stderr, "fuzz: /chosen/bootargs not found in the pristine device tree\n");
        exit(1);
    }
    uint8_t *copy = aligned_alloc(8, (size + 7) & ~(size_t)7);
    for (uint64_t i = 0; i < iterations; i++) {
        memcpy(copy, dtb, size);
        int flips = 1 + (int)(next_random() % 8);
        for (int k = 0; k < flips; k++) copy[next_random() % size] = (uint8_t)next_random();
        /* The appliance trusts that totalsize bytes are readable (they are RAM); keep it so. */
        if (be32(copy + 4) > size) put32(copy + 4, (uint32_t)size);
        (void)fdt_find_property(copy, "/chosen", "bootargs", &len);
        (void)fdt_find_property(copy, "/cpus", "timebase-frequency", &len);
        (void)fdt_find_property(copy, "/soc/serial", "compatible", &len);
    }
    free(copy);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz DTB [ITERATIONS]\n");
        return 2;
    }
    uint64_t iterations = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    static uint8_t dtb[1 << 20] __attribute__((aligned(8)));
    size_t size = fread(dtb, 1, sizeof dtb, f);
    fclose(f);
    if (size < 40) { fprintf(stderr, "fuzz: %s is too small\n", argv[1]); return 2; }
    /* Fuzz only the bytes the header says the tree has (QEMU pads its dump). */
    size_t total = be32(dtb + 4);
    if (total >= 40 && total < size) size = total;
    fuzz_stack(iterations);
    fuzz_fdt(dtb, size, iterations / 10);
    printf("fuzz: ok iterations=%lu transmitted=%lu ignored=%lu\n", (unsigned long)iterations,
           (unsigned long)transmitted, (unsigned long)net.ignored);
    return 0;
}

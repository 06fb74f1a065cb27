/* Switchboard guest appliance: shared declarations.
 * A bare-metal RV64 M-mode program for QEMU `virt` and Switchboard's VMM: one virtio-net NIC
 * (virtio-mmio version 2), a tiny ARP/IPv4/ICMP/UDP stack, and traffic roles. See docs/appliance.md. */
#ifndef APPLIANCE_H
#define APPLIANCE_H

#include <stdint.h>
#include <stddef.h>

/* ---- board (QEMU virt memory map) ---- */
#define UART_BASE        0x10000000UL
#define CLINT_MTIME      0x0200bff8UL
#define TEST_DEVICE      0x00100000UL
#define VIRTIO_MMIO_BASE 0x10001000UL
#define VIRTIO_MMIO_STRIDE 0x1000UL
#define VIRTIO_MMIO_SLOTS 8

/* ---- failure codes (the SiFive test device's exit code on failure) ---- */
enum {
    FAIL_LOST = 1,        /* sink/flow lost packets, ping lost replies */
    FAIL_NO_PEER = 2,     /* the peer never answered ARP */
    FAIL_NO_REPORT = 3,   /* flow: the sink never sent its report */
    FAIL_TIMEOUT = 4,     /* timeout= expired before the role finished */
    FAIL_CONFIG = 5,      /* bad or missing bootargs */
    FAIL_NO_NIC = 6,      /* no usable virtio-net device */
    FAIL_TRAP = 7,        /* unexpected trap */
};

/* ---- MMIO and ordering ---- */
static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint8_t mmio_read8(uintptr_t a) { return *(volatile uint8_t *)a; }
static inline void mmio_write8(uintptr_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
/* Orders memory and device accesses on both sides of a ring index update. */
static inline void fence_all(void) { __asm__ volatile("fence iorw, iorw" ::: "memory"); }

/* ---- byte order (the CPU is little-endian; the network and the FDT are big-endian) ---- */
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

/* ---- lib.c: what the compiler may call, and small string helpers ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int str_eq(const char *a, const char *b);

/* ---- console.c: UART output, formatted printing, time ---- */
void console_putc(char c);
int console_getc(void); /* -1 when nothing is waiting */
/* printf subset: %s %c %d %u %x %lu %ld %lx %llu, plus %I (IPv4 address as uint32_t) and
 * %M (MAC address, pointer to 6 bytes). Field widths: %0Nu / %0Nx. */
void kprintf(const char *fmt, ...);
uint64_t time_now(void);           /* CLINT mtime ticks */
extern uint64_t time_frequency;    /* ticks per second (from the FDT, default 10 MHz) */
uint64_t ticks_to_us(uint64_t ticks);
uint64_t ms_to_ticks(uint64_t ms);
void power_off(int pass, int code) __attribute__((noreturn));

/* ---- fdt.c: flattened device tree ---- */
/* Finds property `prop` of the node at `path` (e.g. "/chosen"); returns its data and length,
 * or NULL when absent or the blob is malformed. */
const uint8_t *fdt_find_property(const void *fdt, const char *path, const char *prop, uint32_t *len);

/* ---- virtio_net.c: the NIC ---- */
#define NET_MTU_FRAME 1514
typedef struct {
    uint8_t mac[6];
    int has_mac;
    uint64_t rx_frames, tx_frames, tx_full, rx_bad;
} nic_info;
extern nic_info nic;
int nic_init(void); /* 0 on success */
/* Polls the receive ring, calling net_input for every frame; returns the number of frames. */
int nic_poll(void);
/* Reserves a transmit buffer (frame bytes, at least NET_MTU_FRAME long); NULL when the ring
 * is full even after reclaiming finished buffers. */
uint8_t *nic_tx_alloc(void);
/* Like nic_tx_alloc, but waits up to `timeout_ticks` for the device to finish a buffer (for
 * replies, which a sender's burst must not crowd out: a host's stack queues them too). */
uint8_t *nic_tx_alloc_wait(uint64_t timeout_ticks);
/* Sends the buffer from the last nic_tx_alloc with `len` frame bytes. */
void nic_tx_commit(uint8_t *frame, uint32_t len);
/* Waits (bounded) until the device has used every transmit buffer; 1 when drained. */
int nic_tx_drain(uint64_t timeout_ticks);

/* ---- net.c: Ethernet, ARP, IPv4, ICMP, UDP ---- */
typedef struct {
    uint8_t mac[6];
    uint32_t ip;
    uint32_t prefix_len;
    uint64_t ignored; /* malformed or not-for-us frames */
    uint64_t arp_replies_sent, icmp_echo_replies, udp_echo_replies;
} net_state;
extern net_state net;
void net_input(const uint8_t *frame, uint32_t len);
/* Looks up `ip` in the ARP cache; copies its MAC into `mac` and returns 1 when known,
 * otherwise sends a request (at most every 100 ms) and returns 0. */
int arp_resolve(uint32_t ip, uint8_t mac[6]);
void arp_announce(void);
uint16_t inet_checksum(const uint8_t *data, uint32_t len, uint32_t initial);
/* Builds and sends an IPv4 UDP datagram; returns 0 on success, -1 when no TX buffer. */
int udp_send(const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
             const uint8_t *payload, uint32_t len);
/* Like udp_send, but the payload is written in place by `fill` (avoids a copy). */
int udp_send_fill(const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                  uint32_t len, void (*fill)(uint8_t *payload, uint32_t len, void *ctx), void *ctx);
int icmp_send_echo(const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t id, uint16_t seq,
                   uint32_t payload_len, uint64_t stamp);

/* Upcalls from net.c into the roles. */
void ping_on_reply(uint32_t src_ip, uint16_t id, uint16_t seq, const uint8_t *payload, uint32_t len);
void flow_on_udp(uint32_t src_ip, const uint8_t *src_mac, uint16_t src_port, uint16_t dst_port,
                 const uint8_t *payload, uint32_t len);

/* ---- configuration from /chosen/bootargs ---- */
enum role { ROLE_ECHO, ROLE_SINK, ROLE_FLOW, ROLE_PING };
typedef struct {
    enum role role;
    uint32_t ip, prefix_len, peer;
    int has_ip, has_peer, has_mac, has_size, has_count, has_duration;
    uint8_t mac[6];
    uint64_t rate, count, duration_s, report_s, interval_ms, timeout_s, flows;
    uint64_t pings; /* role=flow: ping the peer this many times before the flow */
    uint32_t port, size, flow_id;
    int exit_when_done, confirm;
    uint64_t dirty_mib_s, dirty_window_mib; /* dirty=: MiB/s written over a window of MiB */
} config_t;
extern config_t cfg;

/* ---- dirty.c: a paced memory writer (bootarg dirty=) ---- */
/* Places the window above the image and below the device tree, within the RAM of the FDT's
 * /memory node; 0 on success (then dirty_poll writes), -1 with a message. */
int dirty_init(const void *fdt, uint64_t mib_per_s, uint64_t window_mib);
/* Writes the pages owed at `now`, at most a small burst. */
void dirty_poll(uint64_t now);
extern uint64_t dirty_pages_written;

/* ---- roles (ping.c, flow.c): called from the main loop ---- */
typedef enum { ROLE_RUNNING, ROLE_PASS, ROLE_FAIL } role_status;
extern int role_fail_code;
void ping_start(void);
void ping_begin(uint64_t count);
role_status ping_poll(uint64_t now);
void ping_status(void);
void flow_start(void);
role_status flow_poll(uint64_t now);
void flow_status(void);
role_status sink_poll(uint64_t now);
void sink_progress(void);
void sink_status(void);
void sink_finish_all(void);
role_status sink_result(void);

#endif

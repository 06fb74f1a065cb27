/* Switchboard guest appliance: the UDP flow generator (role=flow) and the flow sink
 * (role=sink). The generator paces numbered datagrams at `rate` per second and ends with END
 * messages carrying the total; the sink counts received, duplicated, reordered and lost
 * packets and answers END with a REPORT, so both sides print the same flow-report line.
 *
 * Datagram layout (big-endian), at least 32 bytes, padded to size=:
 *   0 magic "SBFL" | 4 type (1 data, 2 end, 3 report) | 5 version 1 | 6 reserved (2)
 *   8 flow id (4) | 12 reserved (4) | 16 seq (data) or total sent (end, report)
 *  24 send time in microseconds since the sender booted
 * REPORT adds: 32 received | 40 lost | 48 duplicated | 56 reordered (each 8 bytes), 64 bytes. */
#include "appliance.h"

#define FLOW_MAGIC 0x5342464cU
#define T_DATA 1
#define T_END 2
#define T_REPORT 3
#define FLOW_HDR 32
#define REPORT_LEN 64
#define PEER_ARP_TIMEOUT_MS 20000
#define END_REPEATS 5
#define END_SPACING_MS 20
#define REPORT_WAIT_MS 3000
#define END_RESEND_MS 250
#define BURST 32

static void header(uint8_t *b, uint8_t type, uint32_t id, uint64_t seq, uint64_t stamp_us) {
    put32(b, FLOW_MAGIC);
    b[4] = type;
    b[5] = 1;
    put16(b + 6, 0);
    put32(b + 8, id);
    put32(b + 12, 0);
    put64(b + 16, seq);
    put64(b + 24, stamp_us);
}

static void print_report(const char *kind, uint32_t id, uint64_t sent, uint64_t received, uint64_t lost,
                         uint64_t dup, uint64_t reord) {
    kprintf("%s id=%u sent=%lu received=%lu lost=%lu duplicated=%lu reordered=%lu\n", kind, id, sent,
            received, lost, dup, reord);
}

/* ---------------- generator ---------------- */

/* The outcome of the generator, set when the sink's REPORT arrives. */
static role_status report_result = ROLE_RUNNING;

enum { F_RESOLVE, F_SEND, F_END, F_WAIT_REPORT, F_DONE };
static struct {
    int phase;
    uint8_t peer_mac[6];
    uint64_t start, send_start, count, sent, ends_sent, next_end, deadline;
    uint32_t size;
} g;

struct fill_ctx { uint8_t type; uint64_t seq; };

static void fill_flow(uint8_t *payload, uint32_t len, void *ctx) {
    const struct fill_ctx *c = ctx;
    header(payload, c->type, cfg.flow_id, c->seq, ticks_to_us(time_now()));
    for (uint32_t i = FLOW_HDR; i < len; i++) payload[i] = (uint8_t)i;
}

static int send_flow(uint8_t type, uint64_t seq) {
    struct fill_ctx c = {type, seq};
    return udp_send_fill(g.peer_mac, cfg.peer, (uint16_t)cfg.port, (uint16_t)cfg.port, g.size, fill_flow, &c);
}

void flow_start(void) {
    g.phase = F_RESOLVE;
    g.start = time_now();
    g.size = cfg.has_size ? cfg.size : 64;
    if (g.size < FLOW_HDR) g.size = FLOW_HDR;
    if (cfg.has_count) g.count = cfg.count;
    else g.count = cfg.rate * (cfg.has_duration ? cfg.duration_s : 10);
    kprintf("flow: id=%u to %I:%u count=%lu rate=%lu size=%u\n", cfg.flow_id, cfg.peer, cfg.port, g.count,
            cfg.rate, g.size);
}

/* When packet `seq` is due: send_start + seq / rate seconds, without 64-bit overflow. */
static uint64_t due(uint64_t seq) {
    if (cfg.rate == 0) return g.send_start;
    return g.send_start + (seq / cfg.rate) * time_frequency + (seq % cfg.rate) * time_frequency / cfg.rate;
}

role_status flow_poll(uint64_t now) {
    switch (g.phase) {
    case F_RESOLVE:
        if (arp_resolve(cfg.peer, g.peer_mac)) {
            kprintf("appliance: peer %I is at %M\n", cfg.peer, g.peer_mac);
            g.phase = F_SEND;
            g.send_start = now;
        } else if (now - g.start > ms_to_ticks(PEER_ARP_TIMEOUT_MS)) {
            kprintf("appliance: error: peer %I did not answer ARP\n", cfg.peer);
            g.phase = F_DONE;
            role_fail_code = FAIL_NO_PEER;
            return ROLE_FAIL;
        }
        return ROLE_RUNNING;
    case F_SEND:
        for (int n = 0; n < BURST && g.sent < g.count && now >= due(g.sent); n++) {
            if (send_flow(T_DATA, g.sent) != 0) break; /* ring full: retry on the next poll */
            g.sent++;
        }
        if (g.sent >= g.count) {
            uint64_t elapsed = ticks_to_us(now - g.send_start);
            kprintf("flow-sent id=%u sent=%lu elapsed_us=%lu\n", cfg.flow_id, g.sent, elapsed);
            g.phase = F_END;
            g.next_end = now;
        }
        return ROLE_RUNNING;
    case F_END:
        if (now >= g.next_end && send_flow(T_END, g.sent) == 0) {
            g.ends_sent++;
            g.next_end = now + ms_to_ticks(END_SPACING_MS);
            if (g.ends_sent >= END_REPEATS) {
                if (!cfg.confirm) {
                    g.phase = F_DONE;
                    return ROLE_PASS;
                }
                g.phase = F_WAIT_REPORT;
                g.deadline = now + ms_to_ticks(REPORT_WAIT_MS);
                g.next_end = now + ms_to_ticks(END_RESEND_MS);
            }
        }
        return ROLE_RUNNING;
    case F_WAIT_REPORT:
        if (now >= g.deadline) {
            kprintf("flow: no report from sink %I\n", cfg.peer);
            g.phase = F_DONE;
            role_fail_code = FAIL_NO_REPORT;
            return ROLE_FAIL;
        }
        if (now >= g.next_end && send_flow(T_END, g.sent) == 0) g.next_end = now + ms_to_ticks(END_RESEND_MS);
        return ROLE_RUNNING;
    default:
        return report_result; /* F_DONE: set when the sink's REPORT arrived */
    }
}

static void flow_on_report(uint32_t src_ip, const uint8_t *b, uint32_t len) {
    if (g.phase != F_WAIT_REPORT && g.phase != F_END) return;
    if (src_ip != cfg.peer || len < REPORT_LEN || be32(b + 8) != cfg.flow_id) return;
    uint64_t sent = be64(b + 16), received = be64(b + 32), lost = be64(b + 40);
    print_report("flow-report", cfg.flow_id, sent, received, lost, be64(b + 48), be64(b + 56));
    g.phase = F_DONE;
    if (lost == 0 && sent == g.sent) {
        report_result = ROLE_PASS;
    } else {
        report_result = ROLE_FAIL;
        role_fail_code = FAIL_LOST;
    }
}

void flow_status(void) { kprintf(" sent=%lu", g.sent); }

/* ---------------- sink ---------------- */

#define MAX_FLOWS 4
#define WINDOW 65536 /* sequence numbers tracked for duplicate detection */
#define SINK_GRACE_MS 50

struct sink_flow {
    int used, has_end, reported;
    uint32_t src_ip, id;
    uint16_t src_port;
    uint8_t src_mac[6];
    uint64_t next; /* highest sequence seen + 1 */
    uint64_t received, duplicated, reordered, end_total, final_at;
    uint64_t seen[WINDOW / 64];
};
static struct sink_flow flows[MAX_FLOWS];
static uint64_t flows_done;

static int seen_test_set(struct sink_flow *f, uint64_t seq) {
    uint64_t bit = seq % WINDOW, mask = 1ULL << (bit % 64);
    int was = (f->seen[bit / 64] & mask) != 0;
    f->seen[bit / 64] |= mask;
    return was;
}

static void seen_clear(struct sink_flow *f, uint64_t seq) {
    uint64_t bit = seq % WINDOW;
    f->seen[bit / 64] &= ~(1ULL << (bit % 64));
}

static uint64_t flow_sent(const struct sink_flow *f) { return f->has_end ? f->end_total : f->next; }
static uint64_t flow_lost(const struct sink_flow *f) {
    uint64_t s = flow_sent(f);
    return s > f->received ? s - f->received : 0;
}

static void sink_data(struct sink_flow *f, uint64_t seq) {
    if (seq >= f->next) {
        uint64_t gap = seq - f->next;
        if (gap >= WINDOW) memset(f->seen, 0, sizeof f->seen);
        else for (uint64_t s = f->next; s < seq; s++) seen_clear(f, s);
        seen_clear(f, seq);
        seen_test_set(f, seq);
        f->next = seq + 1;
        f->received++;
    } else if (f->next - seq > WINDOW) {
        f->received++; /* too old to tell a duplicate from a late packet */
        f->reordered++;
    } else if (seen_test_set(f, seq)) {
        f->duplicated++;
    } else {
        f->received++;
        f->reordered++;
    }
}

static void send_report(struct sink_flow *f) {
    uint8_t b[REPORT_LEN];
    header(b, T_REPORT, f->id, flow_sent(f), ticks_to_us(time_now()));
    put64(b + 32, f->received);
    put64(b + 40, flow_lost(f));
    put64(b + 48, f->duplicated);
    put64(b + 56, f->reordered);
    udp_send(f->src_mac, f->src_ip, (uint16_t)cfg.port, f->src_port, b, REPORT_LEN);
}

static void sink_report(struct sink_flow *f) {
    print_report("flow-report", f->id, flow_sent(f), f->received, flow_lost(f), f->duplicated, f->reordered);
    f->reported = 1;
    flows_done++;
}

void flow_on_udp(uint32_t src_ip, const uint8_t *src_mac, uint16_t src_port, uint16_t dst_port,
                 const uint8_t *payload, uint32_t len) {
    if (dst_port != cfg.port || len < FLOW_HDR || be32(payload) != FLOW_MAGIC || payload[5] != 1) {
        net.ignored++;
        return;
    }
    uint8_t type = payload[4];
    uint32_t id = be32(payload + 8);
    uint64_t seq = be64(payload + 16);
    if (cfg.role == ROLE_FLOW) {
        if (type == T_REPORT) flow_on_report(src_ip, payload, len);
        return;
    }
    if (cfg.role != ROLE_SINK || (type != T_DATA && type != T_END)) return;
    struct sink_flow *f = NULL, *free_slot = NULL;
    for (int i = 0; i < MAX_FLOWS; i++) {
        if (flows[i].used && flows[i].src_ip == src_ip && flows[i].id == id) { f = &flows[i]; break; }
        if (!flows[i].used && !free_slot) free_slot = &flows[i];
    }
    if (!f) {
        if (!free_slot) { net.ignored++; return; }
        f = free_slot;
        memset(f, 0, sizeof *f);
        f->used = 1;
        f->src_ip = src_ip;
        f->id = id;
        kprintf("sink: flow id=%u from %I:%u\n", id, src_ip, src_port);
    }
    memcpy(f->src_mac, src_mac, 6);
    f->src_port = src_port;
    if (type == T_DATA) {
        sink_data(f, seq);
    } else if (!f->has_end) {
        f->has_end = 1;
        f->end_total = seq;
        f->final_at = time_now() + ms_to_ticks(SINK_GRACE_MS);
    } else if (f->reported) {
        send_report(f); /* the sender asks again: our earlier REPORT may have been lost */
    }
}

role_status sink_result(void) {
    int any = 0;
    for (int i = 0; i < MAX_FLOWS; i++) {
        if (!flows[i].used) continue;
        any = 1;
        if (!flows[i].has_end || flow_lost(&flows[i])) {
            role_fail_code = FAIL_LOST;
            return ROLE_FAIL;
        }
    }
    if (!any) {
        role_fail_code = FAIL_LOST;
        return ROLE_FAIL;
    }
    return ROLE_PASS;
}

role_status sink_poll(uint64_t now) {
    for (int i = 0; i < MAX_FLOWS; i++) {
        struct sink_flow *f = &flows[i];
        if (f->used && f->has_end && !f->reported && now >= f->final_at) {
            sink_report(f);
            send_report(f);
        }
    }
    if (cfg.flows && flows_done >= cfg.flows) return sink_result();
    return ROLE_RUNNING;
}

void sink_finish_all(void) {
    for (int i = 0; i < MAX_FLOWS; i++)
        if (flows[i].used && !flows[i].reported) sink_report(&flows[i]);
}

void sink_progress(void) {
    for (int i = 0; i < MAX_FLOWS; i++) {
        const struct sink_flow *f = &flows[i];
        if (f->used && !f->reported)
            print_report("flow-progress", f->id, flow_sent(f), f->received, flow_lost(f), f->duplicated,
                         f->reordered);
    }
}

void sink_status(void) {
    uint64_t received = 0;
    for (int i = 0; i < MAX_FLOWS; i++) received += flows[i].received;
    kprintf(" flows=%lu received=%lu", flows_done, received);
}

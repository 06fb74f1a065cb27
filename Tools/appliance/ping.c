/* Switchboard guest appliance: the ping client (role=ping). Resolves the peer, sends `count`
 * ICMP echo requests `interval` ms apart carrying their send time, prints each reply with its
 * round-trip time in microseconds, then a summary. */
#include "appliance.h"

#define PING_ID 0x5342
#define SEEN_BITS 4096

enum { P_RESOLVE, P_SEND, P_WAIT, P_DONE };
static struct {
    int phase;
    uint8_t peer_mac[6];
    uint64_t start, next_send, wait_until;
    uint64_t count, sent, received, duplicates;
    uint64_t rtt_min, rtt_max, rtt_sum;
    uint32_t payload;
    uint64_t seen[SEEN_BITS / 64];
} p;

/* Shared with flow.c: how long a sender waits for the peer's ARP reply. */
#define PEER_ARP_TIMEOUT_MS 20000

void ping_start(void) {
    uint64_t count;
    if (cfg.has_count) count = cfg.count;
    else if (cfg.has_duration) count = cfg.duration_s * 1000 / (cfg.interval_ms ? cfg.interval_ms : 1);
    else count = 4;
    ping_begin(count);
}

/* Starts `count` pings of the peer (role=ping, or the pings= prelude of role=flow). */
void ping_begin(uint64_t count) {
    p.phase = P_RESOLVE;
    p.start = time_now();
    p.payload = (cfg.has_size && cfg.role == ROLE_PING) ? cfg.size : 56;
    if (p.payload < 8) p.payload = 8;
    p.count = count ? count : 1;
    p.rtt_min = ~0ULL;
    kprintf("PING %I: %u data bytes\n", cfg.peer, p.payload);
}

void ping_on_reply(uint32_t src_ip, uint16_t id, uint16_t seq, const uint8_t *payload, uint32_t len) {
    uint64_t now = time_now();
    if ((p.phase != P_SEND && p.phase != P_WAIT) || src_ip != cfg.peer || id != PING_ID) return;
    if (seq == 0 || seq > p.sent || len < 8) return;
    uint64_t stamp = be64(payload);
    if (stamp > now) return;
    uint32_t bit = seq % SEEN_BITS;
    if (p.seen[bit / 64] & (1ULL << (bit % 64))) {
        p.duplicates++;
        return;
    }
    p.seen[bit / 64] |= 1ULL << (bit % 64);
    uint64_t rtt = ticks_to_us(now - stamp);
    p.received++;
    p.rtt_sum += rtt;
    if (rtt < p.rtt_min) p.rtt_min = rtt;
    if (rtt > p.rtt_max) p.rtt_max = rtt;
    kprintf("%u bytes from %I: icmp_seq=%u time=%lu us\n", len + 8, src_ip, seq, rtt);
}

static role_status ping_finish(void) {
    p.phase = P_DONE;
    uint64_t lost = p.sent - p.received;
    kprintf("ping: %lu transmitted, %lu received, %lu lost\n", p.sent, p.received, lost);
    if (p.received)
        kprintf("ping: rtt min/avg/max = %lu/%lu/%lu us\n", p.rtt_min, p.rtt_sum / p.received, p.rtt_max);
    if (lost) {
        role_fail_code = FAIL_LOST;
        return ROLE_FAIL;
    }
    return ROLE_PASS;
}

role_status ping_poll(uint64_t now) {
    switch (p.phase) {
    case P_RESOLVE:
        if (arp_resolve(cfg.peer, p.peer_mac)) {
            kprintf("appliance: peer %I is at %M\n", cfg.peer, p.peer_mac);
            p.phase = P_SEND;
            p.next_send = now;
        } else if (now - p.start > ms_to_ticks(PEER_ARP_TIMEOUT_MS)) {
            kprintf("appliance: error: peer %I did not answer ARP\n", cfg.peer);
            p.phase = P_DONE;
            role_fail_code = FAIL_NO_PEER;
            return ROLE_FAIL;
        }
        return ROLE_RUNNING;
    case P_SEND:
        if (now >= p.next_send) {
            if (icmp_send_echo(p.peer_mac, cfg.peer, PING_ID, (uint16_t)(p.sent + 1), p.payload, now) == 0) {
                p.sent++;
                p.next_send += ms_to_ticks(cfg.interval_ms);
                if (p.sent >= p.count) {
                    uint64_t wait = cfg.interval_ms > 1000 ? cfg.interval_ms : 1000;
                    p.wait_until = now + ms_to_ticks(wait);
                    p.phase = P_WAIT;
                }
            }
        }
        return ROLE_RUNNING;
    case P_WAIT:
        if (p.received >= p.sent || now >= p.wait_until) return ping_finish();
        return ROLE_RUNNING;
    default:
        return ROLE_RUNNING;
    }
}

void ping_status(void) {
    kprintf(" transmitted=%lu received=%lu", p.sent, p.received);
}

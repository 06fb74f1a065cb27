/* Switchboard guest appliance: Ethernet, ARP (replies, a small cache, resolution with retries),
 * IPv4 (header checks, no fragments), ICMP echo (reply and client), UDP (echo on port 7 and
 * the flow port). Every length is checked before a byte is read; bad frames are ignored. */
#include "appliance.h"

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define IP_HLEN 20
#define PROTO_ICMP 1
#define PROTO_UDP 17
#define UDP_HLEN 8
#define UDP_ECHO_PORT 7
#define ARP_CACHE_SIZE 8

net_state net;

static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct arp_entry { uint32_t ip; uint8_t mac[6]; uint8_t valid; uint64_t stamp; };
static struct arp_entry arp_cache[ARP_CACHE_SIZE];
static uint64_t arp_last_request;
static uint32_t arp_last_request_ip;

uint16_t inet_checksum(const uint8_t *data, uint32_t len, uint32_t initial) {
    uint64_t sum = initial;
    uint32_t i = 0;
    for (; i + 1 < len; i += 2) sum += (uint32_t)((data[i] << 8) | data[i + 1]);
    if (i < len) sum += (uint32_t)(data[i] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t pseudo_header_sum(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) {
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

static void eth_header(uint8_t *f, const uint8_t dst[6], uint16_t type) {
    memcpy(f, dst, 6);
    memcpy(f + 6, net.mac, 6);
    put16(f + 12, type);
}

/* ---- ARP ---- */

static void arp_learn(uint32_t ip, const uint8_t mac[6]) {
    if (ip == 0 || (mac[0] & 1)) return;
    uint64_t now = time_now();
    struct arp_entry *slot = &arp_cache[0];
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &arp_cache[i];
        if (e->valid && e->ip == ip) { slot = e; break; }
        if (!e->valid || (slot->valid && e->stamp < slot->stamp)) slot = e;
    }
    slot->ip = ip;
    memcpy(slot->mac, mac, 6);
    slot->valid = 1;
    slot->stamp = now;
}

static void arp_send(uint16_t op, const uint8_t eth_dst[6], const uint8_t tha[6], uint32_t tpa) {
    uint8_t *f = op == 2 ? nic_tx_alloc_wait(ms_to_ticks(100)) : nic_tx_alloc();
    if (!f) return;
    eth_header(f, eth_dst, ETHERTYPE_ARP);
    uint8_t *a = f + ETH_HLEN;
    put16(a, 1);
    put16(a + 2, ETHERTYPE_IPV4);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, net.mac, 6);
    put32(a + 14, net.ip);
    memcpy(a + 18, tha, 6);
    put32(a + 24, tpa);
    memset(f + ETH_HLEN + 28, 0, 60 - ETH_HLEN - 28); /* pad to the minimum frame */
    nic_tx_commit(f, 60);
}

void arp_announce(void) {
    static const uint8_t zero[6];
    arp_send(1, broadcast_mac, zero, net.ip); /* gratuitous request: target = our own IP */
}

int arp_resolve(uint32_t ip, uint8_t mac[6]) {
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        if (arp_cache[i].valid && arp_cache[i].ip == ip) {
            memcpy(mac, arp_cache[i].mac, 6);
            return 1;
        }
    }
    uint64_t now = time_now();
    if (arp_last_request_ip != ip || now - arp_last_request >= ms_to_ticks(100)) {
        static const uint8_t zero[6];
        arp_send(1, broadcast_mac, zero, ip);
        arp_last_request = now;
        arp_last_request_ip = ip;
    }
    return 0;
}

static void arp_input(const uint8_t *f, uint32_t len) {
    if (len < ETH_HLEN + 28) { net.ignored++; return; }
    const uint8_t *a = f + ETH_HLEN;
    if (be16(a) != 1 || be16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4) { net.ignored++; return; }
    uint16_t op = be16(a + 6);
    const uint8_t *sha = a + 8;
    uint32_t spa = be32(a + 14), tpa = be32(a + 24);
    int for_us = tpa == net.ip;
    /* RFC 826: update an entry we have; add one when the packet is for us. */
    int known = 0;
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        if (arp_cache[i].valid && arp_cache[i].ip == spa) known = 1;
    if (known || for_us) arp_learn(spa, sha);
    if (op == 1 && for_us && spa != net.ip) {
        arp_send(2, sha, sha, spa);
        net.arp_replies_sent++;
    }
}

/* ---- IPv4 ---- */

static uint8_t *ip_header(uint8_t *f, const uint8_t dst_mac[6], uint32_t dst_ip, uint8_t proto,
                          uint32_t payload_len) {
    static uint16_t ident;
    eth_header(f, dst_mac, ETHERTYPE_IPV4);
    uint8_t *ip = f + ETH_HLEN;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (uint16_t)(IP_HLEN + payload_len));
    put16(ip + 4, ident++);
    put16(ip + 6, 0x4000); /* don't fragment */
    ip[8] = 64;
    ip[9] = proto;
    put16(ip + 10, 0);
    put32(ip + 12, net.ip);
    put32(ip + 16, dst_ip);
    put16(ip + 10, inet_checksum(ip, IP_HLEN, 0));
    return ip + IP_HLEN;
}

static uint32_t frame_len(uint32_t ip_payload_len) {
    uint32_t n = ETH_HLEN + IP_HLEN + ip_payload_len;
    return n < 60 ? 60 : n;
}

int icmp_send_echo(const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t id, uint16_t seq,
                   uint32_t payload_len, uint64_t stamp) {
    if (payload_len > NET_MTU_FRAME - ETH_HLEN - IP_HLEN - 8) payload_len = NET_MTU_FRAME - ETH_HLEN - IP_HLEN - 8;
    uint8_t *f = nic_tx_alloc();
    if (!f) return -1;
    memset(f, 0, frame_len(8 + payload_len));
    uint8_t *icmp = ip_header(f, dst_mac, dst_ip, PROTO_ICMP, 8 + payload_len);
    icmp[0] = 8;
    icmp[1] = 0;
    put16(icmp + 4, id);
    put16(icmp + 6, seq);
    uint8_t *p = icmp + 8;
    for (uint32_t i = 0; i < payload_len; i++) p[i] = (uint8_t)i;
    if (payload_len >= 8) put64(p, stamp);
    put16(icmp + 2, inet_checksum(icmp, 8 + payload_len, 0));
    nic_tx_commit(f, frame_len(8 + payload_len));
    return 0;
}

static void icmp_input(const uint8_t *f, const uint8_t *ip, uint32_t src, const uint8_t *icmp, uint32_t len) {
    (void)ip;
    if (len < 8 || inet_checksum(icmp, len, 0) != 0) { net.ignored++; return; }
    if (icmp[0] == 8 && icmp[1] == 0) {
        if (len > NET_MTU_FRAME - ETH_HLEN - IP_HLEN) { net.ignored++; return; } /* had IP options */
        uint8_t *r = nic_tx_alloc_wait(ms_to_ticks(100));
        if (!r) return;
        memset(r, 0, frame_len(len));
        uint8_t *out = ip_header(r, f + 6, src, PROTO_ICMP, len);
        memcpy(out, icmp, len);
        out[0] = 0;
        put16(out + 2, 0);
        put16(out + 2, inet_checksum(out, len, 0));
        nic_tx_commit(r, frame_len(len));
        net.icmp_echo_replies++;
    } else if (icmp[0] == 0 && icmp[1] == 0) {
        ping_on_reply(src, be16(icmp + 4), be16(icmp + 6), icmp + 8, len - 8);
    }
}

/* ---- UDP ---- */

static void copy_fill(uint8_t *payload, uint32_t len, void *ctx) { memcpy(payload, ctx, len); }

int udp_send_fill(const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                  uint32_t len, void (*fill)(uint8_t *payload, uint32_t len, void *ctx), void *ctx) {
    if (len > NET_MTU_FRAME - ETH_HLEN - IP_HLEN - UDP_HLEN) return -1;
    uint8_t *f = nic_tx_alloc();
    if (!f) return -1;
    uint32_t ulen = UDP_HLEN + len;
    if (ulen + IP_HLEN + ETH_HLEN < 60) memset(f + ETH_HLEN + IP_HLEN + ulen, 0, 60 - (ETH_HLEN + IP_HLEN + ulen));
    uint8_t *u = ip_header(f, dst_mac, dst_ip, PROTO_UDP, ulen);
    put16(u, src_port);
    put16(u + 2, dst_port);
    put16(u + 4, (uint16_t)ulen);
    put16(u + 6, 0);
    fill(u + UDP_HLEN, len, ctx);
    uint16_t sum = inet_checksum(u, ulen, pseudo_header_sum(net.ip, dst_ip, PROTO_UDP, ulen));
    put16(u + 6, sum == 0 ? 0xffff : sum);
    nic_tx_commit(f, frame_len(ulen));
    return 0;
}

int udp_send(const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
             const uint8_t *payload, uint32_t len) {
    return udp_send_fill(dst_mac, dst_ip, src_port, dst_port, len, copy_fill, (void *)payload);
}

static void udp_input(const uint8_t *f, uint32_t src, uint32_t dst, const uint8_t *u, uint32_t len) {
    if (len < UDP_HLEN) { net.ignored++; return; }
    uint32_t ulen = be16(u + 4);
    if (ulen < UDP_HLEN || ulen > len) { net.ignored++; return; }
    if (be16(u + 6) != 0 && inet_checksum(u, ulen, pseudo_header_sum(src, dst, PROTO_UDP, ulen)) != 0) {
        net.ignored++;
        return;
    }
    uint16_t sport = be16(u), dport = be16(u + 2);
    const uint8_t *payload = u + UDP_HLEN;
    uint32_t plen = ulen - UDP_HLEN;
    if (dport == UDP_ECHO_PORT && dst == net.ip) {
        if (udp_send(f + 6, src, UDP_ECHO_PORT, sport, payload, plen) == 0) net.udp_echo_replies++;
        return;
    }
    flow_on_udp(src, f + 6, sport, dport, payload, plen);
}

static void ipv4_input(const uint8_t *f, uint32_t len) {
    if (len < ETH_HLEN + IP_HLEN) { net.ignored++; return; }
    const uint8_t *ip = f + ETH_HLEN;
    uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
    uint32_t total = be16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || total < ihl || total > len - ETH_HLEN ||
        inet_checksum(ip, ihl, 0) != 0) {
        net.ignored++;
        return;
    }
    if (be16(ip + 6) & 0x3fff) { net.ignored++; return; } /* fragments: not supported */
    uint32_t src = be32(ip + 12), dst = be32(ip + 16);
    uint32_t mask = net.prefix_len ? ~0U << (32 - net.prefix_len) : 0;
    int for_us = dst == net.ip || dst == 0xffffffffU || (net.prefix_len < 31 && dst == (net.ip | ~mask));
    if (!for_us || src == net.ip) { net.ignored++; return; }
    if (f[6] & 1) { net.ignored++; return; } /* multicast source MAC */
    /* Learn the sender's MAC if we already track it (keeps the cache fresh). */
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        if (arp_cache[i].valid && arp_cache[i].ip == src) arp_learn(src, f + 6);
    const uint8_t *payload = ip + ihl;
    uint32_t plen = total - ihl;
    if (ip[9] == PROTO_ICMP) {
        if (dst == net.ip) icmp_input(f, ip, src, payload, plen);
    } else if (ip[9] == PROTO_UDP) {
        udp_input(f, src, dst, payload, plen);
    } else {
        net.ignored++;
    }
}

void net_input(const uint8_t *frame, uint32_t len) {
    if (len < ETH_HLEN || len > NET_MTU_FRAME) { net.ignored++; return; }
    int to_us = memcmp(frame, net.mac, 6) == 0 || memcmp(frame, broadcast_mac, 6) == 0;
    if (!to_us) { net.ignored++; return; }
    uint16_t type = be16(frame + 12);
    if (type == ETHERTYPE_ARP) arp_input(frame, len);
    else if (type == ETHERTYPE_IPV4) ipv4_input(frame, len);
    else net.ignored++;
}

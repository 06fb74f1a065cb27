/* Switchboard guest appliance: entry from start.S, configuration from /chosen/bootargs, and
 * the polling main loop (NIC, role, UART, periodic status, power-off when done). */
#include "appliance.h"

config_t cfg;
int role_fail_code;

static const char *const role_names[] = {"echo", "sink", "flow", "ping"};

/* ---- bootargs parsing ---- */

static int parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (~0ULL - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* "a.b.c.d" with an optional "/prefix" when prefix is non-NULL. */
static int parse_ip(const char *s, uint32_t *ip, uint32_t *prefix) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t part = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) { part = part * 10 + (uint32_t)(*s++ - '0'); digits++; }
        if (!digits || part > 255) return -1;
        v = (v << 8) | part;
        if (i < 3 && *s++ != '.') return -1;
    }
    if (*s == '/' && prefix) {
        uint64_t p;
        if (parse_u64(s + 1, &p) || p > 32) return -1;
        *prefix = (uint32_t)p;
    } else if (*s) {
        return -1;
    }
    *ip = v;
    return 0;
}

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_mac(const char *s, uint8_t mac[6]) {
    for (int i = 0; i < 6; i++) {
        int h = hex(s[0]), l = h < 0 ? -1 : hex(s[1]);
        if (h < 0 || l < 0) return -1;
        mac[i] = (uint8_t)(h * 16 + l);
        s += 2;
        if (i < 5 && *s++ != ':') return -1;
    }
    return *s ? -1 : 0;
}

static int bad(const char *key, const char *value) {
    kprintf("appliance: error: bad bootarg %s=%s\n", key, value);
    return -1;
}

static int set_option(const char *key, const char *value) {
    uint64_t n = 0;
    int numeric = parse_u64(value, &n) == 0;
    if (str_eq(key, "ip")) {
        cfg.prefix_len = 24;
        if (parse_ip(value, &cfg.ip, &cfg.prefix_len)) return bad(key, value);
        cfg.has_ip = 1;
    } else if (str_eq(key, "peer")) {
        if (parse_ip(value, &cfg.peer, NULL)) return bad(key, value);
        cfg.has_peer = 1;
    } else if (str_eq(key, "mac")) {
        if (parse_mac(value, cfg.mac) || (cfg.mac[0] & 1)) return bad(key, value);
        cfg.has_mac = 1;
    } else if (str_eq(key, "role")) {
        int found = 0;
        for (int r = 0; r < 4; r++)
            if (str_eq(value, role_names[r])) { cfg.role = (enum role)r; found = 1; }
        if (!found) return bad(key, value);
    } else if (str_eq(key, "rate")) {
        if (!numeric || n > 100000000) return bad(key, value);
        cfg.rate = n;
    } else if (str_eq(key, "count")) {
        if (!numeric || n == 0) return bad(key, value);
        cfg.count = n;
        cfg.has_count = 1;
    } else if (str_eq(key, "duration")) {
        if (!numeric || n == 0 || n > 1000000) return bad(key, value);
        cfg.duration_s = n;
        cfg.has_duration = 1;
    } else if (str_eq(key, "port")) {
        if (!numeric || n == 0 || n > 65535 || n == 7) return bad(key, value);
        cfg.port = (uint32_t)n;
    } else if (str_eq(key, "size")) {
        if (!numeric || n > 1472) return bad(key, value);
        cfg.size = (uint32_t)n;
        cfg.has_size = 1;
    } else if (str_eq(key, "report")) {
        if (!numeric || n > 1000000) return bad(key, value);
        cfg.report_s = n;
    } else if (str_eq(key, "exit")) {
        if (!numeric || n > 1) return bad(key, value);
        cfg.exit_when_done = (int)n;
    } else if (str_eq(key, "interval")) {
        if (!numeric || n == 0 || n > 3600000) return bad(key, value);
        cfg.interval_ms = n;
    } else if (str_eq(key, "timeout")) {
        if (!numeric || n > 1000000) return bad(key, value);
        cfg.timeout_s = n;
    } else if (str_eq(key, "flows")) {
        if (!numeric || n > 4) return bad(key, value);
        cfg.flows = n;
    } else if (str_eq(key, "id")) {
        if (!numeric || n > 0xffffffffULL) return bad(key, value);
        cfg.flow_id = (uint32_t)n;
    } else if (str_eq(key, "pings")) {
        if (!numeric || n > 65535) return bad(key, value);
        cfg.pings = n;
    } else if (str_eq(key, "dirty")) {
        if (!numeric || n > 4096) return bad(key, value);
        cfg.dirty_mib_s = n;
    } else if (str_eq(key, "dirty_window")) {
        if (!numeric || n == 0 || n > 4096) return bad(key, value);
        cfg.dirty_window_mib = n;
    } else if (str_eq(key, "confirm")) {
        if (!numeric || n > 1) return bad(key, value);
        cfg.confirm = (int)n;
    } else {
        kprintf("appliance: ignoring bootarg %s\n", key);
    }
    return 0;
}

static int parse_bootargs(const uint8_t *args, uint32_t len) {
    static char buf[1024];
    if (len >= sizeof buf) len = sizeof buf - 1;
    for (uint32_t i = 0; i < len; i++) buf[i] = args[i] ? (char)args[i] : ' ';
    buf[len] = 0;
    int errors = 0;
    char *p = buf;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *word = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') p++;
        if (*p) *p++ = 0;
        char *eq = word;
        while (*eq && *eq != '=') eq++;
        if (!*eq) {
            kprintf("appliance: ignoring bootarg %s\n", word);
            continue;
        }
        *eq = 0;
        if (set_option(word, eq + 1)) errors++;
    }
    return errors ? -1 : 0;
}

static void config_defaults(void) {
    cfg.role = ROLE_ECHO;
    cfg.rate = 1000;
    cfg.port = 5001;
    cfg.size = 64;
    cfg.interval_ms = 1000;
    cfg.flows = 1;
    cfg.flow_id = 1;
    cfg.confirm = 1;
    cfg.dirty_window_mib = 8;
}

static int config_check(void) {
    if (!cfg.has_ip) {
        kprintf("appliance: error: bootarg ip=A.B.C.D/PREFIX is required\n");
        return -1;
    }
    if ((cfg.role == ROLE_FLOW || cfg.role == ROLE_PING) && !cfg.has_peer) {
        kprintf("appliance: error: role=%s needs peer=A.B.C.D\n", role_names[cfg.role]);
        return -1;
    }
    if (cfg.role == ROLE_PING && cfg.has_count && cfg.count > 65535) {
        kprintf("appliance: error: ping count is at most 65535\n");
        return -1;
    }
    return 0;
}

/* ---- main loop ---- */

static void status_line(uint64_t now, uint64_t boot) {
    kprintf("status uptime_ms=%lu role=%s rx_frames=%lu tx_frames=%lu ignored=%lu tx_full=%lu "
            "arp_replies=%lu icmp_replies=%lu udp_echo_replies=%lu",
            ticks_to_us(now - boot) / 1000, role_names[cfg.role], nic.rx_frames, nic.tx_frames,
            net.ignored + nic.rx_bad, nic.tx_full, net.arp_replies_sent, net.icmp_echo_replies,
            net.udp_echo_replies);
    if (cfg.role == ROLE_PING) ping_status();
    else if (cfg.role == ROLE_FLOW) flow_status();
    else if (cfg.role == ROLE_SINK) sink_status();
    if (cfg.dirty_mib_s) kprintf(" dirtied=%lu", dirty_pages_written);
    kprintf("\n");
}

static void finish(role_status st) {
    if (st == ROLE_PASS) kprintf("appliance: done result=pass\n");
    else kprintf("appliance: done result=fail code=%d\n", role_fail_code);
    if (cfg.exit_when_done) {
        /* Let the last frames (the sink's REPORT) leave before the machine goes away. */
        nic_tx_drain(ms_to_ticks(200));
        power_off(st == ROLE_PASS, role_fail_code);
    }
}

void appliance_main(uint64_t hartid, const void *fdt);
void appliance_main(uint64_t hartid, const void *fdt) {
    uint64_t boot = time_now();
    kprintf("\nappliance: boot hart=%lu fdt=0x%lx\n", hartid, (uint64_t)(uintptr_t)fdt);
    uint32_t len = 0;
    const uint8_t *tb = fdt_find_property(fdt, "/cpus", "timebase-frequency", &len);
    if (tb && len == 4 && be32(tb) >= 1000) time_frequency = be32(tb);
    config_defaults();
    const uint8_t *args = fdt_find_property(fdt, "/chosen", "bootargs", &len);
    if (!args) {
        kprintf("appliance: error: no /chosen/bootargs in the device tree (pass -append \"ip=...\")\n");
        power_off(0, FAIL_CONFIG);
    }
    if (parse_bootargs(args, len) || config_check()) power_off(0, FAIL_CONFIG);

    if (nic_init()) power_off(0, FAIL_NO_NIC);
    net.ip = cfg.ip;
    net.prefix_len = cfg.prefix_len;
    if (cfg.has_mac) {
        memcpy(net.mac, cfg.mac, 6);
    } else if (nic.has_mac) {
        memcpy(net.mac, nic.mac, 6);
    } else {
        /* Locally administered address derived from our IP. */
        net.mac[0] = 0x02;
        net.mac[1] = 0x00;
        put32(net.mac + 2, cfg.ip);
    }
    if (cfg.dirty_mib_s && dirty_init(fdt, cfg.dirty_mib_s, cfg.dirty_window_mib)) power_off(0, FAIL_CONFIG);
    uint64_t now = time_now();
    kprintf("appliance: ready ip=%I mac=%M role=%s boot_us=%lu\n", net.ip, net.mac,
            role_names[cfg.role], ticks_to_us(now - boot));
    arp_announce();

    /* role=flow with pings=N: ping the peer first, start the flow when every ping came back. */
    int ping_prelude = cfg.role == ROLE_FLOW && cfg.pings > 0;
    if (cfg.role == ROLE_PING) ping_start();
    else if (ping_prelude) ping_begin(cfg.pings);
    else if (cfg.role == ROLE_FLOW) flow_start();

    uint64_t start = now;
    uint64_t report_every = cfg.report_s * time_frequency;
    uint64_t next_report = start + report_every;
    uint64_t deadline = cfg.timeout_s ? start + cfg.timeout_s * time_frequency : 0;
    uint64_t run_until = cfg.has_duration ? start + cfg.duration_s * time_frequency : 0;
    int done = 0;
    for (;;) {
        nic_poll();
        now = time_now();
        dirty_poll(now);
        if (!done) {
            role_status st = ROLE_RUNNING;
            switch (cfg.role) {
            case ROLE_PING: st = ping_poll(now); break;
            case ROLE_FLOW:
                if (ping_prelude) {
                    st = ping_poll(now);
                    if (st == ROLE_PASS) {
                        ping_prelude = 0;
                        flow_start();
                        st = ROLE_RUNNING;
                    }
                } else {
                    st = flow_poll(now);
                }
                break;
            case ROLE_SINK:
                st = sink_poll(now);
                if (st == ROLE_RUNNING && run_until && now >= run_until) {
                    sink_finish_all();
                    st = sink_result();
                }
                break;
            case ROLE_ECHO:
                if (run_until && now >= run_until) st = ROLE_PASS;
                break;
            }
            if (st == ROLE_RUNNING && deadline && now >= deadline) {
                kprintf("appliance: timeout after %lu s\n", cfg.timeout_s);
                if (cfg.role == ROLE_SINK) sink_finish_all();
                role_fail_code = FAIL_TIMEOUT;
                st = ROLE_FAIL;
            }
            if (st != ROLE_RUNNING) {
                done = 1;
                finish(st);
            }
        }
        if (report_every && now >= next_report) {
            next_report += report_every;
            if (cfg.role == ROLE_SINK) sink_progress();
            status_line(now, boot);
        }
        int c = console_getc();
        if (c == 's') status_line(now, boot);
    }
}

/* Called by start.S for any trap: we expect none. */
void appliance_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval);
void appliance_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval) {
    kprintf("appliance: trap mcause=0x%lx mepc=0x%lx mtval=0x%lx\n", mcause, mepc, mtval);
    power_off(0, FAIL_TRAP);
}

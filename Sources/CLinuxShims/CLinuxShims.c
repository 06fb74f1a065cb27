// CLinuxShims: the implementation of include/CLinuxShims.h. Every call that can be
// interrupted retries EINTR here, in one place, so Swift callers never see it.
#define _GNU_SOURCE
#include "CLinuxShims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

// The mirrored structs must match what the kernel and Swift see.
_Static_assert(sizeof(struct sb_vxlan_header) == 8, "VXLAN header is 8 bytes (RFC 7348)");
_Static_assert(offsetof(struct sb_vxlan_header, vni) == 4, "VNI is bytes 4-6");
_Static_assert(SB_IFNAMSIZ == IFNAMSIZ, "interface name size");
_Static_assert(sizeof(struct iovec) == 2 * sizeof(void *), "iovec is base + length");
_Static_assert(sizeof(struct tpacket_auxdata) == 20, "tpacket_auxdata layout");
_Static_assert(SB_MAX_BATCH <= UIO_MAXIOV, "batch fits the kernel's limits");

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static int copy_name(struct ifreq *ifr, const char *name) {
    memset(ifr, 0, sizeof *ifr);
    size_t n = strlen(name);
    if (n == 0 || n >= IFNAMSIZ) return -EINVAL;
    memcpy(ifr->ifr_name, name, n);
    return 0;
}

static int control_socket(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return s < 0 ? -errno : s;
}

static int ioctl_on(const char *name, unsigned long request, struct ifreq *ifr) {
    int s = control_socket();
    if (s < 0) return s;
    int r = ioctl(s, request, ifr);
    int err = errno;
    close(s);
    return r < 0 ? -err : r;
}

int sb_tap_open(const char *name) {
    struct ifreq ifr;
    int r = copy_name(&ifr, name);
    if (r < 0) return r;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

unsigned sb_if_index(const char *name) { return if_nametoindex(name); }

int sb_if_set_up(const char *name, int up) {
    struct ifreq ifr;
    int r = copy_name(&ifr, name);
    if (r < 0) return r;
    if ((r = ioctl_on(name, SIOCGIFFLAGS, &ifr)) < 0) return r;
    if (up) ifr.ifr_flags |= IFF_UP; else ifr.ifr_flags &= ~IFF_UP;
    return ioctl_on(name, SIOCSIFFLAGS, &ifr);
}

int sb_if_is_up(const char *name) {
    struct ifreq ifr;
    int r = copy_name(&ifr, name);
    if (r < 0) return r;
    if ((r = ioctl_on(name, SIOCGIFFLAGS, &ifr)) < 0) return r;
    return (ifr.ifr_flags & IFF_UP) ? 1 : 0;
}

int sb_if_set_mtu(const char *name, int mtu) {
    struct ifreq ifr;
    int r = copy_name(&ifr, name);
    if (r < 0) return r;
    ifr.ifr_mtu = mtu;
    return ioctl_on(name, SIOCSIFMTU, &ifr);
}

int sb_if_get_mtu(const char *name) {
    struct ifreq ifr;
    int r = copy_name(&ifr, name);
    if (r < 0) return r;
    if ((r = ioctl_on(name, SIOCGIFMTU, &ifr)) < 0) return r;
    return ifr.ifr_mtu;
}

int sb_ethtool_set(const char *name, enum sb_offload which, int on) {
    static const uint32_t commands[] = {
        ETHTOOL_STXCSUM, ETHTOOL_SRXCSUM, ETHTOOL_SSG, ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO,
    };
    if ((unsigned)which >= sizeof commands / sizeof commands[0]) return -EINVAL;
    struct ifreq ifr;
    int r = copy_name(&ifr, name);
    if (r < 0) return r;
    struct ethtool_value value = { .cmd = commands[which], .data = on ? 1 : 0 };
    ifr.ifr_data = (void *)&value;
    return ioctl_on(name, SIOCETHTOOL, &ifr);
}

int sb_packet_socket_open(unsigned ifindex) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -errno;
    int one = 1;
    int size = 4 << 20;
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)ifindex;
    if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0
        || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    // Best effort: older kernels lack these; the receive path also checks the packet type.
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    (void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return fd;
}

int sb_packet_set_qdisc_bypass(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0 ? -errno : 0;
}

int sb_packet_ignore_outgoing(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0 ? -errno : 0;
}

// Puts back the 802.1Q tag the kernel moved into the auxiliary data.
static uint32_t reinsert_tag(struct msghdr *msg, uint8_t *frame, uint32_t len) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
        if (c->cmsg_len < CMSG_LEN(sizeof(struct tpacket_auxdata))) continue;
        struct tpacket_auxdata aux;
        memcpy(&aux, CMSG_DATA(c), sizeof aux);
        if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || len < 12) return len;
        uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
        memmove(frame + 16, frame + 12, len - 12);
        uint16_t be_tpid = htons(tpid), be_tci = htons(aux.tp_vlan_tci);
        memcpy(frame + 12, &be_tpid, 2);
        memcpy(frame + 14, &be_tci, 2);
        return len + 4;
    }
    return len;
}

int sb_recv_batch(int fd, void *const *bufs, uint32_t bufsize, uint32_t *lens, uint32_t n) {
    if (n > SB_MAX_BATCH) n = SB_MAX_BATCH;
    struct mmsghdr msgs[SB_MAX_BATCH];
    struct iovec iov[SB_MAX_BATCH];
    struct sockaddr_ll from[SB_MAX_BATCH];
    union { char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata)) + 16]; struct cmsghdr align; } control[SB_MAX_BATCH];
    for (uint32_t i = 0; i < n; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = bufsize;
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_control = control[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof control[i].buf;
    }
    int r;
    do { r = recvmmsg(fd, msgs, n, MSG_DONTWAIT | MSG_TRUNC, NULL); } while (r < 0 && errno == EINTR);
    if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < r; i++) {
        uint32_t len = msgs[i].msg_len;
        int outgoing = msgs[i].msg_hdr.msg_namelen >= offsetof(struct sockaddr_ll, sll_pkttype) + 1
            && from[i].sll_family == AF_PACKET && from[i].sll_pkttype == PACKET_OUTGOING;
        if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len > bufsize || outgoing) {
            lens[i] = 0;
            continue;
        }
        if (from[i].sll_family == AF_PACKET && len + 4 <= bufsize + 4)
            len = reinsert_tag(&msgs[i].msg_hdr, bufs[i], len);
        lens[i] = len;
    }
    return r;
}

static int send_batch(int fd, const struct iovec *iov, const uint32_t *iovcnt, uint32_t n,
                      struct sockaddr *to, socklen_t tolen) {
    if (n > SB_MAX_BATCH) n = SB_MAX_BATCH;
    struct mmsghdr msgs[SB_MAX_BATCH];
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = (struct iovec *)&iov[k];
        msgs[i].msg_hdr.msg_iovlen = iovcnt[i];
        msgs[i].msg_hdr.msg_name = to;
        msgs[i].msg_hdr.msg_namelen = tolen;
        k += iovcnt[i];
    }
    uint32_t sent = 0;
    while (sent < n) {
        int r = sendmmsg(fd, msgs + sent, n - sent, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (sent > 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return (int)sent;
            return -errno;
        }
        if (r == 0) break;
        sent += (uint32_t)r;
    }
    return (int)sent;
}

int sb_send_batch(int fd, const struct iovec *iov, const uint32_t *iovcnt, uint32_t n) {
    return send_batch(fd, iov, iovcnt, n, NULL, 0);
}

int sb_udp_open(uint32_t local_addr, uint16_t port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    int size = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = local_addr;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int sb_udp_local_port(int fd) {
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0) return -errno;
    return ntohs(sin.sin_port);
}

int sb_udp_recv_batch(int fd, uint8_t *headers, void *const *bufs, uint32_t bufsize, uint32_t *lens,
                      uint32_t *sources, uint32_t n) {
    if (n > SB_MAX_BATCH) n = SB_MAX_BATCH;
    struct mmsghdr msgs[SB_MAX_BATCH];
    struct iovec iov[2 * SB_MAX_BATCH];
    struct sockaddr_in from[SB_MAX_BATCH];
    for (uint32_t i = 0; i < n; i++) {
        iov[2 * i].iov_base = headers + 8 * i;
        iov[2 * i].iov_len = 8;
        iov[2 * i + 1].iov_base = bufs[i];
        iov[2 * i + 1].iov_len = bufsize;
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iov[2 * i];
        msgs[i].msg_hdr.msg_iovlen = 2;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int r;
    do { r = recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL); } while (r < 0 && errno == EINTR);
    if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < r; i++) {
        uint32_t len = msgs[i].msg_len;
        sources[i] = from[i].sin_addr.s_addr;
        lens[i] = ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len < 8 + 14) ? 0 : len - 8;
    }
    return r;
}

int sb_udp_send_batch(int fd, const struct iovec *iov, const uint32_t *iovcnt, uint32_t n,
                      uint32_t addr, uint16_t port) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = addr;
    return send_batch(fd, iov, iovcnt, n, (struct sockaddr *)&to, sizeof to);
}

int sb_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int sb_epoll_add(int epfd, int fd, uint64_t token) {
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = token };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int sb_epoll_remove(int epfd, int fd) {
    struct epoll_event ev = { 0 };
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

int sb_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, uint32_t max, int timeout_ms) {
    struct epoll_event ev[SB_MAX_BATCH];
    if (max > SB_MAX_BATCH) max = SB_MAX_BATCH;
    int r = epoll_wait(epfd, ev, (int)max, timeout_ms);
    if (r < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < r; i++) {
        tokens[i] = ev[i].data.u64;
        events[i] = ev[i].events;
    }
    return r;
}

int sb_eventfd(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int sb_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r;
    do { r = write(fd, &one, sizeof one); } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int sb_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t r;
    do { r = read(fd, &value, sizeof value); } while (r < 0 && errno == EINTR);
    return r < 0 ? (errno == EAGAIN ? 0 : -errno) : (int)(value > 0x7fffffff ? 0x7fffffff : value);
}

int sb_timerfd(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int sb_timerfd_arm(int fd, int64_t interval_ns) {
    struct timespec every = { .tv_sec = interval_ns / 1000000000, .tv_nsec = interval_ns % 1000000000 };
    struct itimerspec spec = { .it_interval = every, .it_value = every };
    return timerfd_settime(fd, 0, &spec, NULL) < 0 ? -errno : 0;
}

int sb_timerfd_drain(int fd) {
    uint64_t expirations;
    ssize_t r;
    do { r = read(fd, &expirations, sizeof expirations); } while (r < 0 && errno == EINTR);
    return r < 0 ? (errno == EAGAIN ? 0 : -errno) : (int)(expirations > 0x7fffffff ? 0x7fffffff : expirations);
}

static volatile sig_atomic_t stop_signal;
static int stop_fd = -1;

static void on_stop_signal(int sig) {
    int saved = errno;
    stop_signal = sig;
    if (stop_fd >= 0) {
        uint64_t one = 1;
        ssize_t ignored = write(stop_fd, &one, sizeof one);
        (void)ignored;
    }
    errno = saved;
}

int sb_install_stop_signals(int fd) {
    stop_fd = fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0
        || sigaction(SIGHUP, &sa, NULL) < 0) return -errno;
    signal(SIGPIPE, SIG_IGN);
    // A parent may have started us with these blocked (threads of test runners block them).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

int sb_stop_signal(void) { return stop_signal; }

static int unix_address(struct sockaddr_un *sun, const char *path) {
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sun->sun_path) return -ENAMETOOLONG;
    memcpy(sun->sun_path, path, n);
    return 0;
}

int sb_unix_listen(const char *path) {
    struct sockaddr_un sun;
    int r = unix_address(&sun, path);
    if (r < 0) return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, 16) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int sb_unix_accept(int listen_fd) {
    int fd;
    do { fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int sb_unix_connect(const char *path) {
    struct sockaddr_un sun;
    int r = unix_address(&sun, path);
    if (r < 0) return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    do { r = connect(fd, (struct sockaddr *)&sun, sizeof sun); } while (r < 0 && errno == EINTR);
    if (r < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int sb_close(int fd) { return close(fd) < 0 ? -errno : 0; }

int sb_enter_netns(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int r = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    return r < 0 ? -e : 0;
}

int sb_icmp_socket(void) {
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    return fd < 0 ? -errno : fd;
}

int sb_icmp_send(int fd, uint32_t addr, const void *buf, uint32_t len) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = addr;
    ssize_t n;
    do { n = sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (int)n;
}

int sb_icmp_recv(int fd, void *buf, uint32_t len, int64_t timeout_us) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    struct timespec ts = { .tv_sec = timeout_us / 1000000, .tv_nsec = (timeout_us % 1000000) * 1000 };
    int r;
    do { r = ppoll(&p, 1, timeout_us < 0 ? NULL : &ts, NULL); } while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    if (r == 0) return 0;
    ssize_t n;
    do { n = recv(fd, buf, len, MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    return (int)n;
}

int64_t sb_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sb_sleep_until_ns(int64_t deadline_ns) {
    struct timespec ts = { .tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000 };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

#if defined(__x86_64__)
#include <cpuid.h>

int sb_cpu_has_fma(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_FMA) || !(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;   /* XCR0: the OS saves SSE and AVX state */
}

int sb_crc32c_hardware(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}

__attribute__((target("sse4.2")))
uint32_t sb_crc32c_update(uint32_t crc, const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        c = __builtin_ia32_crc32di(c, v);
        b += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *b++);
    return c32;
}
#else
int sb_cpu_has_fma(void) { return 0; }
int sb_crc32c_hardware(void) { return 0; }
uint32_t sb_crc32c_update(uint32_t crc, const void *p, size_t n) { (void)p; (void)n; return crc; }
#endif

void sb_keep_large_allocations_in_heap(void) {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

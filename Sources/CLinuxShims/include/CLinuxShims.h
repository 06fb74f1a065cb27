// CLinuxShims: Linux ioctls, socket options and batch system calls that Swift cannot
// import directly (macros, packed structs, GNU-only calls), exposed as plain C functions.
// Every function returns a non-negative value on success and -errno on failure.
#ifndef SWITCHBOARD_CLINUXSHIMS_H
#define SWITCHBOARD_CLINUXSHIMS_H

#include <stdint.h>
#include <sys/uio.h>

#include "UserFault.h"

/// The 8-byte VXLAN header of RFC 7348 (flags 0x08 = VNI valid, 24-bit VNI).
struct sb_vxlan_header {
    uint8_t flags;
    uint8_t reserved1[3];
    uint8_t vni[3];
    uint8_t reserved2;
};

/// Most messages one batch call moves.
enum { SB_MAX_BATCH = 64 };
/// Interface names hold at most this many bytes, the terminating NUL included.
enum { SB_IFNAMSIZ = 16 };

/// Offload switches for sb_ethtool_set (ETHTOOL_S* commands).
enum sb_offload {
    SB_OFFLOAD_TX_CSUM = 0,
    SB_OFFLOAD_RX_CSUM = 1,
    SB_OFFLOAD_SG = 2,
    SB_OFFLOAD_TSO = 3,
    SB_OFFLOAD_GSO = 4,
    SB_OFFLOAD_GRO = 5,
};

/// Opens /dev/net/tun and attaches to (or creates) TAP device `name` with IFF_TAP | IFF_NO_PI,
/// non-blocking. Returns the descriptor.
int sb_tap_open(const char *name);

/// The index of interface `name`, 0 if it does not exist.
unsigned sb_if_index(const char *name);
/// Sets IFF_UP on or off.
int sb_if_set_up(const char *name, int up);
/// 1 if the interface has IFF_UP, 0 if not, -errno on error.
int sb_if_is_up(const char *name);
/// Sets the MTU.
int sb_if_set_mtu(const char *name, int mtu);
/// The MTU.
int sb_if_get_mtu(const char *name);
/// Switches one offload on or off (as `ethtool -K`).
int sb_ethtool_set(const char *name, enum sb_offload which, int on);

/// An AF_PACKET raw socket bound to interface `ifindex` (all protocols), non-blocking, with
/// PACKET_AUXDATA (so stripped 802.1Q tags are put back), PACKET_IGNORE_OUTGOING and
/// PACKET_QDISC_BYPASS.
int sb_packet_socket_open(unsigned ifindex);

/// Sets PACKET_QDISC_BYPASS on an AF_PACKET socket (frames skip the qdisc on the way out).
int sb_packet_set_qdisc_bypass(int fd);

/// Sets PACKET_IGNORE_OUTGOING on an AF_PACKET socket: the kernel no longer clones every
/// frame sent on the interface into it.
int sb_packet_ignore_outgoing(int fd);

/// Receives up to `n` (<= SB_MAX_BATCH) datagrams with one recvmmsg into `bufs[i]` (each
/// `bufsize` bytes, plus 4 spare bytes to reinsert a VLAN tag). `lens[i]` is the frame
/// length, or 0 for a frame to skip (truncated, our own outgoing frame). Returns the number
/// of entries filled (0: nothing waiting).
int sb_recv_batch(int fd, void *const *bufs, uint32_t bufsize, uint32_t *lens, uint32_t n);

/// Sends `n` (<= SB_MAX_BATCH) datagrams with sendmmsg; message i is made of `iovcnt[i]`
/// consecutive entries of `iov`. Returns how many were sent.
int sb_send_batch(int fd, const struct iovec *iov, const uint32_t *iovcnt, uint32_t n);

/// A non-blocking UDP socket bound to `local_addr:port` (network byte order address, host
/// byte order port; address 0 = any).
int sb_udp_open(uint32_t local_addr, uint16_t port);
/// The local port a UDP socket is bound to (host byte order).
int sb_udp_local_port(int fd);
/// As sb_recv_batch for UDP: each datagram's first 8 bytes go to `headers + 8*i`, the rest to
/// `bufs[i]`; `lens[i]` counts only the rest (0: skip: short, truncated). `sources[i]` is the
/// sender's address (network order).
int sb_udp_recv_batch(int fd, uint8_t *headers, void *const *bufs, uint32_t bufsize, uint32_t *lens,
                      uint32_t *sources, uint32_t n);
/// As sb_send_batch, to `addr:port` (network order address, host order port).
int sb_udp_send_batch(int fd, const struct iovec *iov, const uint32_t *iovcnt, uint32_t n,
                      uint32_t addr, uint16_t port);

/// An epoll descriptor (close-on-exec).
int sb_epoll_create(void);
/// Watches `fd` for input (and errors) with `token` as its user data.
int sb_epoll_add(int epfd, int fd, uint64_t token);
/// Stops watching `fd`.
int sb_epoll_remove(int epfd, int fd);
/// Waits up to `timeout_ms`; fills `tokens` and `events` (EPOLLIN = 1, EPOLLERR = 8,
/// EPOLLHUP = 16) for at most `max` ready descriptors. Returns their number (EINTR: 0).
int sb_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, uint32_t max, int timeout_ms);

/// A non-blocking eventfd.
int sb_eventfd(void);
/// Adds one to an eventfd.
int sb_eventfd_signal(int fd);
/// Reads (and so resets) an eventfd's counter.
int sb_eventfd_drain(int fd);

/// A non-blocking CLOCK_MONOTONIC timerfd (readable each time it expires).
int sb_timerfd(void);
/// Arms `fd` to expire every `interval_ns` nanoseconds from now (0 disarms it).
int sb_timerfd_arm(int fd, int64_t interval_ns);
/// Reads (and so resets) a timerfd's expiration count; 0 when it has not expired.
int sb_timerfd_drain(int fd);

/// Installs SIGINT, SIGTERM and SIGHUP handlers that record the signal and signal `fd`
/// (an eventfd); SIGPIPE is ignored.
int sb_install_stop_signals(int fd);
/// The last stop signal received, 0 if none.
int sb_stop_signal(void);

/// Opens a Unix stream socket listening on `path` (an existing socket file is replaced).
int sb_unix_listen(const char *path);
/// Accepts a connection, non-blocking and close-on-exec (-EAGAIN when none waits).
int sb_unix_accept(int listen_fd);
/// Connects a Unix stream socket to `path`.
int sb_unix_connect(const char *path);

/// Closes a descriptor (EINTR is not retried: Linux has closed it).
int sb_close(int fd);

/// Moves the calling thread (only it) into the network namespace whose file is `path`
/// (/var/run/netns/NAME); -errno on failure.
int sb_enter_netns(const char *path);
/// A raw ICMP socket of the calling thread's namespace (needs CAP_NET_RAW); -errno on failure.
int sb_icmp_socket(void);
/// Sends `len` bytes of ICMP to IPv4 `addr` (network order); bytes sent or -errno.
int sb_icmp_send(int fd, uint32_t addr, const void *buf, uint32_t len);
/// Waits up to `timeout_us` for a datagram and reads it (IP header included) into `buf`;
/// its length, 0 on timeout, or -errno.
int sb_icmp_recv(int fd, void *buf, uint32_t len, int64_t timeout_us);
/// Whether this CPU runs FMA3 (VEX) instructions: CPUID says FMA and AVX, and the OS saves
/// the AVX state (XCR0).
int sb_cpu_has_fma(void);
/// Whether this CPU computes CRC-32C in hardware (x86-64 SSE4.2 `crc32`).
int sb_crc32c_hardware(void);
/// Continues a CRC-32C over `n` bytes in hardware (`crc` is the running, inverted value);
/// call only when sb_crc32c_hardware() is true.
uint32_t sb_crc32c_update(uint32_t crc, const void *p, size_t n);

/// Raises glibc's mmap and trim thresholds so large buffers are reused from the heap instead
/// of being fresh mappings that fault in page by page (mallopt M_MMAP_THRESHOLD 64 MiB,
/// M_TRIM_THRESHOLD 256 MiB).
void sb_keep_large_allocations_in_heap(void);

/// CLOCK_MONOTONIC in nanoseconds.
int64_t sb_monotonic_ns(void);
/// Sleeps until CLOCK_MONOTONIC reaches `deadline_ns`.
void sb_sleep_until_ns(int64_t deadline_ns);

#endif

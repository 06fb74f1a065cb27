// UserFault: the implementation of include/UserFault.h over the userfaultfd system call and
// its ioctls (linux/userfaultfd.h).
#define _GNU_SOURCE
#include "UserFault.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

static int retry_ioctl(int fd, unsigned long request, void *arg) {
    int r;
    do { r = ioctl(fd, request, arg); } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

int sb_uffd_open(void) {
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -errno;
    struct uffdio_api api;
    memset(&api, 0, sizeof api);
    api.api = UFFD_API;
    int r = retry_ioctl(fd, UFFDIO_API, &api);
    if (r < 0) { close(fd); return r; }
    return fd;
}

int sb_uffd_register(int fd, void *addr, uint64_t len) {
    struct uffdio_register reg;
    memset(&reg, 0, sizeof reg);
    reg.range.start = (uint64_t)(uintptr_t)addr;
    reg.range.len = len;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    return retry_ioctl(fd, UFFDIO_REGISTER, &reg);
}

int sb_uffd_unregister(int fd, void *addr, uint64_t len) {
    struct uffdio_range range = { .start = (uint64_t)(uintptr_t)addr, .len = len };
    return retry_ioctl(fd, UFFDIO_UNREGISTER, &range);
}

int sb_uffd_copy(int fd, void *dst, const void *src, uint64_t len) {
    for (;;) {
        struct uffdio_copy copy;
        memset(&copy, 0, sizeof copy);
        copy.dst = (uint64_t)(uintptr_t)dst;
        copy.src = (uint64_t)(uintptr_t)src;
        copy.len = len;
        int r = ioctl(fd, UFFDIO_COPY, &copy);
        if (r == 0) return 0;
        if (errno == EINTR) continue;
        // EAGAIN: the mapping changed meanwhile; try again.
        if (errno == EAGAIN) continue;
        return -errno;
    }
}

int sb_uffd_zeropage(int fd, void *dst, uint64_t len) {
    for (;;) {
        struct uffdio_zeropage z;
        memset(&z, 0, sizeof z);
        z.range.start = (uint64_t)(uintptr_t)dst;
        z.range.len = len;
        int r = ioctl(fd, UFFDIO_ZEROPAGE, &z);
        if (r == 0) return 0;
        if (errno == EINTR || errno == EAGAIN) continue;
        return -errno;
    }
}

int sb_uffd_wake(int fd, void *dst, uint64_t len) {
    struct uffdio_range range = { .start = (uint64_t)(uintptr_t)dst, .len = len };
    return retry_ioctl(fd, UFFDIO_WAKE, &range);
}

int sb_uffd_next_fault(int fd, int timeout_ms, uint64_t *address) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) return errno == EINTR ? 0 : -errno;
    if (r == 0) return 0;
    struct uffd_msg msg;
    ssize_t n = read(fd, &msg, sizeof msg);
    if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
    if (n != sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT) return 0;
    *address = msg.arg.pagefault.address;
    return 1;
}

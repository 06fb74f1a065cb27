// UserFault: Linux userfaultfd(2) for post-copy migration, as plain C functions (the ioctls
// and the uffd_msg union cannot be imported into Swift). Every function returns a
// non-negative value on success and -errno on failure.
#ifndef SWITCHBOARD_USERFAULT_H
#define SWITCHBOARD_USERFAULT_H

#include <stdint.h>

/// A userfaultfd (O_CLOEXEC | O_NONBLOCK) with the API handshake done.
int sb_uffd_open(void);
/// Registers [addr, addr+len) for missing-page faults (page aligned).
int sb_uffd_register(int fd, void *addr, uint64_t len);
/// Unregisters [addr, addr+len): threads blocked there are woken and then fault in zero pages.
int sb_uffd_unregister(int fd, void *addr, uint64_t len);
/// Installs `len` bytes from `src` at `dst` atomically and wakes threads waiting there;
/// -EEXIST when the page is already present.
int sb_uffd_copy(int fd, void *dst, const void *src, uint64_t len);
/// Installs zero pages at `dst` and wakes waiters; -EEXIST when already present.
int sb_uffd_zeropage(int fd, void *dst, uint64_t len);
/// Wakes threads waiting on [dst, dst+len).
int sb_uffd_wake(int fd, void *dst, uint64_t len);
/// Waits up to `timeout_ms` for one event; 1 with the faulting address for a page fault,
/// 0 on timeout or another event.
int sb_uffd_next_fault(int fd, int timeout_ms, uint64_t *address);

#endif

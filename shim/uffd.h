/* uffd.h - the userfaultfd: opening it, its ioctls, and the handler threads.
 *
 * Kernel-mode faults (the kernel itself reading a managed page, as in
 * write(fd, mapped_ptr, n)) must reach the handlers, so pageshim never asks
 * for UFFD_USER_MODE_ONLY: it opens /dev/userfaultfd, then tries the
 * syscall, and when both are refused every mapping passes through.
 *
 * Handler threads have all signals blocked, are named pageshim-fault, and
 * each waits in its own epoll set holding the userfaultfd with
 * EPOLLEXCLUSIVE, so one fault wakes one handler. They never stop: at exit
 * other threads of the program may still fault on managed pages. */
#ifndef PAGESHIM_UFFD_H
#define PAGESHIM_UFFD_H

#include <stddef.h>
#include <stdint.h>

/* Open and negotiate. 0, or -errno (EPERM: not allowed for this user). */
int ps_uffd_open(void);
/* Start n handler threads, each with a staging buffer of `pages` pages. */
int ps_uffd_start(unsigned n, unsigned pages);
/* Features the kernel granted (UFFD_FEATURE_*). */
int ps_uffd_has(uint64_t feature);

/* ioctls: 0 or -errno. */
int ps_uffd_register(uintptr_t start, size_t len, int wp);
/* Install len bytes at dst from src, waking waiters unless
 * PS_COPY_DONTWAKE; PS_COPY_WP installs them write-protected. -EEXIST when a
 * page was already there. *copied (when given) says how many bytes went
 * in, on failure too. */
#define PS_COPY_WP 1
#define PS_COPY_DONTWAKE 2
int ps_uffd_copy(uintptr_t dst, const void *src, size_t len, int flags, size_t *copied);
int ps_uffd_wake(uintptr_t start, size_t len);
/* Set (wp=1) or clear (wp=0, which also wakes) write protection. */
int ps_uffd_writeprotect(uintptr_t start, size_t len, int wp);
int ps_uffd_poison(uintptr_t start, size_t len);

/* In a forked child: a new userfaultfd and new handlers (the parent's
 * threads do not exist here and its registrations were dropped). */
int ps_uffd_fork_child(void);

#endif

/* real.h - the one boundary between pageshim and the operating system.
 *
 * Every libc function that pageshim interposes, and every raw call its engine
 * makes, goes through the `real` table. Before ps_real_resolve() runs (a
 * wrapper called from another library's constructor) the entries are raw
 * syscalls, so the shim is correct before it is initialised; afterwards the
 * interposed names point at the next definition (dlsym RTLD_NEXT), which
 * keeps libc's cancellation points and, in tests, lets a library loaded
 * after pageshim inject errors. Unit tests may overwrite entries.
 *
 * Contract: every entry behaves like the libc call of the same name
 * (-1 and errno on failure) unless its comment says otherwise. */
#ifndef PAGESHIM_REAL_H
#define PAGESHIM_REAL_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct ps_real {
	/* interposed: the program's calls end here after pageshim's work */
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	void *(*mremap)(void *old, size_t old_size, size_t new_size, int flags, void *new_addr);
	int (*mprotect)(void *addr, size_t len, int prot);
	int (*msync)(void *addr, size_t len, int flags);
	int (*madvise)(void *addr, size_t len, int advice);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	ssize_t (*writev)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int cnt, off_t off);
	ssize_t (*pwritev2)(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
	int (*ftruncate)(int fd, off_t len);
	int (*truncate)(const char *path, off_t len);
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	int (*posix_fallocate)(int fd, off_t off, off_t len);
	ssize_t (*copy_file_range)(int in, off_t *in_off, int out, off_t *out_off,
				   size_t len, unsigned flags);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*readv)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*preadv)(int fd, const struct iovec *iov, int cnt, off_t off);
	ssize_t (*preadv2)(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
	ssize_t (*sendfile)(int out, int in, off_t *off, size_t n);
	ssize_t (*splice)(int in, off_t *in_off, int out, off_t *out_off, size_t n, unsigned flags);
	void (*exit_)(int status) __attribute__((noreturn));    /* _exit */
	int (*fcntl)(int fd, int cmd, void *arg);       /* every fcntl argument is one word */
	int (*flock)(int fd, int op);
	int (*lockf)(int fd, int cmd, off_t len);
	int (*sigaction)(int sig, const struct sigaction *act, struct sigaction *old);
	int (*execve)(const char *path, char *const argv[], char *const envp[]);
	int (*execv)(const char *path, char *const argv[]);
	int (*execvp)(const char *file, char *const argv[]);
	int (*execvpe)(const char *file, char *const argv[], char *const envp[]);
	int (*fexecve)(int fd, char *const argv[], char *const envp[]);
	int (*mlock2)(const void *addr, size_t len, unsigned flags);   /* mlock is flags 0 */
	int (*munlock)(const void *addr, size_t len);
	int (*mlockall)(int flags);
	int (*munlockall)(void);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	/* ioctl on the userfaultfd: 0 or -1/errno (struct updated as the kernel does) */
	int (*uffd_ioctl)(int fd, unsigned long req, void *arg);
	/* process_madvise(2): bytes advised or -1/errno */
	ssize_t (*process_madvise)(int pidfd, const struct iovec *iov, size_t n, int advice,
				   unsigned flags);
};

extern struct ps_real real;

/* Read a small text file (under /proc or /sys) into buf, NUL-terminated,
 * with plain syscalls (no stdio, no allocation: safe early and on error
 * paths). Bytes read, or -1 with errno. */
ssize_t ps_read_text(const char *path, char *buf, size_t len);

/* Point the interposed entries at the next definitions. Idempotent. */
void ps_real_resolve(void);

#endif

/* interpose.c - the exported libc names. They only route: to the real call
 * when pageshim is off, initialising, or already inside itself; otherwise to
 * the engine (mapping.c, coherence.c). errno is what the real call left on
 * failure, and untouched on success. The *64 names are aliases: off_t is
 * 64 bits on x86_64. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <unistd.h>

#include "coherence.h"
#include "external.h"
#include "fatal.h"
#include "file.h"
#include "guard.h"
#include "init.h"
#include "mapping.h"
#include "real.h"
#include "stats.h"
#include "writeback.h"

#define EXPORT __attribute__((visibility("default")))

static int bypass(void) { return ps_guard_busy() || !ps_enabled(); }

/* Run `call` as pageshim's own work: wrappers it reaches go straight through. */
#define GUARDED(type, call)                     \
	({                                      \
		ps_guard_enter();               \
		type r_ = (call);               \
		ps_guard_leave();               \
		r_;                             \
	})

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (bypass())
		return real.mmap(addr, len, prot, flags, fd, off);
	int saved = errno;
	void *p = GUARDED(void *, ps_mmap(addr, len, prot, flags, fd, off));
	if (p != MAP_FAILED)
		errno = saved;
	return p;
}
EXPORT void *mmap64(void *, size_t, int, int, int, off_t) __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
	if (bypass())
		return real.munmap(addr, len);
	int saved = errno;
	int r = GUARDED(int, ps_munmap(addr, len));
	if (r == 0)
		errno = saved;
	return r;
}

EXPORT void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (bypass())
		return real.mremap(old, old_size, new_size, flags, new_addr);
	int saved = errno;
	void *p = GUARDED(void *, ps_mremap(old, old_size, new_size, flags, new_addr));
	if (p != MAP_FAILED)
		errno = saved;
	return p;
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
	if (bypass())
		return real.mprotect(addr, len, prot);
	int saved = errno;
	int r = GUARDED(int, ps_mprotect(addr, len, prot));
	if (r == 0)
		errno = saved;
	return r;
}

EXPORT int msync(void *addr, size_t len, int flags)
{
	if (bypass())
		return real.msync(addr, len, flags);
	int saved = errno;
	int r = GUARDED(int, ps_msync(addr, len, flags));
	if (r == 0)
		errno = saved;
	return r;
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	if (bypass())
		return real.madvise(addr, len, advice);
	int saved = errno;
	int r = GUARDED(int, ps_madvise(addr, len, advice));
	errno = r ? -r : saved;
	return r ? -1 : 0;
}

EXPORT int mlock2(const void *addr, size_t len, unsigned flags)
{
	if (bypass())
		return real.mlock2(addr, len, flags);
	int saved = errno;
	int r = GUARDED(int, ps_mlock(addr, len, flags));
	if (r == 0)
		errno = saved;
	return r;
}

EXPORT int mlock(const void *addr, size_t len)
{
	return mlock2(addr, len, 0);
}

EXPORT int mlockall(int flags)
{
	if (bypass())
		return real.mlockall(flags);
	int saved = errno;
	int r = GUARDED(int, ps_mlockall(flags));
	if (r == 0)
		errno = saved;
	return r;
}

EXPORT int munlockall(void)
{
	if (bypass())
		return real.munlockall();
	return GUARDED(int, ps_munlockall());
}

EXPORT int munlock(const void *addr, size_t len)
{
	if (bypass())
		return real.munlock(addr, len);
	int saved = errno;
	int r = GUARDED(int, ps_munlock(addr, len));
	if (r == 0)
		errno = saved;
	return r;
}

/* glibc: POSIX_MADV_DONTNEED does nothing (the kernel's MADV_DONTNEED would
 * discard private changes); the others are madvise, with the error returned
 * rather than put in errno. */
EXPORT int posix_madvise(void *addr, size_t len, int advice)
{
	if (advice == POSIX_MADV_DONTNEED)
		return 0;
	if (bypass()) {
		int saved = errno;
		int r = real.madvise(addr, len, advice) ? errno : 0;
		errno = saved;
		return r;
	}
	int saved = errno;
	int r = GUARDED(int, ps_madvise(addr, len, advice));
	errno = saved;
	return -r;
}

/* ---- reads and writes of a file: its shared mappings' written pages
 * reach it first; after a write, managed mappings of the file follow ---- */

static void flush(int fd, uint64_t off, uint64_t len)
{
	if (!bypass()) {
		ps_guard_enter();
		ps_coherence_flush(fd, off, len);
		ps_guard_leave();
	}
}

static uint64_t iov_bytes(const struct iovec *v, int c)
{
	uint64_t n = 0;
	for (int i = 0; i < c; i++)
		n += v[i].iov_len;
	return n;
}

#define AFTER(call, follow)                                     \
	({                                                      \
		__typeof__(call) r_ = (call);                   \
		if (r_ >= 0 && !bypass()) {                     \
			ps_guard_enter();                       \
			follow;                                 \
			ps_guard_leave();                       \
		}                                               \
		r_;                                             \
	})

/* A call that changes the file open as fd (-1: named by path), told
 * apart from another process's change until `follow` has noted it: a file
 * that may be managed counts it as under way (ps_coherence_writing). */
#define CHANGING(fd, call, follow)                                      \
	({                                                              \
		if (!bypass())                                          \
			ps_coherence_writing(fd);                       \
		__typeof__(call) w_ = AFTER(call, follow);              \
		ps_coherence_written();                                 \
		w_;                                                     \
	})

/* A write of any part of fd's file: written mapped pages go first, as a
 * whole (where an append lands is known only after it). */
#define WRITING(fd, call, follow) ({ flush(fd, 0, PS_TO_EOF); CHANGING(fd, call, follow); })

EXPORT ssize_t read(int fd, void *b, size_t n)
{
	flush(fd, PS_AT_POSITION, n);
	return real.read(fd, b, n);
}

EXPORT ssize_t readv(int fd, const struct iovec *v, int c)
{
	flush(fd, PS_AT_POSITION, iov_bytes(v, c));
	return real.readv(fd, v, c);
}

EXPORT ssize_t pread(int fd, void *b, size_t n, off_t o)
{
	flush(fd, (uint64_t)o, n);
	return real.pread(fd, b, n, o);
}
EXPORT ssize_t pread64(int, void *, size_t, off_t) __attribute__((alias("pread")));

EXPORT ssize_t preadv(int fd, const struct iovec *v, int c, off_t o)
{
	flush(fd, (uint64_t)o, iov_bytes(v, c));
	return real.preadv(fd, v, c, o);
}
EXPORT ssize_t preadv64(int, const struct iovec *, int, off_t) __attribute__((alias("preadv")));

EXPORT ssize_t preadv2(int fd, const struct iovec *v, int c, off_t o, int flags)
{
	flush(fd, o == -1 ? PS_AT_POSITION : (uint64_t)o, iov_bytes(v, c));
	return real.preadv2(fd, v, c, o, flags);
}
EXPORT ssize_t preadv64v2(int, const struct iovec *, int, off_t, int) __attribute__((alias("preadv2")));

/* sendfile and splice read one file and may write another: both sides. */
EXPORT ssize_t sendfile(int out, int in, off_t *o, size_t n)
{
	flush(in, o ? (uint64_t)*o : PS_AT_POSITION, n);
	return WRITING(out, real.sendfile(out, in, o, n), if (r_ > 0) ps_coherence_at_position(out, (uint64_t)r_));
}
EXPORT ssize_t sendfile64(int, int, off_t *, size_t) __attribute__((alias("sendfile")));

EXPORT ssize_t splice(int in, off_t *in_off, int out, off_t *out_off, size_t n, unsigned flags)
{
	flush(in, in_off ? (uint64_t)*in_off : PS_AT_POSITION, n);
	return WRITING(out, real.splice(in, in_off, out, out_off, n, flags),
		       if (r_ > 0) {
			       if (out_off)
				       ps_coherence_fd(out, (uint64_t)(*out_off - r_), (uint64_t)r_, PS_TO_EOF);
			       else
				       ps_coherence_at_position(out, (uint64_t)r_);
		       });
}

/* _exit skips destructors: written pages and stats are done here. (exit()
 * reaches libc's own _exit, not this one; the destructor in init.c runs.) */
EXPORT void _exit(int status)
{
	if (!bypass()) {
		ps_guard_enter();
		ps_leaving(1);
	}
	real.exit_(status);
}
EXPORT void _Exit(int) __attribute__((alias("_exit")));

/* exec replaces the address space, written pages with it. glibc's execl,
 * execlp, execle, execv and execvp reach execve inside libc, so each is
 * wrapped. */
static void before_exec(void)
{
	if (!bypass()) {
		int saved = errno;
		ps_guard_enter();
		ps_leaving(0);
		ps_guard_leave();
		errno = saved;
	}
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec();
	return real.execve(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	before_exec();
	return real.execv(path, argv);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	before_exec();
	return real.execvp(file, argv);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	before_exec();
	return real.execvpe(file, argv, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	before_exec();
	return real.fexecve(fd, argv, envp);
}

/* The execl family, as glibc builds it: the arguments into an array. */
#define EXECL_ARGV(first, ap, argv)                                             \
	size_t n_ = 1;                                                          \
	va_start(ap, first);                                                    \
	while (va_arg(ap, char *))                                              \
		n_++;                                                           \
	va_end(ap);                                                             \
	char *argv[n_ + 1];                                                     \
	argv[0] = (char *)(first);                                              \
	va_start(ap, first);                                                    \
	for (size_t i_ = 1; i_ <= n_; i_++)                                     \
		argv[i_] = va_arg(ap, char *)

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	EXECL_ARGV(arg, ap, argv);
	va_end(ap);
	return execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	EXECL_ARGV(arg, ap, argv);
	va_end(ap);
	return execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	EXECL_ARGV(arg, ap, argv);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
	return WRITING(fd, real.write(fd, b, n), if (r_ > 0) ps_coherence_at_position(fd, (uint64_t)r_));
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int c)
{
	return WRITING(fd, real.writev(fd, v, c), if (r_ > 0) ps_coherence_at_position(fd, (uint64_t)r_));
}

EXPORT ssize_t pwrite(int fd, const void *b, size_t n, off_t o)
{
	return WRITING(fd, real.pwrite(fd, b, n, o),
		     if (r_ > 0) ps_coherence_fd(fd, (uint64_t)o, (uint64_t)r_, PS_TO_EOF));
}
EXPORT ssize_t pwrite64(int, const void *, size_t, off_t) __attribute__((alias("pwrite")));

EXPORT ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o)
{
	return WRITING(fd, real.pwritev(fd, v, c, o),
		     if (r_ > 0) ps_coherence_fd(fd, (uint64_t)o, (uint64_t)r_, PS_TO_EOF));
}
EXPORT ssize_t pwritev64(int, const struct iovec *, int, off_t) __attribute__((alias("pwritev")));

static void after_pwritev2(int fd, off_t o, int flags, ssize_t n)
{
	struct stat st;
	int saved = errno;
	if (flags & RWF_APPEND) {       /* written at the end, whatever o said */
		if (fstat(fd, &st) == 0 && st.st_size >= n)
			ps_coherence_fd(fd, (uint64_t)(st.st_size - n), (uint64_t)n, PS_TO_EOF);
	} else if (o == -1) {
		ps_coherence_at_position(fd, (uint64_t)n);
	} else {
		ps_coherence_fd(fd, (uint64_t)o, (uint64_t)n, PS_TO_EOF);
	}
	errno = saved;
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *v, int c, off_t o, int flags)
{
	return WRITING(fd, real.pwritev2(fd, v, c, o, flags), if (r_ > 0) after_pwritev2(fd, o, flags, r_));
}
EXPORT ssize_t pwritev64v2(int, const struct iovec *, int, off_t, int) __attribute__((alias("pwritev2")));

EXPORT int ftruncate(int fd, off_t len)
{
	return CHANGING(fd, real.ftruncate(fd, len), ps_coherence_fd(fd, (uint64_t)len, PS_TO_EOF, (uint64_t)len));
}
EXPORT int ftruncate64(int, off_t) __attribute__((alias("ftruncate")));

EXPORT int truncate(const char *path, off_t len)
{
	return CHANGING(-1, real.truncate(path, len), ps_coherence_path(path, (uint64_t)len));
}
EXPORT int truncate64(const char *, off_t) __attribute__((alias("truncate")));

static void after_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
		struct stat st;     /* everything after off moved */
		int saved = errno;
		if (fstat(fd, &st) == 0)
			ps_coherence_fd(fd, (uint64_t)off, PS_TO_EOF, (uint64_t)st.st_size);
		errno = saved;
	} else if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		ps_coherence_fd(fd, (uint64_t)off, (uint64_t)len, PS_TO_EOF);
	} else {
		ps_coherence_meta(fd);  /* no byte a mapping shows, only times and size */
	}
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	return WRITING(fd, real.fallocate(fd, mode, off, len), after_fallocate(fd, mode, off, len));
}
EXPORT int fallocate64(int, int, off_t, off_t) __attribute__((alias("fallocate")));

/* glibc's posix_fallocate calls the kernel itself; it returns the error. */
EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
	return WRITING(fd, real.posix_fallocate(fd, off, len), if (r_ == 0) ps_coherence_meta(fd));
}
EXPORT int posix_fallocate64(int, off_t, off_t) __attribute__((alias("posix_fallocate")));

EXPORT ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len,
			       unsigned flags)
{
	flush(in, in_off ? (uint64_t)*in_off : PS_AT_POSITION, len);
	return WRITING(out, real.copy_file_range(in, in_off, out, out_off, len, flags),
		     if (r_ > 0) {
			     if (out_off)
				     ps_coherence_fd(out, (uint64_t)(*out_off - r_), (uint64_t)r_, PS_TO_EOF);
			     else
				     ps_coherence_at_position(out, (uint64_t)r_);
		     });
}

/* ---- locks: where processes synchronise, pageshim meets other processes'
 * writes and hands them its own (external.h) ---- */

static void unlocking(void)
{
	if (!bypass()) {
		ps_guard_enter();
		ps_external_unlocking();
		ps_guard_leave();
	}
}

static void locked(void)
{
	if (!bypass()) {
		ps_guard_enter();
		ps_external_locked();
		ps_guard_leave();
	}
}

static int is_set_lock(int cmd)
{
	return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
}

/* The third argument is an int or a pointer; either way one word. */
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct flock *fl = is_set_lock(cmd) ? arg : NULL;
	/* Written back before any lock change, unlock or not: the struct is
	 * read only once the kernel has accepted it (a bad pointer is EFAULT). */
	if (fl)
		unlocking();
	int posix = cmd == F_SETLK || cmd == F_SETLKW;
	if (posix)
		pthread_rwlock_rdlock(&file_posix_locks);
	int r = real.fcntl(fd, cmd, arg);
	if (posix)
		pthread_rwlock_unlock(&file_posix_locks);
	if (r == 0 && fl && fl->l_type != F_UNLCK)
		locked();
	return r;
}
EXPORT int fcntl64(int, int, ...) __attribute__((alias("fcntl")));

EXPORT int flock(int fd, int op)
{
	if (op & LOCK_UN)
		unlocking();
	int r = real.flock(fd, op);
	if (r == 0 && (op & (LOCK_SH | LOCK_EX)))
		locked();
	return r;
}

EXPORT int lockf(int fd, int cmd, off_t len)
{
	if (cmd == F_ULOCK)
		unlocking();
	pthread_rwlock_rdlock(&file_posix_locks);      /* lockf's locks are POSIX locks */
	int r = real.lockf(fd, cmd, len);
	pthread_rwlock_unlock(&file_posix_locks);
	if (r == 0 && (cmd == F_LOCK || cmd == F_TLOCK))
		locked();
	return r;
}
EXPORT int lockf64(int, int, off_t) __attribute__((alias("lockf")));

/* ---- signals: pageshim's handlers for fatal signals stay out of sight (fatal.h) ---- */

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (bypass())
		return real.sigaction(sig, act, old);
	return ps_sigaction(sig, act, old);
}

/* glibc's signal(): BSD semantics, over the sigaction above. */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	act.sa_flags = SA_RESTART;
	sigemptyset(&act.sa_mask);
	if (handler == SIG_ERR || sigaddset(&act.sa_mask, sig)) {
		errno = EINVAL;
		return SIG_ERR;
	}
	return sigaction(sig, &act, &old) ? SIG_ERR : old.sa_handler;
}

EXPORT int pageshim_stats_read(struct pageshim_stats *out, size_t size)
{
	struct pageshim_stats st;
	if (size < 8) {
		errno = EINVAL;
		return -1;
	}
	ps_stats_snapshot(&st);
	if (size > sizeof st)
		size = sizeof st;
	st.size = (uint32_t)size;
	__builtin_memcpy(out, &st, size);
	return 0;
}

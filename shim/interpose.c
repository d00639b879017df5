/* interpose.c - the exported libc names. They only route: to the real call
 * when pageshim is off, initialising, or already inside itself; otherwise to
 * the engine (mapping.c, coherence.c). errno is what the real call left on
 * failure, and untouched on success. The *64 names are aliases: off_t is
 * 64 bits on x86_64. */
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <unistd.h>

#include "coherence.h"
#include "guard.h"
#include "init.h"
#include "mapping.h"
#include "real.h"
#include "stats.h"

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

/* ---- writes: after the real call, managed mappings of the file follow ---- */

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

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
	return AFTER(real.write(fd, b, n), if (r_ > 0) ps_coherence_at_position(fd, (uint64_t)r_));
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int c)
{
	return AFTER(real.writev(fd, v, c), if (r_ > 0) ps_coherence_at_position(fd, (uint64_t)r_));
}

EXPORT ssize_t pwrite(int fd, const void *b, size_t n, off_t o)
{
	return AFTER(real.pwrite(fd, b, n, o),
		     if (r_ > 0) ps_coherence_fd(fd, (uint64_t)o, (uint64_t)r_, PS_TO_EOF));
}
EXPORT ssize_t pwrite64(int, const void *, size_t, off_t) __attribute__((alias("pwrite")));

EXPORT ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o)
{
	return AFTER(real.pwritev(fd, v, c, o),
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
	return AFTER(real.pwritev2(fd, v, c, o, flags), if (r_ > 0) after_pwritev2(fd, o, flags, r_));
}
EXPORT ssize_t pwritev64v2(int, const struct iovec *, int, off_t, int) __attribute__((alias("pwritev2")));

EXPORT int ftruncate(int fd, off_t len)
{
	return AFTER(real.ftruncate(fd, len), ps_coherence_fd(fd, (uint64_t)len, PS_TO_EOF, (uint64_t)len));
}
EXPORT int ftruncate64(int, off_t) __attribute__((alias("ftruncate")));

EXPORT int truncate(const char *path, off_t len)
{
	return AFTER(real.truncate(path, len), ps_coherence_path(path, (uint64_t)len));
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
	}
	/* plain allocation changes no byte a mapping can see */
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	return AFTER(real.fallocate(fd, mode, off, len), after_fallocate(fd, mode, off, len));
}
EXPORT int fallocate64(int, int, off_t, off_t) __attribute__((alias("fallocate")));

EXPORT ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len,
			       unsigned flags)
{
	return AFTER(real.copy_file_range(in, in_off, out, out_off, len, flags),
		     if (r_ > 0) {
			     if (out_off)
				     ps_coherence_fd(out, (uint64_t)(*out_off - r_), (uint64_t)r_, PS_TO_EOF);
			     else
				     ps_coherence_at_position(out, (uint64_t)r_);
		     });
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

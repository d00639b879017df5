/* real.c - the `real` table: raw syscalls until resolved, then RTLD_NEXT. */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *raw_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	return (void *)syscall(SYS_mmap, a, l, p, f, fd, o);
}
static int raw_munmap(void *a, size_t l) { return (int)syscall(SYS_munmap, a, l); }
static void *raw_mremap(void *o, size_t os, size_t ns, int f, void *na)
{
	return (void *)syscall(SYS_mremap, o, os, ns, f, na);
}
static int raw_mprotect(void *a, size_t l, int p) { return (int)syscall(SYS_mprotect, a, l, p); }
static int raw_msync(void *a, size_t l, int f) { return (int)syscall(SYS_msync, a, l, f); }
static int raw_madvise(void *a, size_t l, int adv) { return (int)syscall(SYS_madvise, a, l, adv); }
static ssize_t raw_write(int fd, const void *b, size_t n) { return syscall(SYS_write, fd, b, n); }
static ssize_t raw_writev(int fd, const struct iovec *v, int c) { return syscall(SYS_writev, fd, v, c); }
static ssize_t raw_pwrite(int fd, const void *b, size_t n, off_t o)
{
	return syscall(SYS_pwrite64, fd, b, n, o);
}
static ssize_t raw_pwritev(int fd, const struct iovec *v, int c, off_t o)
{
	return syscall(SYS_pwritev, fd, v, c, o, 0);
}
static ssize_t raw_pwritev2(int fd, const struct iovec *v, int c, off_t o, int f)
{
	return syscall(SYS_pwritev2, fd, v, c, o, 0, f);
}
static int raw_ftruncate(int fd, off_t l) { return (int)syscall(SYS_ftruncate, fd, l); }
static int raw_truncate(const char *p, off_t l) { return (int)syscall(SYS_truncate, p, l); }
static int raw_fallocate(int fd, int m, off_t o, off_t l) { return (int)syscall(SYS_fallocate, fd, m, o, l); }
/* posix_fallocate returns the error (libc's also emulates it where the
 * file system cannot allocate). */
static int raw_posix_fallocate(int fd, off_t o, off_t l) { return raw_fallocate(fd, 0, o, l) ? errno : 0; }
static ssize_t raw_copy_file_range(int i, off_t *io, int o, off_t *oo, size_t l, unsigned f)
{
	return syscall(SYS_copy_file_range, i, io, o, oo, l, f);
}
static ssize_t raw_pread(int fd, void *b, size_t n, off_t o) { return syscall(SYS_pread64, fd, b, n, o); }
static ssize_t raw_read(int fd, void *b, size_t n) { return syscall(SYS_read, fd, b, n); }
static ssize_t raw_readv(int fd, const struct iovec *v, int c) { return syscall(SYS_readv, fd, v, c); }
static ssize_t raw_preadv(int fd, const struct iovec *v, int c, off_t o)
{
	return syscall(SYS_preadv, fd, v, c, o, 0);
}
static ssize_t raw_preadv2(int fd, const struct iovec *v, int c, off_t o, int f)
{
	return syscall(SYS_preadv2, fd, v, c, o, 0, f);
}
static ssize_t raw_sendfile(int out, int in, off_t *o, size_t n) { return syscall(SYS_sendfile, out, in, o, n); }
static int raw_fcntl(int fd, int cmd, void *arg) { return (int)syscall(SYS_fcntl, fd, cmd, arg); }
static int raw_flock(int fd, int op) { return (int)syscall(SYS_flock, fd, op); }
/* lockf is libc's, over fcntl (POSIX: from the current position, len bytes). */
static int raw_lockf(int fd, int cmd, off_t len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = 0, .l_len = len };
	switch (cmd) {
	case F_TEST:
		fl.l_type = F_RDLCK;
		if (raw_fcntl(fd, F_GETLK, &fl))
			return -1;
		if (fl.l_type == F_UNLCK || fl.l_pid == getpid())
			return 0;
		errno = EACCES;
		return -1;
	case F_ULOCK:
		fl.l_type = F_UNLCK;
		return raw_fcntl(fd, F_SETLK, &fl);
	case F_LOCK:
		return raw_fcntl(fd, F_SETLKW, &fl);
	case F_TLOCK:
		return raw_fcntl(fd, F_SETLK, &fl);
	}
	errno = EINVAL;
	return -1;
}
/* Before resolution: libc's own, which adds its signal trampoline. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
static int raw_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return __sigaction(sig, act, old);
}
extern char **environ;

/* Before resolution the exec family has no PATH search: nothing execs
 * that early in practice. */
static int raw_execve(const char *p, char *const argv[], char *const envp[])
{
	return (int)syscall(SYS_execve, p, argv, envp);
}
static int raw_execv(const char *p, char *const argv[]) { return raw_execve(p, argv, environ); }
static int raw_fexecve(int fd, char *const argv[], char *const envp[])
{
	return (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}
static int raw_mlock2(const void *a, size_t l, unsigned f) { return (int)syscall(SYS_mlock2, a, l, f); }
static int raw_munlock(const void *a, size_t l) { return (int)syscall(SYS_munlock, a, l); }
static int raw_mlockall(int f) { return (int)syscall(SYS_mlockall, f); }
static int raw_munlockall(void) { return (int)syscall(SYS_munlockall); }
static ssize_t raw_splice(int i, off_t *io, int o, off_t *oo, size_t n, unsigned f)
{
	return syscall(SYS_splice, i, io, o, oo, n, f);
}
__attribute__((noreturn)) static void raw_exit(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}
static int raw_uffd_ioctl(int fd, unsigned long req, void *arg) { return (int)syscall(SYS_ioctl, fd, req, arg); }
static ssize_t raw_process_madvise(int pidfd, const struct iovec *v, size_t n, int adv, unsigned f)
{
	return syscall(SYS_process_madvise, pidfd, v, n, adv, f);
}

struct ps_real real = {
	.mmap = raw_mmap, .munmap = raw_munmap, .mremap = raw_mremap, .mprotect = raw_mprotect,
	.msync = raw_msync, .madvise = raw_madvise, .write = raw_write, .writev = raw_writev,
	.pwrite = raw_pwrite, .pwritev = raw_pwritev, .pwritev2 = raw_pwritev2,
	.ftruncate = raw_ftruncate, .truncate = raw_truncate, .fallocate = raw_fallocate,
	.posix_fallocate = raw_posix_fallocate, .copy_file_range = raw_copy_file_range, .pread = raw_pread,
	.read = raw_read,
	.readv = raw_readv, .preadv = raw_preadv, .preadv2 = raw_preadv2, .sendfile = raw_sendfile, .splice = raw_splice,
	.exit_ = raw_exit, .fcntl = raw_fcntl, .flock = raw_flock, .lockf = raw_lockf, .sigaction = raw_sigaction,
	.execve = raw_execve, .execv = raw_execv, .execvp = raw_execv, .execvpe = raw_execve,
	.fexecve = raw_fexecve, .mlock2 = raw_mlock2, .munlock = raw_munlock,
	.mlockall = raw_mlockall, .munlockall = raw_munlockall,
	.uffd_ioctl = raw_uffd_ioctl, .process_madvise = raw_process_madvise,
};

ssize_t ps_read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

/* Every interposed name is required: libc has them all. pread64 is resolved
 * by its 64-bit name so that a test library interposing it is found. */
#define HOOK(field, name)                                       \
	do {                                                    \
		void *p_ = dlsym(RTLD_NEXT, name);              \
		if (p_)                                         \
			*(void **)&real.field = p_;             \
	} while (0)

void ps_real_resolve(void)
{
	HOOK(mmap, "mmap");
	HOOK(munmap, "munmap");
	HOOK(mremap, "mremap");
	HOOK(mprotect, "mprotect");
	HOOK(msync, "msync");
	HOOK(madvise, "madvise");
	HOOK(write, "write");
	HOOK(writev, "writev");
	HOOK(pwrite, "pwrite64");
	HOOK(pwritev, "pwritev64");
	HOOK(pwritev2, "pwritev64v2");
	HOOK(ftruncate, "ftruncate64");
	HOOK(truncate, "truncate64");
	HOOK(fallocate, "fallocate64");
	HOOK(posix_fallocate, "posix_fallocate64");
	HOOK(copy_file_range, "copy_file_range");
	HOOK(pread, "pread64");
	HOOK(read, "read");
	HOOK(readv, "readv");
	HOOK(preadv, "preadv64");
	HOOK(preadv2, "preadv64v2");
	HOOK(sendfile, "sendfile64");
	HOOK(splice, "splice");
	HOOK(exit_, "_exit");
	HOOK(fcntl, "fcntl64");
	HOOK(flock, "flock");
	HOOK(lockf, "lockf64");
	HOOK(sigaction, "sigaction");
	HOOK(execve, "execve");
	HOOK(execv, "execv");
	HOOK(execvp, "execvp");
	HOOK(execvpe, "execvpe");
	HOOK(fexecve, "fexecve");
	HOOK(mlock2, "mlock2");
	HOOK(munlock, "munlock");
	HOOK(mlockall, "mlockall");
	HOOK(munlockall, "munlockall");
}

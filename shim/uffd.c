/* uffd.c - see uffd.h. */
#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "fill.h"
#include "guard.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "trace.h"

#define HANDLERS_MAX 64

/* THREAD_ID names the faulting thread (SIGBUS goes to it); EXACT_ADDRESS
 * gives the touched byte for si_addr. The others are used when granted. */
#define FEATURES_REQUIRED (UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EXACT_ADDRESS)
#define FEATURES_WANTED (FEATURES_REQUIRED | UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_POISON)

static int uffd = -1;
static uint64_t features;
static unsigned nhandlers, staging_pages;
static int epfd[HANDLERS_MAX];

int ps_uffd_has(uint64_t feature) { return (features & feature) == feature; }

static int open_raw(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		int err = errno;
		close(dev);
		if (fd >= 0)
			return fd;
		errno = err;
	}
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	return fd >= 0 ? fd : -errno;
}

/* UFFDIO_API can be called once per descriptor, so the features the kernel
 * offers are learnt on a throwaway one. */
static int negotiate(void)
{
	int probe = open_raw();
	if (probe < 0)
		return probe;
	struct uffdio_api api = { .api = UFFD_API };
	int err = real.uffd_ioctl(probe, UFFDIO_API, &api) ? -errno : 0;
	close(probe);
	if (err)
		return err;
	if ((api.features & FEATURES_REQUIRED) != FEATURES_REQUIRED)
		return -ENOTSUP;
	int fd = open_raw();
	if (fd < 0)
		return fd;
	struct uffdio_api want = { .api = UFFD_API, .features = api.features & FEATURES_WANTED };
	if (real.uffd_ioctl(fd, UFFDIO_API, &want)) {
		err = -errno;
		close(fd);
		return err;
	}
	uffd = fd;
	features = want.features;
	return 0;
}

int ps_uffd_open(void)
{
	return uffd >= 0 ? 0 : negotiate();
}

static void *handler_main(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	ps_guard_enter_forever();
	void *staging = real.mmap(NULL, (size_t)staging_pages * PS_PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (staging == MAP_FAILED) {
		ps_warn("fault handler %u: no memory for its buffer; the others serve", idx);
		return NULL;
	}
	struct ps_fill_ctx ctx = { .staging = staging, .pages = staging_pages,
				   .trace = ps_trace_buffer() };
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(epfd[idx], &ev, 1, -1);
		if (n <= 0)
			continue;       /* EINTR cannot happen (signals blocked) */
		struct uffd_msg msg;
		ssize_t got = read(uffd, &msg, sizeof msg);
		if (got != sizeof msg)
			continue;       /* EAGAIN: another handler took it */
		switch (msg.event) {
		case UFFD_EVENT_PAGEFAULT:
			ps_fault_serve(&ctx, &msg);
			break;
		default:        /* pageshim asks for no other event */
			ps_warn("unexpected userfaultfd event %u", msg.event);
			break;
		}
	}
	return NULL;
}

static int start_handlers(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	unsigned started = 0;
	for (unsigned i = 0; i < nhandlers; i++) {
		epfd[i] = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
		pthread_t t;
		if (epfd[i] < 0 || epoll_ctl(epfd[i], EPOLL_CTL_ADD, uffd, &ev) ||
		    pthread_create(&t, NULL, handler_main, (void *)(uintptr_t)i))
			break;
		pthread_setname_np(t, "pageshim-fault");
		pthread_detach(t);
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started ? 0 : -EAGAIN;
}

int ps_uffd_start(unsigned n, unsigned pages)
{
	nhandlers = n > HANDLERS_MAX ? HANDLERS_MAX : n;
	staging_pages = pages;
	return start_handlers();
}

int ps_uffd_fork_child(void)
{
	for (unsigned i = 0; i < nhandlers; i++)
		if (epfd[i] >= 0)
			close(epfd[i]);
	close(uffd);
	uffd = -1;
	uint64_t had = features;
	int err = negotiate();
	if (!err && features != had)
		err = -ENOTSUP;
	return err ? err : start_handlers();
}

static int ioc(unsigned long req, void *arg)
{
	return real.uffd_ioctl(uffd, req, arg) ? -errno : 0;
}

int ps_uffd_register(uintptr_t start, size_t len, int wp)
{
	struct uffdio_register r = {
		.range = { start, len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | (wp ? UFFDIO_REGISTER_MODE_WP : 0),
	};
	return ioc(UFFDIO_REGISTER, &r);
}

int ps_uffd_copy(uintptr_t dst, const void *src, size_t len, int flags, size_t *copied)
{
	size_t done = 0;
	int err = 0;
	while (done < len && !err) {
		struct uffdio_copy c = {
			.dst = dst + done, .src = (uintptr_t)src + done, .len = len - done,
			.mode = ((flags & PS_COPY_WP) ? UFFDIO_COPY_MODE_WP : 0) |
				((flags & PS_COPY_DONTWAKE) ? UFFDIO_COPY_MODE_DONTWAKE : 0),
		};
		err = ioc(UFFDIO_COPY, &c);
		if (c.copy > 0)
			done += (size_t)c.copy;
		/* EAGAIN: the address space changed under the copy (a concurrent
		 * munmap/mremap of something else); retry what is left. */
		if (err == -EAGAIN)
			err = 0;
	}
	if (copied)
		*copied = done;
	return err;
}

int ps_uffd_wake(uintptr_t start, size_t len)
{
	struct uffdio_range r = { start, len };
	return ioc(UFFDIO_WAKE, &r);
}

int ps_uffd_writeprotect(uintptr_t start, size_t len, int wp)
{
	struct uffdio_writeprotect w = { .range = { start, len },
					 .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
	return ioc(UFFDIO_WRITEPROTECT, &w);
}

int ps_uffd_poison(uintptr_t start, size_t len)
{
	struct uffdio_poison p = { .range = { start, len } };
	return ioc(UFFDIO_POISON, &p);
}

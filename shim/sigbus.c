/* sigbus.c - see sigbus.h. */
#include "sigbus.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "file.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "stall.h"
#include "stats.h"
#include "uffd.h"

/* The internal signal: the last real-time signal, which programs rarely
 * use (glibc reserves the first ones; libraries count up from SIGRTMIN). */
#define PS_SIGNAL (SIGRTMAX)

static struct sigaction previous;

/* SIGBUS requests in flight, by thread: the internal signal alone could
 * also be the program's own sigqueue(). A slot's tid is 0 when free,
 * CLAIMING while its address and report are written. */
#define PENDING_MAX 64
#define CLAIMING UINT32_MAX
#define REPORT_MAX 512
static struct { uint32_t tid; uintptr_t addr; char report[REPORT_MAX]; } pending[PENDING_MAX];

static int pending_put(uint32_t tid, uintptr_t addr, const char *report)
{
	for (unsigned i = 0; i < PENDING_MAX; i++) {
		uint32_t free_ = 0;
		if (__atomic_compare_exchange_n(&pending[i].tid, &free_, CLAIMING, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			pending[i].addr = addr;
			snprintf(pending[i].report, REPORT_MAX, "%s", report);
			__atomic_store_n(&pending[i].tid, tid, __ATOMIC_RELEASE);
			return (int)i;
		}
	}
	return -1;
}

/* Take this thread's request: its address (0 when there is none), and its
 * report copied into `report`. */
static uintptr_t pending_take(uint32_t tid, char *report)
{
	for (unsigned i = 0; i < PENDING_MAX; i++) {
		if (__atomic_load_n(&pending[i].tid, __ATOMIC_ACQUIRE) == tid) {
			uintptr_t addr = pending[i].addr;
			memcpy(report, pending[i].report, REPORT_MAX);
			__atomic_store_n(&pending[i].tid, 0, __ATOMIC_RELEASE);
			return addr;
		}
	}
	return 0;
}

/* Append the call stack interrupted by the signal (uc) to out, as
 * "; stack: f+0x1a (prog) < g+0x40 (libc.so.6) < ...". Symbols come from
 * the objects' symbol tables (libunwind), so static functions are named too. */
static void append_stack(char *out, size_t len, ucontext_t *uc)
{
	unw_cursor_t c;
	size_t n = strlen(out);
	if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME))
		return;
	n += (size_t)snprintf(out + n, n < len ? len - n : 0, "; stack:");
	for (int depth = 0; depth < 16 && n < len; depth++) {
		unw_word_t ip, fo;
		char name[96];
		Dl_info dl;
		if (unw_get_reg(&c, UNW_REG_IP, &ip))
			break;
		const char *obj = dladdr((void *)ip, &dl) && dl.dli_fname ? strrchr(dl.dli_fname, '/') : NULL;
		obj = obj ? obj + 1 : "?";
		if (unw_get_proc_name(&c, name, sizeof name, &fo))
			n += (size_t)snprintf(out + n, len - n, "%s 0x%lx (%s)", depth ? " <" : "", (unsigned long)ip, obj);
		else
			n += (size_t)snprintf(out + n, len - n, "%s %s+0x%lx (%s)", depth ? " <" : "", name,
					      (unsigned long)fo, obj);
		if (unw_step(&c) <= 0)
			break;
	}
}

/* The address of the SIGBUS on_internal queued to this thread, until it
 * is delivered (ps_sigbus_queued_here). */
static __thread uintptr_t queued __attribute__((tls_model("initial-exec")));

int ps_sigbus_queued_here(const siginfo_t *si)
{
	if (si->si_code != BUS_ADRERR || !queued || queued != (uintptr_t)si->si_addr)
		return 0;
	queued = 0;
	return 1;
}

static long self_sigqueue(int sig, siginfo_t *si)
{
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), sig, si);
}

/* Runs in the faulting thread, with every signal blocked. Async-signal-safe
 * except for the report: its stack (libunwind, dladdr) and formatting. The
 * thread was stopped at a load or store of a mapped page, not inside the
 * loader, and a SIGBUS follows; a report garbled there would be the cost. */
static void on_internal(int sig, siginfo_t *si, void *ucv)
{
	char report[REPORT_MAX + 1536];
	int ours = si->si_code == SI_QUEUE && si->si_pid == getpid();
	uint32_t tid = (uint32_t)syscall(SYS_gettid);
	uintptr_t addr = ours ? pending_take(tid, report) : 0;
	if (!addr && ours && ps_stall_capture(tid, ucv))
		return;         /* a slow or sampled fault: its stack is kept */
	if (!addr) {
		if (previous.sa_flags & SA_SIGINFO && previous.sa_sigaction)
			previous.sa_sigaction(sig, si, ucv);
		else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN)
			previous.sa_handler(sig);
		return;
	}
	ucontext_t *uc = ucv;
	append_stack(report, sizeof report, uc);
	ps_warn("%s", report);
	struct sigaction bus;
	sigaction(SIGBUS, NULL, &bus);
	if (bus.sa_handler == SIG_IGN || sigismember(&uc->uc_sigmask, SIGBUS)) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGBUS, &dfl, NULL);
		sigdelset(&uc->uc_sigmask, SIGBUS);
	}
	siginfo_t b;
	memset(&b, 0, sizeof b);
	b.si_signo = SIGBUS;
	b.si_code = BUS_ADRERR;
	b.si_addr = (void *)addr;
	queued = addr;
	self_sigqueue(SIGBUS, &b);
}

/* ---- reports of SIGBUS from mappings left to the kernel ---- */

/* One line of /proc/self/maps: "start-end perms offset dev inode path". */
struct maps_line {
	uintptr_t start, end;
	unsigned long long off;
	char perms[5];
	const char *path;       /* into the caller's buffer; "" for none */
};

static const char *hex(const char *p, unsigned long long *v)
{
	*v = 0;
	for (;; p++) {
		unsigned d = *p >= '0' && *p <= '9' ? (unsigned)(*p - '0')
			     : *p >= 'a' && *p <= 'f' ? (unsigned)(*p - 'a' + 10) : 16;
		if (d == 16)
			return p;
		*v = *v << 4 | d;
	}
}

/* Parse line (NUL-terminated, no newline). 0 or -1. */
static int parse_maps_line(char *line, struct maps_line *m)
{
	unsigned long long a, b;
	const char *p = hex(line, &a);
	if (*p != '-')
		return -1;
	p = hex(p + 1, &b);
	if (*p != ' ' || strlen(p) < 6)
		return -1;
	memcpy(m->perms, p + 1, 4);
	m->perms[4] = 0;
	p = hex(p + 6, &m->off);
	for (int field = 0; field < 2; field++) {       /* dev, inode */
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	m->start = (uintptr_t)a;
	m->end = (uintptr_t)b;
	m->path = p;
	return 0;
}

/* Find the mapping holding addr in /proc/self/maps, with open and read
 * alone (a signal handler may be interrupting malloc). Its path is copied
 * into buf. 0 or -1. */
static int find_mapping(uintptr_t addr, struct maps_line *m, char *buf, size_t len)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t have = 0;
	int found = -1;
	ssize_t n;
	while (found && (n = read(fd, buf + have, len - 1 - have)) > 0) {
		have += (size_t)n;
		buf[have] = 0;
		char *line = buf, *nl;
		while (found && (nl = strchr(line, '\n'))) {
			*nl = 0;
			if (!parse_maps_line(line, m) && m->start <= addr && addr < m->end) {
				memmove(buf, m->path, strlen(m->path) + 1);
				m->path = buf;
				found = 0;
			}
			line = nl + 1;
		}
		if (found) {    /* keep the partial line; one longer than buf is lost */
			have = line == buf ? 0 : have - (size_t)(line - buf);
			memmove(buf, line, have);
		}
	}
	close(fd);
	return found;
}

void ps_sigbus_report_foreign(const siginfo_t *si, void *ucv)
{
	char path[4096];
	struct maps_line m;
	uintptr_t addr = (uintptr_t)si->si_addr;
	/* A fault the kernel raised, in a mapping of a file: pageshim's own
	 * ranges are anonymous there and were reported when raised. */
	if (si->si_code <= 0 || find_mapping(addr, &m, path, sizeof path) || m.path[0] != '/')
		return;
	unsigned long long off = m.off + (addr - m.start);
	struct stat st;
	char why[96];
	if (si->si_code == BUS_MCEERR_AR || si->si_code == BUS_MCEERR_AO)
		snprintf(why, sizeof why, "memory failure");
	else if (stat(m.path, &st) == 0 && (unsigned long long)st.st_size <= off)
		snprintf(why, sizeof why, "access beyond the end of the file (%lld bytes)", (long long)st.st_size);
	else
		snprintf(why, sizeof why, "the kernel could not read the page (an I/O error?)");
	char report[REPORT_MAX + 1536];
	snprintf(report, REPORT_MAX,
		 "SIGBUS: %s: %s at file offset %llu; address %p in mapping %p-%p %.3s %s at file offset %llu "
		 "(left to the kernel's mmap); thread %ld", why, m.path, off, (void *)addr, (void *)m.start,
		 (void *)m.end, m.perms, m.perms[3] == 's' ? "MAP_SHARED" : "MAP_PRIVATE", m.off,
		 (long)syscall(SYS_gettid));
	append_stack(report, sizeof report, ucv);
	ps_warn("%s", report);
}

int ps_sigbus_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_internal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return sigaction(PS_SIGNAL, &sa, &previous) ? -errno : 0;
}

/* Read /proc/self/task/TID/NAME into buf. Bytes or -1. */
static ssize_t read_task_file(uint32_t tid, const char *name, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%u/%s", tid, name);
	return ps_read_text(path, buf, len);
}

/* Is thread tid stopped in a fault taken in user mode (not inside a syscall)? */
static int in_user_fault(uint32_t tid)
{
	char buf[256];
	return read_task_file(tid, "syscall", buf, sizeof buf) > 0 && !strncmp(buf, "-1 ", 3);
}

/* Does thread tid block the internal signal, or has the program taken it over? */
static int internal_signal_unusable(uint32_t tid)
{
	struct sigaction cur;
	if (sigaction(PS_SIGNAL, NULL, &cur) || cur.sa_sigaction != on_internal)
		return 1;
	char buf[2048];
	if (read_task_file(tid, "status", buf, sizeof buf) <= 0)
		return 1;
	const char *blk = strstr(buf, "SigBlk:");
	if (!blk)
		return 1;
	unsigned long long mask = strtoull(blk + 7, NULL, 16);
	return (mask >> (PS_SIGNAL - 1)) & 1;
}

int ps_internal_signal_usable(uint32_t tid)
{
	return in_user_fault(tid) && !internal_signal_unusable(tid);
}

int ps_internal_signal(uint32_t tid)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = PS_SIGNAL;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, PS_SIGNAL, &si) ? -errno : 0;
}

int ps_sigbus_raise(struct ps_region *r, size_t page, uintptr_t addr, uint32_t tid,
		    const char *why, int err)
{
	uint64_t off = (r->pgoff + page) << PS_PAGE_SHIFT;
	PS_COUNT(sigbus_raised, 1);
	/* One line: the reason, the file and offset, the error, the mapping
	 * and the thread (and, from the thread itself, its stack). */
	char report[REPORT_MAX], error[96] = "";
	if (err)
		snprintf(error, sizeof error, ": %s (%s)", strerrorname_np(err) ? strerrorname_np(err) : "?",
			 strerror(err));
	snprintf(report, sizeof report,
		 "SIGBUS: %s: %s at file offset %llu%s; address %p in mapping %p-%p %c%c%c %s at file offset %llu; "
		 "thread %u", why, r->file->path, (unsigned long long)off, error, (void *)addr, (void *)r->start,
		 (void *)region_end(r), r->prot & PROT_READ ? 'r' : '-', r->prot & PROT_WRITE ? 'w' : '-',
		 r->prot & PROT_EXEC ? 'x' : '-', r->private_ ? "MAP_PRIVATE" : "MAP_SHARED",
		 (unsigned long long)(r->pgoff << PS_PAGE_SHIFT), tid);
	uintptr_t page_addr = region_addr(r, page);
	if (ps_internal_signal_usable(tid)) {
		int slot = pending_put(tid, addr, report);
		if (slot >= 0 && ps_internal_signal(tid) == 0)
			return 0;       /* the thread says it, with its stack */
		if (slot >= 0)
			__atomic_store_n(&pending[slot].tid, 0, __ATOMIC_RELEASE);
	}
	ps_warn("%s", report);
	if (ps_uffd_has(UFFD_FEATURE_POISON) && ps_uffd_poison(page_addr, PS_PAGE) == 0) {
		page_store(r, page, PG_POISON);
		return 1;
	}
	ps_warn("cannot deliver SIGBUS to thread %u; it will fault again", tid);
	return 0;
}

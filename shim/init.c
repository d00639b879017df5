/* init.c - see init.h. */
#include "init.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "coherence.h"
#include "external.h"
#include "fatal.h"
#include "file.h"
#include "fill.h"
#include "guard.h"
#include "live.h"
#include "log.h"
#include "mapping.h"
#include "real.h"
#include "region.h"
#include "sigbus.h"
#include "stats.h"
#include "store.h"
#include "trace.h"
#include "uffd.h"
#include "writeback.h"

extern char **environ;

struct ps_options ps_opt;
__thread int ps_guard_depth __attribute__((tls_model("initial-exec")));

enum { ST_NEW, ST_INITIALISING, ST_ENABLED, ST_DISABLED };
static int state = ST_NEW;

enum { SVC_NONE, SVC_READY, SVC_UNAVAILABLE };
static int service = SVC_NONE;
static pthread_mutex_t service_lock = PTHREAD_MUTEX_INITIALIZER;

/* The memory cgroup's limit for this process (v1 or v2), or 0. */
static uint64_t cgroup_limit(void)
{
	char cg[4096], path[4200], val[64];
	if (ps_read_text("/proc/self/cgroup", cg, sizeof cg) <= 0)
		return 0;
	for (char *line = strtok(cg, "\n"); line; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		if (!strcmp(c1 + 1, "memory"))
			snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", c2 + 1);
		else if (c1[1] == 0 && c1 + 1 == c2)
			snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", c2 + 1);
		else
			continue;
		if (ps_read_text(path, val, sizeof val) > 0 && val[0] >= '0' && val[0] <= '9')
			return strtoull(val, NULL, 10);
	}
	return 0;
}

/* The forking thread's signal mask while it holds the locks across fork. */
static __thread sigset_t fork_saved __attribute__((tls_model("initial-exec")));

static void fork_prepare(void)
{
	if (service != SVC_READY)
		return;
	regions_enter(1, &fork_saved);
	ps_mapping_before_fork();
	ps_cache_lock();
	ps_prefetch_lock();
}

static void fork_parent(void)
{
	if (service != SVC_READY)
		return;
	ps_prefetch_unlock();
	ps_cache_unlock();
	regions_leave(&fork_saved);
}

/* Register every region again with the child's own userfaultfd. The
 * kernel dropped the registrations and the write-protection of present
 * pages in the child, so they are write-protected again: a page the child
 * writes must become dirty before eviction sees it. (Shared regions that
 * could be written went back to the kernel before the fork.) */
static int rearm_regions(void)
{
	for (size_t i = 0; i < region_count(); i++) {
		int err = ps_store_rearm(region_at(i), 1);
		if (err)
			return err;
	}
	return 0;
}

/* Writers are preferred, so a munmap waits only for fills already running. */
static void regions_lock_init(void)
{
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ps_regions_lock, &a);
	pthread_rwlockattr_destroy(&a);
}

static void fork_child(void)
{
	if (service != SVC_READY)
		return;
	ps_prefetch_fork_child();
	ps_cache_unlock();
	file_fork_child();
	/* Not unlock: glibc knows the writer by thread id, which the child's
	 * thread does not share, and would take it for a reader. */
	regions_lock_init();
	ps_store_fork_child();
	ps_trace_fork_child();
	int err = ps_uffd_fork_child();
	if (!err)
		err = rearm_regions();
	if (!err)
		err = ps_prefetch_start(ps_opt.handlers, ps_opt.readahead);
	if (!err)
		err = ps_writeback_fork_child();
	if (!err) {
		ps_live_start();        /* the child's own, before the thread that publishes it */
		err = ps_external_fork_child();
	}
	if (err) {
		/* Nothing can serve this child's faults (its missing pages would
		 * read as zeros): hand every range back to the kernel's mmap. */
		ps_warn("fork: cannot serve managed mappings in the child (%s); "
			"they go back to the kernel's mmap", strerror(-err));
		ps_mapping_give_back_all();
		__atomic_store_n(&service, SVC_UNAVAILABLE, __ATOMIC_RELEASE);
	}
	pthread_sigmask(SIG_SETMASK, &fork_saved, NULL);
}

static void init_once(void)
{
	char err[256] = "";
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t ram = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
	ps_real_resolve();
	int bad = ps_options_parse(&ps_opt, environ, ram, cgroup_limit(), err, sizeof err);
	ps_log_set_level(ps_opt.log);
	int log_err = bad ? 0 : ps_log_set_file(ps_opt.log_file);
	if (log_err)
		ps_warn("PAGESHIM_LOG_FILE=%s: %s; messages go to stderr only", ps_opt.log_file, strerror(-log_err));
	if (bad) {
		ps_warn("%s; pageshim manages nothing in this process", err);
		state = ST_DISABLED;
		return;
	}
	if (psz != PS_PAGE) {
		ps_warn("page size %ld is not %u; pageshim manages nothing", psz, PS_PAGE);
		state = ST_DISABLED;
		return;
	}
	regions_lock_init();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	if (ps_opt.sigbus_report == PS_REPORT_ALL)
		ps_fatal_keep(SIGBUS);
	state = ps_opt.disable ? ST_DISABLED : ST_ENABLED;
}

int ps_enabled(void)
{
	int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	if (s == ST_NEW) {
		int expect = ST_NEW;
		if (__atomic_compare_exchange_n(&state, &expect, ST_INITIALISING, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			init_once();
		s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	}
	return s == ST_ENABLED;
}

static int start_service(void)
{
	int err = ps_opt.test_no_uffd ? -EPERM : ps_uffd_open();
	if (err) {
		ps_warn("userfaultfd is not available (%s): every file mapping goes to the kernel's mmap. "
			"To enable pageshim run as root, give this user access to /dev/userfaultfd, "
			"or set sysctl vm.unprivileged_userfaultfd=1", strerror(-err));
		return err;
	}
	unsigned inflight = 2 * ps_opt.handlers * ps_opt.readahead;
	ps_store_init();
	ps_trace_init(ps_opt.trace_file);       /* before the handlers take their buffers */
	if ((err = ps_sigbus_init()) || (err = ps_coherence_init()) || (err = ps_cache_init(ps_opt.cache_size, inflight)) ||
	    (err = ps_uffd_start(ps_opt.handlers, ps_opt.readahead)) ||
	    (err = ps_prefetch_start(ps_opt.handlers, ps_opt.readahead)) || (err = ps_writeback_start()) ||
	    (ps_live_start(), (err = ps_external_start()))) {   /* the segment, then its publisher */
		ps_warn("cannot start (%s): every file mapping goes to the kernel's mmap", strerror(-err));
		return err;
	}
	ps_debug("serving file mappings: budget %llu MiB, %u handlers, read-around up to %u pages",
		 (unsigned long long)(ps_opt.cache_size >> 20), ps_opt.handlers, ps_opt.readahead);
	return 0;
}

int ps_service_ready(void)
{
	int s = __atomic_load_n(&service, __ATOMIC_ACQUIRE);
	if (s != SVC_NONE)
		return s == SVC_READY;
	pthread_mutex_lock(&service_lock);
	if (service == SVC_NONE)
		__atomic_store_n(&service, start_service() ? SVC_UNAVAILABLE : SVC_READY, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&service_lock);
	return service == SVC_READY;
}

void ps_gauges_read(struct ps_gauges *g)
{
	memset(g, 0, sizeof *g);
	g->active = service == SVC_READY;
	if (!g->active)
		return;
	struct ps_cache_gauges c;
	ps_cache_gauges(&c);
	g->budget_bytes = c.budget_pages * PS_PAGE;
	g->resident_bytes = c.resident_pages * PS_PAGE;
	g->peak_resident_bytes = c.peak_pages * PS_PAGE;
	g->dirty_bytes = c.dirty_pages * PS_PAGE;
	g->mappings_live = region_count();
}

__attribute__((constructor)) static void pageshim_init(void)
{
	ps_enabled();
}

/* Never stop the handlers here: other threads of the program may still
 * touch managed pages while exit() runs. */
void ps_leaving(int exiting)
{
	if (__atomic_load_n(&service, __ATOMIC_ACQUIRE) == SVC_READY) {
		ps_writeback_all();
		ps_live_stop();
		ps_trace_flush();
	}
	if (exiting && state != ST_NEW && ps_opt.stats_file[0]) {
		int err = ps_stats_write_json(ps_opt.stats_file);
		if (err)
			ps_warn("cannot write stats to %s: %s", ps_opt.stats_file, strerror(-err));
	}
}

__attribute__((destructor)) static void pageshim_fini(void)
{
	ps_guard_enter();
	ps_leaving(1);
	ps_guard_leave();
}

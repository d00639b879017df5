/* fill.c - see fill.h. */
#include "fill.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cache.h"
#include "file.h"
#include "guard.h"
#include "init.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "sigbus.h"
#include "stall.h"
#include "stats.h"
#include "store.h"
#include "trace.h"
#include "uffd.h"
#include "writeback.h"

#define CORRUPT_LOG_LIMIT 16    /* mismatches logged one by one, then counted only */

/* Claim up to `want` consecutive empty pages from `page` on. */
static size_t claim_more(struct ps_region *r, size_t page, size_t want)
{
	size_t n = 0;
	while (n < want && page + n < r->npages) {
		uint32_t expect = PG_EMPTY;
		if (!page_cas(r, page + n, &expect, PG_FILLING))
			break;
		n++;
	}
	return n;
}

static void release(struct ps_region *r, size_t page, size_t n)
{
	for (size_t i = 0; i < n; i++)
		page_store(r, page + i, PG_EMPTY);
}

static void report_changed(struct ps_region *r, uint64_t fpage)
{
	static unsigned logged;
	PS_COUNT(checksum_mismatches, 1);
	FILE_COUNT(r->file, checksum_mismatches, 1);
	if (__atomic_fetch_add(&logged, 1, __ATOMIC_RELAXED) < CORRUPT_LOG_LIMIT)
		ps_warn("checksum mismatch: %s at file offset %llu changed since pageshim last read it%s",
			r->file->path, (unsigned long long)(fpage << PS_PAGE_SHIFT),
			ps_opt.on_corrupt == PS_CORRUPT_SIGBUS ? "; refusing it" : "");
}

/* A write of this process to the file, under way while a fill read it,
 * may have changed a page that coherence.c (which forgets the checksums of
 * what the write covers once it returns) has not been told of yet. */
enum own_write {
	OWN_NONE,       /* none: a changed page is reported (refused under sigbus) */
	OWN_WAIT,       /* one: a changed page sends the fill to read again */
	OWN_TRUST,      /* one still, OWN_ROUNDS reads later: a change is the write's */
};
#define OWN_ROUNDS 5
#define OWN_PAUSE_NS 20000      /* between them: a pwrite lands in microseconds */
#define CHECK_AGAIN SIZE_MAX

/* Checksum the pages read and record them; returns how many may be
 * installed (all, or those before a refused one), or CHECK_AGAIN for a
 * changed page under OWN_WAIT (its checksum left as it was). Under f->lock
 * read. */
static size_t check_sums(struct ps_region *r, size_t page, size_t valid, const char *data,
			 enum own_write own)
{
	int refuse = ps_opt.on_corrupt == PS_CORRUPT_SIGBUS && own == OWN_NONE;
	for (size_t i = 0; i < valid; i++) {
		uint64_t fpage = r->pgoff + page + i;
		if (!file_record_sum(r->file, fpage, file_sum(data + i * PS_PAGE), refuse || own == OWN_WAIT))
			continue;
		if (own == OWN_WAIT)
			return CHECK_AGAIN;
		if (own == OWN_TRUST)
			continue;
		report_changed(r, fpage);
		if (refuse)
			return i;
	}
	return valid;
}

/* Under f->lock (read) and the cache lock: the pages just copied become
 * resident. One the kernel no longer has (a MADV_DONTNEED between the copy
 * and now) goes back to empty, and its budget with it. Returns how many
 * pages stayed; the caller wakes the run when some did not. *refault is set
 * when the first page had been evicted recently. */
static size_t commit(struct ps_region *r, size_t page, size_t n, int dirty, int *refault)
{
	unsigned char vec[4096];        /* PAGESHIM_READAHEAD is at most 4096 pages */
	int known = ps_store_held(region_addr(r, page), n, vec) == 0;
	enum ps_hint hint = r->advice == MADV_SEQUENTIAL ? PS_HINT_ONCE : PS_HINT_NORMAL;
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (known && !vec[i]) {
			page_store(r, page + i, PG_EMPTY);
			ps_cache_unreserve(1);
		} else if (dirty && i == 0) {
			ps_cache_installed_dirty(r, page);
			PS_COUNT(pages_dirtied, 1);
			kept++;
		} else {
			int ghost = ps_cache_installed(r, page + i, hint);
			if (i == 0)
				*refault = ghost;
			kept++;
		}
	}
	return kept;
}

/* Fill the claimed pages [page, page+n) of r. `tid` is the faulting thread
 * (0 for prefetch: nobody waits, errors are dropped), `addr` the touched
 * address, `dirty` a private write fault (install writable and dirty).
 * Every claimed page ends resident or empty, and every page that ends empty
 * is woken: a second fault on a claimed page was dropped, counting on this.
 * Returns the pages installed, or -errno. */
static ssize_t fill_run(struct ps_fill_ctx *ctx, struct ps_region *r, size_t page, size_t n,
			uint32_t tid, uintptr_t addr, int dirty)
{
	struct ps_file *f = r->file;
	uint64_t off = (r->pgoff + page) << PS_PAGE_SHIFT;
	char *buf = ctx->staging;
	size_t install = 0, kept = 0, counted = 0;
	int err = 0, asked = 0;         /* asked: for a stall site (stall.h) */
	unsigned own_rounds = 0;
	const char *why = NULL;

	ps_cache_reserve((unsigned)n);
	for (;;) {
		uint64_t seq = __atomic_load_n(&f->seq, __ATOMIC_ACQUIRE);
		uint64_t own = file_own_mark(f);
		uint64_t t_io = ctx->trace ? ps_now_ns() : 0;
		ssize_t got = file_read(f, buf, n * PS_PAGE, off);
		if (ctx->trace)
			ctx->io_ns += ps_now_ns() - t_io;
		if (got < 0 && n > 1) {
			/* A bad page must not fail its neighbours, as under the
			 * kernel: the rest of the run goes back (woken), and the
			 * first page is read alone. */
			release(r, page + 1, n - 1);
			ps_uffd_wake(region_addr(r, page + 1), (n - 1) * PS_PAGE);
			ps_cache_unreserve((unsigned)(n - 1));
			n = 1;
			continue;
		}
		if (got < 0) {
			err = (int)-got;
			why = "read error";
			PS_COUNT(io_errors, 1);
			FILE_COUNT(f, io_errors, 1);
			break;
		}
		size_t valid = ((size_t)got + PS_PAGE - 1) / PS_PAGE;
		if (!valid) {
			why = "access beyond the end of the file";
			break;
		}
		if (got % PS_PAGE)      /* the last page reads zeros past end of file */
			memset(buf + got, 0, PS_PAGE - (size_t)got % PS_PAGE);
		if (tid && !asked) {    /* before the copy wakes the thread */
			asked = 1;
			ps_stall_seen(tid, f->path, off, ps_now_ns() - ctx->fault_ns);
		}
		pthread_rwlock_rdlock(&f->lock);
		if (__atomic_load_n(&f->seq, __ATOMIC_ACQUIRE) != seq) {
			/* The program wrote to the file while we read: read again. */
			pthread_rwlock_unlock(&f->lock);
			continue;
		}
		install = check_sums(r, page, valid, buf, !file_own_since(f, own) ? OWN_NONE
							 : own_rounds < OWN_ROUNDS ? OWN_WAIT : OWN_TRUST);
		if (install == CHECK_AGAIN) {
			pthread_rwlock_unlock(&f->lock);
			own_rounds++;
			nanosleep(&(struct timespec){ .tv_nsec = OWN_PAUSE_NS }, NULL);
			continue;
		}
		if (install) {
			/* Counted before the copy wakes anyone, so a thread that reads
			 * the stats right after its access finds its pages there;
			 * what does not stay is taken back below. */
			counted = install;
			PS_COUNT(pages_filled, counted);
			size_t copied = 0;
			/* A written page is woken only once it is dirty: a
			 * write-back (msync) that ran between would miss it. */
			err = -ps_store_install(r, page, buf, install,
						dirty ? PS_COPY_DONTWAKE : r->wp ? PS_COPY_WP : 0, &copied);
			install = copied / PS_PAGE;
			/* Still under f->lock: a write to the file now waits until these
			 * pages are resident, and then refreshes them. */
			ps_cache_lock_commit();
			int refault = 0;
			kept = commit(r, page, install, dirty, &refault);
			if (refault)
				ctx->cause = PAGESHIM_CAUSE_REFAULT;
			FILE_COUNT(f, pages_filled, kept);
			ps_cache_unlock_commit();
			if (dirty)
				ps_uffd_wake(region_addr(r, page), install * PS_PAGE);
		}
		pthread_rwlock_unlock(&f->lock);
		if (!install && !err)
			why = "checksum mismatch";
		break;
	}

	ps_cache_unreserve((unsigned)(n - install));
	if (counted > kept)
		__atomic_fetch_sub(&ps_count.pages_filled, counted - kept, __ATOMIC_RELAXED);
	if (install) {
		release(r, page + install, n - install);
		if (kept < n)
			ps_uffd_wake(region_addr(r, page), n * PS_PAGE);
		ps_cache_trim();        /* with every waiter running again */
		return (ssize_t)kept;
	}
	release(r, page + 1, n - 1);
	/* The faulting page is still ours: a poison marker may take its place. */
	int poisoned = 0;
	if (tid && err != EEXIST && err != ENOENT && err != ESRCH) {
		ctx->cause = PAGESHIM_CAUSE_ERROR;
		poisoned = ps_sigbus_raise(r, page, addr, tid, why ? why : "cannot install page", err);
	}
	if (!poisoned)
		page_store(r, page, PG_EMPTY);
	/* Waiters fault again and get their own answer (or find the range
	 * gone, when someone unmapped it under us). */
	ps_uffd_wake(region_addr(r, page), n * PS_PAGE);
	return -(err ? err : EFAULT);
}

/* The read-ahead threads' queue (see ps_prefetch below). Room for the 8 MiB
 * windows of several streams plus the program's own advice. */
#define PREFETCH_QUEUE 256
#define PREFETCH_THREADS_MAX 64

static pthread_mutex_t pf_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pf_cond = PTHREAD_COND_INITIALIZER;
static struct { uintptr_t start; size_t len; } pf_queue[PREFETCH_QUEUE];
static unsigned pf_head, pf_tail;
static struct ps_fill_ctx pf_ctx[PREFETCH_THREADS_MAX];
static unsigned pf_threads;

/* Queue a request; `wait` for the lock (a program thread's advice) or not
 * (a handler's read-ahead). Returns 0 when the request was dropped. */
static int queue(uintptr_t start, size_t len, int wait)
{
	if (wait)
		pthread_mutex_lock(&pf_lock);
	else if (pthread_mutex_trylock(&pf_lock))
		return 0;
	int room = pf_threads && pf_tail - pf_head < PREFETCH_QUEUE;
	if (room) {
		pf_queue[pf_tail % PREFETCH_QUEUE].start = start;
		pf_queue[pf_tail % PREFETCH_QUEUE].len = len;
		pf_tail++;
		pthread_cond_signal(&pf_cond);
	}
	pthread_mutex_unlock(&pf_lock);
	return room;
}

/* How far a full-speed stream reads ahead: 8 MiB keeps enough reads in
 * flight for an SSD's full rate (measured: 2 MiB reached 0.7 of it), and a
 * quarter of the budget at most, so that a small budget is not spent on
 * pages evicted before their use (pages; set by ps_prefetch_start). */
#define AHEAD_BYTES (8u << 20)
static unsigned ahead_distance;
/* Read-ahead state counts pages in 32 bits: past 8 TiB into a mapping,
 * faults read one page. */
#define RA_PAGES_MAX (UINT32_MAX / 2)

/* Queue the background part of a read-ahead plan, one window per request
 * so that the read-ahead threads read them side by side. A handler does not
 * wait for the queue: when it is busy or full the rest is dropped, and those
 * pages are read when the program faults on them. */
static void read_ahead(struct ps_region *r, const struct ps_ra_plan *plan, unsigned window)
{
	size_t page = plan->ahead, end = page + plan->ahead_n;
	if (end > r->npages)
		end = r->npages;
	for (; page < end; page += window) {
		size_t n = end - page < window ? end - page : window;
		if (!queue(region_addr(r, page), n * PS_PAGE, 0))
			break;
	}
}

/* Bring back a page spilled under PAGESHIM_WRITEBACK=msync, written and
 * writable. Under the cache lock throughout, with the page PG_BUSY: a write-
 * back (msync) that meets it waits, then writes it. */
static void fill_spilled(struct ps_fill_ctx *ctx, struct ps_region *r, size_t page)
{
	uintptr_t at = region_addr(r, page);
	uint64_t off = (r->pgoff + page) << PS_PAGE_SHIFT;
	int err = 0;
	ps_cache_reserve(1);
	ps_cache_lock();
	if (ps_cache_unspill(r, page, PG_BUSY)) {
		ps_cache_unlock();              /* someone else took it: look again */
		ps_cache_unreserve(1);
		ps_uffd_wake(at, PS_PAGE);
		return;
	}
	ssize_t got;
	while ((got = real.pread(r->file->spill_fd, ctx->staging, PS_PAGE, (off_t)off)) < 0 && errno == EINTR)
		;
	if (got != PS_PAGE)
		err = got < 0 ? errno : EIO;
	else
		err = -ps_store_install(r, page, ctx->staging, 1, 0, NULL);   /* dirty below, under the lock */
	if (err) {
		ps_cache_respilled(r, page);
		ps_cache_unreserve(1);
	} else {
		ps_cache_installed_dirty(r, page);
		ctx->installed = 1;
	}
	ps_cache_unlock();
	if (err) {
		ps_warn("cannot read back a written page of %s at offset %llu from the spill file: %s",
			r->file->path, (unsigned long long)off, strerror(err));
		ps_uffd_wake(at, PS_PAGE);
	}
	ps_cache_trim();
}

static void serve_missing(struct ps_fill_ctx *ctx, struct ps_region *r, size_t page,
			  uintptr_t addr, uint32_t tid, int write)
{
	struct ps_ra_plan plan;
	for (;;) {
		uint32_t w = page_load(r, page);
		switch (PG_STATE(w)) {
		case PG_EMPTY:
			if (page_cas(r, page, &w, PG_FILLING))
				goto claimed;
			continue;
		case PG_FILLING:
			/* The fill in progress wakes this thread. A scan that caught up
			 * with its read-ahead asks for more. */
			ctx->cause = PAGESHIM_CAUSE_READAHEAD;
			if (page >= RA_PAGES_MAX)
				return;
			ps_readahead_waiting(&r->ra, (uint32_t)page, r->advice, ctx->pages, ahead_distance, &plan);
			read_ahead(r, &plan, ctx->pages);
			return;
		case PG_BUSY:
			ps_cache_wait();
			continue;
		case PG_SPILLED:
			ctx->cause = PAGESHIM_CAUSE_SPILLED;
			fill_spilled(ctx, r, page);
			return;
		default:                /* resident already: the thread just retries */
			ctx->cause = PAGESHIM_CAUSE_RESIDENT;
			ps_uffd_wake(region_addr(r, page), PS_PAGE);
			return;
		}
	}
claimed:;
	int dirty = write && r->wp;
	size_t n = 1;
	plan.ahead = 0;
	plan.ahead_n = 0;
	if (!dirty && page < RA_PAGES_MAX) {
		ps_readahead_plan(&r->ra, (uint32_t)page, r->advice, ctx->pages, ahead_distance, &plan);
		n += claim_more(r, page + 1, plan.now - 1);
	}
	ssize_t got = fill_run(ctx, r, page, n, tid, addr, dirty);
	ctx->installed = got > 0 ? (uint32_t)got : 0;
	if (!dirty && got == (ssize_t)n)
		read_ahead(r, &plan, ctx->pages);
}

/* The page stays write-protected until it is dirty, and is unprotected
 * under the cache lock: a write-back (which needs it dirty) cannot run
 * between the two and leave a clean page writable. */
static void serve_wp(struct ps_region *r, size_t page)
{
	for (;;) {
		ps_cache_lock();
		unsigned st = PG_STATE(page_load(r, page));
		int err = ps_cache_make_dirty(r, page);
		int unprotect = !err || st == PG_DIRTY;         /* dirty: its write-back failed */
		if (unprotect)
			ps_uffd_writeprotect(region_addr(r, page), PS_PAGE, 0);
		ps_cache_unlock();
		if (!err)
			PS_COUNT(pages_dirtied, 1);
		if (unprotect)
			return;
		if (st != PG_BUSY)
			break;
		ps_cache_wait();
	}
	/* Evicted, or not yet committed: the thread faults again and finds out. */
	ps_uffd_wake(region_addr(r, page), PS_PAGE);
}

/* The fault's record in the trace (under ps_regions_lock: r is alive). */
static void trace(struct ps_fill_ctx *ctx, const struct ps_region *r, uintptr_t addr,
		  uint32_t tid, uint64_t service_ns)
{
	struct ps_trace_fault t = {
		.start_ns = ctx->fault_ns, .service_ns = service_ns, .io_ns = ctx->io_ns,
		.page = r ? r->pgoff + ((addr - r->start) >> PS_PAGE_SHIFT) : 0,
		.tid = tid, .pages = ctx->installed, .cause = ctx->cause,
	};
	ps_trace_fault(ctx->trace, r ? r->file : NULL, &t);
}

void ps_fault_serve(struct ps_fill_ctx *ctx, const struct uffd_msg *msg)
{
	uint64_t t0 = ctx->fault_ns = ps_now_ns();
	uintptr_t addr = (uintptr_t)msg->arg.pagefault.address;
	uint64_t flags = msg->arg.pagefault.flags;
	uint32_t tid = msg->arg.pagefault.feat.ptid;
	int shared_write = 0;   /* may have made a page dirty (or read a spilled one back) */
	ctx->io_ns = 0;
	ctx->installed = 0;
	ctx->cause = PAGESHIM_CAUSE_FIRST;
	PS_COUNT(faults, 1);
	pthread_rwlock_rdlock(&ps_regions_lock);
	struct ps_region *r = region_find(addr);
	if (!r) {
		/* Being unmapped right now: the thread faults again, then finds
		 * the range gone (SIGSEGV) or mapped anew. */
		ctx->cause = PAGESHIM_CAUSE_ERROR;
		ps_uffd_wake(addr & ~(uintptr_t)(PS_PAGE - 1), PS_PAGE);
	} else {
		size_t page = (addr - r->start) >> PS_PAGE_SHIFT;
		FILE_COUNT(r->file, faults, 1);
		shared_write = !r->private_ && r->wp;
		if (flags & UFFD_PAGEFAULT_FLAG_WP) {
			ctx->cause = PAGESHIM_CAUSE_WRITE;
			serve_wp(r, page);
		} else {
			serve_missing(ctx, r, page, addr, tid, !!(flags & UFFD_PAGEFAULT_FLAG_WRITE));
		}
	}
	/* The thread is running again: what follows is not its wait. */
	uint64_t service = ps_now_ns() - t0;
	if (r)
		ps_hist_add(&r->file->fault_hist, service);
	if (ctx->trace)
		trace(ctx, r, addr, tid, service);
	pthread_rwlock_unlock(&ps_regions_lock);
	if (ctx->trace)
		ps_trace_commit(ctx->trace);
	if (shared_write)
		ps_writeback_dirtied();
	ps_hist_add(&ps_fault_hist, service);
}

/* ---- prefetch: read-ahead, MADV_WILLNEED and MAP_POPULATE ---- */

void ps_prefetch(uintptr_t start, size_t len)
{
	queue(start, len, 1);
}

/* Fill the empty pages of one request, at most half the budget of them. */
static void prefetch_one(struct ps_fill_ctx *ctx, uintptr_t start, size_t len)
{
	struct ps_cache_gauges g;
	ps_cache_gauges(&g);
	uint64_t left = g.budget_pages / 2;
	uintptr_t end = start + len;
	pthread_rwlock_rdlock(&ps_regions_lock);
	while (start < end && left) {
		struct ps_region *r = region_find(start);
		if (!r)
			break;
		size_t page = (start - r->start) >> PS_PAGE_SHIFT;
		size_t last = ((end < region_end(r) ? end : region_end(r)) - r->start) >> PS_PAGE_SHIFT;
		while (page < last && left) {
			size_t want = last - page < ctx->pages ? last - page : ctx->pages;
			size_t n = claim_more(r, page, want < left ? want : left);
			if (!n) {
				page++;
				continue;
			}
			ssize_t got = fill_run(ctx, r, page, n, 0, 0, 0);
			if (got <= 0)
				goto out;       /* end of file or an error: stop here */
			PS_COUNT(prefetch_pages, got);
			page += n;
			left -= n;
		}
		start = region_end(r);
	}
out:
	pthread_rwlock_unlock(&ps_regions_lock);
}

static void *prefetch_main(void *arg)
{
	struct ps_fill_ctx *ctx = arg;
	ps_guard_enter_forever();
	for (;;) {
		pthread_mutex_lock(&pf_lock);
		while (pf_head == pf_tail)
			pthread_cond_wait(&pf_cond, &pf_lock);
		uintptr_t start = pf_queue[pf_head % PREFETCH_QUEUE].start;
		size_t len = pf_queue[pf_head % PREFETCH_QUEUE].len;
		pf_head++;
		pthread_mutex_unlock(&pf_lock);
		prefetch_one(ctx, start, len);
	}
	return NULL;
}

int ps_prefetch_start(unsigned threads, unsigned pages)
{
	struct ps_cache_gauges g;
	ps_cache_gauges(&g);
	uint64_t most = g.budget_pages / 4;
	ahead_distance = (unsigned)(AHEAD_BYTES / PS_PAGE < most ? AHEAD_BYTES / PS_PAGE : most);
	if (threads > PREFETCH_THREADS_MAX)
		threads = PREFETCH_THREADS_MAX;
	pf_head = pf_tail = 0;
	pf_threads = 0;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = 0;
	for (unsigned i = 0; i < threads && !err; i++) {
		struct ps_fill_ctx *ctx = &pf_ctx[i];
		/* In a forked child the parent's buffers are already here. */
		if (!ctx->staging) {
			void *buf = real.mmap(NULL, (size_t)pages * PS_PAGE, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (buf == MAP_FAILED) {
				err = ENOMEM;
				break;
			}
			ctx->staging = buf;
			ctx->pages = pages;
		}
		pthread_t t;
		err = pthread_create(&t, NULL, prefetch_main, ctx);
		if (!err) {
			pthread_setname_np(t, "pageshim-ahead");
			pthread_detach(t);
			__atomic_store_n(&pf_threads, i + 1, __ATOMIC_RELEASE);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

void ps_prefetch_fork_child(void)
{
	/* The condition variable still counts the parent's waiting thread,
	 * which does not exist here: a signal on it would wait forever. */
	pthread_mutex_init(&pf_lock, NULL);
	pthread_cond_init(&pf_cond, NULL);
}

void ps_prefetch_lock(void) { pthread_mutex_lock(&pf_lock); }
void ps_prefetch_unlock(void) { pthread_mutex_unlock(&pf_lock); }

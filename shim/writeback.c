/* writeback.c - see writeback.h. */
#include "writeback.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "external.h"
#include "file.h"
#include "guard.h"
#include "init.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "stats.h"
#include "store.h"
#include "uffd.h"

#define RUN_MAX 256u            /* pages per write: 1 MiB */
#define FLUSH_PERIOD_S 30       /* the kernel's dirty_expire_centisecs */
#define SCAN_PAGES 4096u        /* page words the flusher looks at per hold of the regions lock */

/* Write len bytes from buf at off of fd, all of them. 0 or -errno. */
static int pwrite_all(int fd, const char *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));
		if (n > 0)
			done += (size_t)n;
		else if (n == 0 || errno != EINTR)
			return n ? -errno : -EIO;
	}
	return 0;
}

/* Pages [p, p+n) of r were dirty and are PG_BUSY: protect them, then write them to the file (recording their
 * checksums) or, with `spill`, to the spill file, and drop them from memory.
 * 0 or -errno. */
static int write_run(struct ps_region *r, size_t p, size_t n, int spill)
{
	struct ps_file *f = r->file;
	uintptr_t addr = region_addr(r, p);
	uint64_t off = (r->pgoff + p) << PS_PAGE_SHIFT;
	size_t len = n * PS_PAGE;
	unsigned char vec[RUN_MAX];
	struct stat st;
	int err = ps_uffd_writeprotect(addr, len, 1);
	if (err)
		return err;
	/* Every page must be there: reading a missing one would fault into a
	 * handler, which may be waiting for a lock held by our caller. */
	if ((err = ps_store_held(addr, n, vec)))
		return err;
	for (size_t i = 0; i < n; i++)
		if (!vec[i])
			return -EFAULT;
	const char *bytes = ps_store_bytes(r, p);
	if (spill) {
		struct iovec v = { (void *)addr, len };
		if (!(err = file_open_spill(f, ps_opt.spill_dir)) &&
		    !(err = pwrite_all(f->spill_fd, bytes, len, off)) && ps_store_drop(&v, 1, NULL))
			err = -EBUSY;   /* mlock()ed: it stays, dirty */
		return err;
	}
	if (fstat(f->wfd, &st))
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	/* Bytes past the end of the file stay in memory, as the kernel's. */
	size_t in_file = off >= size ? 0 : size - off < len ? (size_t)(size - off) : len;
	if (in_file && (err = file_write(f, bytes, in_file, off)))
		return err;
	for (size_t i = 0; i < n; i++) {
		uint64_t at = off + i * PS_PAGE;
		/* A re-read of the last page fills its tail with zeros: its sum is
		 * unknown rather than that of the bytes in memory. */
		file_set_sum(f, (off >> PS_PAGE_SHIFT) + i,
			     at + PS_PAGE <= size ? file_sum(bytes + i * PS_PAGE) : 0);
	}
	PS_COUNT(pages_written_back, n);
	return 0;
}

/* Pages [p, p+n) of r were spilled and are PG_BUSY: copy them from the
 * spill file into the file. 0 or -errno. */
static int unspill_run(struct ps_region *r, size_t p, size_t n)
{
	struct ps_file *f = r->file;
	uint64_t off = (r->pgoff + p) << PS_PAGE_SHIFT;
	struct stat st;
	if (fstat(f->wfd, &st))
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	size_t left = off >= size ? 0 : size - off < n * PS_PAGE ? (size_t)(size - off) : n * PS_PAGE;
	while (left) {
		char page[PS_PAGE];
		size_t k = left < PS_PAGE ? left : PS_PAGE;
		ssize_t got = real.pread(f->spill_fd, page, k, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)k)
			return got < 0 ? -errno : -EIO;
		int err = file_write(f, page, k, off);
		if (err)
			return err;
		off += k;
		left -= k;
	}
	file_forget_sums(f, r->pgoff + p, r->pgoff + p + n);
	PS_COUNT(pages_written_back, n);
	return 0;
}

/* Claim, under the cache lock, the run of pages from p that are in state
 * `st` (PG_DIRTY or PG_SPILLED), making them PG_BUSY. */
static size_t claim_run(struct ps_region *r, size_t p, size_t b, unsigned st)
{
	size_t n = 0;
	while (p + n < b && n < RUN_MAX &&
	       (st == PG_SPILLED ? ps_cache_unspill(r, p + n, PG_BUSY) : ps_cache_writing(r, p + n)) == 0)
		n++;
	return n;
}

/* The claimed run ended: each page's new state, under the cache lock. */
static void end_run(struct ps_region *r, size_t p, size_t n, unsigned st, int spill, int err)
{
	for (size_t i = 0; i < n; i++) {
		if (st == PG_SPILLED)
			err ? ps_cache_respilled(r, p + i) : page_store(r, p + i, PG_EMPTY);
		else if (spill && !err)
			ps_cache_spilled(r, p + i);
		else
			ps_cache_written(r, p + i, !err);
	}
}

/* Write the written pages of [a, b) of r to the file (spilled ones too), or
 * with `spill` move the dirty ones to the spill file. A page being written
 * back by another thread, or read back from the spill file, is waited for:
 * msync returns only once every page written before it is in the file. */
static int writeback(struct ps_region *r, size_t a, size_t b, int spill)
{
	struct ps_file *f = r->file;
	int first_err = 0;
	if (r->private_ || !r->wp)
		return 0;
	for (size_t p = a; p < b && (__atomic_load_n(&f->dirty, __ATOMIC_RELAXED) ||
				     (!spill && __atomic_load_n(&f->spilled, __ATOMIC_RELAXED)));) {
		unsigned st = PG_STATE(page_load(r, p));
		if (st == PG_BUSY) {
			ps_cache_wait();
			continue;
		}
		if (st != PG_DIRTY && (st != PG_SPILLED || spill)) {
			p++;
			continue;
		}
		/* The I/O runs under the cache's outer lock alone, not the file's
		 * lock: a thread writing this file from this mapping holds the
		 * inode's lock while it faults, and a fill it waits for must be
		 * able to commit (which takes the file's lock for reading). */
		file_own_begin(f->key.dev, f->key.ino); /* not another process's write */
		ps_cache_lock();
		size_t n = claim_run(r, p, b, st);
		int err = 0;
		if (n) {
			ps_cache_unlock_commit();
			err = st == PG_SPILLED ? unspill_run(r, p, n) : write_run(r, p, n, spill);
			ps_cache_lock_commit();
			end_run(r, p, n, st, spill, err);
		}
		ps_cache_unlock();
		if (n && !spill) {      /* a failed write may have written some */
			pthread_rwlock_wrlock(&f->lock);
			/* A fill of another mapping of the file that read these
			 * file pages before the write reads again. (With one
			 * mapping none can have: the pages are resident here.) */
			if (f->regions != r || r->file_next)
				__atomic_fetch_add(&f->seq, 1, __ATOMIC_ACQ_REL);
			ps_external_note(f);
			pthread_rwlock_unlock(&f->lock);
		}
		file_own_end(f->key.dev, f->key.ino);
		if (err) {
			PS_COUNT(writeback_errors, 1);
			ps_warn("cannot write %zu page(s) of %s at offset %llu %s: %s", n, f->path,
				(unsigned long long)((r->pgoff + p) << PS_PAGE_SHIFT),
				spill ? "to the spill file" : "back", strerror(-err));
			if (!first_err)
				first_err = err;
		}
		p += n;         /* none: the page changed state meanwhile; look again */
	}
	return first_err;
}

int ps_writeback_region(struct ps_region *r, size_t a, size_t b)
{
	return writeback(r, a, b, 0);
}

static int spilling(void) { return ps_opt.writeback == PS_WB_MSYNC; }

/* [a, b) of r that lies within [start, end) of the address space. */
static void clip(const struct ps_region *r, uintptr_t start, uintptr_t end, size_t *a, size_t *b)
{
	*a = start > r->start ? (start - r->start) >> PS_PAGE_SHIFT : 0;
	*b = end < region_end(r) ? (end - r->start + PS_PAGE - 1) >> PS_PAGE_SHIFT : r->npages;
}

/* writeback() over every region's part of [start, end). */
static int writeback_range(uintptr_t start, uintptr_t end, int spill)
{
	int first_err = 0;
	struct ps_region *r;
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < end; i++) {
		size_t a, b;
		clip(r, start, end, &a, &b);
		int err = writeback(r, a, b, spill);
		if (!first_err)
			first_err = err;
	}
	return first_err;
}

int ps_writeback_range(uintptr_t start, uintptr_t end)
{
	return ps_cache_unwritten() ? writeback_range(start, end, 0) : 0;
}

int ps_writeback_keep(uintptr_t start, uintptr_t end)
{
	return ps_cache_shared_dirty() ? writeback_range(start, end, spilling()) : 0;
}

int ps_writeback_file(struct ps_file *f, uint64_t first, uint64_t end)
{
	int first_err = 0;
	for (struct ps_region *r = f->regions; r; r = r->file_next) {
		if (end <= r->pgoff || first >= r->pgoff + r->npages)
			continue;
		size_t a = first > r->pgoff ? (size_t)(first - r->pgoff) : 0;
		size_t b = end - r->pgoff < r->npages ? (size_t)(end - r->pgoff) : r->npages;
		int err = ps_writeback_region(r, a, b);
		if (!first_err)
			first_err = err;
	}
	return first_err;
}

/* Write back (or spill) until at most `target` shared pages are dirty,
 * taking the regions lock for SCAN_PAGES page words at a time, so that a
 * munmap (a writer, and preferred) never waits for a whole pass. */
static void flush_down_to(uint64_t target)
{
	uintptr_t at = 0;
	while (ps_cache_shared_dirty() > target) {
		pthread_rwlock_rdlock(&ps_regions_lock);
		struct ps_region *r = region_at(region_first_after(at));
		if (r) {
			size_t a, b;
			clip(r, at, UINTPTR_MAX, &a, &b);
			b = b - a > SCAN_PAGES ? a + SCAN_PAGES : b;
			writeback(r, a, b, spilling());
			at = region_addr(r, b);
		}
		pthread_rwlock_unlock(&ps_regions_lock);
		if (!r)
			break;
	}
}

static pthread_mutex_t fl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fl_cond;
static int fl_poked, fl_running;

static uint64_t budget_pages(void)
{
	struct ps_cache_gauges g;
	ps_cache_gauges(&g);
	return g.budget_pages;
}

static void *flusher_main(void *arg)
{
	(void)arg;
	ps_guard_enter_forever();
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += FLUSH_PERIOD_S;
		int timed_out = 0;
		pthread_mutex_lock(&fl_lock);
		while (!fl_poked && !timed_out)
			timed_out = pthread_cond_timedwait(&fl_cond, &fl_lock, &until) == ETIMEDOUT;
		fl_poked = 0;
		pthread_mutex_unlock(&fl_lock);
		if (!timed_out)
			flush_down_to(budget_pages() / 2);
		else if (!spilling())   /* the file gets nothing unasked */
			flush_down_to(0);
	}
	return NULL;
}

int ps_writeback_start(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fl_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&fl_lock, NULL);
	fl_poked = 0;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	int err = pthread_create(&t, NULL, flusher_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	pthread_setname_np(t, "pageshim-flush");
	pthread_detach(t);
	__atomic_store_n(&fl_running, 1, __ATOMIC_RELEASE);
	return 0;
}

int ps_writeback_fork_child(void)
{
	__atomic_store_n(&fl_running, 0, __ATOMIC_RELEASE);
	return ps_writeback_start();
}

void ps_writeback_dirtied(void)
{
	uint64_t dirty = ps_cache_shared_dirty(), budget = budget_pages();
	if (dirty > budget / 8 * 7) {
		flush_down_to(budget / 4 * 3);
	} else if (dirty > budget / 4 * 3 && __atomic_load_n(&fl_running, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&fl_lock);
		fl_poked = 1;
		pthread_cond_signal(&fl_cond);
		pthread_mutex_unlock(&fl_lock);
	}
}

/* A page ps_writeback_dying writes: dirty, or being written back (PG_BUSY
 * with no policy node; an eviction's or a refresh's PG_BUSY page is clean). */
static int dying_writes(uint32_t w)
{
	return PG_STATE(w) == PG_DIRTY || (PG_STATE(w) == PG_BUSY && !PG_NODE(w));
}

/* Async-signal-safe: no lock waited for, no allocation, no state changed.
 * A page being written back is written again: harmless. Runs that are not
 * all resident are skipped (reading them would fault into a handler). */
void ps_writeback_dying(void)
{
	if (!ps_cache_shared_dirty())
		return;         /* spilled pages stay: PAGESHIM_WRITEBACK=msync does not arm this */
	/* The registry may be changing under a thread this signal stopped
	 * (or this one): take it for reading if it can be had soon, else go
	 * on without (the process is ending either way). */
	int locked = 0;
	for (int i = 0; i < 50 && !(locked = !pthread_rwlock_tryrdlock(&ps_regions_lock)); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	struct ps_region *r;
	for (size_t i = 0; (r = region_at(i)); i++) {
		struct stat st;
		if (r->private_ || !r->wp || fstat(r->file->wfd, &st))
			continue;
		for (size_t p = 0, e; p < r->npages; p = e) {
			e = p + 1;
			if (!dying_writes(page_load(r, p)))
				continue;
			while (e < r->npages && e - p < RUN_MAX && dying_writes(page_load(r, e)))
				e++;
			uint64_t off = (r->pgoff + p) << PS_PAGE_SHIFT, size = (uint64_t)st.st_size;
			size_t len = (e - p) * PS_PAGE;
			unsigned char vec[RUN_MAX];
			int resident = ps_store_held(region_addr(r, p), e - p, vec) == 0;
			for (size_t k = 0; resident && k < e - p; k++)
				resident = vec[k];
			if (resident && off < size)
				file_write(r->file, ps_store_bytes(r, p),
					   size - off < len ? (size_t)(size - off) : len, off);
		}
	}
	if (locked)
		pthread_rwlock_unlock(&ps_regions_lock);
}

void ps_writeback_all(void)
{
	if (!ps_cache_unwritten())
		return;
	sigset_t saved;
	regions_enter(0, &saved);
	ps_writeback_range(0, UINTPTR_MAX);
	regions_leave(&saved);
}

/* coherence.c - see coherence.h. */
#include "coherence.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "external.h"
#include "file.h"
#include "init.h"
#include "real.h"
#include "region.h"
#include "stats.h"
#include "store.h"
#include "uffd.h"
#include "writeback.h"

#define RUN_MAX 64u             /* pages re-read per pread */

/* One buffer for every refresh, so program threads need no staging of
 * their own; refreshes of different files take turns on it. */
static pthread_mutex_t buf_lock = PTHREAD_MUTEX_INITIALIZER;
static char *buf;

int ps_coherence_init(void)
{
	buf = real.mmap(NULL, RUN_MAX * PS_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Pages a refresh must look at under the cache lock. PG_BUSY is an
 * eviction under way: the page is still mapped with the old bytes until it
 * ends, and it ends before the lock is ours. */
static int refreshable(unsigned st) { return st == PG_CLEAN || st == PG_POISON || st == PG_BUSY; }

/* Read [off, off+len) with a plain pread loop; bytes or -errno. */
static ssize_t read_full(int fd, char *dst, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = real.pread(fd, dst + done, len - done, (off_t)(off + done));
		if (n > 0)
			done += (size_t)n;
		else if (n == 0)
			break;
		else if (errno != EINTR)
			return done ? (ssize_t)done : -errno;
	}
	return (ssize_t)done;
}

/* Rewrite the clean pages of [a, b) of r in place with their new bytes in
 * buf (ps_store_rewrite): no zap, no TLB shootdown, no fault for a reader,
 * and the bytes change under it as they would in the kernel's page cache.
 * Only for regions whose pages are not write-protected (read-only shared
 * ones): where they are, to catch the program's own writes, this write
 * would look like one. */
static void rewrite_in_place(struct ps_region *r, size_t a, size_t b)
{
	for (size_t p = a, e; p < b; p = e) {
		e = p + 1;
		if (PG_STATE(page_load(r, p)) != PG_CLEAN)
			continue;
		while (e < b && PG_STATE(page_load(r, e)) == PG_CLEAN)
			e++;
		if (ps_store_rewrite(r, p, buf + (p - a) * PS_PAGE, e - p))
			for (size_t q = p; q < e; q++) {    /* cannot happen once probed: drop */
				ps_cache_forget(r, q);
				ps_store_drop_locked(region_addr(r, q), PS_PAGE);
			}
		PS_COUNT(coherence_updates, e - p);
	}
}

/* Zap and copy again the clean pages of [a, b) of r from buf. They are
 * PG_BUSY in between, so a thread faulting on one waits for the cache lock
 * instead of spinning; only those are zapped, so a private page the program
 * wrote meanwhile (now dirty) keeps its bytes. */
static void zap_and_copy(struct ps_region *r, size_t a, size_t b)
{
	for (size_t p = a; p < b; p++) {
		uint32_t w = page_load(r, p);
		if (PG_STATE(w) == PG_CLEAN)
			page_store(r, p, PG_WORD(PG_BUSY, PG_NODE(w)));
	}
	for (size_t p = a, e; p < b; p = e) {
		e = p + 1;
		if (PG_STATE(page_load(r, p)) != PG_BUSY)
			continue;
		while (e < b && PG_STATE(page_load(r, e)) == PG_BUSY)
			e++;
		ps_store_drop_locked(region_addr(r, p), (e - p) * PS_PAGE);
	}
	for (size_t p = a; p < b; p++) {
		uint32_t w = page_load(r, p);
		if (PG_STATE(w) != PG_BUSY)
			continue;
		int err = ps_store_install(r, p, buf + (p - a) * PS_PAGE, 1, r->wp ? PS_COPY_WP : 0, NULL);
		page_store(r, p, PG_WORD(PG_CLEAN, PG_NODE(w)));
		if (err)
			ps_cache_forget(r, p);
		PS_COUNT(coherence_updates, 1);
	}
}

/* Bring pages [a, b) of r up to date from buf, where pages from a + valid
 * on are beyond the end of the file. Under the cache lock. */
static void reinstall(struct ps_region *r, size_t a, size_t b, size_t valid)
{
	for (size_t p = a; p < b; p++) {
		unsigned st = PG_STATE(page_load(r, p));
		if (st == PG_POISON || (st == PG_CLEAN && p - a >= valid)) {
			ps_cache_forget(r, p);          /* the next access reads the file */
			ps_store_drop_locked(region_addr(r, p), PS_PAGE);
		}
	}
	size_t end = a + valid < b ? a + valid : b;
	if (!r->wp && ps_store_can_rewrite())
		rewrite_in_place(r, a, end);
	else
		zap_and_copy(r, a, end);
}

/* Refresh the resident pages [a, b) of region r from descriptor src. */
static void refresh_region(struct ps_region *r, size_t a, size_t b, int src)
{
	size_t p = a;
	while (p < b) {
		if (!refreshable(PG_STATE(page_load(r, p)))) {
			p++;
			continue;
		}
		size_t e = p + 1;
		while (e < b && e - p < RUN_MAX && refreshable(PG_STATE(page_load(r, e))))
			e++;
		ssize_t got = read_full(src, buf, (e - p) * PS_PAGE, (r->pgoff + p) << PS_PAGE_SHIFT);
		size_t valid = got > 0 ? ((size_t)got + PS_PAGE - 1) / PS_PAGE : 0;
		if (got > 0 && got % PS_PAGE)
			memset(buf + got, 0, PS_PAGE - (size_t)got % PS_PAGE);
		ps_cache_lock();
		reinstall(r, p, e, got < 0 ? 0 : valid);
		ps_cache_unlock();
		p = e;
	}
}

/* Pages wholly past new_size leave every mapping, written or not: the
 * kernel's truncate unmaps private copies too. */
static void drop_past(struct ps_region *r, uint64_t new_size)
{
	uint64_t first = (new_size + PS_PAGE - 1) >> PS_PAGE_SHIFT;
	size_t a = first > r->pgoff ? (size_t)(first - r->pgoff) : 0;
	if (a >= r->npages)
		return;
	ps_cache_lock();
	for (size_t p = a; p < r->npages; p++)
		ps_cache_forget(r, p);
	ps_store_drop_locked(region_addr(r, a), (r->npages - a) * PS_PAGE);
	ps_cache_unlock();
}

static void changed(dev_t dev, ino_t ino, int src_fd, uint64_t off, uint64_t len, uint64_t new_size)
{
	sigset_t saved;
	regions_enter(0, &saved);
	struct ps_file *f = file_find(dev, ino);
	if (!f)
		goto out;
	if (src_fd < 0 || (fcntl(src_fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
		src_fd = file_rfd(f);   /* the program's descriptor cannot read */
	uint64_t first = off >> PS_PAGE_SHIFT;
	uint64_t end = len == PS_TO_EOF || off + len < off ? UINT64_MAX
							    : (off + len + PS_PAGE - 1) >> PS_PAGE_SHIFT;
	pthread_rwlock_wrlock(&f->lock);
	__atomic_fetch_add(&f->seq, 1, __ATOMIC_ACQ_REL);
	if (!f->written) {
		f->written = 1;
		if (f->direct)
			file_stop_direct(f);
	}
	file_forget_sums(f, first, end);
	pthread_mutex_lock(&buf_lock);
	for (struct ps_region *r = f->regions; r; r = r->file_next) {
		if (new_size != PS_TO_EOF)
			drop_past(r, new_size);
		uint64_t a = first > r->pgoff ? first - r->pgoff : 0;
		uint64_t b = end - r->pgoff < r->npages && end > r->pgoff ? end - r->pgoff : r->npages;
		if (end <= r->pgoff || a >= r->npages)
			continue;
		refresh_region(r, (size_t)a, (size_t)b, src_fd);
	}
	pthread_mutex_unlock(&buf_lock);
	ps_external_note(f);            /* the write was this process's own */
	pthread_rwlock_unlock(&f->lock);
out:
	regions_leave(&saved);
}

/* What fstat said of the descriptor a call of the program is changing
 * (ps_coherence_writing), so that the rest of that call asks no more: one
 * fstat per write. Per thread, fd -1 when none. */
static __thread struct {
	int fd, regular;
	dev_t dev;
	ino_t ino;
	int own;                /* file_own_begin(dev, ino) done, to end */
} told __attribute__((tls_model("initial-exec"))) = { .fd = -1 };

/* Is fd a regular file pageshim may manage? (st_dev and st_ino filled.)
 * No lock taken. */
static int maybe_managed_fd(int fd, struct stat *st)
{
	if (fd >= 0 && told.fd == fd) {
		st->st_dev = told.dev;
		st->st_ino = told.ino;
		return told.regular && file_count() && file_maybe_managed(told.dev, told.ino);
	}
	return file_count() && fstat(fd, st) == 0 && S_ISREG(st->st_mode) &&
	       file_maybe_managed(st->st_dev, st->st_ino);
}

void ps_coherence_writing(int fd)
{
	struct stat st;
	int saved = errno;
	told.fd = -1;
	told.own = 0;
	if (!file_count())
		return;
	if (fd < 0) {
		told.dev = 0;           /* a path: counted against every file */
		told.ino = 0;
	} else if (fstat(fd, &st)) {
		errno = saved;
		return;
	} else {
		told.regular = S_ISREG(st.st_mode);
		told.dev = st.st_dev;
		told.ino = st.st_ino;
		told.fd = fd;
		if (!told.regular || !file_maybe_managed(st.st_dev, st.st_ino))
			return;
	}
	file_own_begin(told.dev, told.ino);
	told.own = 1;
}

void ps_coherence_written(void)
{
	told.fd = -1;
	if (told.own)
		file_own_end(told.dev, told.ino);
	told.own = 0;
}

void ps_coherence_fd(int fd, uint64_t off, uint64_t len, uint64_t new_size)
{
	int saved = errno;
	struct stat st;
	if (maybe_managed_fd(fd, &st))
		changed(st.st_dev, st.st_ino, fd, off, len, new_size);
	errno = saved;
}

void ps_coherence_at_position(int fd, uint64_t n)
{
	int saved = errno;
	struct stat st;
	off_t pos;      /* asked only of a file that may be managed */
	if (maybe_managed_fd(fd, &st) && (pos = lseek(fd, 0, SEEK_CUR)) >= 0 && (uint64_t)pos >= n)
		changed(st.st_dev, st.st_ino, fd, (uint64_t)pos - n, n, PS_TO_EOF);
	errno = saved;
}

void ps_coherence_path(const char *path, uint64_t new_size)
{
	if (!file_count())
		return;
	int saved = errno;
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && file_maybe_managed(st.st_dev, st.st_ino))
		changed(st.st_dev, st.st_ino, -1, new_size, PS_TO_EOF, new_size);
	errno = saved;
}

void ps_coherence_meta(int fd)
{
	int saved = errno;
	struct stat st;
	sigset_t saved_mask;
	if (!maybe_managed_fd(fd, &st))
		goto out;
	regions_enter(0, &saved_mask);
	struct ps_file *f = file_find(st.st_dev, st.st_ino);
	if (f) {
		pthread_rwlock_wrlock(&f->lock);
		ps_external_note(f);
		pthread_rwlock_unlock(&f->lock);
	}
	regions_leave(&saved_mask);
out:
	errno = saved;
}

void ps_coherence_flush(int fd, uint64_t off, uint64_t len)
{
	/* Under PAGESHIM_WRITEBACK=msync nothing reaches the file unasked. */
	if (!ps_cache_shared_dirty() || ps_opt.writeback == PS_WB_MSYNC)
		return;
	int saved = errno;
	struct stat st;
	off_t pos = 0;
	if (!maybe_managed_fd(fd, &st) || (off == PS_AT_POSITION && (pos = lseek(fd, 0, SEEK_CUR)) < 0))
		goto out;
	if (off == PS_AT_POSITION)
		off = (uint64_t)pos;
	uint64_t first = off >> PS_PAGE_SHIFT;
	uint64_t end = len == PS_TO_EOF || off + len < off ? UINT64_MAX
							    : (off + len + PS_PAGE - 1) >> PS_PAGE_SHIFT;
	sigset_t saved_mask;
	regions_enter(0, &saved_mask);
	struct ps_file *f = file_find(st.st_dev, st.st_ino);
	if (f)
		ps_writeback_file(f, first, end);
	regions_leave(&saved_mask);
out:
	errno = saved;
}

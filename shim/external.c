/* external.c - see external.h. */
#include "external.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"
#include "file.h"
#include "init.h"
#include "log.h"
#include "mapping.h"
#include "region.h"
#include "stats.h"
#include "writeback.h"

/* A write sets the file's times before its bytes land (file_modified() comes
 * first in every write path), so a check between the two sees the new times
 * and may then read old bytes. Times this recent when seen are "racy", as git
 * says of its index: the next check drops the pages again even if nothing
 * changed since. A write taking longer than this from its time stamp to its
 * last byte (its source buffer faulting from a slow disk) could still escape. */
#define RACY_NS 1000000000LL

static int64_t ns_of(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void remember(struct ps_file *f, const struct stat *st)
{
	f->seen_mtime = st->st_mtim;
	f->seen_ctime = st->st_ctim;
	f->seen_size = st->st_size;
}

/* After a check: were these times too recent to trust? (ctime is the later
 * of the two; a clock set back counts as recent.) pageshim's own writes leave
 * the mark as it is: they do not tell whether another's write has landed. */
static int racy(const struct stat *st)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return ns_of(now) - ns_of(st->st_ctim) < RACY_NS;
}

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

void ps_external_note(struct ps_file *f)
{
	struct stat st;
	if (fstat(f->fd, &st) == 0)
		remember(f, &st);
}

void ps_external_check(struct ps_file *f)
{
	struct stat st;
	int saved = errno;
	/* Under the file's lock: pageshim's own write-back, which changes the
	 * times, notes them under it too. */
	pthread_rwlock_wrlock(&f->lock);
	if (fstat(f->fd, &st) != 0)
		goto out;
	int changed = !same_time(st.st_mtim, f->seen_mtime) || !same_time(st.st_ctim, f->seen_ctime) ||
		      st.st_size != f->seen_size;
	if (changed || f->seen_racy) {   /* changed, or last seen changing */
		__atomic_fetch_add(&f->seq, 1, __ATOMIC_ACQ_REL);  /* fills in flight read again */
		file_forget_sums(f, 0, UINT64_MAX);
		for (struct ps_region *r = f->regions; r; r = r->file_next)
			ps_mapping_drop_clean(r);
		remember(f, &st);
		f->seen_racy = racy(&st);
	}
	if (changed) {
		PS_COUNT(external_modifications, 1);
		if (!f->told_external) {
			f->told_external = 1;
			ps_warn("%s was changed by another process: pages cached from it are dropped "
				"at each lock taken (said once per file)", f->path);
		}
	}
out:
	pthread_rwlock_unlock(&f->lock);
	errno = saved;
}

void ps_external_locked(void)
{
	if (!file_count())
		return;
	sigset_t saved;
	regions_enter(0, &saved);
	for (struct ps_file *f = file_next(NULL); f; f = file_next(f))
		ps_external_check(f);
	regions_leave(&saved);
}

void ps_external_unlocking(void)
{
	if (ps_opt.writeback == PS_WB_MSYNC)
		return;         /* the file gets nothing the program did not msync */
	int saved = errno;
	ps_writeback_all();
	errno = saved;
}

/* external.c - see external.h. */
#include "external.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "cache.h"
#include "file.h"
#include "init.h"
#include "log.h"
#include "mapping.h"
#include "region.h"
#include "stats.h"
#include "writeback.h"

static void remember(struct ps_file *f, const struct stat *st)
{
	f->seen_mtime = st->st_mtim;
	f->seen_ctime = st->st_ctim;
	f->seen_size = st->st_size;
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
	if (fstat(f->fd, &st) == 0 && (!same_time(st.st_mtim, f->seen_mtime) ||
				       !same_time(st.st_ctim, f->seen_ctime) || st.st_size != f->seen_size)) {
		__atomic_fetch_add(&f->seq, 1, __ATOMIC_ACQ_REL);  /* fills in flight read again */
		file_forget_sums(f, 0, UINT64_MAX);
		for (struct ps_region *r = f->regions; r; r = r->file_next)
			ps_mapping_drop_clean(r);
		remember(f, &st);
		PS_COUNT(external_modifications, 1);
		if (!f->told_external) {
			f->told_external = 1;
			ps_warn("%s was changed by another process: pages cached from it are dropped "
				"at each lock taken (said once per file)", f->path);
		}
	}
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

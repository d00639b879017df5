/* external.c - see external.h. */
#include "external.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "file.h"
#include "guard.h"
#include "init.h"
#include "live.h"
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

static void remember(struct ps_file *f, const struct stat *st, int own)
{
	f->seen_mtime = st->st_mtim;
	f->seen_ctime = st->st_ctim;
	f->seen_size = st->st_size;
	f->seen_own = own;
}

/* Are these times, another process's, too recent to trust? (ctime is the
 * later of the two; a clock set back counts as recent.) */
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
		remember(f, &st, 1);
}

/* Check f. A change seen while a write of this process was under way or
 * began meanwhile may be that write, not yet noted: from the watcher
 * (`watched`) -EAGAIN says to look again later; at a lock the pages are
 * dropped all the same (it may also be another's), but it is not counted
 * nor taken for racy. */
static int check(struct ps_file *f, int watched)
{
	uint64_t begun = file_own_mark(f);
	if (watched && file_own_since(f, begun))
		return -EAGAIN;
	struct stat st;
	int ret = 0;
	/* Under the file's lock: pageshim's own write-back, which changes the
	 * times, notes them under it too. */
	pthread_rwlock_wrlock(&f->lock);
	if (fstat(f->fd, &st) != 0)
		goto out;
	/* A change of ctime alone is also this process's fchmod, rename or
	 * link (not bracketed): the pages go, but it is not counted as
	 * another's. A write that set its mtime back is dropped the same way. */
	int written = !same_time(st.st_mtim, f->seen_mtime) || st.st_size != f->seen_size;
	int changed = written || !same_time(st.st_ctim, f->seen_ctime);
	int uncertain = file_own_since(f, begun);
	if (watched && changed && uncertain) {
		ret = -EAGAIN;
		goto out;
	}
	if (changed || f->seen_racy) {   /* changed, or last seen changing */
		__atomic_fetch_add(&f->seq, 1, __ATOMIC_ACQ_REL);  /* fills in flight read again */
		file_forget_sums(f, 0, UINT64_MAX);
		for (struct ps_region *r = f->regions; r; r = r->file_next)
			ps_mapping_drop_clean(r);
		/* Racy: times still recent that may be another's: any change
		 * (one seen while this process was writing may be another's
		 * too), or the last one seen, unless this process's own write
		 * was noted since (then the times are its own). */
		int others = changed || !f->seen_own;
		remember(f, &st, 0);
		f->seen_racy = others && racy(&st);
	}
	if (written && !uncertain) {
		PS_COUNT(external_modifications, 1);
		if (!f->told_external) {
			f->told_external = 1;
			ps_warn("%s was changed by another process: pages cached from it are dropped "
				"as it changes (said once per file)", f->path);
		}
	}
out:
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

void ps_external_check(struct ps_file *f)
{
	int saved = errno;
	check(f, 0);
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

/* ---- the watch: one inotify instance, a watch per managed file ---- */

#define WATCH_RETRY_MS 10       /* a check put off by this process's own write */
#define PUBLISH_MS 1000         /* live stats (live.h) */
#define WATCH_PENDING_MAX 64    /* files with events not yet checked; past it, all */

static int ino = -1;

void ps_external_watch(struct ps_file *f)
{
	f->wd = -1;
	if (ino < 0)
		return;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
	f->wd = inotify_add_watch(ino, proc, IN_MODIFY);
	if (f->wd < 0)
		ps_debug("%s: no inotify watch (%s): changes by others are seen at locks only", f->path,
			 strerror(errno));
}

void ps_external_unwatch(struct ps_file *f)
{
	if (ino >= 0 && f->wd >= 0)
		inotify_rm_watch(ino, f->wd);
	f->wd = -1;
}

/* Check the files whose watch descriptors are in wds[0, *n) (all files if
 * *n is past WATCH_PENDING_MAX); those put off stay, the rest leave. */
static void check_watched(int *wds, unsigned *n)
{
	sigset_t saved;
	unsigned left = 0;
	int all = *n > WATCH_PENDING_MAX;
	regions_enter(0, &saved);
	for (struct ps_file *f = file_next(NULL); f; f = file_next(f)) {
		int hit = all;
		for (unsigned i = 0; !all && i < *n && !hit; i++)
			hit = wds[i] == f->wd;
		if (hit && check(f, 1) == -EAGAIN) {
			if (left < WATCH_PENDING_MAX)
				wds[left] = f->wd;
			left++;
		}
	}
	regions_leave(&saved);
	*n = left > WATCH_PENDING_MAX ? WATCH_PENDING_MAX + 1 : left;
}

static void *watch_main(void *arg)
{
	(void)arg;
	ps_guard_enter_forever();
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int wds[WATCH_PENDING_MAX];
	unsigned n = 0;         /* WATCH_PENDING_MAX + 1: all */
	uint64_t published = 0;
	for (;;) {
		struct pollfd p = { .fd = ino, .events = POLLIN };     /* ino -1: a timer */
		uint64_t now = ps_now_ns();
		if (now - published >= PUBLISH_MS * 1000000ULL) {
			ps_live_publish();
			published = now;
		}
		if (poll(&p, 1, n ? WATCH_RETRY_MS : PUBLISH_MS) > 0) {
			ssize_t got;
			while ((got = read(ino, buf, sizeof buf)) > 0) {
				const struct inotify_event *ev;
				for (char *e = buf; e < buf + got; e += sizeof *ev + ev->len) {
					ev = (const struct inotify_event *)e;
					if (ev->mask & IN_Q_OVERFLOW)
						n = WATCH_PENDING_MAX + 1;
					if (!(ev->mask & IN_MODIFY) || n > WATCH_PENDING_MAX)
						continue;
					unsigned i = 0;
					while (i < n && wds[i] != ev->wd)
						i++;
					if (i < n)
						continue;       /* already pending */
					if (n == WATCH_PENDING_MAX)
						n = WATCH_PENDING_MAX + 1;
					else
						wds[n++] = ev->wd;
				}
			}
		}
		if (n)
			check_watched(wds, &n);
	}
	return NULL;
}

int ps_external_start(void)
{
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0)    /* the thread still publishes live stats */
		ps_debug("no inotify (%s): changes by others are seen at locks only", strerror(errno));
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	int err = pthread_create(&t, NULL, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		if (ino >= 0)
			close(ino);
		ino = -1;
		return -err;
	}
	pthread_setname_np(t, "pageshim-watch");
	pthread_detach(t);
	return 0;
}

int ps_external_fork_child(void)
{
	/* The parent's instance is shared with the parent: its events are the
	 * parent's to read. The child watches its files anew. */
	if (ino >= 0)
		close(ino);
	int err = ps_external_start();
	for (struct ps_file *f = file_next(NULL); f; f = file_next(f))
		ps_external_watch(f);
	return err;
}

/* live.c - see live.h. */
#include "live.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "pageshim.h"
#include "real.h"
#include "region.h"
#include "stall.h"
#include "stats.h"

static struct pageshim_live *live;
static char live_path[96];

void ps_live_start(void)
{
	if (live)       /* a forked child: the parent's segment stays the parent's */
		real.munmap(live, sizeof *live);
	live = NULL;
	snprintf(live_path, sizeof live_path, PAGESHIM_LIVE_DIR "/pageshim-%u-%d", (unsigned)getuid(),
		 (int)getpid());
	/* A segment of this pid left by a killed process (or by this process
	 * before an exec) is stale: replaced. */
	unlink(live_path);
	int fd = open(live_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ps_debug("no live stats in %s: %m", live_path);
		return;
	}
	void *p = MAP_FAILED;
	if (ftruncate(fd, sizeof *live) == 0)
		p = real.mmap(NULL, sizeof *live, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		unlink(live_path);
		return;
	}
	live = p;
	live->magic = PAGESHIM_LIVE_MAGIC;
	live->version = PAGESHIM_STATS_VERSION;
	live->pid = (int32_t)getpid();
	ps_live_publish();
}

unsigned ps_live_top_files(struct pageshim_live_file *files, unsigned max)
{
	unsigned n = 0;
	sigset_t saved;
	regions_enter(0, &saved);
	for (struct ps_file *f = file_next(NULL); f; f = file_next(f)) {
		struct pageshim_file_counts c;
		c.faults = __atomic_load_n(&f->counts.faults, __ATOMIC_RELAXED);
		unsigned at = n;
		while (at > 0 && files[at - 1].counts.faults < c.faults)
			at--;
		if (at == max)
			continue;
		if (n < max)
			n++;
		memmove(&files[at + 1], &files[at], (n - 1 - at) * sizeof *files);
		c.pages_filled = __atomic_load_n(&f->counts.pages_filled, __ATOMIC_RELAXED);
		c.bytes_read = __atomic_load_n(&f->counts.bytes_read, __ATOMIC_RELAXED);
		c.evicted_pages = __atomic_load_n(&f->counts.evicted_pages, __ATOMIC_RELAXED);
		c.io_errors = __atomic_load_n(&f->counts.io_errors, __ATOMIC_RELAXED);
		c.checksum_mismatches = __atomic_load_n(&f->counts.checksum_mismatches, __ATOMIC_RELAXED);
		files[at].counts = c;
		ps_latency_summary(&f->fault_hist, &files[at].fault_latency);
		ps_latency_summary(&f->io_hist, &files[at].io_latency);
		size_t len = strlen(f->path), room = sizeof files[at].path - 1;
		/* a long path keeps its end, which names the file, cut where a
		 * UTF-8 character begins (not at its continuation bytes) */
		const char *end = f->path + (len > room ? len - room + 3 : 0);
		while ((*end & 0xc0) == 0x80)
			end++;
		snprintf(files[at].path, sizeof files[at].path, "%s%s", len > room ? "..." : "", end);
	}
	regions_leave(&saved);
	return n;
}

void ps_live_publish(void)
{
	if (!live)
		return;
	struct pageshim_stats st;
	struct timespec now;
	static struct pageshim_live_file files[PAGESHIM_LIVE_FILES];   /* the watcher's alone */
	static struct pageshim_live_site sites[PAGESHIM_LIVE_SITES];
	unsigned nfiles = ps_live_top_files(files, PAGESHIM_LIVE_FILES), nsites = ps_stall_live(sites, PAGESHIM_LIVE_SITES);
	ps_stats_snapshot(&st);
	clock_gettime(CLOCK_MONOTONIC, &now);
	__atomic_add_fetch(&live->seq, 1, __ATOMIC_ACQ_REL);   /* odd: being written */
	live->stats = st;
	live->nfiles = nfiles;
	memcpy(live->files, files, nfiles * sizeof *files);
	live->nsites = nsites;
	memcpy(live->sites, sites, nsites * sizeof *sites);
	live->updated_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	__atomic_add_fetch(&live->seq, 1, __ATOMIC_RELEASE);
}

void ps_live_stop(void)
{
	if (live && live->pid == (int32_t)getpid())
		unlink(live_path);
}

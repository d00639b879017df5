/* live.c - see live.h. */
#include "live.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pageshim.h"
#include "real.h"
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

void ps_live_publish(void)
{
	if (!live)
		return;
	struct pageshim_stats st;
	struct timespec now;
	ps_stats_snapshot(&st);
	clock_gettime(CLOCK_MONOTONIC, &now);
	__atomic_add_fetch(&live->seq, 1, __ATOMIC_ACQ_REL);   /* odd: being written */
	live->stats = st;
	live->updated_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	__atomic_add_fetch(&live->seq, 1, __ATOMIC_RELEASE);
}

void ps_live_stop(void)
{
	if (live && live->pid == (int32_t)getpid())
		unlink(live_path);
}

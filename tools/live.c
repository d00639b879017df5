/* live.c - see live.h. */
#include "live.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void live_path(char *out, size_t len, unsigned uid, long pid)
{
	snprintf(out, len, PAGESHIM_LIVE_DIR "/pageshim-%u-%ld", uid, pid);
}

int live_open(const char *path, long pid, const struct pageshim_live **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* Another version's segment may be shorter: reading past its end
	 * would be SIGBUS. */
	struct stat st;
	if (fstat(fd, &st) || (size_t)st.st_size < sizeof(struct pageshim_live)) {
		close(fd);
		return -EPROTO;
	}
	const struct pageshim_live *l = mmap(NULL, sizeof *l, PROT_READ, MAP_SHARED, fd, 0);
	int err = l == MAP_FAILED ? -errno : 0;
	close(fd);
	if (err)
		return err;
	struct pageshim_live copy;
	if (live_snapshot(l, &copy) || copy.magic != PAGESHIM_LIVE_MAGIC ||
	    copy.version != PAGESHIM_STATS_VERSION || copy.pid != pid) {
		live_close(l);
		return -EPROTO;
	}
	*out = l;
	return 0;
}

void live_close(const struct pageshim_live *l)
{
	munmap((void *)l, sizeof *l);
}

int live_snapshot(const struct pageshim_live *l, struct pageshim_live *out)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint64_t s = __atomic_load_n(&l->seq, __ATOMIC_ACQUIRE);
		if (!(s & 1)) {
			memcpy(out, (const void *)l, sizeof *out);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&l->seq, __ATOMIC_ACQUIRE) == s)
				return 0;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
	}
	return -1;
}

int live_gone(long pid, const char *path)
{
	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return 0;
	unlink(path);
	return 1;
}

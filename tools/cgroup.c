/* cgroup.c - a memory cgroup per run (see cgroup.h). */
#include "cgroup.h"
#include "kstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define V1_ROOT "/sys/fs/cgroup/memory"
#define V2_ROOT "/sys/fs/cgroup"
/* rmdir fails with EBUSY while the last task is still exiting: this many
 * tries, RMDIR_WAIT_NS apart (1 s in all). */
#define RMDIR_TRIES 20
#define RMDIR_WAIT_NS 50000000L

/* Write `text` to dir/name. 0 or -errno. */
static int put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int rc = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

static int exists(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* Our cgroup's path in hierarchy `want` ("memory" for v1, "" for v2's
 * "0::" line) from /proc/self/cgroup, into out. 0 or -1. */
static int own_cgroup(const char *want, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX + 64];
	int rc = -1;
	if (!f)
		return -1;
	while (rc && fgets(line, sizeof line, f)) {
		char *ctl = strchr(line, ':'), *path = ctl ? strchr(ctl + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = 0;
		path[strcspn(path, "\n")] = 0;
		if (!strcmp(ctl + 1, want) && (*want || !strcmp(line, "0"))) {
			snprintf(out, len, "%s", path);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

int cg_find(struct cgroup *cg, char *why, size_t whylen)
{
	char own[PATH_MAX - 160];
	cg->path[0] = 0;
	if (exists(V1_ROOT, "memory.limit_in_bytes") && !own_cgroup("memory", own, sizeof own)) {
		cg->kind = CG_V1;
		snprintf(cg->parent, sizeof cg->parent, V1_ROOT "%s", own);
		return 0;
	}
	if (exists(V2_ROOT, "cgroup.controllers") && !own_cgroup("", own, sizeof own)) {
		cg->kind = CG_V2;
		snprintf(cg->parent, sizeof cg->parent, V2_ROOT "%s", own);
		/* v2 gives children a memory controller only when the parent enables it */
		int rc = put(cg->parent, "cgroup.subtree_control", "+memory");
		if (rc) {
			snprintf(why, whylen, "cgroup v2: cannot enable the memory controller under "
				 "%s: %s", cg->parent, strerror(-rc));
			return -1;
		}
		return 0;
	}
	snprintf(why, whylen, "no memory cgroup: neither %s/memory.limit_in_bytes (v1) nor "
		 "%s/cgroup.controllers (v2) is there, or /proc/self/cgroup does not name ours",
		 V1_ROOT, V2_ROOT);
	return -1;
}

int cg_create(struct cgroup *cg, const char *name, uint64_t limit)
{
	char num[32];
	int rc;
	snprintf(num, sizeof num, "%llu", (unsigned long long)limit);
	if (snprintf(cg->path, sizeof cg->path, "%s/%s", cg->parent, name) >= (int)sizeof cg->path)
		return -ENAMETOOLONG;
	if (mkdir(cg->path, 0755)) {
		rc = -errno;
		cg->path[0] = 0;
		return rc;
	}
	if (cg->kind == CG_V1) {
		rc = put(cg->path, "memory.limit_in_bytes", num);
		if (!rc && exists(cg->path, "memory.memsw.limit_in_bytes"))
			rc = put(cg->path, "memory.memsw.limit_in_bytes", num);
	} else {
		rc = put(cg->path, "memory.max", num);
		if (!rc && exists(cg->path, "memory.swap.max"))
			rc = put(cg->path, "memory.swap.max", "0");
	}
	if (rc)
		cg_remove(cg);
	return rc;
}

int cg_enter(const struct cgroup *cg, pid_t pid)
{
	char num[32];
	snprintf(num, sizeof num, "%d", pid ? (int)pid : (int)getpid());
	return put(cg->path, "cgroup.procs", num);
}

int cg_peak(const struct cgroup *cg, uint64_t *bytes)
{
	char path[PATH_MAX + 64];
	unsigned long long v;
	snprintf(path, sizeof path, "%s/%s", cg->path,
		 cg->kind == CG_V1 ? "memory.max_usage_in_bytes" : "memory.peak");
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int ok = fscanf(f, "%llu", &v) == 1;
	fclose(f);
	if (!ok)
		return -EIO;
	*bytes = v;
	return 0;
}

int cg_scanned(const struct cgroup *cg, uint64_t *pages)
{
	static const char *const v1[] = { "total_pgscan", NULL }, *const v2[] = { "pgscan", NULL };
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/memory.stat", cg->path);
	int n = kstat_sum(path, cg->kind == CG_V1 ? v1 : v2, cg->kind == CG_V1, pages);
	return n > 0 ? 0 : n == 0 ? -ENOENT : n;
}

int cg_remove(struct cgroup *cg)
{
	if (!cg->path[0])
		return 0;
	struct timespec wait = { 0, RMDIR_WAIT_NS };
	int rc = 0;
	for (int i = 0; i < RMDIR_TRIES; i++) {
		if (rmdir(cg->path) == 0 || errno == ENOENT) {
			cg->path[0] = 0;
			return 0;
		}
		rc = -errno;
		nanosleep(&wait, NULL);
	}
	return rc;
}

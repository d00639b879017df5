/* cgroup.h - a memory cgroup made for one run, limited, and removed after
 * (`pageshim ab`). v1 (/sys/fs/cgroup/memory) or v2 (the unified
 * hierarchy), whichever the machine has. The runs' cgroups are made inside
 * the caller's own, so whatever limits the caller still applies. Needs root. */
#ifndef PAGESHIM_CGROUP_H
#define PAGESHIM_CGROUP_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

enum cg_kind { CG_V1 = 1, CG_V2 };

struct cgroup {
	enum cg_kind kind;
	/* sized so that path + "/" + any control file's name fits PATH_MAX */
	char parent[PATH_MAX - 128]; /* where the runs' cgroups are made */
	char path[PATH_MAX - 64];   /* the run's cgroup (parent/name), "" when none */
};

/* Find the memory controller and the parent. 0, or -1 with why (one
 * sentence) in `why`. */
int cg_find(struct cgroup *cg, char *why, size_t whylen);

/* Make parent/NAME with `limit` bytes of memory (swap cannot extend it:
 * memsw or memory.swap.max). 0, or -errno (the cgroup is then removed). */
int cg_create(struct cgroup *cg, const char *name, uint64_t limit);

/* Move process `pid` (0: the caller) into the run's cgroup. 0 or -errno. */
int cg_enter(const struct cgroup *cg, pid_t pid);

/* The cgroup's peak memory use in bytes (page cache included). 0 or -errno. */
int cg_peak(const struct cgroup *cg, uint64_t *bytes);

/* Pages the cgroup's own reclaim scanned, from its memory.stat (v2
 * "pgscan", v1 "total_pgscan*"). 0, or -ENOENT when the kernel does not
 * count them there (v1 usually does not). */
int cg_scanned(const struct cgroup *cg, uint64_t *pages);

/* Remove the run's cgroup, waiting briefly for its last task to be gone.
 * 0, or -errno with the cgroup left behind. */
int cg_remove(struct cgroup *cg);

#endif

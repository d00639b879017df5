/* bench_worker.c - the threads of `pageshim bench`: each reads and checks
 * one block after another until time is up or an access fails.
 *
 * A thread keeps its own counters and histogram (no shared cache lines on
 * the hot path); they are merged after the join. All threads are created
 * first and wait behind a gate, so the clock starts when all can run. */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL    /* splitmix64's increment */

struct crew {
	const struct bench_target *t;
	pthread_rwlock_t gate;          /* write-held until every thread exists */
	atomic_int stop;
	sem_t ended;                    /* posted by a worker whose access failed */
};

/* Cache-line aligned: each thread writes only its own worker's lines. */
struct worker {
	_Alignas(64) struct crew *crew;
	pthread_t tid;
	unsigned id;
	uint64_t rng;                   /* PAT_RANDOM: splitmix64 state */
	uint64_t next, lo, hi;          /* PAT_SEQ: cursor in this thread's stripe */
	void *buf;                      /* pread target, page-aligned (O_DIRECT) */
	uint64_t ops;
	int failed;
	struct bench_fault fault;
	struct ps_hist hist;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The block to read next: uniform over the file, or the next in this
 * thread's stripe (thread i of n reads slots [i*S/n, (i+1)*S/n), wrapping). */
static uint64_t next_slot(struct worker *w)
{
	if (w->crew->t->cfg->pattern == PAT_RANDOM) {
		uint64_t r = mix64(w->rng += GOLDEN);
		return (uint64_t)(((unsigned __int128)r * w->crew->t->slots) >> 64);
	}
	uint64_t slot = w->next++;
	if (w->next == w->hi)
		w->next = w->lo;
	return slot;
}

/* Read and verify the block at off. 0, or -1 with w->fault filled. */
static int access_one(struct worker *w, uint64_t off)
{
	const struct bench_target *t = w->crew->t;
	if (t->cfg->io == IO_MMAP)
		return data_check(t->map + off, off, t->cfg->access, &w->fault);
	int rc = data_pread_full(t->fd, w->buf, t->cfg->access, off);
	if (rc) {
		w->fault = (struct bench_fault){ .offset = off, .err = -rc };
		return -1;
	}
	return data_check(w->buf, off, t->cfg->access, &w->fault);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct crew *c = w->crew;
	char name[16];
	snprintf(name, sizeof name, "bench-%u", w->id);
	pthread_setname_np(pthread_self(), name);
	pthread_rwlock_rdlock(&c->gate);
	pthread_rwlock_unlock(&c->gate);
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		uint64_t off = next_slot(w) * c->t->cfg->access;
		uint64_t t0 = now_ns();
		int rc = access_one(w, off);
		ps_hist_add(&w->hist, now_ns() - t0);
		if (rc) {
			w->failed = 1;
			atomic_store(&c->stop, 1);
			sem_post(&c->ended);
			break;
		}
		w->ops++;
	}
	return NULL;
}

/* Give worker i its stripe, seed and buffer. 0 or -errno. */
static int worker_init(struct worker *w, struct crew *c, unsigned i)
{
	const struct bench_cfg *cfg = c->t->cfg;
	w->crew = c;
	w->id = i;
	w->rng = mix64(cfg->seed + i * GOLDEN);
	w->lo = w->next = c->t->slots * i / cfg->threads;
	w->hi = c->t->slots * (i + 1) / cfg->threads;
	if (cfg->io != IO_MMAP)
		return -posix_memalign(&w->buf, 4096, cfg->access);
	return 0;
}

/* Wait until the time is up or a worker failed. */
static void wait_end(struct crew *c, double seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	double end = (double)until.tv_sec + until.tv_nsec / 1e9 + seconds;
	until.tv_sec = (time_t)end;
	until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
	while (sem_clockwait(&c->ended, CLOCK_MONOTONIC, &until) && errno == EINTR)
		;
}

static struct timeval tv_sub(struct timeval a, struct timeval b)
{
	struct timeval d;
	timersub(&a, &b, &d);
	return d;
}

/* The measured phase's faults and CPU (after - before); the peak RSS is
 * the process's, since a high-water mark cannot be subtracted. */
static void usage_delta(struct rusage *d, const struct rusage *before, const struct rusage *after)
{
	memset(d, 0, sizeof *d);
	d->ru_majflt = after->ru_majflt - before->ru_majflt;
	d->ru_minflt = after->ru_minflt - before->ru_minflt;
	d->ru_utime = tv_sub(after->ru_utime, before->ru_utime);
	d->ru_stime = tv_sub(after->ru_stime, before->ru_stime);
	d->ru_maxrss = after->ru_maxrss;
}

/* Merge the joined workers into *r; the first failure becomes r->fault. */
static void collect(struct worker *w, unsigned n, struct bench_result *r)
{
	for (unsigned i = 0; i < n; i++) {
		r->ops += w[i].ops;
		ps_hist_merge(&r->latency, &w[i].hist);
		if (w[i].failed && !r->failed) {
			r->failed = 1;
			r->fault = w[i].fault;
		}
	}
}

/* Start n workers behind the closed gate, open it, time them, join them. */
static int run_crew(struct crew *c, struct worker *w, unsigned n, struct bench_result *r)
{
	struct rusage before, after;
	unsigned started = 0;
	int rc = 0;
	pthread_rwlock_wrlock(&c->gate);
	for (; started < n; started++)
		if ((rc = worker_init(&w[started], c, started)) ||
		    (rc = -pthread_create(&w[started].tid, NULL, worker_main, &w[started])))
			break;
	if (rc)
		atomic_store(&c->stop, 1);
	getrusage(RUSAGE_SELF, &before);
	uint64_t t0 = now_ns();
	pthread_rwlock_unlock(&c->gate);
	if (!rc)
		wait_end(c, c->t->cfg->seconds);
	atomic_store(&c->stop, 1);
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	r->elapsed = (double)(now_ns() - t0) / 1e9;
	getrusage(RUSAGE_SELF, &after);
	usage_delta(&r->usage, &before, &after);
	collect(w, started, r);
	return rc;
}

int bench_workers_run(const struct bench_target *t, struct bench_result *r)
{
	unsigned n = t->cfg->threads;
	struct crew c = { .t = t };
	struct worker *w = aligned_alloc(_Alignof(struct worker), n * sizeof *w);
	if (!w)
		return -ENOMEM;
	memset(w, 0, n * sizeof *w);
	pthread_rwlock_init(&c.gate, NULL);
	sem_init(&c.ended, 0, 0);
	memset(r, 0, sizeof *r);
	int rc = run_crew(&c, w, n, r);
	for (unsigned i = 0; i < n; i++)
		free(w[i].buf);
	free(w);
	sem_destroy(&c.ended);
	pthread_rwlock_destroy(&c.gate);
	return rc;
}

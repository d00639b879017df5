/* bench_worker.c - the threads of `pageshim bench`: each reads and checks
 * one block after another until time is up or an access fails (or, for the
 * share --read-ratio leaves to writes, writes the block's own pattern
 * back); with --depth N above 1 (O_DIRECT pread only), each keeps N
 * accesses in flight on its own io_uring instead, as fio's iodepth does.
 *
 * A thread keeps its own counters and histogram (no shared cache lines on
 * the hot path); they are merged after the join, except the ops count,
 * which the main thread also sums once a second for the time series. All
 * threads are created first and wait behind a gate, so the clock starts
 * when all can run. */
#include "bench.h"

#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL    /* splitmix64's increment */
#define ZIPF_SCATTER 0x7a697066ULL      /* "zipf": rank -> slot hash key */
#define WRITE_KEY 0x7772697465ULL       /* "write": seeds the read-or-write draws */
/* zeta(n) is summed term by term up to here, then integrated: the error of
 * the integral past 2^20 terms is far below a double's precision. */
#define ZETA_EXACT_TERMS (1u << 20)
#define NS 1000000000ULL

/* Gray et al.'s Zipf generator ("Quickly generating billion-record
 * synthetic databases", SIGMOD 1994), as YCSB uses it: O(1) per draw
 * after computing zeta(n, theta) once. */
struct zipf {
	double n, theta, alpha, zetan, eta, half_pow;
};

struct crew {
	const struct bench_target *t;
	struct zipf zipf;               /* PAT_ZIPF */
	pthread_rwlock_t gate;          /* write-held until every thread exists */
	atomic_int stop;
	sem_t ended;                    /* posted by a worker whose access failed */
};

/* --depth above 1: the access in buffer i of a worker. */
struct flight {
	uint64_t off;
	uint64_t t0;                    /* queued at, just before its submit (ns) */
	int write;
};

/* Cache-line aligned: each thread writes only its own worker's lines. */
struct worker {
	_Alignas(64) struct crew *crew;
	pthread_t tid;
	unsigned id;
	uint64_t rng;                   /* PAT_RANDOM: splitmix64 state */
	uint64_t op_rng;                /* read or write: splitmix64 state of its own, so
					 * the positions do not depend on --read-ratio */
	uint64_t next, lo, hi;          /* PAT_SEQ: cursor in this thread's stripe */
	void *buf;                      /* pread target, page-aligned (O_DIRECT): depth
					 * buffers of cfg->access bytes, one after another */
	struct io_uring ring;           /* --depth above 1: this thread's, depth entries */
	int ring_up;                    /* ring to be torn down */
	unsigned in_flight;             /* accesses the kernel took and has not completed */
	struct flight *flight;          /* --depth above 1: depth of them */
	_Atomic uint64_t ops;           /* written by this thread only; summed live */
	uint64_t writes;
	int failed;
	struct bench_fault fault;
	struct ps_hist hist;
};

/* sum of i^-theta for i = 1..n. */
static double zeta(uint64_t n, double theta)
{
	double z = 0;
	uint64_t exact = n < ZETA_EXACT_TERMS ? n : ZETA_EXACT_TERMS;
	for (uint64_t i = 1; i <= exact; i++)
		z += pow((double)i, -theta);
	if (n > exact)      /* the rest, by the midpoint integral of x^-theta */
		z += (pow((double)n + 0.5, 1 - theta) - pow((double)exact + 0.5, 1 - theta)) /
		     (1 - theta);
	return z;
}

static void zipf_init(struct zipf *z, uint64_t n, double theta)
{
	z->n = (double)n;
	z->theta = theta;
	z->alpha = 1 / (1 - theta);
	z->zetan = zeta(n, theta);
	z->half_pow = pow(0.5, theta);
	z->eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - (1 + z->half_pow) / z->zetan);
}

/* A rank in [0, n), rank 0 the most frequent; u uniform in [0, 1). */
static uint64_t zipf_rank(const struct zipf *z, double u)
{
	double uz = u * z->zetan;
	if (uz < 1)
		return 0;
	if (uz < 1 + z->half_pow)
		return 1;
	double r = z->n * pow(z->eta * u - z->eta + 1, z->alpha);
	return r < z->n - 1 ? (uint64_t)r : (uint64_t)z->n - 1;
}

/* x scaled from [0, 2^64) onto [0, n). */
static uint64_t scale(uint64_t x, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Is w the scanner of PAT_SCAN_HOT? */
static int is_scanner(const struct worker *w)
{
	return w->crew->t->cfg->pattern == PAT_SCAN_HOT && w->id == 0;
}

/* The block to read next:
 * - PAT_RANDOM: uniform over the file;
 * - PAT_ZIPF: a Zipf rank, hashed to a slot, so the popular blocks are
 *   scattered and not one run read-around would fetch at once (two ranks
 *   may share a slot, as in YCSB's scrambled Zipf);
 * - PAT_SCAN_HOT: the scanner walks the whole file; the others read
 *   uniformly within [0, hot_slots);
 * - PAT_SEQ: the next in this thread's stripe (thread i of n reads
 *   slots [i*S/n, (i+1)*S/n), wrapping). */
static uint64_t next_slot(struct worker *w)
{
	const struct bench_target *t = w->crew->t;
	switch (t->cfg->pattern) {
	case PAT_RANDOM:
		return scale(mix64(w->rng += GOLDEN), t->slots);
	case PAT_ZIPF: {
		double u = (double)(mix64(w->rng += GOLDEN) >> 11) * 0x1p-53;
		return scale(mix64(zipf_rank(&w->crew->zipf, u) ^ ZIPF_SCATTER), t->slots);
	}
	case PAT_SCAN_HOT:
		if (!is_scanner(w))
			return scale(mix64(w->rng += GOLDEN), t->hot_slots);
		break;
	case PAT_SEQ:
		break;
	}
	uint64_t slot = w->next++;
	if (w->next == w->hi)
		w->next = w->lo;
	return slot;
}

/* Is w's next access a write? With probability 1 - read_ratio. */
static int next_is_write(struct worker *w)
{
	double r = w->crew->t->cfg->read_ratio;
	return r < 1 && (double)(mix64(w->op_rng += GOLDEN) >> 11) * 0x1p-53 >= r;
}

/* The read of the block at off into buf ended with rc (0 or -errno): check
 * its bytes. 0, or -1 with w->fault filled. */
static int check_read(struct worker *w, const void *buf, uint64_t off, int rc)
{
	if (rc) {
		w->fault = (struct bench_fault){ .offset = off, .err = -rc };
		return -1;
	}
	return data_check(buf, off, w->crew->t->cfg->access, &w->fault);
}

/* A write of the block at off ended with rc (0 or -errno): count it, or
 * fill w->fault. 0 or -1. */
static int write_done(struct worker *w, uint64_t off, int rc)
{
	if (rc) {
		w->fault = (struct bench_fault){ .offset = off, .err = -rc, .write = 1 };
		return -1;
	}
	w->writes++;
	return 0;
}

/* Write the block at off (its own pattern, through the mapping or with
 * pwrite). 0, or -1 with w->fault filled. */
static int write_one(struct worker *w, uint64_t off)
{
	const struct bench_target *t = w->crew->t;
	size_t len = t->cfg->access;
	int rc = 0;
	if (t->cfg->io == IO_MMAP) {
		data_fill(t->map + off, off, len);
	} else {
		data_fill(w->buf, off, len);
		rc = data_pwrite_full(t->fd, w->buf, len, off);
	}
	return write_done(w, off, rc);
}

/* Read and verify the block at off, or write it. 0, or -1 with w->fault
 * filled. */
static int access_one(struct worker *w, uint64_t off)
{
	const struct bench_target *t = w->crew->t;
	if (next_is_write(w))
		return write_one(w, off);
	if (t->cfg->io == IO_MMAP)
		return data_check(t->map + off, off, t->cfg->access, &w->fault);
	return check_read(w, w->buf, off, data_pread_full(t->fd, w->buf, t->cfg->access, off));
}

/* w's access failed (w->fault says how): stop everyone, wake the main thread. */
static void worker_fail(struct worker *w)
{
	w->failed = 1;
	atomic_store(&w->crew->stop, 1);
	sem_post(&w->crew->ended);
}

static void count_op(struct worker *w)
{
	atomic_store_explicit(&w->ops, atomic_load_explicit(&w->ops, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Queue the next block's read into buffer i, or its write from it (not yet
 * submitted). The SQE is never missing: the ring has depth entries and
 * each of the depth buffers has at most one access queued or in flight. */
static void ring_prep(struct worker *w, unsigned i)
{
	size_t len = w->crew->t->cfg->access;
	char *buf = (char *)w->buf + (size_t)i * len;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	uint64_t off = next_slot(w) * len;
	int write = next_is_write(w);
	if (write)
		data_fill(buf, off, len);
	w->flight[i] = (struct flight){ .off = off, .t0 = now_ns(), .write = write };
	if (write)
		io_uring_prep_write(sqe, w->crew->t->fd, buf, (unsigned)len, off);
	else
		io_uring_prep_read(sqe, w->crew->t->fd, buf, (unsigned)len, off);
	io_uring_sqe_set_data64(sqe, i);
}

/* Submit the queued accesses; i is one of them, blamed if this fails. 0,
 * or -1 with w->fault filled. Only what the kernel took counts in flight:
 * an access it refuses still completes (with its error), and any it left
 * queued go with the next submit. */
static int ring_submit(struct worker *w, unsigned i)
{
	unsigned queued = io_uring_sq_ready(&w->ring);
	int rc;
	while ((rc = io_uring_submit(&w->ring)) == -EINTR)
		;
	if (rc == 0 && queued && !w->in_flight)
		rc = -EAGAIN;   /* nothing taken and nothing to wait for */
	if (rc < 0) {
		w->fault = (struct bench_fault){ .offset = w->flight[i].off, .err = -rc,
						 .write = w->flight[i].write };
		return -1;
	}
	w->in_flight += (unsigned)rc;
	return 0;
}

/* Wait for one of w's accesses, note its latency (submission to
 * completion), check a read's bytes (check_read, as access_one), and put
 * its buffer's index in *i. 0, or -1 with w->fault filled. A short access
 * is finished synchronously with data_pread_full or data_pwrite_full, as
 * the pread path does, so the end of the file is -EIO for a read; one cut
 * by EINTR is redone the same way; any other error fails the access. */
static int ring_reap(struct worker *w, unsigned *i)
{
	const struct bench_target *t = w->crew->t;
	size_t len = t->cfg->access;
	struct io_uring_cqe *cqe;
	int rc;
	while ((rc = io_uring_wait_cqe(&w->ring, &cqe)) == -EINTR)
		;
	if (rc) {               /* the ring failed, not a read: blame buffer 0's */
		w->fault = (struct bench_fault){ .offset = w->flight[0].off, .err = -rc,
						 .write = w->flight[0].write };
		return -1;
	}
	*i = (unsigned)io_uring_cqe_get_data64(cqe);
	int res = cqe->res;
	io_uring_cqe_seen(&w->ring, cqe);
	w->in_flight--;
	const struct flight *f = &w->flight[*i];
	char *buf = (char *)w->buf + (size_t)*i * len;
	size_t done = res > 0 ? (size_t)res : 0;
	rc = res < 0 && res != -EINTR ? res : 0;
	if (!rc && done < len)
		rc = f->write ? data_pwrite_full(t->fd, buf + done, len - done, f->off + done)
			      : data_pread_full(t->fd, buf + done, len - done, f->off + done);
	ps_hist_add(&w->hist, now_ns() - f->t0);
	return f->write ? write_done(w, f->off, rc) : check_read(w, buf, f->off, rc);
}

/* Wait out, uncounted, the accesses still in flight: their buffers must not
 * be freed under them. */
static void ring_drain(struct worker *w)
{
	struct io_uring_cqe *cqe;
	while (w->in_flight) {
		int rc = io_uring_wait_cqe(&w->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc)
			break;  /* the ring failed; io_uring_queue_exit cancels the rest */
		io_uring_cqe_seen(&w->ring, cqe);
		w->in_flight--;
	}
}

/* --depth N above 1: start N accesses, one per buffer, then as each
 * completes, check and count it and put the next block's access in its
 * place. */
static void run_ring(struct worker *w)
{
	struct crew *c = w->crew;
	unsigned i = 0;
	if (atomic_load_explicit(&c->stop, memory_order_relaxed))
		return;
	for (unsigned b = 0; b < c->t->cfg->depth; b++)
		ring_prep(w, b);
	int rc = ring_submit(w, 0);
	while (!rc && !atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		if ((rc = ring_reap(w, &i)))
			break;
		count_op(w);
		ring_prep(w, i);
		rc = ring_submit(w, i);
	}
	if (rc)
		worker_fail(w);
	ring_drain(w);
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
	if (c->t->cfg->depth > 1) {
		run_ring(w);
		return NULL;
	}
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		uint64_t off = next_slot(w) * c->t->cfg->access;
		uint64_t t0 = now_ns();
		int rc = access_one(w, off);
		ps_hist_add(&w->hist, now_ns() - t0);
		if (rc) {
			worker_fail(w);
			break;
		}
		count_op(w);
	}
	return NULL;
}

/* Give worker i its stripe, seed, buffers and, for --depth above 1, its
 * ring. 0, or -errno with the step that failed in *step. */
static int worker_init(struct worker *w, struct crew *c, unsigned i, const char **step)
{
	const struct bench_cfg *cfg = c->t->cfg;
	w->crew = c;
	w->id = i;
	w->rng = mix64(cfg->seed + i * GOLDEN);
	w->op_rng = mix64((cfg->seed ^ WRITE_KEY) + i * GOLDEN);
	w->lo = w->next = c->t->slots * i / cfg->threads;
	w->hi = c->t->slots * (i + 1) / cfg->threads;
	if (is_scanner(w)) {
		w->lo = w->next = 0;
		w->hi = c->t->slots;
	}
	if (cfg->io == IO_MMAP)
		return 0;
	int rc = -posix_memalign(&w->buf, 4096, cfg->access * cfg->depth);
	if (rc) {
		*step = "read buffers";
		return rc;
	}
	if (cfg->depth == 1)
		return 0;
	if (!(w->flight = calloc(cfg->depth, sizeof *w->flight))) {
		*step = "read buffers";
		return -ENOMEM;
	}
	/* created here, used by the worker's thread: no SINGLE_ISSUER flag */
	if ((rc = io_uring_queue_init(cfg->depth, &w->ring, 0))) {
		*step = "io_uring_queue_init";
		return rc;
	}
	w->ring_up = 1;
	return 0;
}

/* Sleep until `at` (CLOCK_MONOTONIC ns). 1 when a worker failed first. */
static int sleep_until(struct crew *c, uint64_t at)
{
	struct timespec until = { .tv_sec = (time_t)(at / NS), .tv_nsec = (long)(at % NS) };
	int rc;
	while ((rc = sem_clockwait(&c->ended, CLOCK_MONOTONIC, &until)) && errno == EINTR)
		;
	return rc == 0;
}

/* Every worker's accesses so far. */
static uint64_t ops_now(struct worker *w, unsigned n)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++)
		sum += atomic_load_explicit(&w[i].ops, memory_order_relaxed);
	return sum;
}

/* Wait from t0 until the time is up or a worker failed, noting the ops of
 * each full second in r->series (a last partial second is not noted). */
static void wait_end(struct crew *c, struct worker *w, unsigned n, uint64_t t0,
		     struct bench_result *r)
{
	uint64_t end = t0 + (uint64_t)(c->t->cfg->seconds * 1e9), seen = 0;
	for (uint64_t at = t0 + NS;; at += NS) {
		if (sleep_until(c, at < end ? at : end) || at > end)
			return;
		uint64_t total = ops_now(w, n);
		r->series[r->series_n++] = total - seen;
		seen = total;
		if (at == end)
			return;
	}
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
		r->writes += w[i].writes;
		ps_hist_merge(&r->latency, &w[i].hist);
		if (is_scanner(&w[i]))
			r->scan_ops = w[i].ops;
		else if (w[i].crew->t->cfg->pattern == PAT_SCAN_HOT)
			ps_hist_merge(&r->hot_latency, &w[i].hist);
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
	for (; started < n; started++) {
		if ((rc = worker_init(&w[started], c, started, &r->start_step)))
			break;
		if ((rc = -pthread_create(&w[started].tid, NULL, worker_main, &w[started]))) {
			r->start_step = "pthread_create";
			break;
		}
	}
	if (rc)
		atomic_store(&c->stop, 1);
	getrusage(RUSAGE_SELF, &before);
	uint64_t t0 = now_ns();
	pthread_rwlock_unlock(&c->gate);
	if (!rc)
		wait_end(c, w, started, t0, r);
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
	memset(r, 0, sizeof *r);
	/* one slot per started second, the last included */
	r->series = calloc((size_t)ceil(t->cfg->seconds) + 1, sizeof *r->series);
	struct worker *w = aligned_alloc(_Alignof(struct worker), n * sizeof *w);
	if (!w || !r->series) {
		free(w);
		return -ENOMEM;
	}
	memset(w, 0, n * sizeof *w);
	if (t->cfg->pattern == PAT_ZIPF)
		zipf_init(&c.zipf, t->slots, t->cfg->theta);
	pthread_rwlock_init(&c.gate, NULL);
	sem_init(&c.ended, 0, 0);
	int rc = run_crew(&c, w, n, r);
	for (unsigned i = 0; i < n; i++) {
		if (w[i].ring_up)
			io_uring_queue_exit(&w[i].ring);
		free(w[i].flight);
		free(w[i].buf);
	}
	free(w);
	sem_destroy(&c.ended);
	pthread_rwlock_destroy(&c.gate);
	return rc;
}

/* bench.h - the parts of `pageshim bench`: its settings, the data file
 * (bench_data.c), the worker threads (bench_worker.c) and the report
 * (bench_report.c); bench.c reads the flags and runs them in order. */
#ifndef PAGESHIM_BENCH_H
#define PAGESHIM_BENCH_H

#include "hist.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* PAT_ZIPF: Zipf-distributed ranks (cfg->theta), scattered over the file.
 * PAT_SCAN_HOT: worker 0 scans the whole file in order, wrapping; the
 * others read uniformly within the hot set, the file's first cfg->hot bytes. */
enum bench_pattern { PAT_RANDOM, PAT_SEQ, PAT_ZIPF, PAT_SCAN_HOT };
enum bench_io { IO_MMAP, IO_PREAD, IO_DIRECT };
enum bench_advice { ADV_NORMAL, ADV_RANDOM, ADV_SEQUENTIAL };

/* Names of the enums above, in order, NULL-terminated (flag values and
 * report); PAT_ZIPF's is "zipf:THETA", given as e.g. "zipf:0.99". */
extern const char *const bench_pattern_names[], *const bench_io_names[],
	*const bench_advice_names[];

struct bench_cfg {
	const char *path;
	uint64_t size;          /* 0: use the existing file's size */
	enum bench_pattern pattern;
	const char *pattern_text;  /* as given, e.g. "zipf:0.99" */
	double theta;           /* PAT_ZIPF: skew, 0 < theta < 1 */
	uint64_t hot;           /* PAT_SCAN_HOT: hot-set bytes; 0 = a quarter of the file */
	enum bench_io io;
	enum bench_advice advice;
	unsigned threads;
	unsigned depth;         /* IO_DIRECT: reads in flight per thread, through
				 * io_uring when above 1; else 1 */
	double seconds;         /* 0: only prepare the file */
	size_t access;          /* bytes per access; offsets are multiples of it */
	uint64_t seed;          /* of the access positions, not of the data */
	double read_ratio;      /* share of accesses that read; the others write the
				 * block's pattern back, so every later read still checks */
	const char *series_path; /* CSV "second,ops" written here, or NULL */
	int json;
};

/* The file the workers access: one descriptor (O_DIRECT for IO_DIRECT;
 * O_RDWR when some accesses write), and for IO_MMAP the whole file mapped
 * MAP_SHARED, PROT_READ (PROT_WRITE too when some accesses write). */
struct bench_target {
	const struct bench_cfg *cfg;
	int fd;
	char *map;
	uint64_t size;
	uint64_t slots;         /* size / access: the positions an access can take */
	uint64_t hot_slots;     /* PAT_SCAN_HOT: the hot set's positions, [0, hot_slots) */
};

/* A failed access: the first wrong word, or an I/O error (err != 0). */
struct bench_fault {
	uint64_t offset, expected, got;
	int err;                /* positive errno, or 0 for a wrong word */
	int write;              /* the I/O error was a write's */
};

struct bench_result {
	double elapsed;         /* seconds, first access to last */
	uint64_t ops;
	uint64_t writes;        /* the share of ops that wrote */
	double sync_seconds;    /* with writes: the msync(MS_SYNC) or fdatasync after
				 * the timed phase, which writes back what is still dirty */
	uint64_t scan_ops;      /* PAT_SCAN_HOT: the scanner's share of ops */
	uint64_t *series;       /* ops in each full second since the start (malloc'd) */
	size_t series_n;
	struct ps_hist latency;    /* ns per access, every thread merged; with
				    * depth above 1, submission to completion */
	struct ps_hist hot_latency; /* PAT_SCAN_HOT: the hot readers' only */
	struct rusage usage;    /* faults and CPU of the measured phase; ru_maxrss of
				 * the whole process (KiB); the rest zero */
	int failed;
	struct bench_fault fault;
	const char *start_step; /* when bench_workers_run fails: the step, e.g.
				 * "io_uring_queue_init" */
};

/* ---- bench_data.c: the file's content and the I/O on it ---- */

/* A 64-bit mix (splitmix64's finaliser): a bijection that scatters bits. */
static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The word at file offset `off` (a multiple of 8). */
uint64_t data_word(uint64_t off);

/* Compare the `len` bytes at buf (read from file offset off) with the
 * pattern. Returns 0, or -1 with the first wrong word in *f. */
int data_check(const void *buf, uint64_t off, size_t len, struct bench_fault *f);

/* Write the pattern of the `len` bytes at file offset off into buf. */
void data_fill(void *buf, uint64_t off, size_t len);

/* pread exactly n bytes at off, over EINTR and short reads. Returns 0, or
 * -errno (-EIO when the file ends first). */
int data_pread_full(int fd, void *buf, size_t n, uint64_t off);

/* pwrite exactly n bytes at off, over EINTR and short writes. 0 or -errno. */
int data_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);

/* Write the pattern into a new `size`-byte file at path (through
 * path.tmp, fsync'd, then renamed over path). Returns 0 or -errno. */
int data_create(const char *path, uint64_t size);

/* ---- bench_worker.c ---- */

/* Run cfg->threads workers over t for cfg->seconds (fewer when an access
 * fails) and fill *r, whose r->series the caller frees. Returns 0, or
 * -errno when the threads cannot start, with the step that failed in
 * r->start_step. */
int bench_workers_run(const struct bench_target *t, struct bench_result *r);

/* ---- bench_report.c ---- */

/* Print the result as a table, or with cfg->json as one JSON object on one
 * line; then, either way, the line "ops/s: N". Adds the library's stats
 * when libpageshim.so is loaded. */
void bench_report(const struct bench_target *t, const struct bench_result *r);

#endif

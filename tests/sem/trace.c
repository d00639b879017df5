/* trace - PAGESHIM_TRACE records every fault served, as it was served.
 *
 * A child (this program again, with PAGESHIM_TRACE=DIR/trace.%p) maps a
 * file three times the budget with MADV_RANDOM, reads every second page
 * (first touches: 1.5 times the budget), then reads them all again (pages
 * evicted meanwhile fault again, recently enough to be re-faults),
 * saves its stats and exits. The parent reads the child's trace and checks
 * it against them: a header with the child's pid, one FILE record naming the
 * file before its faults, one FAULT record per fault counted, pages summing
 * to the pages filled, re-faults equal to the ghost hits, the first pass's
 * records, put in time order, first touches (or waits for read-around) at
 * the pages touched, in order, and I/O time within service time. Under the kernel the child
 * runs the same reads and there is no trace to check. */
#include "helpers.h"

#include <sys/wait.h>

#define FILE_PAGES 12288        /* 48 MiB; touched: 24 MiB, over the budget of 16 MiB */
#define STEP 2
#define TOUCHED (FILE_PAGES / STEP)

static int child(const char *path, const char *stats_path)
{
	int fd = xopen(path, O_RDONLY);
	volatile uint8_t *m = xmmap((size_t)FILE_PAGES * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	ok(madvise((void *)m, (size_t)FILE_PAGES * PAGE, MADV_RANDOM));
	uint64_t sum = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t p = 0; p < FILE_PAGES; p += STEP)
			sum += m[p * PAGE + 7];
	/* A handler wakes the faulting thread before it writes the fault's
	 * record: let the last one finish. */
	usleep(100000);
	struct pageshim_stats st;
	stats_get(&st);
	int out = open(stats_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(out >= 0 && write(out, &st, sizeof st) == (ssize_t)sizeof st, "save stats: %s", strerror(errno));
	ok(close(out));
	return sum ? 0 : 1;
}

/* The record after the FILE record at r, and its path into path[]. */
static const struct pageshim_trace_rec *file_record(const struct pageshim_trace_rec *r, char *path, size_t len)
{
	check(r->pages < len, "a FILE record's path of %u bytes", r->pages);
	memcpy(path, r + 1, r->pages);
	path[r->pages] = 0;
	return r + 1 + (r->pages + sizeof *r - 1) / sizeof *r;
}

static int by_time(const void *a, const void *b)
{
	uint64_t x = ((const struct pageshim_trace_rec *)a)->time_ns, y = ((const struct pageshim_trace_rec *)b)->time_ns;
	return x < y ? -1 : x > y;
}

static void check_trace(const char *trace, pid_t pid, const char *data, const struct pageshim_stats *st)
{
	int fd = xopen(trace, O_RDONLY);
	size_t size = file_size(fd);
	uint8_t *t = pread_all(fd, 0, size, "the trace");
	ok(close(fd));
	const struct pageshim_trace_header *h = (const void *)t;
	check(size >= sizeof *h && !memcmp(h->magic, PAGESHIM_TRACE_MAGIC, 8), "trace header magic");
	check(h->record_size == sizeof(struct pageshim_trace_rec) && h->page_size == PAGE && h->pid == pid,
	      "header: record %u bytes, page %u, pid %d (child %d)", h->record_size, h->page_size, h->pid, (int)pid);
	check((size - sizeof *h) % sizeof(struct pageshim_trace_rec) == 0, "a whole number of records");

	/* The FILE records, each before the first fault in its file; the
	 * FAULT records gathered, then put in time order (each handler thread
	 * writes its own in order, and the child faults from one thread). */
	const struct pageshim_trace_rec *r = (const void *)(t + sizeof *h), *end = (const void *)(t + size);
	struct pageshim_trace_rec *fault = malloc(size);
	int named = -1;
	size_t n = 0;
	while (r < end) {
		if (r->type == PAGESHIM_TRACE_FILE) {
			char path[4096];
			int id = r->file;
			r = file_record(r, path, sizeof path);
			if (!strcmp(path, data))
				named = id;
			continue;
		}
		check(r->type == PAGESHIM_TRACE_FAULT, "record type %u", r->type);
		check(named >= 0 && r->file == named, "fault record of file %u before the file was named (%d)",
		      r->file, named);
		check(r->io_ns <= r->service_ns, "I/O %u ns within the fault's %u ns", r->io_ns, r->service_ns);
		fault[n++] = *r++;
	}
	check(named >= 0, "no FILE record names %s", data);
	qsort(fault, n, sizeof *fault, by_time);

	/* The first pass (until the pages go back to 0): faults at pages
	 * touched, in order, never seen before (read-around may have brought
	 * some of them in, so not every one faults). */
	uint64_t pages = 0, refaults = 0, first = 0;
	int in_first = 1;
	for (size_t i = 0; i < n; i++) {
		r = &fault[i];
		if (in_first && i && r->page <= fault[i - 1].page)
			in_first = 0;
		if (in_first) {
			check(r->page % STEP == 0 && r->page < FILE_PAGES, "first pass: a fault at page %llu",
			      U(r->page));
			check(r->cause == PAGESHIM_CAUSE_FIRST || r->cause == PAGESHIM_CAUSE_READAHEAD,
			      "first pass: page %llu faulted with cause %u", U(r->page), r->cause);
			first += r->cause == PAGESHIM_CAUSE_FIRST;
		}
		pages += r->pages;
		refaults += r->cause == PAGESHIM_CAUSE_REFAULT;
	}
	check(first > 0, "no first touch in the first pass (of %d pages)", TOUCHED);
	check(n == st->faults, "FAULT records %zu, faults counted %llu", n, U(st->faults));
	check(pages == st->pages_filled, "pages in records %llu, pages filled %llu", U(pages), U(st->pages_filled));
	check(refaults == st->ghost_hits && refaults > 0, "re-fault records %llu, ghost hits %llu", U(refaults),
	      U(st->ghost_hits));
	check(st->evicted_pages > 0 && n > TOUCHED, "the second pass faulted again (%zu faults)", n);
	note("trace: %zu faults, %llu first touches in the first pass, %llu re-faults, %zu bytes", n, U(first),
	     U(refaults), size);
	free(fault);
	free(t);
}

int main(int argc, char **argv)
{
	t_init(120);
	if (argc == 4 && !strcmp(argv[1], "child"))
		return child(argv[2], argv[3]);
	char *data = tpath("data"), *stats = tpath("child.stats"), *trace_env;
	make_file(data, (uint64_t)FILE_PAGES * PAGE, 7);
	check(asprintf(&trace_env, "PAGESHIM_TRACE=%s", tpath("trace.%%p")) > 0, "asprintf");
	pid_t pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		ok(putenv(trace_env));
		execl("/proc/self/exe", argv[0], "child", data, stats, (char *)NULL);
		_exit(127);
	}
	int status;
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child failed (status %#x)", status);
	if (!T.shim) {
		note("trace: the child's reads ran under the kernel; no trace to check");
		return 0;
	}
	struct pageshim_stats st;
	int fd = xopen(stats, O_RDONLY);
	check(pread(fd, &st, sizeof st, 0) == (ssize_t)sizeof st, "read the child's stats");
	ok(close(fd));
	check_trace(tpath("trace.%d", (int)pid), pid, data, &st);
	return 0;
}

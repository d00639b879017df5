/* statcost.c - what the always-on stats cost a fault, for tools/bench/cost.sh.
 *
 * A fault served does, in stats: three counter adds for the process, three
 * for its file, and four histogram adds (fault and I/O time, process and
 * file). THREADS (argv[1], 1 or 2) threads do exactly that in a loop, on
 * shared counters as the handler threads do, with nothing between: with
 * two, the worst case, every add contended. Prints the nanoseconds per
 * fault of one thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "hist.h"

#define FAULTS 4000000
#define ADD(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)

static struct { uint64_t faults, pages, bytes; } proc, file;
static struct ps_hist fault_hist, io_hist, file_fault_hist, file_io_hist;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *handler(void *arg)
{
	(void)arg;
	for (uint64_t i = 0; i < FAULTS; i++) {
		uint64_t ns = 20000 + i * 7919 % 80000;        /* 20-100 us, spread over buckets */
		ADD(proc.faults, 1);
		ADD(file.faults, 1);
		ADD(proc.bytes, 4096);
		ADD(file.bytes, 4096);
		ADD(proc.pages, 1);
		ADD(file.pages, 1);
		ps_hist_add(&io_hist, ns / 2);
		ps_hist_add(&file_io_hist, ns / 2);
		ps_hist_add(&fault_hist, ns);
		ps_hist_add(&file_fault_hist, ns);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 && atoi(argv[1]) == 2 ? 2 : 1;
	pthread_t t[2];
	uint64_t t0 = now_ns();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, handler, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("%.0f\n", (double)(now_ns() - t0) / FAULTS);
	return ps_hist_count(&fault_hist) == (uint64_t)threads * FAULTS ? 0 : 1;
}

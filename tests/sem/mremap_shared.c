/* mremap_shared - growing and shrinking a shared writable file mapping with
 * mremap, as tkrzw and SQLite do.
 *
 * 1. Grow: a 16-page file opened O_RDWR, mapped MAP_SHARED|PROT_WRITE;
 *    pages 0-7 read, page 1 written, 200 bytes of page 5, one word of
 *    page 12 stored without a read. ftruncate to 48 pages, page 30 of the
 *    file written by pwrite on another descriptor, then
 *    mremap(MREMAP_MAYMOVE) to 48 pages: the old 16 pages keep the
 *    program's bytes, the new part reads the file (page 30's new bytes,
 *    zeros elsewhere); pages 16, 20 and 47 written in the new part; after
 *    msync the file (pread on a descriptor of its own) has every byte.
 * 2. Shrink: pages 10, 30, 40 and 44 written, no msync; mremap to 24 pages
 *    (same address): the kept part is intact, page 24 is gone (SIGSEGV,
 *    SEGV_MAPERR), and the dropped part's writes are in the file at once;
 *    after msync and after munmap, the whole file is right.
 * 3. Growing under readers: a 64-page file mapped shared writable; a thread
 *    grows it 40 times by 160 pages (ftruncate, mremap(MREMAP_MAYMOVE),
 *    then writes every new page), to about 25 MiB (more than the 16M
 *    budget), while two threads read random pages at the address mremap
 *    returned (a read-write lock, writer first, as a program guards its
 *    mapping's address): first pages the file's, written pages the writer's,
 *    pages being written each word either zero or the writer's. At least
 *    one batch of reads runs between two growths. After msync the file has
 *    every page.
 * Under pageshim: the mappings managed, and written pages written back
 * (pages_written_back), all of part 3's at least once. */
// pageshim-env: PAGESHIM_CACHE_SIZE=16M
#include "helpers.h"

#define SEED 71                 /* the file's bytes */
#define SEED_NEW 72             /* bytes the grower writes */

static char *path;

/* ---- parts 1 and 2 --------------------------------------------------------- */

#define NP0 16                  /* the file at first */
#define NP1 48                  /* after the grow */
#define NP2 24                  /* after the shrink */

static uint8_t model[NP1 * PAGE];       /* what the file must hold */

static void store(uint8_t *m, size_t off, size_t len, uint8_t b)
{
	memset(m + off, b, len);
	memset(model + off, b, len);
}

static void expect_file_model(size_t len, const char *what)
{
	expect_path_is(path, model, len, what);
}

static void grow_and_shrink(void)
{
	struct pageshim_stats a, b, c;
	path = tpath("data");
	make_file(path, NP0 * PAGE, SEED);
	fill_pattern(model, 0, NP0 * PAGE, SEED);
	stats_get(&a);
	int fd = xopen(path, O_RDWR);
	uint8_t *m = xmmap(NP0 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	for (int pg = 0; pg < 8; pg++)
		(void)*(volatile uint8_t *)(m + pg * PAGE);
	store(m, 1 * PAGE, PAGE, 0x11);
	store(m, 5 * PAGE + 100, 200, 0x15);
	uint64_t w = 0x5eed5eed5eed5eedULL;
	memcpy(m + 12 * PAGE + 8, &w, 8);
	memcpy(model + 12 * PAGE + 8, &w, 8);

	/* The file grows; another descriptor writes page 30 of the new part. */
	DOING("ftruncate to 48 pages");
	ok(ftruncate(fd, NP1 * PAGE));
	int fd2 = xopen(path, O_RDWR);
	fill_pattern(model + 30 * PAGE, 30 * PAGE, PAGE, SEED_NEW);
	check(pwrite(fd2, model + 30 * PAGE, PAGE, 30 * PAGE) == (ssize_t)PAGE, "pwrite: %s",
	      strerror(errno));
	ok(close(fd2));

	DOING("mremap(MREMAP_MAYMOVE) 16 -> 48 pages");
	uint8_t *q = mremap(m, NP0 * PAGE, NP1 * PAGE, MREMAP_MAYMOVE);
	check(q != MAP_FAILED, "mremap(%p, 16 pages, 48 pages, MREMAP_MAYMOVE): %s", (void *)m,
	      strerror(errno));
	note("grow: mapping %s", q == m ? "grew in place" : "moved");
	expect_bytes(q, model, NP1 * PAGE,
		     "after the grow: old part the program's, new part the file");
	store(q, 16 * PAGE, 1, 0x16);                   /* first byte past the old end */
	store(q, 20 * PAGE, PAGE, 0x20);
	store(q, 47 * PAGE + PAGE - 8, 8, 0x47);        /* last word of the mapping */
	expect_bytes(q, model, NP1 * PAGE, "after writes to the new part");
	DOING("msync of the grown mapping");
	ok(msync(q, NP1 * PAGE, MS_SYNC));
	expect_file_model(NP1 * PAGE, "file after the grow and msync");
	stats_get(&b);
	stats_print("after the grow", &b);
	expect_managed(&a, &b, 1, "grown shared writable mapping");
	expect_grew(&a, &b, pages_written_back, 6, "pages 1, 5, 12, 16, 20, 47");

	/* Shrink, with written and unsynced pages on both sides of the cut. */
	store(q, 10 * PAGE, PAGE, 0x10);
	store(q, 30 * PAGE + 4000, 96, 0x30);
	store(q, 40 * PAGE, PAGE, 0x40);
	store(q, 44 * PAGE + 1, 1, 0x44);
	DOING("mremap 48 -> 24 pages");
	uint8_t *s = mremap(q, NP1 * PAGE, NP2 * PAGE, 0);
	check(s == q, "mremap(%p, 48 pages, 24 pages, 0): expected %p, got %p (%s)", (void *)q,
	      (void *)q, (void *)s, s == MAP_FAILED ? strerror(errno) : "moved");
	expect_bytes(s, model, NP2 * PAGE, "after the shrink: the kept part");
	expect_signal(s + NP2 * PAGE, 0, SIGSEGV, SEGV_MAPERR, "after the shrink: page 24");
	/* The dropped part's writes (pages 30, 40, 44) are in the file now. */
	int fd3 = xopen(path, O_RDONLY);
	expect_file_is(fd3, model + NP2 * PAGE, NP2 * PAGE, (NP1 - NP2) * PAGE,
		       "file after the shrink: the dropped part, written and not synced");
	ok(close(fd3));
	DOING("msync of the shrunk mapping");
	ok(msync(s, NP2 * PAGE, MS_SYNC));
	expect_file_model(NP1 * PAGE, "file after the shrink and msync");
	stats_get(&c);
	stats_print("after the shrink", &c);
	expect_grew(&b, &c, pages_written_back, 4, "pages 10, 30, 40, 44");
	ok(munmap(s, NP2 * PAGE));
	ok(close(fd));
	expect_file_model(NP1 * PAGE, "file after munmap");
}

/* ---- part 3 ---------------------------------------------------------------- */

#define G_START 64              /* pages of the file at first */
#define G_STEP 160              /* pages per growth */
#define G_STEPS 40
#define G_END (G_START + G_STEP * G_STEPS)
#define READERS 2
#define BATCH 16                /* pages a reader reads per lock */

static struct {
	pthread_rwlock_t lock;
	uint8_t *base;          /* under lock */
	size_t npages;          /* mapped pages, under lock */
	size_t done;            /* pages whose bytes are final (atomic) */
	unsigned long batches;  /* reader batches so far (atomic) */
	int stop;               /* (atomic) */
} G;

/* Page pg as a reader must see it. */
static void check_page(const uint8_t *p, size_t pg, size_t done, const char *what)
{
	if (pg < G_START) {
		expect_pattern(p, pg * PAGE, PAGE, SEED, what);
		return;
	}
	if (pg < done) {
		expect_pattern(p, pg * PAGE, PAGE, SEED_NEW, what);
		return;
	}
	for (size_t i = 0; i < PAGE; i += 8) {  /* being written: each word old or new */
		uint64_t v = *(volatile const uint64_t *)(p + i);
		check(v == 0 || v == pat_word(pg * PAGE + i, SEED_NEW),
		      "%s: page %zu (being written) + %zu: expected 0 or %#llx, got %#llx", what, pg,
		      i, U(pat_word(pg * PAGE + i, SEED_NEW)), U(v));
	}
}

static void *reader(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;
	char what[96];
	snprintf(what, sizeof what, "reader %d", (int)(uintptr_t)arg);
	while (!__atomic_load_n(&G.stop, __ATOMIC_ACQUIRE)) {
		check(pthread_rwlock_rdlock(&G.lock) == 0, "rdlock");
		size_t done = __atomic_load_n(&G.done, __ATOMIC_ACQUIRE);
		for (int i = 0; i < BATCH; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* half the reads near the end, where the pages are new */
			size_t near = G.npages < 2 * G_STEP ? G.npages : 2 * G_STEP;
			size_t pg = i & 1 ? x % G.npages : G.npages - 1 - x % near;
			check_page(G.base + pg * PAGE, pg, done, what);
		}
		check(pthread_rwlock_unlock(&G.lock) == 0, "unlock");
		__atomic_add_fetch(&G.batches, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void grow_under_readers(void)
{
	struct pageshim_stats a, b;
	char *gpath = tpath("grow");
	make_file(gpath, G_START * PAGE, SEED);
	stats_get(&a);
	int fd = xopen(gpath, O_RDWR);
	G.base = xmmap(G_START * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	G.npages = G_START;
	G.done = G_START;
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	check(pthread_rwlock_init(&G.lock, &attr) == 0, "pthread_rwlock_init");
	pthread_t th[READERS];
	for (int i = 0; i < READERS; i++)
		check(pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)i) == 0,
		      "pthread_create");

	unsigned moved = 0;
	for (int step = 0; step < G_STEPS; step++) {
		/* At least one batch of reads between two growths. */
		unsigned long seen = __atomic_load_n(&G.batches, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&G.batches, __ATOMIC_ACQUIRE) == seen)
			sched_yield();
		size_t old = G.npages, new = old + G_STEP;
		DOING("grow under readers: ftruncate and mremap");
		check(pthread_rwlock_wrlock(&G.lock) == 0, "wrlock");
		ok(ftruncate(fd, (off_t)(new * PAGE)));
		uint8_t *q = mremap(G.base, old * PAGE, new * PAGE, MREMAP_MAYMOVE);
		check(q != MAP_FAILED, "step %d: mremap(%zu -> %zu pages, MREMAP_MAYMOVE): %s", step,
		      old, new, strerror(errno));
		moved += q != G.base;
		G.base = q;
		G.npages = new;
		check(pthread_rwlock_unlock(&G.lock) == 0, "unlock");
		/* Only this thread moves the mapping: q stays valid unlocked. */
		DOING("grow under readers: writing the new pages");
		for (size_t pg = old; pg < new; pg++)
			fill_pattern(q + pg * PAGE, pg * PAGE, PAGE, SEED_NEW);
		__atomic_store_n(&G.done, new, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&G.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	note("grow under readers: %d growths (%u moved), %lu reader batches", G_STEPS, moved,
	     G.batches);

	for (size_t pg = 0; pg < G_END; pg++)
		check_page(G.base + pg * PAGE, pg, G_END, "grown mapping at the end");
	DOING("msync of the grown mapping");
	ok(msync(G.base, G_END * PAGE, MS_SYNC));
	int fd2 = xopen(gpath, O_RDONLY);
	check(file_size(fd2) == G_END * PAGE, "grown file: size %llu, expected %lu",
	      U(file_size(fd2)), G_END * PAGE);
	uint8_t *buf = malloc(MiB);
	check(buf, "malloc");
	for (size_t off = 0; off < G_END * PAGE; off += MiB) {
		size_t n = G_END * PAGE - off < MiB ? G_END * PAGE - off : MiB;
		check(pread(fd2, buf, n, (off_t)off) == (ssize_t)n, "pread at %zu: %s", off,
		      strerror(errno));
		for (size_t i = 0; i < n; i += PAGE)
			check_page(buf + i, (off + i) / PAGE, G_END, "grown file after msync");
	}
	free(buf);
	ok(close(fd2));
	stats_get(&b);
	stats_print("after the growth under readers", &b);
	expect_managed(&a, &b, 1, "mapping grown under readers");
	expect_grew(&a, &b, pages_written_back, G_END - G_START, "every page the grower wrote");
	expect_in_budget(&b, "after the growth under readers");
	ok(munmap(G.base, G_END * PAGE));
	ok(close(fd));
}

int main(void)
{
	t_init(60);
	grow_and_shrink();
	grow_under_readers();
	note("mremap: grown and shrunk shared writable mappings keep every byte, in memory and "
	     "in the file");
	return 0;
}

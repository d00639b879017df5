/* offsets - where in the file a mapping starts.
 *
 * A sparse file of 5 GiB + 3 pages: mappings at offsets past 4 GiB (64-bit
 * offsets all the way to the read) show the bytes written there and zeros in
 * the holes; a mapping whose offset is past EOF, and any mapping of an empty
 * file, raise SIGBUS BUS_ADRERR on the first touch; a mapping that starts
 * inside the file and runs past EOF shows the file, zeros, then SIGBUS. */
#include "helpers.h"

#define GiB (1024ULL * MiB)
#define HIGH (4 * GiB + 64 * PAGE)     /* where the pattern is written */
#define SIZE (5 * GiB + 3 * PAGE)
#define SEED 15

int main(void)
{
	t_init(60);
	char *path = tpath("sparse"), *empty = tpath("empty");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0, "create %s: %s", path, strerror(errno));
	static uint8_t buf[64 * PAGE];
	fill_pattern(buf, HIGH, sizeof buf, SEED);
	check(pwrite(fd, buf, sizeof buf, HIGH) == sizeof buf, "pwrite at 4 GiB: %s", strerror(errno));
	fill_pattern(buf, SIZE - 100, 100, SEED);
	check(pwrite(fd, buf, 100, SIZE - 100) == 100, "pwrite at the end: %s", strerror(errno));
	make_file(empty, 0, 0);
	int efd = xopen(empty, O_RDONLY);

	struct pageshim_stats a, b;
	stats_get(&a);
	/* At 4 GiB: 32 pages of hole, then 64 of pattern, then hole. */
	uint8_t *m = xmmap(128 * PAGE, PROT_READ, MAP_SHARED, fd, (off_t)(HIGH - 32 * PAGE));
	expect_zero(m, 32 * PAGE, "hole before the bytes at 4 GiB");
	expect_pattern(m + 32 * PAGE, HIGH, 64 * PAGE, SEED, "bytes at 4 GiB");
	expect_zero(m + 96 * PAGE, 32 * PAGE, "hole after the bytes at 4 GiB");
	expect_file(fd, m, HIGH - 32 * PAGE, 128 * PAGE, "mapping at 4 GiB against pread");
	ok(munmap(m, 128 * PAGE));

	/* The last pages: file, zeros to the page end, SIGBUS past EOF. */
	uint8_t *t = xmmap(8 * PAGE, PROT_READ, MAP_PRIVATE, fd, (off_t)(SIZE - 2 * PAGE));
	expect_zero(t, 2 * PAGE - 100, "hole before the last bytes");
	expect_pattern(t + 2 * PAGE - 100, SIZE - 100, 100, SEED, "the last 100 bytes");
	expect_signal(t + 2 * PAGE, 0, SIGBUS, BUS_ADRERR, "first page past EOF at 5 GiB");
	expect_signal(t + 7 * PAGE + 9, 0, SIGBUS, BUS_ADRERR, "last page of the mapping, past EOF");
	ok(munmap(t, 8 * PAGE));

	/* Wholly past EOF, and an empty file. */
	uint8_t *past = xmmap(4 * PAGE, PROT_READ, MAP_SHARED, fd, (off_t)(SIZE + 5 * PAGE));
	expect_signal(past, 0, SIGBUS, BUS_ADRERR, "mapping that starts past EOF");
	expect_signal(past + 3 * PAGE + 1, 0, SIGBUS, BUS_ADRERR, "mapping that starts past EOF");
	ok(munmap(past, 4 * PAGE));
	uint8_t *e = xmmap(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, efd, 0);
	expect_signal(e, 0, SIGBUS, BUS_ADRERR, "empty file, read");
	expect_signal(e + PAGE + 8, 1, SIGBUS, BUS_ADRERR, "empty file, write");
	ok(munmap(e, 2 * PAGE));

	stats_get(&b);
	stats_print("end", &b);
	expect_managed(&a, &b, 4, "offset mappings");
	expect_filled(&a, &b, 128 + 2, "offset mappings");
	expect_released(&a, &b, "after munmap");
	ok(close(fd));
	ok(close(efd));
	ok(unlink(path));
	note("offsets past 4 GiB, a mapping past EOF and an empty file: as the kernel's");
	return 0;
}

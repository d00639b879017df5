/* bench_data.c - the bench file's content, its creation, reading and
 * writing it.
 *
 * Every 8-byte word holds a mix of its own offset, so any read can be
 * verified on the spot (no second read, no reference copy) and a word
 * served from the wrong place or the wrong file is caught. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fixed, so a file written by one run verifies in the next ("pageshim"). */
#define DATA_SEED 0x70616765736869ULL
/* Bytes per write while creating: large enough that the syscalls cost
 * nothing next to the disk, small enough not to weigh on peak RSS. */
#define CREATE_CHUNK (4u << 20)

uint64_t data_word(uint64_t off)
{
	return mix64(off ^ DATA_SEED);
}

void data_fill(void *buf, uint64_t off, size_t len)
{
	uint64_t *w = buf;
	for (size_t i = 0; i < len / 8; i++)
		w[i] = data_word(off + 8 * i);
}

int data_check(const void *buf, uint64_t off, size_t len, struct bench_fault *f)
{
	const uint64_t *w = buf;
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t want = data_word(off + 8 * i);
		if (w[i] != want) {
			*f = (struct bench_fault){ .offset = off + 8 * i, .expected = want,
						   .got = w[i] };
			return -1;
		}
	}
	return 0;
}

int data_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t got = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;
		done += (size_t)got;
	}
	return 0;
}

int data_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t put = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return -errno;
		done += (size_t)put;
	}
	return 0;
}

/* Fill fd with `size` bytes of pattern, chunk by chunk, and fsync. */
static int fill(int fd, uint64_t size)
{
	uint64_t *chunk = malloc(CREATE_CHUNK);
	if (!chunk)
		return -ENOMEM;
	int rc = 0;
	for (uint64_t off = 0; off < size && !rc; off += CREATE_CHUNK) {
		size_t n = size - off < CREATE_CHUNK ? (size_t)(size - off) : CREATE_CHUNK;
		data_fill(chunk, off, n);
		rc = data_pwrite_full(fd, chunk, n, off);
	}
	free(chunk);
	if (!rc && fsync(fd))
		rc = -errno;
	return rc;
}

int data_create(const char *path, uint64_t size)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = fill(fd, size);
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

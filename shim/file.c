/* file.c - backing files, their reads and their checksums (see file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxh_x86dispatch.h>

#include "compat.h"
#include "external.h"
#include "init.h"
#include "inject.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "stats.h"

#define READ_RETRIES 3          /* then a read error reaches the program as SIGBUS */

static struct ps_file *files;   /* uthash by key */
static uint64_t next_id = 1;
static unsigned nfiles;         /* atomic: read without the regions lock */

/* Files no mapping uses any more keep their descriptors, oldest first, and
 * take them up again when mapped again (SQLite unmaps and maps its database
 * each time another process changed it). Past PARK_MAX the oldest the
 * process holds no POSIX lock on are closed. */
#define PARK_MAX 16
static struct ps_file *parked;
static unsigned nparked;
pthread_rwlock_t file_posix_locks = PTHREAD_RWLOCK_INITIALIZER;

unsigned file_count(void) { return __atomic_load_n(&nfiles, __ATOMIC_RELAXED); }

/* A counting filter of the managed inodes, read without any lock. */
#define FILTER_SLOTS 1024u
static unsigned filter[FILTER_SLOTS];

static unsigned slot_of(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)dev;
	return (unsigned)((h >> 32) % FILTER_SLOTS);
}

static unsigned *filter_slot(dev_t dev, ino_t ino)
{
	return &filter[slot_of(dev, ino)];
}

/* file_own_begin's counts: one per filter slot, the last for paths. */
static struct {
	unsigned in_flight;
	uint64_t begun;
} own[FILTER_SLOTS + 1];

static unsigned own_slot(dev_t dev, ino_t ino)
{
	return dev || ino ? slot_of(dev, ino) : FILTER_SLOTS;
}

void file_own_begin(dev_t dev, ino_t ino)
{
	unsigned s = own_slot(dev, ino);
	__atomic_add_fetch(&own[s].in_flight, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&own[s].begun, 1, __ATOMIC_SEQ_CST);
}

void file_own_end(dev_t dev, ino_t ino)
{
	__atomic_sub_fetch(&own[own_slot(dev, ino)].in_flight, 1, __ATOMIC_SEQ_CST);
}

uint64_t file_own_mark(const struct ps_file *f)
{
	return __atomic_load_n(&own[own_slot(f->key.dev, f->key.ino)].begun, __ATOMIC_SEQ_CST) +
	       __atomic_load_n(&own[FILTER_SLOTS].begun, __ATOMIC_SEQ_CST);
}

int file_own_since(const struct ps_file *f, uint64_t mark)
{
	return __atomic_load_n(&own[own_slot(f->key.dev, f->key.ino)].in_flight, __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&own[FILTER_SLOTS].in_flight, __ATOMIC_SEQ_CST) ||
	       file_own_mark(f) != mark;
}

int file_maybe_managed(dev_t dev, ino_t ino)
{
	return __atomic_load_n(filter_slot(dev, ino), __ATOMIC_RELAXED) != 0;
}

struct ps_file *file_find(dev_t dev, ino_t ino)
{
	struct ps_file_key k;
	struct ps_file *f;
	memset(&k, 0, sizeof k);
	k.dev = dev;
	k.ino = ino;
	HASH_FIND(hh, files, &k, sizeof k, f);
	return f;
}

struct ps_file *file_next(struct ps_file *f)
{
	return f ? f->hh.next : files;
}

static size_t sums_bytes(uint64_t pages)
{
	size_t b = (size_t)pages * sizeof(uint64_t);
	return (b + PS_PAGE - 1) & ~(size_t)(PS_PAGE - 1);
}

int file_cover(struct ps_file *f, uint64_t pages)
{
	if (pages <= f->sums_pages)
		return 0;
	/* Grow geometrically so that a file mapped in growing windows is not
	 * remapped every time. */
	uint64_t want = f->sums_pages * 2 > pages ? f->sums_pages * 2 : pages;
	void *p;
	if (f->sums)
		p = real.mremap(f->sums, sums_bytes(f->sums_pages), sums_bytes(want), MREMAP_MAYMOVE, NULL);
	else
		p = real.mmap(NULL, sums_bytes(want), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	f->sums = p;
	f->sums_pages = sums_bytes(want) / sizeof(uint64_t);
	return 0;
}

/* Our own descriptor for the program's fd: O_DIRECT first, then buffered;
 * dup() when the file cannot be opened again by name (permissions). */
static int reopen(int fd, int *direct)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	int flags = O_RDONLY | O_CLOEXEC;
	int ours = open(proc, flags | O_DIRECT);
	*direct = ours >= 0;
	if (ours < 0)
		ours = open(proc, flags);
	if (ours < 0)
		ours = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return ours < 0 ? -errno : ours;
}

static char *path_of(int fd)
{
	char proc[64], buf[PS_PATH_MAX];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, buf, sizeof buf - 1);
	if (n < 0)
		n = snprintf(buf, sizeof buf, "(fd %d)", fd);
	buf[n] = 0;
	return strdup(buf);
}

/* A parked file of this key, taken off the list, or NULL. */
static struct ps_file *unpark(dev_t dev, ino_t ino)
{
	for (struct ps_file **p = &parked; *p; p = &(*p)->parked_next) {
		struct ps_file *f = *p;
		if (f->key.dev == dev && f->key.ino == ino) {
			*p = f->parked_next;
			f->parked_next = NULL;
			nparked--;
			return f;
		}
	}
	return NULL;
}

/* A new file, its descriptors opened (or taken from a parked one). */
static struct ps_file *file_new(int fd, const struct stat *st, int *err)
{
	char *path = path_of(fd);
	if (!path) {
		*err = -ENOMEM;
		return NULL;
	}
	struct ps_file *f = unpark(st->st_dev, st->st_ino);
	if (f) {
		free(f->path);  /* the same inode; the name may have changed */
	} else {
		f = calloc(1, sizeof *f);
		if (!f) {
			free(path);
			*err = -ENOMEM;
			return NULL;
		}
		f->fd = reopen(fd, &f->direct);
		if (f->fd < 0) {
			*err = f->fd;
			free(path);
			free(f);
			return NULL;
		}
		f->key.dev = st->st_dev;
		f->key.ino = st->st_ino;
		f->wfd = -1;
		f->wfd_direct = -1;
		f->bfd = -1;
		if (f->direct) {
			char proc[64];
			snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
			f->bfd = open(proc, O_RDONLY | O_CLOEXEC);
		}
		pthread_rwlock_init(&f->lock, NULL);
	}
	f->spill_fd = -1;
	f->path = path;
	f->id = next_id++;      /* a new file as far as the cache knows */
	return f;
}

int file_get(int fd, const struct stat *st, uint64_t pages, struct ps_file **out)
{
	struct ps_file *f = file_find(st->st_dev, st->st_ino);
	if (!f) {
		int err;
		f = file_new(fd, st, &err);
		if (!f)
			return err;
		HASH_ADD(hh, files, key, sizeof f->key, f);
		__atomic_fetch_add(&nfiles, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(filter_slot(f->key.dev, f->key.ino), 1, __ATOMIC_RELAXED);
		ps_external_note(f);
		ps_external_watch(f);
		ps_debug("managing %s (%s reads)", f->path, f->direct ? "O_DIRECT" : "buffered");
	}
	int err = file_cover(f, pages);
	if (err) {
		if (!f->refs) {
			f->refs = 1;
			file_put(f);
		}
		return err;
	}
	f->refs++;
	*out = f;
	return 0;
}

/* /proc/locks, whole, as a string (malloc'd), or NULL. */
static char *read_locks(void)
{
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 8192, have = 0;
	char *buf = malloc(cap);
	ssize_t n = 0;
	while (buf && (n = read(fd, buf + have, cap - 1 - have)) > 0) {
		have += (size_t)n;
		if (have == cap - 1) {
			char *more = realloc(buf, cap *= 2);
			if (!more)
				free(buf);
			buf = more;
		}
	}
	close(fd);
	if (buf && n < 0) {
		free(buf);
		return NULL;
	}
	if (buf)
		buf[have] = 0;
	return buf;
}

/* Does /proc/locks show a POSIX lock this process may hold on f? Its lines
 * read "1: POSIX  ADVISORY  WRITE PID MAJ:MIN:INODE START END"; a request
 * waiting for a lock reads "1: -> POSIX ...". The device there is the file
 * system's, which on btrfs subvolumes and overlayfs is not st_dev: only the
 * inode is compared (a lock on another file of that number keeps f open). */
static int posix_locked(const char *locks, const struct ps_file *f)
{
	long me = getpid();
	for (const char *line = locks; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		long pid;
		unsigned long ino;
		if (sscanf(line, "%*d: POSIX %*s %*s %ld %*x:%*x:%lu", &pid, &ino) == 2 && pid == me &&
		    ino == f->key.ino)
			return 1;
	}
	return 0;
}

static void file_close(struct ps_file *f)
{
	close(f->fd);
	if (f->wfd >= 0)
		close(f->wfd);
	if (f->wfd_direct >= 0)
		close(f->wfd_direct);
	if (f->bfd >= 0)
		close(f->bfd);
	pthread_rwlock_destroy(&f->lock);
	free(f->path);
	free(f);
}

/* Close parked files past PARK_MAX, oldest first, except those the process
 * holds a POSIX lock on. Not while a lock call of the program is under way:
 * it could take a lock between the look and the close. */
static void trim_parked(void)
{
	if (nparked <= PARK_MAX || pthread_rwlock_trywrlock(&file_posix_locks))
		return;
	char *locks = read_locks();
	for (struct ps_file **p = &parked; locks && *p && nparked > PARK_MAX;) {
		struct ps_file *f = *p;
		if (posix_locked(locks, f)) {
			p = &f->parked_next;
			continue;
		}
		*p = f->parked_next;
		nparked--;
		file_close(f);
	}
	free(locks);
	pthread_rwlock_unlock(&file_posix_locks);
}

void file_put(struct ps_file *f)
{
	if (--f->refs)
		return;
	HASH_DEL(files, f);
	__atomic_fetch_sub(&nfiles, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(filter_slot(f->key.dev, f->key.ino), 1, __ATOMIC_RELAXED);
	ps_external_unwatch(f);
	if (f->spill_fd >= 0)
		close(f->spill_fd);     /* its own inode: closing it drops no lock */
	if (f->sums)
		real.munmap(f->sums, sums_bytes(f->sums_pages));
	f->sums = NULL;
	f->sums_pages = 0;
	f->seen_racy = 0;       /* the next mapping reads every page anew */
	struct ps_file **p = &parked;   /* the newest goes last */
	while (*p)
		p = &(*p)->parked_next;
	*p = f;
	nparked++;
	trim_parked();
}

void file_fork_child(void)
{
	/* A thread of the parent may have been in a lock call, or writing. */
	pthread_rwlock_init(&file_posix_locks, NULL);
	for (unsigned s = 0; s <= FILTER_SLOTS; s++)
		__atomic_store_n(&own[s].in_flight, 0, __ATOMIC_SEQ_CST);
}

static int transient(int err)
{
	return err == EIO || err == EAGAIN || err == ETIMEDOUT || err == ENOMEM;
}

int file_stop_direct(struct ps_file *f)
{
	/* Two handlers may get here at once: one opens, under a lock, for
	 * closing a spare descriptor of the file would drop the program's
	 * POSIX locks on it. */
	static pthread_mutex_t opening = PTHREAD_MUTEX_INITIALIZER;
	int err = 0;
	pthread_mutex_lock(&opening);
	if (__atomic_load_n(&f->bfd, __ATOMIC_ACQUIRE) < 0) {
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
		int fd = open(proc, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			__atomic_store_n(&f->bfd, fd, __ATOMIC_RELEASE);
		else
			err = -errno;
	}
	pthread_mutex_unlock(&opening);
	if (!err)
		__atomic_store_n(&f->direct, 0, __ATOMIC_RELEASE);
	return err;
}

int file_rfd(struct ps_file *f)
{
	int bfd = __atomic_load_n(&f->bfd, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&f->direct, __ATOMIC_ACQUIRE) || bfd < 0 ? f->fd : bfd;
}

/* An O_DIRECT read that does not wait for the inode's lock. A thread that
 * writes a file from a mapping of that same file (write(fd, map, n)) holds
 * the inode's lock (i_rwsem) while it faults on the mapping; ext4's O_DIRECT
 * read takes that lock too, so the fill would wait for the thread that
 * waits for the fill. RWF_NOWAIT makes the read give up instead (EAGAIN,
 * also when the device would make it wait), and the page is read through
 * the page cache, which takes no inode lock. */
static ssize_t read_direct(struct ps_file *f, char *buf, size_t len, uint64_t off)
{
	struct iovec v = { buf, len };
	ssize_t n = real.preadv2(f->fd, &v, 1, (off_t)off, RWF_NOWAIT);
	if (n >= 0 || errno != EAGAIN || f->bfd < 0)
		return n;
	PS_COUNT(reads_buffered, 1);
	size_t done = 0;
	while (done < len) {
		n = real.pread(f->bfd, buf + done, len - done, (off_t)(off + done));
		if (n > 0)
			done += (size_t)n;
		else if (n == 0 || errno != EINTR)
			break;
	}
	if (!done)
		return n;
	if (!f->written)
		posix_fadvise(f->bfd, (off_t)off, (off_t)done, POSIX_FADV_DONTNEED);
	return (ssize_t)done;
}

ssize_t file_read(struct ps_file *f, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	int tries = 0;
	while (done < len) {
		uint64_t t0 = ps_now_ns();
		char *at = (char *)buf + done;
		size_t want = len - done;
		ssize_t n = ps_opt.ninject ? ps_inject_before(f, off + done, &want) : 0;
		if (n < 0)
			errno = (int)-n;
		else
			n = f->direct ? read_direct(f, at, want, off + done)
				      : real.pread(file_rfd(f), at, want, (off_t)(off + done));
		uint64_t io = ps_now_ns() - t0;
		ps_hist_add(&ps_io_hist, io);
		ps_hist_add(&f->io_hist, io);
		PS_COUNT(read_calls, 1);
		if (n > 0) {
			if (ps_opt.ninject)
				ps_inject_after(f, at, (size_t)n, off + done);
			PS_COUNT(bytes_read, n);
			FILE_COUNT(f, bytes_read, (uint64_t)n);
			done += (size_t)n;
			/* O_DIRECT reads whole blocks: part of one means end of file. */
			if (f->direct && n % PS_PAGE)
				break;
			continue;
		}
		if (n == 0)
			break;
		int err = errno;
		if (err == EINTR)
			continue;
		if (err == EINVAL && f->direct && file_stop_direct(f) == 0) {
			ps_debug("%s: O_DIRECT refused, reading buffered", f->path);
			continue;
		}
		if (transient(err) && ++tries < READ_RETRIES) {
			nanosleep(&(struct timespec){ .tv_nsec = 1000000L << tries }, NULL);
			continue;
		}
		return -err;
	}
	if (!f->direct && !f->written && done)
		posix_fadvise(file_rfd(f), (off_t)off, (off_t)done, POSIX_FADV_DONTNEED);
	return (ssize_t)done;
}

int file_open_write(struct ps_file *f, int fd)
{
	if (f->wfd >= 0)
		return 0;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	int w = open(proc, O_RDWR | O_CLOEXEC);
	if (w < 0)
		w = fcntl(fd, F_DUPFD_CLOEXEC, 0);      /* not reopenable by name */
	if (w < 0)
		return -errno;
	f->wfd = w;
	if (f->direct) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", w);
		f->wfd_direct = open(proc, O_RDWR | O_CLOEXEC | O_DIRECT);
	}
	return 0;
}

int file_open_spill(struct ps_file *f, const char *dir)
{
	if (__atomic_load_n(&f->spill_fd, __ATOMIC_ACQUIRE) >= 0)
		return 0;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int none = -1;          /* two write-backs may open it at once: one wins */
	if (!__atomic_compare_exchange_n(&f->spill_fd, &none, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		close(fd);
	return 0;
}

/* pwritev2 all of [off, off+len) from buf to fd; EINTR and transient
 * errors retried. 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len, uint64_t off, int flags)
{
	static int cached;      /* the kernel refused RWF_DONTCACHE (before 6.14) */
	int tries = 0;
	for (size_t done = 0; done < len;) {
		struct iovec v = { (char *)buf + done, len - done };
		int fl = flags & ~(__atomic_load_n(&cached, __ATOMIC_RELAXED) ? PS_RWF_DONTCACHE : 0);
		ssize_t n = real.pwritev2(fd, &v, 1, (off_t)(off + done), fl);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		int err = n == 0 ? EIO : errno;
		if (err == EINTR)
			continue;
		if (err == EOPNOTSUPP && (fl & PS_RWF_DONTCACHE)) {
			__atomic_store_n(&cached, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (transient(err) && ++tries < READ_RETRIES) {
			nanosleep(&(struct timespec){ .tv_nsec = 1000000L << tries }, NULL);
			continue;
		}
		return -err;
	}
	return 0;
}

int file_write(struct ps_file *f, const void *buf, size_t len, uint64_t off)
{
	size_t whole = 0;
	if (f->wfd_direct >= 0 && !__atomic_load_n(&f->direct_refused, __ATOMIC_RELAXED) &&
	    !((uintptr_t)buf & (PS_PAGE - 1)) && !(off & (PS_PAGE - 1)))
		whole = len & ~(size_t)(PS_PAGE - 1);
	if (whole) {
		int err = write_all(f->wfd_direct, buf, whole, off, 0);
		if (err == -EINVAL) {   /* the filesystem refuses O_DIRECT writes */
			__atomic_store_n(&f->direct_refused, 1, __ATOMIC_RELAXED);
			whole = 0;
		} else if (err) {
			return err;
		}
	}
	return write_all(f->wfd, (const char *)buf + whole, len - whole, off + whole, PS_RWF_DONTCACHE);
}

uint64_t file_sum(const void *page)
{
	/* The dispatching entry picks AVX2 or AVX-512 at run time: four times
	 * the default SSE2 build's speed on a page in cache, same hash. */
	return XXH3_64bits_dispatch(page, PS_PAGE) | 1;
}

int file_record_sum(struct ps_file *f, uint64_t fpage, uint64_t sum, int refuse)
{
	if (fpage >= f->sums_pages)
		return 0;
	uint64_t old = __atomic_load_n(&f->sums[fpage], __ATOMIC_RELAXED);
	int changed = old && old != sum;
	if (!changed || !refuse)
		__atomic_store_n(&f->sums[fpage], sum, __ATOMIC_RELAXED);
	return changed;
}

void file_set_sum(struct ps_file *f, uint64_t fpage, uint64_t sum)
{
	if (fpage < f->sums_pages)
		__atomic_store_n(&f->sums[fpage], sum, __ATOMIC_RELAXED);
}

void file_forget_sums(struct ps_file *f, uint64_t first, uint64_t end)
{
	if (end > f->sums_pages)
		end = f->sums_pages;
	if (first < end)
		memset(f->sums + first, 0, (end - first) * sizeof(uint64_t));
}

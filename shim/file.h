/* file.h - backing files: one per inode the process has managed mappings of.
 *
 * pageshim reads through its own descriptor (opened again through
 * /proc/self/fd, O_DIRECT when the filesystem takes it), so the program may
 * close its descriptor right after mmap, and the file is not cached twice.
 * Files are found by (device, inode), never by descriptor: LMDB writes
 * through a second descriptor of the same file.
 *
 * Each file keeps the XXH3-64 of every page pageshim read from it (0 =
 * unknown), in an array reserved with MAP_NORESERVE and grown as mappings
 * reach further: 8 bytes per file page, touched only for pages read.
 *
 * `lock` orders fills against the program's own writes: a fill holds it for
 * reading while it checks `seq` and installs; a write to the file takes it
 * for writing, bumps `seq` and refreshes what is resident. A fill that read
 * before the bump sees a new `seq` and reads again. */
#ifndef PAGESHIM_FILE_H
#define PAGESHIM_FILE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <uthash.h>

#include "hist.h"
#include "pageshim.h"

struct ps_region;

struct ps_file_key {
	dev_t dev;
	ino_t ino;
};

struct ps_file {
	struct ps_file_key key;
	UT_hash_handle hh;
	uint64_t id;                    /* small number for ghost keys and logs */
	int fd;                         /* pageshim's own descriptor */
	int direct;                     /* fd has O_DIRECT */
	int bfd;                        /* the file without O_DIRECT, for reads that must not
					   wait for the inode's lock (file.c), or -1 */
	int written;                    /* the process writes this file itself */
	int wfd;                        /* for writing dirty pages back (buffered), or -1 */
	int wfd_direct;                 /* the same with O_DIRECT, or -1 */
	int direct_refused;             /* the filesystem refused an O_DIRECT write (atomic) */
	uint64_t dirty;                 /* its MAP_SHARED pages now PG_DIRTY (atomic) */
	int spill_fd;                   /* unnamed scratch file, written pages at their file
					   offsets (PAGESHIM_WRITEBACK=msync), or -1 */
	uint64_t spilled;               /* its pages now PG_SPILLED (atomic) */
	char *path;                     /* for messages */
	unsigned refs;                  /* regions using it */
	struct ps_region *regions;
	pthread_rwlock_t lock;
	uint64_t seq;                   /* bumped by every write-side change (atomic) */
	struct timespec seen_mtime, seen_ctime;  /* as pageshim last knew them (external.h) */
	off_t seen_size;
	int seen_own;                   /* the times seen are from this process's own write */
	int seen_racy;                  /* seen too soon after a change by another (external.c) */
	int told_external;              /* a change by another process was logged */
	int wd;                         /* its inotify watch, or -1 (external.c) */
	uint64_t *sums;                 /* XXH3 per file page, 0 = unknown */
	uint64_t sums_pages;            /* pages `sums` covers */
	struct ps_file *parked_next;    /* unused, its descriptors kept (file.c) */
	struct pageshim_file_counts counts;     /* atomic, FILE_COUNT */
	struct ps_hist fault_hist, io_hist;     /* its faults' service times, its preads (ns) */
};

/* Count n into field of f's own counters (pageshim.h). */
#define FILE_COUNT(f, field, n) __atomic_fetch_add(&(f)->counts.field, (n), __ATOMIC_RELAXED)

/* Callers hold ps_regions_lock for writing (get/put) or reading (find). */

/* The file behind descriptor `fd` (already fstat'ed into st), with a
 * reference, opening it on first use so that it covers file pages
 * [0, pages). 0 or -errno (the mapping then passes through). */
int file_get(int fd, const struct stat *st, uint64_t pages, struct ps_file **out);
void file_put(struct ps_file *f);
/* Closing any descriptor of a file drops every POSIX lock the process holds
 * on it, so the program's lock calls (fcntl F_SETLK/F_SETLKW, lockf) are
 * made holding this for reading, and pageshim closes a file's descriptors
 * only holding it for writing, once /proc/locks shows none of the process's
 * locks on that file. */
extern pthread_rwlock_t file_posix_locks;
void file_fork_child(void);
struct ps_file *file_find(dev_t dev, ino_t ino);
/* The managed files one by one: file_next(NULL) is the first. */
struct ps_file *file_next(struct ps_file *f);
/* Grow the checksum array to cover `pages` (under ps_regions_lock write). */
int file_cover(struct ps_file *f, uint64_t pages);
/* Number of files open; the write wrappers skip everything when it is 0. */
unsigned file_count(void);
/* 0 when (dev, ino) is certainly not managed; read without a lock, so a
 * write to any other file (stderr from a signal handler) takes none. */
int file_maybe_managed(dev_t dev, ino_t ino);

/* Read [off, off+len) into buf (aligned to PS_PAGE; len a multiple of it).
 * Returns the bytes read, fewer at end of file, or -errno once retries are
 * exhausted. Retries EINTR and EIO-like errors a few times; switches the file
 * to buffered reads if the filesystem refuses O_DIRECT. */
ssize_t file_read(struct ps_file *f, void *buf, size_t len, uint64_t off);

/* Open the descriptor write-back uses, from the program's `fd` (open for
 * writing): once per file. 0 or -errno. */
int file_open_write(struct ps_file *f, int fd);
/* Open f's spill file in `dir` (once). 0 or -errno. */
int file_open_spill(struct ps_file *f, const char *dir);
/* Write [off, off+len) from buf: whole pages with O_DIRECT where the file
 * takes it, the rest (a partial last page) buffered and uncached
 * (RWF_DONTCACHE, 6.14), so that the kernel's page cache keeps no second
 * copy. 0 or -errno once retries are exhausted. */
int file_write(struct ps_file *f, const void *buf, size_t len, uint64_t off);

/* XXH3-64 of one page, never 0 (0 means unknown). */
uint64_t file_sum(const void *page);
/* Read through the page cache from now on: for a file the process writes,
 * its own writes put the pages there, and an O_DIRECT read of a dirty range
 * would first wait for the kernel to write it back. 0 or -errno. */
int file_stop_direct(struct ps_file *f);
/* The descriptor to read f through now: O_DIRECT until the process writes
 * the file itself (file_stop_direct), then buffered. */
int file_rfd(struct ps_file *f);

/* Record the checksum of file page `fpage` just read (under f->lock read).
 * Returns 1 when a different checksum was known: the page changed since
 * pageshim last read it. The new one is kept unless `refuse` is set. */
int file_record_sum(struct ps_file *f, uint64_t fpage, uint64_t sum, int refuse);
/* Set the checksum of file page `fpage`, just written (0: unknown). */
void file_set_sum(struct ps_file *f, uint64_t fpage, uint64_t sum);

/* This process's writes to a file under way, from before the write until
 * coherence.c has been told of it and its new times noted, counted per
 * slot of the inode filter (files sharing a slot count together; dev 0 and
 * ino 0, a file named by path, counts against every file). A fill that
 * read while one to its file was under way may have seen bytes that write
 * landed and not yet told, and the watcher a change of times that is that
 * write's (external.h): file_own_mark before, file_own_since after. No
 * lock. */
void file_own_begin(dev_t dev, ino_t ino);
void file_own_end(dev_t dev, ino_t ino);
uint64_t file_own_mark(const struct ps_file *f);
int file_own_since(const struct ps_file *f, uint64_t mark);
/* Forget checksums of file pages [first, end) (under f->lock write). */
void file_forget_sums(struct ps_file *f, uint64_t first, uint64_t end);

#endif

/* trace.c - see trace.h. */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "options.h"
#include "real.h"
#include "region.h"
#include "stats.h"

#define BUF_RECORDS 1638        /* 64 KiB */
#define BUFS_MAX 128            /* fault handlers (at most 64), with room to spare */
#define FILES_MAX 65536         /* file numbers past this are traced as the last one */

struct ps_trace_buf {
	pthread_mutex_t lock;   /* the handler's, and the exit flush's */
	unsigned n;
	struct pageshim_trace_rec rec[BUF_RECORDS];
};

static char path[PS_PATH_MAX];          /* "" = off */
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;  /* fd, the file names, bufs */
static int fd = -1, failed;
static uint64_t start_ns;
static uint8_t named[FILES_MAX / 8];
static struct ps_trace_buf *bufs[BUFS_MAX];
static unsigned nbufs;

void ps_trace_init(const char *p)
{
	snprintf(path, sizeof path, "%s", p);
}

struct ps_trace_buf *ps_trace_buffer(void)
{
	if (!path[0])
		return NULL;
	pthread_mutex_lock(&tlock);
	struct ps_trace_buf *b = NULL;
	if (nbufs < BUFS_MAX) {
		b = bufs[nbufs];        /* a forked child reuses the parent's */
		if (!b) {
			b = real.mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			b = b == MAP_FAILED ? NULL : b;
		}
		if (b) {
			pthread_mutex_init(&b->lock, NULL);
			b->n = 0;
			bufs[nbufs++] = b;
		}
	}
	pthread_mutex_unlock(&tlock);
	if (!b)
		ps_warn_once("no memory for a trace buffer: a fault handler does not trace");
	return b;
}

static void put(const void *data, size_t len)
{
	if (fd < 0)
		return;
	ssize_t w = real.write(fd, data, len);
	if (w != (ssize_t)len) {
		ps_warn("cannot write the trace %s: %s; tracing stops", path,
			w < 0 ? strerror(errno) : "short write");
		close(fd);
		fd = -1;
		__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
	}
}

/* Under tlock: create the file at the first fault. */
static int opened(void)
{
	if (fd >= 0 || failed)
		return fd >= 0;
	char name[PS_PATH_MAX];
	int err = ps_path_expand(path, name, sizeof name);
	if (!err && (fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) < 0)
		err = -errno;
	if (err) {
		ps_warn("cannot create the trace %s: %s", name, strerror(-err));
		__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
		return 0;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct pageshim_trace_header h = {
		.magic = PAGESHIM_TRACE_MAGIC, .record_size = sizeof(struct pageshim_trace_rec),
		.page_size = PS_PAGE, .pid = (int32_t)getpid(),
		.start_realtime_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec,
	};
	start_ns = ps_now_ns();
	put(&h, sizeof h);
	return fd >= 0;
}

/* The file's number, its name written first if it is new. 0: no trace. */
static unsigned file_number(const struct ps_file *f)
{
	unsigned id = !f ? 0 : f->id < FILES_MAX ? (unsigned)f->id : FILES_MAX - 1;
	if (__atomic_load_n(&named[id / 8], __ATOMIC_ACQUIRE) & (1u << id % 8))
		return id;
	pthread_mutex_lock(&tlock);
	if (opened() && !(named[id / 8] & (1u << id % 8))) {
		const char *name = id == FILES_MAX - 1 ? "(other files)" : f ? f->path : "(unmapped)";
		size_t len = strlen(name), whole = sizeof(struct pageshim_trace_rec);
		char rec[sizeof(struct pageshim_trace_rec) + PS_PATH_MAX + sizeof(struct pageshim_trace_rec)];
		len = len < PS_PATH_MAX ? len : PS_PATH_MAX;
		memset(rec, 0, sizeof rec);
		struct pageshim_trace_rec *r = (void *)rec;
		r->type = PAGESHIM_TRACE_FILE;
		r->file = (uint16_t)id;
		r->pages = (uint32_t)len;
		memcpy(rec + whole, name, len);
		put(rec, whole + (len + whole - 1) / whole * whole);
		__atomic_or_fetch(&named[id / 8], (uint8_t)(1u << id % 8), __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&tlock);
	return id;
}

static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Under b->lock. */
static void flush_buf(struct ps_trace_buf *b)
{
	if (!b->n)
		return;
	pthread_mutex_lock(&tlock);
	put(b->rec, b->n * sizeof b->rec[0]);
	pthread_mutex_unlock(&tlock);
	b->n = 0;
}

void ps_trace_fault(struct ps_trace_buf *b, const struct ps_file *f, const struct ps_trace_fault *t)
{
	if (__atomic_load_n(&failed, __ATOMIC_RELAXED))
		return;
	unsigned id = file_number(f);
	if (fd < 0)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->n == BUF_RECORDS)        /* no ps_trace_commit since it filled: never past the end */
		flush_buf(b);
	b->rec[b->n++] = (struct pageshim_trace_rec){
		.time_ns = t->start_ns > start_ns ? t->start_ns - start_ns : 0,
		.page = t->page, .tid = t->tid, .pages = t->pages,
		.service_ns = clamp32(t->service_ns), .io_ns = clamp32(t->io_ns),
		.file = (uint16_t)id, .type = PAGESHIM_TRACE_FAULT, .cause = (uint8_t)t->cause,
	};
	pthread_mutex_unlock(&b->lock);
}

void ps_trace_commit(struct ps_trace_buf *b)
{
	pthread_mutex_lock(&b->lock);
	if (b->n == BUF_RECORDS)
		flush_buf(b);
	pthread_mutex_unlock(&b->lock);
}

void ps_trace_flush(void)
{
	for (unsigned i = 0; i < __atomic_load_n(&nbufs, __ATOMIC_ACQUIRE); i++) {
		pthread_mutex_lock(&bufs[i]->lock);
		flush_buf(bufs[i]);
		pthread_mutex_unlock(&bufs[i]->lock);
	}
}

void ps_trace_fork_child(void)
{
	pthread_mutex_init(&tlock, NULL);
	nbufs = 0;              /* the new handlers take the buffers again, emptied */
	if (fd >= 0)
		close(fd);
	fd = -1;
	failed = 0;
	memset(named, 0, sizeof named);
	if (!strstr(path, "%p"))
		path[0] = 0;
}

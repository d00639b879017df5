/* trace.c - see trace.h. */
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define REC sizeof(struct pageshim_trace_rec)
#define TID_LIMIT (1u << 22)    /* the kernel's PID_MAX_LIMIT on 64 bits: no tid reaches it */
#define BIN_MIN_NS 1000000u     /* the timeline's finest bin: 1 ms */

/* The record at *pos, *pos moved past it (and past a FILE record's path);
 * NULL at `end` or at a record that runs past it. */
static const struct pageshim_trace_rec *next(const unsigned char *map, size_t end, size_t *pos)
{
	if (end - *pos < REC)
		return NULL;
	const struct pageshim_trace_rec *r = (const void *)(map + *pos);
	size_t len = REC;
	if (r->type == PAGESHIM_TRACE_FILE)
		len += ((size_t)r->pages + REC - 1) / REC * REC;
	if (len > end - *pos)
		return NULL;
	*pos += len;
	return r;
}

static struct trace_file *file_of(struct trace *t, unsigned id)
{
	struct trace_file *f = t->file[id];
	if (!f && (f = calloc(1, sizeof *f))) {
		f->id = id;
		f->off_min = UINT64_MAX;
		t->file[id] = f;
	}
	return f;
}

static int most_faults_first(const void *a, const void *b)
{
	const struct trace_file *x = *(struct trace_file *const *)a, *y = *(struct trace_file *const *)b;
	return x->faults < y->faults ? 1 : x->faults > y->faults ? -1 : (x->id > y->id) - (x->id < y->id);
}

/* One fault into the totals and its file's; tid_seen: a bit per tid.
 * -EBADMSG for pages past 2^64 bytes, which pageshim never writes. */
static int count(struct trace *t, uint8_t *tid_seen, const struct pageshim_trace_rec *r)
{
	uint64_t ps = t->head.page_size, first, end;
	if (__builtin_mul_overflow(r->page, ps, &first) ||
	    __builtin_mul_overflow(r->page + (r->pages ? r->pages : 1), ps, &end) || end <= first)
		return -EBADMSG;
	struct trace_file *f = file_of(t, r->file);
	if (!f)
		return -ENOMEM;
	if (r->tid && r->tid < TID_LIMIT && !(tid_seen[r->tid / 8] & 1u << r->tid % 8)) {
		tid_seen[r->tid / 8] |= (uint8_t)(1u << r->tid % 8);
		t->threads++;
	}
	uint64_t done = r->time_ns + r->service_ns;
	t->faults++;
	t->pages += r->pages;
	t->causes[r->cause < TRACE_CAUSES ? r->cause : 0]++;
	t->duration_ns = done > t->duration_ns ? done : t->duration_ns;
	ps_hist_add(&t->service, r->service_ns);
	if (r->io_ns)
		ps_hist_add(&t->io, r->io_ns);
	f->faults++;
	f->pages += r->pages;
	ps_hist_add(&f->service, r->service_ns);
	f->off_min = first < f->off_min ? first : f->off_min;
	f->off_end = end > f->off_end ? end : f->off_end;
	return 0;
}

int trace_load(int fd, struct trace *t)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	t->size = (size_t)st.st_size;
	if (t->size < sizeof t->head)
		return -EPROTO;
	void *map = mmap(NULL, t->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	t->map = map;
	memcpy(&t->head, map, sizeof t->head);
	uint32_t ps = t->head.page_size;
	if (t->head.record_size != REC || ps < 512 || ps > 1u << 30 || (ps & (ps - 1)))
		return -EPROTO;
	madvise(map, t->size, MADV_SEQUENTIAL);
	uint8_t *tid_seen = calloc(TID_LIMIT / 8, 1);
	const struct pageshim_trace_rec *r;
	size_t pos = sizeof t->head;
	int err = tid_seen ? 0 : -ENOMEM;
	while (!err && (r = next(t->map, t->size, &pos))) {
		if (r->type == PAGESHIM_TRACE_FAULT) {
			err = count(t, tid_seen, r);
		} else if (r->type == PAGESHIM_TRACE_FILE) {
			struct trace_file *f = file_of(t, r->file);
			/* named once; should a number be named again, the first name stays */
			if (!f || (!f->path && !(f->path = strndup((const char *)(r + 1), r->pages))))
				err = -ENOMEM;
		}
	}
	free(tid_seen);
	t->end = pos;
	if (!err && !(t->order = calloc(TRACE_FILE_IDS, sizeof *t->order)))
		err = -ENOMEM;
	for (unsigned id = 0; !err && id < TRACE_FILE_IDS; id++) {
		struct trace_file *f = t->file[id];
		if (f && !f->path && asprintf(&f->path, "(file %u)", id) < 0)
			err = -ENOMEM;
		if (f && f->faults)
			t->order[t->nfiles++] = f;
	}
	if (!err)
		qsort(t->order, t->nfiles, sizeof *t->order, most_faults_first);
	return err;
}

void trace_bin(const struct trace *t, struct trace_bins *bins, struct trace_heat *heat, unsigned nheat)
{
	uint64_t ps = t->head.page_size, d = t->duration_ns ? t->duration_ns : 1, n = d / BIN_MIN_NS;
	/* equal bins that end with the trace, none of them cut short (its rate would be off) */
	bins->n = (unsigned)(n < 1 ? 1 : n > TRACE_BINS ? TRACE_BINS : n);
	bins->width_ns = (d + bins->n - 1) / bins->n;
	bins->width_ns = bins->width_ns > BIN_MIN_NS ? bins->width_ns : BIN_MIN_NS;
	for (unsigned i = 0; i < nheat; i++) {
		const struct trace_file *f = heat[i].file;
		uint64_t span = (f->off_end - f->off_min) / ps;
		uint64_t per_row = (span + HEAT_ROWS - 1) / HEAT_ROWS;
		heat[i].row_bytes = per_row * ps;
		heat[i].rows = (unsigned)((span + per_row - 1) / per_row);
	}
	const struct pageshim_trace_rec *r;
	size_t pos = sizeof t->head;
	while ((r = next(t->map, t->end, &pos))) {
		if (r->type != PAGESHIM_TRACE_FAULT)
			continue;
		uint64_t b = r->time_ns / bins->width_ns;
		b = b < bins->n ? b : bins->n - 1;
		bins->faults[b]++;
		bins->pages[b] += r->pages;
		for (struct trace_heat *h = heat; h < heat + nheat; h++) {
			if (h->file->id != r->file)
				continue;
			uint64_t col = r->time_ns * HEAT_COLS / d;
			uint64_t row = (r->page * ps - h->file->off_min) / h->row_bytes;
			h->cell[row][col < HEAT_COLS ? col : HEAT_COLS - 1]++;
		}
	}
}

void trace_free(struct trace *t)
{
	for (unsigned id = 0; id < TRACE_FILE_IDS; id++) {
		if (t->file[id])
			free(t->file[id]->path);
		free(t->file[id]);
	}
	free(t->order);
	if (t->map)
		munmap((void *)t->map, t->size);
}

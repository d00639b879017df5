/* pageshim.h - the library's public interface: a stats snapshot.
 *
 * libpageshim.so exports the interposed libc names and this one function.
 * A program (or a test) that wants the numbers looks it up at run time, so
 * it runs unchanged without the shim:
 *
 *     int (*rd)(struct pageshim_stats *, size_t) =
 *             dlsym(RTLD_DEFAULT, "pageshim_stats_read");
 *     struct pageshim_stats st;
 *     if (rd && rd(&st, sizeof st) == 0) ...
 *
 * The struct only grows at the end; `size` says how much of it the library
 * filled, `version` changes when a field's meaning changes. */
#ifndef PAGESHIM_H
#define PAGESHIM_H

#include <stddef.h>
#include <stdint.h>

#define PAGESHIM_STATS_VERSION 4

/* Monotonic counters, in the order they are emitted. X(name, help). */
#define PAGESHIM_COUNTERS(X)                                                   \
	X(mappings_managed, "file mappings served by pageshim (ever)")          \
	X(mappings_passthrough, "file mappings left to the kernel (ever)")      \
	X(faults, "page-fault messages served")                                 \
	X(pages_filled, "pages installed from the file")                        \
	X(read_calls, "pread calls on backing files")                           \
	X(bytes_read, "bytes read from backing files")                          \
	X(evicted_pages, "pages dropped by the eviction policy")                \
	X(eviction_calls, "madvise/process_madvise calls made to evict")        \
	X(ghost_hits, "faults on pages evicted recently (re-faults)")           \
	X(checksum_mismatches, "pages whose bytes changed since last read")     \
	X(io_errors, "pread errors after retries")                              \
	X(sigbus_raised, "SIGBUS delivered for managed pages")                  \
	X(coherence_updates, "resident pages refreshed after the program wrote") \
	X(prefetch_pages, "pages read for MADV_WILLNEED")                       \
	X(pages_dirtied, "pages the program wrote to, first time since read or written back") \
	X(pages_written_back, "written pages of shared mappings written to the file") \
	X(writeback_errors, "write-back runs that failed (the pages stay dirty)") \
	X(pages_spilled, "written pages moved to the spill file (PAGESHIM_WRITEBACK=msync)") \
	X(external_modifications, "times a managed file was found changed by another process") \
	X(reads_buffered, "O_DIRECT reads that would have waited, done through the page cache")

struct pageshim_latency {
	uint64_t count, p50_us, p99_us, p999_us, max_us;
};

struct pageshim_stats {
	uint32_t size;              /* bytes of this struct the library filled */
	uint32_t version;           /* PAGESHIM_STATS_VERSION */
	int32_t active;             /* 1 when userfaultfd is serving mappings */
	int32_t pad;
	uint64_t budget_bytes;      /* cache budget */
	uint64_t resident_bytes;    /* managed pages resident now */
	uint64_t peak_resident_bytes;
	uint64_t dirty_bytes;       /* pages written by the program, not yet written back */
	uint64_t mappings_live;     /* managed regions right now */
#define PAGESHIM_FIELD_(name, help) uint64_t name;
	PAGESHIM_COUNTERS(PAGESHIM_FIELD_)
#undef PAGESHIM_FIELD_
	struct pageshim_latency fault_latency;  /* fault message to pages installed */
	struct pageshim_latency io_latency;     /* one pread */
};

/* Fill *out (at most `size` bytes). Returns 0, or -1 with errno EINVAL when
 * size is too small for the header. */
int pageshim_stats_read(struct pageshim_stats *out, size_t size);

/* A running process's stats, published once a second for `pageshim stat`
 * in PAGESHIM_LIVE_DIR "/pageshim-UID-PID" (mode 0600, removed at exit and
 * exec). `seq` is odd while the library writes: a reader copies, and
 * copies again until seq is even and unchanged. */
/* Counters of one managed file (since it was first mapped by the process). */
struct pageshim_file_counts {
	uint64_t faults, pages_filled, bytes_read, evicted_pages, io_errors, checksum_mismatches;
};
#define PAGESHIM_LIVE_FILES 16  /* the files with the most faults */
struct pageshim_live_file {
	char path[168];             /* cut to fit */
	struct pageshim_file_counts counts;
	struct pageshim_latency fault_latency, io_latency;
};

/* A stall site (README, Stats): where the program waited for faults. */
#define PAGESHIM_LIVE_SITES 3
#define PAGESHIM_LIVE_FRAMES 6
struct pageshim_live_site {
	uint64_t count, total_us, max_us, offset_min, offset_max;
	char file[120];             /* cut to fit */
	char stack[PAGESHIM_LIVE_FRAMES][96];   /* innermost first: "function+0xoff (object)" */
};

#define PAGESHIM_LIVE_DIR "/dev/shm"
#define PAGESHIM_LIVE_MAGIC 0x7073686dU        /* "pshm" */
struct pageshim_live {
	uint32_t magic, version;    /* PAGESHIM_LIVE_MAGIC, PAGESHIM_STATS_VERSION */
	int32_t pid;
	uint32_t pad;
	uint64_t seq;
	uint64_t updated_ns;        /* CLOCK_MONOTONIC of the last update */
	struct pageshim_stats stats;
	uint32_t nfiles, pad2;
	struct pageshim_live_file files[PAGESHIM_LIVE_FILES];   /* most faults first */
	uint32_t nsites, pad3;
	struct pageshim_live_site sites[PAGESHIM_LIVE_SITES];   /* most waiting first */
};

/* PAGESHIM_TRACE=FILE: every fault served, for `pageshim report`. The file
 * is a header, then 40-byte records in the host's byte order, in the order
 * the handler threads flushed them (each thread's in time order; sort by
 * time to merge). A file is named by one PAGESHIM_TRACE_FILE record before
 * its first fault: `pages` holds the length of its path, and the path
 * follows in the next records' bytes, zero-padded to a whole record. */
#define PAGESHIM_TRACE_MAGIC "pstrace1"
struct pageshim_trace_header {
	char magic[8];              /* PAGESHIM_TRACE_MAGIC, no terminator */
	uint32_t record_size;       /* sizeof(struct pageshim_trace_rec) */
	uint32_t page_size;
	uint64_t start_realtime_ns; /* CLOCK_REALTIME when the trace began */
	int32_t pid;
	uint32_t pad;
};

enum pageshim_trace_type { PAGESHIM_TRACE_FAULT = 1, PAGESHIM_TRACE_FILE = 2 };

/* Why the fault was taken (a FAULT record's `cause`). */
enum pageshim_trace_cause {
	PAGESHIM_CAUSE_FIRST = 1,       /* first touch: the page was never read, or long ago */
	PAGESHIM_CAUSE_REFAULT,         /* the page was evicted recently (a ghost hit) */
	PAGESHIM_CAUSE_READAHEAD,       /* the page was being read ahead: waited for it */
	PAGESHIM_CAUSE_WRITE,           /* a resident clean page written for the first time */
	PAGESHIM_CAUSE_SPILLED,         /* a written page read back from the spill file */
	PAGESHIM_CAUSE_RESIDENT,        /* already there (another thread's fill won) */
	PAGESHIM_CAUSE_ERROR,           /* SIGBUS raised, or the range was going away */
};

struct pageshim_trace_rec {
	uint64_t time_ns;           /* when the fault was read, since start */
	uint64_t page;              /* file offset / page_size */
	uint32_t tid;               /* faulting thread (0 when unknown) */
	uint32_t pages;             /* pages installed by this fault (FILE: path length) */
	uint32_t service_ns;        /* fault read to pages installed, at most UINT32_MAX (4.3 s) */
	uint32_t io_ns;             /* of that, in pread, at most UINT32_MAX */
	uint16_t file;              /* the file's number, from its FILE record */
	uint8_t type;               /* enum pageshim_trace_type */
	uint8_t cause;              /* enum pageshim_trace_cause (FAULT) */
	uint32_t pad;
};

#endif

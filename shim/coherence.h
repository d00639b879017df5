/* coherence.h - managed mappings follow the process's own writes.
 *
 * SQLite and LMDB write their files with pwrite/writev and read them back
 * through a mapping; the kernel's unified page cache makes that coherent,
 * and so must pageshim. After a write-side call on any descriptor of a
 * managed file (matched by device and inode), the resident pages it covered
 * are read again from the file and re-installed before the call returns;
 * pages not resident simply fault later and read the new bytes. A size
 * change drops the pages past the new end, so touching them raises SIGBUS.
 * Pages a MAP_PRIVATE mapping wrote keep the program's bytes, as under the
 * kernel. Fills that raced with the write read again (file.h, `seq`). A
 * page written through a shared mapping and not yet written back is not
 * refreshed: ps_coherence_flush wrote it back before the call. */
#ifndef PAGESHIM_COHERENCE_H
#define PAGESHIM_COHERENCE_H

#include <stdint.h>
#include <sys/types.h>

#define PS_TO_EOF UINT64_MAX

/* Allocate the refresh buffer (at service start). 0 or -ENOMEM. */
int ps_coherence_init(void);

/* The program changed [off, off+len) of the file open as fd (len may be
 * PS_TO_EOF). new_size is the file's size when it shrank or shifted (truncate,
 * collapse), else PS_TO_EOF. Keeps errno. */
void ps_coherence_fd(int fd, uint64_t off, uint64_t len, uint64_t new_size);
/* The same for a write at the file position, `n` bytes before it now. */
void ps_coherence_at_position(int fd, uint64_t n);
/* truncate(path, size). */
void ps_coherence_path(const char *path, uint64_t new_size);
/* The file open as fd changed, but no byte a mapping shows (fallocate that
 * only allocates): its new times are this process's own (external.h). */
void ps_coherence_meta(int fd);

/* A call of the program is about to change the file open as fd (-1: named
 * by path). One fstat, which the calls above reuse for fd until
 * ps_coherence_written, says whether it may be a managed file; if so the
 * write counts as under way (file_own_begin) until ps_coherence_written,
 * for the file's fills and for the watcher (external.h). A write to a
 * pipe, socket or unmanaged file does not count. */
void ps_coherence_writing(int fd);
void ps_coherence_written(void);

/* The other direction: before the program reads [off, off+len) of the file
 * open as fd (off may be PS_AT_POSITION, len PS_TO_EOF), or writes any of
 * it, pages written through a shared mapping of that range go to the file,
 * so the call sees them as it would in the kernel's page cache, which the
 * mapping shares. Free while no shared page is dirty. Keeps errno. */
#define PS_AT_POSITION (UINT64_MAX - 1)
void ps_coherence_flush(int fd, uint64_t off, uint64_t len);

#endif

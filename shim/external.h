/* external.h - changes made to managed files by other processes.
 *
 * The kernel's page cache is one for every process, so a write by one is
 * seen by the mappings of all. pageshim's cache is the process's own: it
 * cannot see another process's writes page by page. It notices them where a
 * correct program synchronises with other processes:
 *   - taking a lock on any file (fcntl F_SETLK/F_SETLKW/F_OFD_SETLK[W],
 *     flock, lockf): any file, because SQLite in WAL mode locks its -shm
 *     file, not the database it maps;
 *   - msync(MS_INVALIDATE) of a managed range;
 *   - mapping a managed file again.
 * There, a managed file whose modification time, change time or size differs
 * from what pageshim last saw (after its own writes) was changed by someone
 * else: its clean pages leave every mapping and its checksums are forgotten,
 * so the next access reads the file. Pages the program wrote are kept. It is
 * counted (external_modifications) and said once per file. A write stamps
 * the times before its bytes land, so times seen less than a second old are
 * not trusted: the next check drops the clean pages again.
 *
 * The other direction: releasing a lock (LOCK_UN, F_ULOCK, and any fcntl
 * lock change: its struct is read only once the kernel has accepted it)
 * first writes back the written pages of every managed file, so that the
 * process taking the lock next reads them.
 *
 * Between those points, an inotify watch on every managed file (IN_MODIFY,
 * sent once a write is done) wakes a watcher thread, which checks the file
 * the same way at once. This process's own writes change the times too:
 * those to files that may be managed are bracketed (file_own_begin/end in
 * file.h, until their new times are noted), and a change seen while one to
 * the file is under way, or that began meanwhile, is looked at again 10 ms
 * later. A change of ctime alone (the process's
 * fchmod, rename or link, which are not bracketed) drops the pages but is
 * not counted as another's.
 * Writes through another process's mapping send no event: those are seen
 * at the synchronisation points only.
 *
 * Timestamps are fine-grained once someone has asked for them (multigrain
 * timestamps, Linux 6.13, on ext4, xfs, btrfs and tmpfs), and pageshim asks
 * after each of its own writes, so a change in the same clock tick still
 * shows. On older kernels a change by another process within the tick of
 * this process's own last write, leaving the size alone, can go unnoticed. */
#ifndef PAGESHIM_EXTERNAL_H
#define PAGESHIM_EXTERNAL_H

struct ps_file;

/* Remember f's current state as seen: after pageshim or the program wrote
 * it (f->lock held for writing, or f new). */
void ps_external_note(struct ps_file *f);
/* Has f changed since? Then drop its clean pages. ps_regions_lock held,
 * f->lock not. */
void ps_external_check(struct ps_file *f);
/* A lock was taken: check every managed file (program thread, no lock held). */
void ps_external_locked(void);
/* A lock is about to be released: write back every written page. */
void ps_external_unlocking(void);

/* Watch f (new, or mapped again after being parked), stop watching it. */
void ps_external_watch(struct ps_file *f);
void ps_external_unwatch(struct ps_file *f);
/* The watcher thread; in a child, a new inotify instance and watches. An
 * error leaves the synchronisation points alone to notice changes. */
int ps_external_start(void);
int ps_external_fork_child(void);

#endif

/* mapping.c - see mapping.h. */
#include "mapping.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cache.h"
#include "compat.h"
#include "external.h"
#include "fatal.h"
#include "file.h"
#include "fill.h"
#include "init.h"
#include "log.h"
#include "real.h"
#include "region.h"
#include "stats.h"
#include "store.h"
#include "uffd.h"
#include "writeback.h"

#define UNMANAGED_FLAGS (MAP_HUGETLB | MAP_LOCKED | MAP_SYNC | MAP_GROWSDOWN)

static size_t pages_of(size_t len) { return (len + PS_PAGE - 1) >> PS_PAGE_SHIFT; }

/* Filesystems whose pages are memory already: no I/O to save, and tmpfs is
 * where shared memory lives. */
static int fs_has_io(int fd)
{
	static const long memory_fs[] = {
		TMPFS_MAGIC, RAMFS_MAGIC, HUGETLBFS_MAGIC, PROC_SUPER_MAGIC, SYSFS_MAGIC,
		DEBUGFS_MAGIC, TRACEFS_MAGIC, SECURITYFS_MAGIC, CGROUP_SUPER_MAGIC,
		CGROUP2_SUPER_MAGIC, BPF_FS_MAGIC, DEVPTS_SUPER_MAGIC, ANON_INODE_FS_MAGIC,
	};
	struct statfs s;
	if (fstatfs(fd, &s))
		return 0;
	for (size_t i = 0; i < sizeof memory_fs / sizeof *memory_fs; i++)
		if (s.f_type == memory_fs[i])
			return 0;
	return 1;
}

/* Does [start, start+len) meet a managed region? (regions lock held) */
static int overlaps_locked(uintptr_t start, size_t len)
{
	struct ps_region *r = region_at(region_first_after(start));
	return r && r->start < start + len;
}

/* The same, from a program thread holding no lock: free when nothing is
 * managed, otherwise a short read-locked look (the registry may be moving
 * under a concurrent mmap). */
static int overlaps_managed(uintptr_t start, size_t len)
{
	if (!region_count())
		return 0;
	sigset_t saved;
	regions_enter(0, &saved);
	int yes = overlaps_locked(start, len);
	regions_leave(&saved);
	return yes;
}

/* ---- forgetting ranges (munmap, MAP_FIXED, mremap): ps_regions_lock held for writing ---- */

/* Before a range leaves the address space: its written shared pages go to
 * the file, as the kernel's page cache would keep them. The call that drops
 * them cannot report a failure (munmap has no EIO), so it is said here. */
static void writeback_or_warn(uintptr_t start, uintptr_t end)
{
	if (ps_writeback_range(start, end))
		ps_warn("written pages in %p-%p that could not be written back are lost",
			(void *)start, (void *)end);
}

static void forget_pages(struct ps_region *r, size_t first, size_t end)
{
	ps_cache_lock();
	for (size_t p = first; p < end; p++)
		ps_cache_forget(r, p);
	ps_cache_unlock();
}

static void unlink_from_file(struct ps_region *r)
{
	struct ps_region **pp = &r->file->regions;
	while (*pp && *pp != r)
		pp = &(*pp)->file_next;
	if (*pp)
		*pp = r->file_next;
}

static void destroy(struct ps_region *r)
{
	forget_pages(r, 0, r->npages);
	region_remove(r);
	unlink_from_file(r);
	file_put(r->file);
	region_free(r);
}

static void link_to_file(struct ps_region *r, struct ps_file *f)
{
	r->file = f;
	r->file_next = f->regions;
	f->regions = r;
}

/* Move page words [from, from+n) of src to dst at page `to`, pointing the
 * clean pages' policy nodes at their new place. */
static void move_words(struct ps_region *dst, size_t to, struct ps_region *src, size_t from, size_t n)
{
	ps_cache_lock();
	memmove(dst->pages + to, src->pages + from, n * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		uint32_t w = dst->pages[to + i];
		if (PG_STATE(w) == PG_CLEAN)
			ps_cache_retarget(PG_NODE(w), dst, to + i);
	}
	ps_cache_unlock();
}

/* A region that keeps region r's pages [from, r->npages) as its own. */
static struct ps_region *split_tail(struct ps_region *r, size_t from)
{
	struct ps_region *t = region_new(region_addr(r, from), r->npages - from, r->pgoff + from);
	if (!t)
		return NULL;
	t->private_ = r->private_;
	t->wp = r->wp;
	t->forked = r->forked;
	t->prot = r->prot;
	t->advice = r->advice;
	move_words(t, 0, r, from, t->npages);
	size_t had = r->npages;
	r->npages = from;               /* before the insert: the registry stays sorted */
	if (region_insert(t)) {
		r->npages = had;
		move_words(r, from, t, 0, t->npages);
		region_free(t);
		return NULL;
	}
	r->file->refs++;
	link_to_file(t, r->file);
	return t;
}

/* Split the regions that straddle start or end, so that [start, end) is
 * made of whole regions (a split that cannot allocate leaves one whole). */
static void split_at(uintptr_t start, uintptr_t end)
{
	struct ps_region *r = region_find(start);
	if (r && r->start < start)
		split_tail(r, (start - r->start) >> PS_PAGE_SHIFT);
	r = region_find(end - 1);
	if (r && region_end(r) > end)
		split_tail(r, (end - r->start) >> PS_PAGE_SHIFT);
}

/* Forget [start, end) of every region: its pages leave the cache; regions
 * shrink, split or go. -ENOMEM only when a split cannot allocate (the range
 * is then forgotten whole, which loses no data: its pages are unmapped). */
static void forget_range(uintptr_t start, uintptr_t end)
{
	size_t i = region_first_after(start);
	struct ps_region *r;
	while ((r = region_at(i)) && r->start < end) {
		size_t a = start > r->start ? (start - r->start) >> PS_PAGE_SHIFT : 0;
		size_t b = end < region_end(r) ? (end - r->start) >> PS_PAGE_SHIFT : r->npages;
		if (a == 0 && b == r->npages) {
			destroy(r);
			continue;
		}
		forget_pages(r, a, b);
		if (b < r->npages && a > 0 && !split_tail(r, b))
			ps_warn("out of memory splitting a mapping; its tail at %p is no longer served",
				(void *)region_addr(r, b));
		if (a > 0) {
			r->npages = a;          /* keep the head */
		} else {                        /* keep the tail, in place */
			move_words(r, 0, r, b, r->npages - b);
			r->start = region_addr(r, b);
			r->pgoff += b;
			r->npages -= b;
		}
		i++;
	}
}

/* ---- mmap ---- */

static int manageable(size_t len, int prot, int flags, int fd, off_t off, struct stat *st)
{
	int type = flags & MAP_TYPE;
	int shared = type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
	if (!len || (off & (PS_PAGE - 1)) || (flags & UNMANAGED_FLAGS) || (prot & PROT_EXEC) ||
	    !(prot & PROT_READ) || len < ps_opt.min_size)
		return 0;
	if (type != MAP_PRIVATE && !shared)
		return 0;
	return fstat(fd, st) == 0 && S_ISREG(st->st_mode) && fs_has_io(fd);
}

/* Inodes whose shared mappings the kernel keeps (see shared_conflict):
 * every later mapping of them passes through too, or it would not see what
 * is written through the kernel's. */
#define KERNEL_FILES_MAX 256
static struct ps_file_key kernel_files[KERNEL_FILES_MAX];
static unsigned nkernel_files;

static int kernel_keeps(const struct stat *st)
{
	for (unsigned i = 0; i < nkernel_files; i++)
		if (kernel_files[i].dev == st->st_dev && kernel_files[i].ino == st->st_ino)
			return 1;
	return 0;
}

static int has_dirty(const struct ps_region *r)
{
	for (size_t p = 0; p < r->npages; p++)
		if (PG_STATE(page_load(r, p)) == PG_DIRTY)
			return 1;
	return 0;
}

static void kernel_takes(struct ps_file_key key)
{
	for (unsigned i = 0; i < nkernel_files; i++)
		if (kernel_files[i].dev == key.dev && kernel_files[i].ino == key.ino)
			return;
	if (nkernel_files < KERNEL_FILES_MAX)
		kernel_files[nkernel_files++] = key;
	else
		ps_warn_once("more files than pageshim can remember went back to the kernel's mmap; "
			     "new mappings of further ones may not see what is written through the kernel's");
}

/* Map region r's file back with the kernel, as the program mapped it, after
 * writing its dirty pages back; r is gone. Private pages written are lost
 * (said so): the kernel's mapping cannot take them. */
static void give_back(struct ps_region *r)
{
	int flags = MAP_FIXED | (r->private_ ? MAP_PRIVATE : MAP_SHARED);
	int fd = !r->private_ && r->wp ? r->file->wfd : r->file->fd;
	if (!r->private_)
		kernel_takes(r->file->key);     /* its later mappings must share the kernel's pages */
	if (r->private_ && has_dirty(r))
		ps_warn("pages this process wrote privately at %p are lost", (void *)r->start);
	else if (ps_writeback_region(r, 0, r->npages))
		ps_warn("%s: pages written at %p that could not be written back are lost",
			r->file->path, (void *)r->start);
	real.mmap((void *)r->start, r->npages * PS_PAGE, r->prot, flags, fd,
		  (off_t)(r->pgoff << PS_PAGE_SHIFT));
	destroy(r);
}

/* Two mappings of one file are two copies of its pages here, where the
 * kernel has one: coherent only while neither is written. A shared mapping
 * of file pages [pgoff, pgoff+npages), new or grown (region `self`, or
 * NULL), that overlaps another shared one of the same file, either of them
 * open for writing, sends all the file's shared mappings back to the
 * kernel, which shares the pages. Returns 1 if it did. */
static int shared_conflict(struct ps_file *f, uint64_t pgoff, size_t npages, int wp,
			   const struct ps_region *self)
{
	struct ps_region *g, *next;
	int clash = 0;
	for (g = f->regions; g; g = g->file_next)
		clash |= g != self && !g->private_ && (g->wp || wp) && g->pgoff < pgoff + npages &&
			 pgoff < g->pgoff + g->npages;
	if (!clash)
		return 0;
	ps_debug("%s is mapped shared twice and written: the kernel keeps its shared mappings", f->path);
	for (g = f->regions; g; g = next) {
		next = g->file_next;
		if (!g->private_)
			give_back(g);
	}
	return 1;
}

/* Replace the kernel's mapping at p with a managed region. 0 or -errno
 * (the kernel's mapping is then still there, untouched). */
static int manage(void *p, size_t len, int prot, int flags, int fd, off_t off, const struct stat *st)
{
	int private_ = (flags & MAP_TYPE) == MAP_PRIVATE;
	/* The kernel lets a shared mapping of a file open for writing become
	 * writable later (mprotect), so its pages are write-protected from the
	 * start, as private pages are. */
	int wp = private_ || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
	size_t npages = pages_of(len);
	uint64_t pgoff = (uint64_t)off >> PS_PAGE_SHIFT;
	if (wp && !ps_uffd_has(UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return -ENOTSUP;        /* written pages could not be kept from eviction */
	if (kernel_keeps(st))
		return -EBUSY;
	struct ps_file *f;
	int err = file_get(fd, st, pgoff + npages, &f);
	if (err)
		return err;
	if (f->refs > 1)
		ps_external_check(f);   /* mapped again: a point where programs synchronise */
	if (!ps_options_path_selected(&ps_opt, f->path))
		err = -EPERM;
	else if (!private_ && wp)
		err = file_open_write(f, fd);
	if (!err && !private_ && shared_conflict(f, pgoff, npages, wp, NULL))
		err = -EBUSY;
	if (err) {
		file_put(f);
		return err;
	}
	struct ps_region *r = region_new((uintptr_t)p, npages, pgoff);
	if (!r || region_insert(r)) {
		if (r)
			region_free(r);
		file_put(f);
		return -ENOMEM;
	}
	r->wp = wp;
	/* only private writable file maps are charged */
	err = ps_store_map(r, prot, (flags & MAP_NORESERVE) || !(private_ && (prot & PROT_WRITE)));
	if (err) {
		/* give the range back to the kernel as the program asked for it */
		real.mmap(p, len, prot, (flags & ~(MAP_FIXED_NOREPLACE | MAP_POPULATE)) | MAP_FIXED, fd, off);
		region_remove(r);
		region_free(r);
		file_put(f);
		return err;
	}
	r->private_ = private_;
	r->prot = prot;
	r->advice = MADV_NORMAL;
	link_to_file(r, f);
	if (!private_ && wp && ps_opt.writeback == PS_WB_KERNEL)
		ps_fatal_arm();         /* its written pages must outlive a fatal signal */
	return 0;
}

void *ps_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct stat st;
	sigset_t saved;
	int file = !(flags & MAP_ANONYMOUS) && fd >= 0;
	int replaces = (flags & MAP_FIXED) && overlaps_managed((uintptr_t)addr, len);
	int want = file && manageable(len, prot, flags, fd, off, &st) && ps_service_ready();
	void *p;
	int err = -ENOTSUP;
	if (!replaces && !want) {
		p = real.mmap(addr, len, prot, flags, fd, off);
	} else {
		/* One critical section: what the kernel replaces is forgotten only
		 * once it has (a failed MAP_FIXED leaves the old mapping in place). */
		regions_enter(1, &saved);
		if (replaces)
			writeback_or_warn((uintptr_t)addr, (uintptr_t)addr + pages_of(len) * PS_PAGE);
		p = real.mmap(addr, len, prot, want ? flags & ~MAP_POPULATE : flags, fd, off);
		if (p != MAP_FAILED && replaces)
			forget_range((uintptr_t)p, (uintptr_t)p + pages_of(len) * PS_PAGE);
		if (p != MAP_FAILED && want)
			err = manage(p, len, prot, flags, fd, off, &st);
		regions_leave(&saved);
	}
	if (p == MAP_FAILED || !file)
		return p;
	if (err) {
		if (want && err != -EPERM)
			ps_debug("mapping of fd %d passes through: %s", fd, strerror(-err));
		PS_COUNT(mappings_passthrough, 1);
		if (want && (flags & MAP_POPULATE))
			real.madvise(p, len, MADV_WILLNEED);
		return p;
	}
	PS_COUNT(mappings_managed, 1);
	if (flags & MAP_POPULATE)
		ps_prefetch((uintptr_t)p, len);
	return p;
}

/* ---- munmap, mremap ---- */

int ps_munmap(void *addr, size_t len)
{
	if (((uintptr_t)addr & (PS_PAGE - 1)) || !len || !overlaps_managed((uintptr_t)addr, len))
		return real.munmap(addr, len);
	sigset_t saved;
	regions_enter(1, &saved);
	writeback_or_warn((uintptr_t)addr, (uintptr_t)addr + pages_of(len) * PS_PAGE);
	/* Split first: a split allocates, and an allocation made after the
	 * munmap could land in the very hole the program just made. */
	split_at((uintptr_t)addr, (uintptr_t)addr + pages_of(len) * PS_PAGE);
	int ret = real.munmap(addr, len);
	if (ret == 0)   /* a refused munmap (ENOMEM at the map count) keeps the range */
		forget_range((uintptr_t)addr, (uintptr_t)addr + pages_of(len) * PS_PAGE);
	regions_leave(&saved);
	return ret;
}

/* Do regions cover [start, end) one after another, as one mapping of the
 * kernel's would: one file, its pages in order, one protection and type?
 * (The kernel merges neighbouring mappings that agree, as after an
 * mprotect that was undone; pageshim keeps the regions it split. Its
 * madvise advice is part of the mapping's flags, so it must agree too.)
 * The range must begin and end on region edges (split_at). */
static int one_kernel_mapping(uintptr_t start, uintptr_t end)
{
	const struct ps_region *first = region_find(start), *r = first;
	for (uintptr_t at = start; r && r->start == at; r = region_find(at)) {
		if (r->file != first->file || r->prot != first->prot || r->private_ != first->private_ ||
		    r->wp != first->wp || r->forked != first->forked || r->advice != first->advice ||
		    r->pgoff != first->pgoff + ((at - first->start) >> PS_PAGE_SHIFT))
			return 0;
		at = region_end(r);
		if (at >= end)
			return at == end;
	}
	return 0;
}

/* Make the regions of [start, end) (one_kernel_mapping) one region, the
 * inverse of split_tail: the first takes the pages of the others. 0, or
 * -ENOMEM with the regions merged so far merged (which changes nothing). */
static int merge_range(uintptr_t start, uintptr_t end)
{
	struct ps_region *r = region_find(start);
	while (region_end(r) < end) {
		struct ps_region *n = region_find(region_end(r));
		size_t had = r->npages;
		region_remove(n);       /* first: the registry stays sorted */
		if (region_resize(r, had + n->npages)) {
			region_insert(n);       /* back where it was: there is room */
			return -ENOMEM;
		}
		move_words(r, had, n, 0, n->npages);
		unlink_from_file(n);
		file_put(n->file);
		region_free(n);
	}
	return 0;
}

/* After the kernel moved or grew region r to q: follow it. A move drops
 * the registration and the write-protection of the pages it carried. */
static int follow(struct ps_region *r, uintptr_t q, size_t npages, int moved)
{
	int err = region_resize(r, npages);
	if (!err)
		err = file_cover(r->file, r->pgoff + npages);
	if (err)
		return err;
	if (moved) {
		r->start = q;
		region_moved(r);
	}
	return ps_store_rearm(r, moved);
}

void *ps_mremap(void *old, size_t old_size, size_t new_size, int flags, void *new_addr)
{
	uintptr_t o = (uintptr_t)old;
	if ((o & (PS_PAGE - 1)) || !overlaps_managed(o, old_size ? old_size : 1))
		return real.mremap(old, old_size, new_size, flags, new_addr);
	sigset_t saved;
	regions_enter(1, &saved);
	void *q = MAP_FAILED;
	/* What the kernel may drop (a shrunk tail, the range a MREMAP_FIXED
	 * lands on) and what MREMAP_DONTUNMAP leaves empty reads the file. */
	if (ps_writeback_keep(o, o + pages_of(old_size) * PS_PAGE))
		ps_warn("written pages in %p-%p that could not be kept are lost", old,
			(void *)(o + pages_of(old_size) * PS_PAGE));
	if (flags & MREMAP_FIXED)
		writeback_or_warn((uintptr_t)new_addr, (uintptr_t)new_addr + pages_of(new_size) * PS_PAGE);
	struct ps_region *r = region_find(o);
	size_t oldp = pages_of(old_size), newp = pages_of(new_size);
	if (r && oldp && o + oldp * PS_PAGE <= region_end(r) && (r->start != o || oldp != r->npages)) {
		/* Part of a mapping: the kernel splits it, and the part is a
		 * region of its own from now on (a failed call leaves two
		 * regions where there was one, which changes nothing). */
		split_at(o, o + oldp * PS_PAGE);
		r = region_find(o);
	}
	if (!r || r->start != o || oldp != r->npages) {
		/* Several regions (or a split that could not allocate):
		 * shrinking is an unmap of the tail and the same size changes
		 * nothing (the kernel checks the flags either way). Moving or
		 * growing them works where the kernel holds them as one mapping
		 * (an mprotect undone): they become one region first. */
		int merged = 0;
		if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) {
			errno = EINVAL;
		} else if (newp <= oldp && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && r) {
			q = real.mremap(old, old_size, new_size, flags, new_addr);
			if (q != MAP_FAILED) {
				/* spilled pages of the tail are still to be written */
				writeback_or_warn(o + newp * PS_PAGE, o + oldp * PS_PAGE);
				forget_range(o + newp * PS_PAGE, o + oldp * PS_PAGE);
			}
		} else {
			/* a range from the middle of one region into the next */
			split_at(o, o + oldp * PS_PAGE);
			if (!one_kernel_mapping(o, o + oldp * PS_PAGE))
				errno = EFAULT;         /* the kernel's answer across mappings */
			else if (merge_range(o, o + oldp * PS_PAGE))
				errno = ENOMEM;
			else
				merged = 1;
		}
		if (!merged)
			goto out;
		r = region_find(o);
	}
	/* Forget only what the kernel did replace or drop: a failed call
	 * leaves everything as it was. */
	q = real.mremap(old, old_size, new_size, flags, new_addr);
	if (q == MAP_FAILED)
		goto out;
	if ((flags & MREMAP_FIXED) && (uintptr_t)q != o)
		forget_range((uintptr_t)q, (uintptr_t)q + newp * PS_PAGE);
	if (newp < oldp) {
		if (ps_writeback_region(r, newp, oldp))     /* spilled pages of the tail */
			ps_warn("%s: written pages of a shrunk mapping could not be written back", r->file->path);
		forget_pages(r, newp, oldp);
		r->npages = newp;
	}
	int err = follow(r, (uintptr_t)q, newp, q != old);
	if (!err && (flags & MREMAP_DONTUNMAP)) {
		/* The old range stays mapped, empty: it reads the file again. */
		struct ps_region *again = region_new(o, oldp, r->pgoff);
		if (!again || region_insert(again)) {
			if (again)
				region_free(again);
			err = -ENOMEM;
		} else {
			again->private_ = r->private_;
			again->wp = r->wp;
			again->forked = r->forked;
			again->prot = r->prot;
			again->advice = r->advice;
			r->file->refs++;
			link_to_file(again, r->file);
		}
	}
	/* Grown over file pages another shared mapping holds, or left behind
	 * by MREMAP_DONTUNMAP: two copies, so the kernel takes them all. */
	if (!err && !r->private_)
		shared_conflict(r->file, r->pgoff, r->npages, r->wp, r);
	if (err)
		ps_warn("mremap: cannot keep serving %p (%s); its missing pages would read zeros",
			q, strerror(-err));
out:
	regions_leave(&saved);
	return q;
}

/* ---- mprotect, msync, madvise ---- */

/* Can every region in [start, start+len) be written, if mapped MAP_SHARED?
 * (regions lock held) */
static int range_shared_writable(uintptr_t start, size_t len)
{
	struct ps_region *r;
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < start + len; i++)
		if (!r->private_ && !r->wp)
			return 0;
	return 1;
}

int ps_mprotect(void *addr, size_t len, int prot)
{
	uintptr_t a = (uintptr_t)addr, end = a + pages_of(len) * PS_PAGE;
	if ((a & (PS_PAGE - 1)) || !len || !overlaps_managed(a, len))
		return real.mprotect(addr, len, prot);
	sigset_t saved;
	struct ps_region *r;
	int ret = -1;
	regions_enter(1, &saved);
	if ((prot & PROT_WRITE) && !range_shared_writable(a, len)) {
		errno = EACCES;         /* a shared mapping of a file opened read-only */
		goto out;
	}
	/* Write-back reads the pages: do it while they can be read. */
	if (!(prot & PROT_READ) && ps_writeback_keep(a, end))
		ps_warn("written pages in %p-%p could not be written back before mprotect",
			addr, (void *)end);
	split_at(a, end);       /* each region keeps one protection, for give_back */
	for (size_t i = region_first_after(a); (prot & PROT_WRITE) && (r = region_at(i)) && r->start < end;)
		if (r->forked && !r->private_)
			give_back(r);   /* written after a fork: shared as the kernel shares it */
		else
			i++;
	ret = real.mprotect(addr, len, prot);
	if (ret == 0)
		for (size_t i = region_first_after(a); (r = region_at(i)) && r->start < end; i++)
			if (r->start >= a && region_end(r) <= end)
				r->prot = prot;
out:
	regions_leave(&saved);
	return ret;
}

/* Any region in [start, end) that is shared and can be written? */
static int range_has_shared_wp(uintptr_t start, uintptr_t end)
{
	struct ps_region *r;
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < end; i++)
		if (!r->private_ && r->wp)
			return 1;
	return 0;
}

/* Forget the pages of [a, b) of r that are no longer mapped: the page
 * states follow what the kernel actually dropped (it refuses locked pages). */
static void resync(struct ps_region *r, size_t a, size_t b)
{
	unsigned char vec[1024];
	for (size_t p = a; p < b; p += sizeof vec) {
		size_t n = b - p < sizeof vec ? b - p : sizeof vec;
		if (ps_store_held(region_addr(r, p), n, vec))
			continue;
		for (size_t i = 0; i < n; i++) {
			unsigned st = PG_STATE(page_load(r, p + i));
			if (!vec[i] && (st == PG_CLEAN || st == PG_DIRTY || st == PG_POISON))
				ps_cache_forget(r, p + i);
		}
	}
}

/* Zap the clean (and poisoned) pages of [a, b) of r. */
static void zap_clean(struct ps_region *r, size_t a, size_t b)
{
	struct iovec iov[64];
	size_t n = 0;
	for (size_t p = a; p < b; p++) {
		unsigned st = PG_STATE(page_load(r, p));
		if (st != PG_CLEAN && st != PG_POISON)
			continue;
		uintptr_t at = region_addr(r, p);
		if (n && (uintptr_t)iov[n - 1].iov_base + iov[n - 1].iov_len == at) {
			iov[n - 1].iov_len += PS_PAGE;
			continue;
		}
		if (n == 64) {
			ps_store_drop(iov, n, NULL);
			n = 0;
		}
		iov[n++] = (struct iovec){ (void *)at, PS_PAGE };
	}
	if (n)
		ps_store_drop(iov, n, NULL);
}

void ps_mapping_drop_clean(struct ps_region *r)
{
	ps_cache_lock();
	zap_clean(r, 0, r->npages);
	resync(r, 0, r->npages);
	ps_cache_unlock();
}

/* Drop resident pages of [start, start+len) so that the next access reads
 * the file. With `advice` (MADV_DONTNEED or MADV_DONTNEED_LOCKED) the
 * kernel's own call drops everything mapped, private changes too, and its
 * result is returned; with 0 (msync MS_INVALIDATE) only clean pages go.
 * Either way the page states are then matched to what is really mapped. */
static int drop_range(uintptr_t start, size_t len, int advice)
{
	uintptr_t end = start + pages_of(len) * PS_PAGE;
	struct ps_region *r;
	sigset_t saved;
	int ret = 0;
	regions_enter(0, &saved);
	/* A shared mapping loses nothing: the next access reads what was written. */
	if (advice && ps_writeback_keep(start, end))
		ps_warn("written pages in %p-%p that could not be kept are lost", (void *)start, (void *)end);
	ps_cache_lock();
	/* The kernel's MADV_DONTNEED over a shared mapping that can be written
	 * would drop a page written since the write-back above: there only
	 * clean pages go, which is all it means for a shared file mapping,
	 * and the kernel's call is made region by region for the others. */
	int by_region = advice && range_has_shared_wp(start, end);
	if (advice && !by_region)
		ret = real.madvise((void *)start, len, advice) ? -errno : 0;
	uintptr_t covered = 0;
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < end; i++) {
		size_t a = start > r->start ? (start - r->start) >> PS_PAGE_SHIFT : 0;
		size_t b = end < region_end(r) ? (end - r->start) >> PS_PAGE_SHIFT : r->npages;
		covered += (b - a) * PS_PAGE;
		if (!advice || (!r->private_ && r->wp))
			zap_clean(r, a, b);
		else if (by_region && real.madvise((void *)region_addr(r, a), (b - a) * PS_PAGE, advice) && !ret)
			ret = -errno;
		resync(r, a, b);
	}
	if (by_region && covered < end - start && !ret)
		ret = -ENOMEM;          /* a hole, as the kernel says after doing the rest */
	ps_cache_unlock();
	regions_leave(&saved);
	return ret;
}

/* msync(MS_INVALIDATE): a file changed by another process is dropped
 * whole (external.h); either way the range's clean pages go, and fills in
 * flight (which may have read before the change) read again. */
static void invalidate(uintptr_t start, uintptr_t end)
{
	struct ps_region *r;
	sigset_t saved;
	regions_enter(0, &saved);
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < end; i++) {
		ps_external_check(r->file);
		pthread_rwlock_wrlock(&r->file->lock);
		__atomic_fetch_add(&r->file->seq, 1, __ATOMIC_ACQ_REL);
		pthread_rwlock_unlock(&r->file->lock);
	}
	regions_leave(&saved);
	drop_range(start, end - start, 0);
}

int ps_msync(void *addr, size_t len, int flags)
{
	uintptr_t a = (uintptr_t)addr;
	/* The kernel checks the flags, the alignment and the range (ENOMEM for
	 * a hole, after it synced what is mapped). */
	int ret = real.msync(addr, len, flags);
	if ((ret && errno != ENOMEM) || !overlaps_managed(a, len))
		return ret;
	int saved_errno = errno, err = 0;
	uintptr_t end = a + pages_of(len) * PS_PAGE;
	if (flags & (MS_SYNC | MS_ASYNC)) {
		sigset_t saved;
		struct ps_region *r;
		regions_enter(0, &saved);
		err = ps_writeback_range(a, end);
		if (flags & MS_SYNC)
			for (size_t i = region_first_after(a); (r = region_at(i)) && r->start < end; i++)
				if (!r->private_ && r->wp && fdatasync(r->file->wfd) && !err)
					err = -errno;
		regions_leave(&saved);
	}
	if (flags & MS_INVALIDATE)
		invalidate(a, end);
	if (err && (flags & MS_SYNC)) {
		errno = EIO;    /* as the kernel reports a failed write-back */
		return -1;
	}
	errno = saved_errno;    /* MS_ASYNC only starts it (said on stderr) */
	return ret;
}

/* MADV_REMOVE: the file's blocks under [start, start+len) are freed (a
 * hole, reading zeros) and the pages dropped, written ones too. As in the
 * kernel, every mapping in the range must be shared, of a file open for
 * writing (it need not be PROT_WRITE now). */
static int remove_range(uintptr_t start, size_t len)
{
	uintptr_t end = start + pages_of(len) * PS_PAGE;
	struct ps_region *r;
	sigset_t saved;
	int ret = 0;
	regions_enter(0, &saved);
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < end; i++)
		if (r->private_ || !r->wp)
			ret = -EACCES;
	for (size_t i = region_first_after(start); !ret && (r = region_at(i)) && r->start < end; i++) {
		struct ps_file *f = r->file;
		size_t a = start > r->start ? (start - r->start) >> PS_PAGE_SHIFT : 0;
		size_t b = end < region_end(r) ? (end - r->start) >> PS_PAGE_SHIFT : r->npages;
		uintptr_t at = region_addr(r, a);
		/* Written pages reach the file (or the spill file) first, so that
		 * a refusal below loses nothing. */
		ps_writeback_keep(at, region_addr(r, b));
		pthread_rwlock_wrlock(&f->lock);
		__atomic_fetch_add(&f->seq, 1, __ATOMIC_ACQ_REL);
		ps_cache_lock();
		/* The kernel refuses a locked range with EINVAL, before the hole. */
		if (real.madvise((void *)at, (b - a) * PS_PAGE, MADV_DONTNEED))
			ret = -errno;
		else if (real.fallocate(f->wfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)((r->pgoff + a) << PS_PAGE_SHIFT), (off_t)((b - a) << PS_PAGE_SHIFT)))
			ret = -errno;
		if (!ret) {
			file_forget_sums(f, r->pgoff + a, r->pgoff + b);
			ps_external_note(f);
			for (size_t p = a; p < b; p++)
				if (PG_STATE(page_load(r, p)) == PG_SPILLED)
					ps_cache_forget(r, p);  /* the hole replaces its bytes */
		}
		resync(r, a, b);
		ps_cache_unlock();
		pthread_rwlock_unlock(&f->lock);
	}
	regions_leave(&saved);
	return ret;
}

/* Pages of managed mappings the program locked (atomic). Counted per call,
 * as the ranges were asked for: locking a range twice counts it twice, an
 * munlock of pages never locked gives nothing back. */
static uint64_t locked_pages;

/* Pages of [start, end) that are managed (regions lock held). */
static uint64_t managed_pages_in(uintptr_t start, uintptr_t end)
{
	struct ps_region *r;
	uint64_t n = 0;
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < end; i++) {
		size_t a, b;
		a = start > r->start ? (start - r->start) >> PS_PAGE_SHIFT : 0;
		b = end < region_end(r) ? (end - r->start + PS_PAGE - 1) >> PS_PAGE_SHIFT : r->npages;
		n += b - a;
	}
	return n;
}

/* Counts the managed pages of [start, end) as locked if they fit the budget
 * (locked pages cannot be evicted), or fails with ENOMEM. The count is taken
 * under the regions lock but returned before the real mlock runs: mlock
 * populates the range, and those faults need handlers that take the lock. */
static int reserve_locked(uintptr_t start, uintptr_t end, uint64_t *n)
{
	sigset_t saved;
	struct ps_cache_gauges g;
	ps_cache_gauges(&g);
	regions_enter(0, &saved);
	*n = managed_pages_in(start, end);
	regions_leave(&saved);
	if (__atomic_add_fetch(&locked_pages, *n, __ATOMIC_RELAXED) <= g.budget_pages)
		return 0;
	__atomic_sub_fetch(&locked_pages, *n, __ATOMIC_RELAXED);
	errno = ENOMEM;
	return -1;
}

static int locked_or_undo(int ret, uint64_t n)
{
	if (ret)
		__atomic_sub_fetch(&locked_pages, n, __ATOMIC_RELAXED);
	return ret;
}

int ps_mlock(const void *addr, size_t len, unsigned flags)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(PS_PAGE - 1), end = (uintptr_t)addr + len;
	uint64_t n;
	if (!overlaps_managed(a, end - a))
		return real.mlock2(addr, len, flags);
	if (reserve_locked(a, end, &n))
		return -1;
	return locked_or_undo(real.mlock2(addr, len, flags), n);
}

int ps_munlock(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(PS_PAGE - 1), end = (uintptr_t)addr + len;
	if (!overlaps_managed(a, end - a))
		return real.munlock(addr, len);
	sigset_t saved;
	regions_enter(0, &saved);
	uint64_t n = managed_pages_in(a, end), cur = __atomic_load_n(&locked_pages, __ATOMIC_RELAXED);
	int ret = real.munlock(addr, len);
	while (ret == 0 && !__atomic_compare_exchange_n(&locked_pages, &cur, cur > n ? cur - n : 0, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	regions_leave(&saved);
	return ret;
}

int ps_mlockall(int flags)
{
	uint64_t n;
	if (!(flags & MCL_CURRENT))
		return real.mlockall(flags);
	if (reserve_locked(0, UINTPTR_MAX, &n))
		return -1;
	return locked_or_undo(real.mlockall(flags), n);
}

int ps_munlockall(void)
{
	int ret = real.munlockall();
	if (ret == 0)
		__atomic_store_n(&locked_pages, 0, __ATOMIC_RELAXED);
	return ret;
}

/* Merge each region of [lo, hi) with the next while one kernel mapping
 * would hold both (one_kernel_mapping), as the kernel merges mappings that
 * agree again. */
static void merge_agreeing(uintptr_t lo, uintptr_t hi)
{
	struct ps_region *r, *n;
	size_t i = region_first_after(lo);
	while ((r = region_at(i)) && r->start < hi) {
		n = region_at(i + 1);
		if (n && n->start == region_end(r) && n->start < hi &&
		    one_kernel_mapping(r->start, region_end(n)) && !merge_range(r->start, region_end(n)))
			continue;       /* r took n's pages: try r's new neighbour */
		i++;
	}
}

/* The advice of [start, start+len): like the kernel, which keeps it in the
 * mapping's flags, split the regions where it begins and ends, then merge
 * the range with neighbours whose advice is the same again (otherwise
 * advice given range by range would leave a region per range). */
static void set_advice(uintptr_t start, size_t len, int advice)
{
	uintptr_t end = start + pages_of(len) * PS_PAGE;
	struct ps_region *r;
	sigset_t saved;
	regions_enter(1, &saved);
	split_at(start, end);
	for (size_t i = region_first_after(start); (r = region_at(i)) && r->start < end; i++)
		r->advice = advice;
	struct ps_region *before = start ? region_find(start - 1) : NULL, *after = region_find(end);
	merge_agreeing(before ? before->start : start, after ? region_end(after) : end);
	regions_leave(&saved);
}

int ps_madvise(void *addr, size_t len, int advice)
{
	uintptr_t a = (uintptr_t)addr;
	if (!overlaps_managed(a, len))
		return real.madvise(addr, len, advice) ? -errno : 0;
	switch (advice) {
	case MADV_FREE:                 /* file mappings: the kernel says EINVAL */
	case MADV_WIPEONFORK:
		return -EINVAL;
	case MADV_REMOVE:
		return remove_range(a, len);
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		return drop_range(a, len, advice);
	}
	if (real.madvise(addr, len, advice))
		return -errno;
	if (advice == MADV_WILLNEED)
		ps_prefetch(a, len);
	else if (advice == MADV_NORMAL || advice == MADV_RANDOM || advice == MADV_SEQUENTIAL)
		set_advice(a, len, advice);
	return 0;
}

void ps_mapping_give_back_all(void)
{
	struct ps_region *r;
	while ((r = region_at(0)))
		give_back(r);
}

void ps_mapping_before_fork(void)
{
	struct ps_region *r;
	for (size_t i = 0; (r = region_at(i));) {
		if (r->private_ || !r->wp) {
			i++;
		} else if ((r->prot & PROT_WRITE) || has_dirty(r)) {
			give_back(r);   /* the registry shifts down: same index */
		} else {
			r->forked = 1;  /* read-only for now: goes back if made writable */
			i++;
		}
	}
}

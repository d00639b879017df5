/* policy.h - which resident page to evict: S3-FIFO adapted to page faults.
 *
 * S3-FIFO (Yang et al., SOSP 2023) keeps a small FIFO for new entries, a
 * main FIFO for entries that proved useful, and a ghost FIFO of keys
 * evicted recently. Its "useful" signal is a hit while resident, which a
 * userfaultfd handler never sees: once a page is installed, accesses to it
 * do not fault. What the handler does see is a re-fault of a page it evicted
 * not long ago, so here the ghost is the only promotion path:
 *   - a fault on a key in the ghost inserts into main, otherwise into small;
 *   - the victim comes from small while small holds more than its share
 *     (10%), otherwise from main; every victim's key goes to the ghost.
 * A sequential scan therefore cycles through small and never displaces the
 * hot set in main, and a hot page evicted once comes back into main.
 *
 * Nodes live in one array (24 bytes per tracked page) and link by index;
 * the ghost is a hashed array of (tag, eviction tick) pairs, one slot per
 * resident page, where an entry counts while fewer than `capacity` evictions
 * have happened since it was written. Not thread-safe: the cache holds its
 * lock around every call. No system calls. */
#ifndef PAGESHIM_POLICY_H
#define PAGESHIM_POLICY_H

#include <stdint.h>

enum { PS_Q_SMALL, PS_Q_MAIN, PS_Q_COUNT };

enum ps_hint {
	PS_HINT_NORMAL,
	PS_HINT_ONCE,       /* MADV_SEQUENTIAL: evict early and do not remember */
};

struct ps_node {
	uint32_t prev, next;    /* 0 = none */
	void *owner;            /* the region holding the page */
	uint32_t page;          /* page index within the owner */
	uint8_t queue;
	uint8_t once;
};

struct ps_policy {
	struct ps_node *nodes;  /* nodes[0] is unused: index 0 means "none" */
	uint32_t capacity;      /* budget, pages */
	uint32_t nnodes;        /* nodes usable */
	uint32_t free_head;     /* recycled nodes */
	uint32_t fresh;         /* the first node never used */
	uint32_t used;
	struct { uint32_t head, tail, count; } q[PS_Q_COUNT];
	uint64_t *ghost;        /* (tag << 32) | tick */
	uint32_t ghost_mask;
	uint32_t tick;          /* evictions so far */
};

/* `capacity` is the budget in pages (the small queue's share and the
 * ghost's memory are sized from it); `nodes` how many pages can be tracked
 * at once (at least capacity). 0, or -ENOMEM. Memory comes from mmap. */
int ps_policy_init(struct ps_policy *p, uint32_t capacity, uint32_t nodes);
void ps_policy_destroy(struct ps_policy *p);

/* A page became resident. key identifies the file page (for the ghost).
 * Returns the node index (never 0) or 0 when all nodes are in use;
 * *ghost_hit tells whether it was a re-fault of a recently evicted page. */
uint32_t ps_policy_insert(struct ps_policy *p, uint64_t key, void *owner, uint32_t page,
			  enum ps_hint hint, int *ghost_hit);

/* A page left without being evicted by the policy (munmap, MADV_DONTNEED,
 * written privately): forget its node, remember nothing. */
void ps_policy_remove(struct ps_policy *p, uint32_t node);

/* Take the next victim out of the queues. Returns its node (still
 * allocated, so owner/page can be read) or 0 when nothing is resident.
 * The caller must end it with ps_policy_retire(). */
uint32_t ps_policy_victim(struct ps_policy *p);

/* Free a victim's node; its key enters the ghost unless it was inserted
 * with PS_HINT_ONCE. */
void ps_policy_retire(struct ps_policy *p, uint32_t node, uint64_t key);

/* Undo ps_policy_victim(): the page could not be evicted (the program
 * locked it); it goes back at the tail of its queue, so the next victims
 * are others. */
void ps_policy_unvictim(struct ps_policy *p, uint32_t node);

static inline struct ps_node *ps_policy_node(struct ps_policy *p, uint32_t node)
{
	return &p->nodes[node];
}

#endif

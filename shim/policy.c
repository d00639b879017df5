/* policy.c - S3-FIFO on page faults; see policy.h for the design. */
#include "policy.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "real.h"

#define SMALL_SHARE_PERCENT 10

static void *alloc_zeroed(size_t bytes)
{
	void *p = real.mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int ps_policy_init(struct ps_policy *p, uint32_t capacity, uint32_t nodes)
{
	memset(p, 0, sizeof *p);
	if (capacity < 1)
		capacity = 1;
	if (nodes < capacity)
		nodes = capacity;
	uint32_t slots = 1;
	while (slots < capacity)
		slots <<= 1;
	p->nodes = alloc_zeroed(((size_t)nodes + 1) * sizeof *p->nodes);
	p->ghost = alloc_zeroed((size_t)slots * sizeof *p->ghost);
	p->nnodes = nodes;
	if (!p->nodes || !p->ghost) {
		ps_policy_destroy(p);
		return -ENOMEM;
	}
	p->capacity = capacity;
	p->ghost_mask = slots - 1;
	/* Nodes never used are taken in index order, so the array is touched
	 * only as far as the most pages ever tracked at once. */
	p->fresh = 1;
	return 0;
}

void ps_policy_destroy(struct ps_policy *p)
{
	if (p->nodes)
		real.munmap(p->nodes, ((size_t)p->nnodes + 1) * sizeof *p->nodes);
	if (p->ghost)
		real.munmap(p->ghost, ((size_t)p->ghost_mask + 1) * sizeof *p->ghost);
	memset(p, 0, sizeof *p);
}

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

/* The tag is never 0, so an empty slot never matches. */
static int ghost_take(struct ps_policy *p, uint64_t key)
{
	uint64_t h = mix(key);
	uint32_t tag = (uint32_t)(h >> 32) | 1u;
	uint64_t *slot = &p->ghost[h & p->ghost_mask];
	if ((uint32_t)(*slot >> 32) != tag || p->tick - (uint32_t)*slot >= p->capacity)
		return 0;
	*slot = 0;
	return 1;
}

static void ghost_put(struct ps_policy *p, uint64_t key)
{
	uint64_t h = mix(key);
	uint32_t tag = (uint32_t)(h >> 32) | 1u;
	p->ghost[h & p->ghost_mask] = ((uint64_t)tag << 32) | p->tick;
}

static void push_tail(struct ps_policy *p, uint32_t i, unsigned q)
{
	struct ps_node *n = &p->nodes[i];
	n->queue = (uint8_t)q;
	n->next = 0;
	n->prev = p->q[q].tail;
	if (n->prev)
		p->nodes[n->prev].next = i;
	else
		p->q[q].head = i;
	p->q[q].tail = i;
	p->q[q].count++;
}

static void unlink_node(struct ps_policy *p, uint32_t i)
{
	struct ps_node *n = &p->nodes[i];
	unsigned q = n->queue;
	if (n->prev)
		p->nodes[n->prev].next = n->next;
	else
		p->q[q].head = n->next;
	if (n->next)
		p->nodes[n->next].prev = n->prev;
	else
		p->q[q].tail = n->prev;
	p->q[q].count--;
	n->prev = n->next = 0;
}

static void free_node(struct ps_policy *p, uint32_t i)
{
	p->nodes[i].owner = NULL;
	p->nodes[i].next = p->free_head;
	p->free_head = i;
	p->used--;
}

/* A free node: a recycled one, else the next never used. 0 when none. */
static uint32_t take_node(struct ps_policy *p)
{
	uint32_t i = p->free_head;
	if (i) {
		p->free_head = p->nodes[i].next;
		return i;
	}
	return p->fresh <= p->nnodes ? p->fresh++ : 0;
}

uint32_t ps_policy_insert(struct ps_policy *p, uint64_t key, void *owner, uint32_t page,
			  enum ps_hint hint, int *ghost_hit)
{
	*ghost_hit = 0;
	uint32_t i = take_node(p);
	if (!i)
		return 0;
	p->used++;
	struct ps_node *n = &p->nodes[i];
	n->owner = owner;
	n->page = page;
	n->once = hint == PS_HINT_ONCE;
	*ghost_hit = !n->once && ghost_take(p, key);
	push_tail(p, i, *ghost_hit ? PS_Q_MAIN : PS_Q_SMALL);
	return i;
}

void ps_policy_remove(struct ps_policy *p, uint32_t i)
{
	unlink_node(p, i);
	free_node(p, i);
}

uint32_t ps_policy_victim(struct ps_policy *p)
{
	uint64_t small_share = (uint64_t)p->capacity * SMALL_SHARE_PERCENT / 100;
	unsigned q = (p->q[PS_Q_SMALL].count > small_share || !p->q[PS_Q_MAIN].count)
			     ? PS_Q_SMALL : PS_Q_MAIN;
	uint32_t i = p->q[q].head;
	if (i)
		unlink_node(p, i);
	return i;
}

void ps_policy_unvictim(struct ps_policy *p, uint32_t i)
{
	push_tail(p, i, p->nodes[i].queue);
}

void ps_policy_retire(struct ps_policy *p, uint32_t i, uint64_t key)
{
	p->tick++;
	if (!p->nodes[i].once)
		ghost_put(p, key);
	free_node(p, i);
}

/* test_policy.c - the eviction policy on its own (shim/policy.c).
 *
 * The policy only sees faults, so the simulation does what the cache does:
 * an access to a non-resident key inserts it (evicting a victim first when
 * full); an access to a resident key is invisible. */
#include "helpers.h"
#include "policy.h"

#define CAP 1000u

struct sim {
	struct ps_policy p;
	uint32_t node_of[1u << 20];    /* key -> node (0 = not resident) */
	uint32_t key_of[CAP + 1];      /* node -> key */
	unsigned faults;
};

static void sim_init(struct sim *s)
{
	memset(s, 0, sizeof *s);
	check(ps_policy_init(&s->p, CAP, CAP) == 0, "ps_policy_init failed");
}

/* Touch key; returns 1 when it faulted. */
static int touch(struct sim *s, uint32_t key, enum ps_hint hint, int *ghost)
{
	*ghost = 0;
	if (s->node_of[key])
		return 0;
	if (s->p.used == CAP) {
		uint32_t v = ps_policy_victim(&s->p);
		check(v, "full cache gave no victim");
		s->node_of[s->key_of[v]] = 0;
		ps_policy_retire(&s->p, v, s->key_of[v]);
	}
	uint32_t n = ps_policy_insert(&s->p, key, NULL, key, hint, ghost);
	check(n, "insert failed with %u of %u used", s->p.used, CAP);
	s->node_of[key] = n;
	s->key_of[n] = key;
	s->faults++;
	return 1;
}

static void fifo_order(void)
{
	static struct sim s;
	int g;
	sim_init(&s);
	for (uint32_t k = 1; k <= CAP; k++)
		touch(&s, k, PS_HINT_NORMAL, &g);
	/* nothing proved useful: victims leave in insertion order */
	for (uint32_t k = 1; k <= 10; k++) {
		uint32_t v = ps_policy_victim(&s.p);
		check(s.key_of[v] == k, "victim %u: expected key %u, got %u", k, k, s.key_of[v]);
		ps_policy_retire(&s.p, v, k);
		s.node_of[k] = 0;
	}
	ps_policy_destroy(&s.p);
}

static void ghost_promotes(void)
{
	static struct sim s;
	int g;
	sim_init(&s);
	for (uint32_t k = 1; k <= CAP + 1; k++)     /* key 1 is evicted by key CAP+1 */
		touch(&s, k, PS_HINT_NORMAL, &g);
	check(!s.node_of[1], "key 1 should have been evicted");
	touch(&s, 1, PS_HINT_NORMAL, &g);
	check(g, "a re-fault of a just-evicted key must be a ghost hit");
	check(s.p.nodes[s.node_of[1]].queue == PS_Q_MAIN, "a ghost hit must enter main");
	/* a key evicted more than CAP evictions ago is forgotten */
	for (uint32_t k = 10000; k < 10000 + 3 * CAP; k++)
		touch(&s, k, PS_HINT_NORMAL, &g);
	check(!s.node_of[2], "key 2 should have been evicted");
	touch(&s, 2, PS_HINT_NORMAL, &g);
	check(!g, "key 2 was evicted %u evictions ago: no longer a ghost", 3 * CAP);
	ps_policy_destroy(&s.p);
}

static void once_is_not_remembered(void)
{
	static struct sim s;
	int g;
	sim_init(&s);
	for (uint32_t k = 1; k <= CAP + 1; k++)
		touch(&s, k, PS_HINT_ONCE, &g);
	touch(&s, 1, PS_HINT_NORMAL, &g);
	check(!g, "pages read under MADV_SEQUENTIAL must not be promoted on re-fault");
	ps_policy_destroy(&s.p);
}

/* A hot set of 60% of the capacity, touched every round, beside a scan of
 * half the capacity per round. Hot set plus scan exceed the capacity, so
 * LRU or FIFO would miss on every hot touch; here, after warm-up, the hot
 * set must stay. (A hot key reused only after more than `capacity`
 * evictions cannot be told from a scanned one by faults alone.) */
static void scan_resistance(void)
{
	static struct sim s;
	int g;
	sim_init(&s);
	const uint32_t hot = CAP * 6 / 10;
	uint32_t scan_key = 100000, hot_faults = 0;
	for (int round = 0; round < 50; round++) {
		for (uint32_t k = 1; k <= hot; k++)
			if (touch(&s, k, PS_HINT_NORMAL, &g) && round >= 10)
				hot_faults++;
		for (uint32_t i = 0; i < CAP / 2; i++)
			touch(&s, scan_key++, PS_HINT_NORMAL, &g);
	}
	note("hot-set faults after warm-up: %u of %u touches", hot_faults, 40 * hot);
	check(hot_faults * 100 <= 40 * hot, "the scan flushed the hot set: %u faults", hot_faults);
	ps_policy_destroy(&s.p);
}

static void remove_frees(void)
{
	static struct sim s;
	int g;
	sim_init(&s);
	for (uint32_t k = 1; k <= CAP; k++)
		touch(&s, k, PS_HINT_NORMAL, &g);
	check(ps_policy_insert(&s.p, 5000, NULL, 0, PS_HINT_NORMAL, &g) == 0,
	      "insert into a full pool must fail, not overwrite");
	for (uint32_t k = 1; k <= CAP; k++)
		ps_policy_remove(&s.p, s.node_of[k]);
	check(s.p.used == 0 && !ps_policy_victim(&s.p), "removed nodes must leave the queues");
	ps_policy_destroy(&s.p);
}

int main(void)
{
	fifo_order();
	ghost_promotes();
	once_is_not_remembered();
	scan_resistance();
	remove_frees();
	note("policy: ok");
	return 0;
}

/* lmdb_writer.c - a deterministic, self-checking LMDB write workload, for
 * tests/prog/lmdb_write.sh.
 *
 *   lmdb_writer write  [--writemap] DIR SEED [COPYDIR COMPACTDIR]
 *   lmdb_writer verify DIR SEED
 *
 * write: batches of transactions over an environment in DIR (created if
 * empty): the first loads 3/4 of the keys in key order; the others make
 * puts of new and existing keys at random (values 32 B to 12 KiB, the large
 * ones on overflow pages), in-place overwrites through a cursor
 * (MDB_CURRENT), deletes of single keys and of runs of keys through a cursor,
 * and a second, MDB_DUPSORT database that indexes the keys. Everything
 * follows from SEED. An in-memory model of what the databases must hold is
 * kept beside them; cursor scans (ranges every batch, everything every few
 * batches) compare the databases with the model and print what they saw.
 * Some batches commit with MDB_NOSYNC, the last one too, so its pages reach
 * the file only when the environment is closed and the process exits. A
 * reader thread runs meanwhile: it opens read transactions and checks that
 * each snapshot is self-consistent (every value matches its header, the
 * entry counts match the snapshot's meta record). At the end, with COPYDIR
 * and COMPACTDIR, mdb_env_copy and mdb_env_copy2(MDB_CP_COMPACT).
 * --writemap opens the environment with MDB_WRITEMAP: every page is then
 * written through a writable MAP_SHARED mapping of data.mdb (and msync'd
 * at each synced commit), instead of with pwrite.
 *
 * verify: replays the model from SEED without touching the databases, then
 * opens DIR read-only and compares every record.
 *
 * stdout is deterministic (the same for the same SEED, whatever the mode or
 * the reader's timing); errors go to stderr and exit 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NKEYS     32000u   /* key space: "k00000000" .. */
#define NBATCH    6        /* batch 0 loads 3/4 of the keys in key order */
#define PUTS      1500     /* per later batch, at random keys */
#define DELS      300
#define RUNDELS   4        /* cursor deletes of RUNLEN consecutive keys */
#define RUNLEN    40
#define INPLACE   400      /* cursor overwrites of the same length */
#define NTAGS     997u     /* the dupsort database: tag -> key index */
#define MAPSIZE   (256u << 20)
#define HDR       16       /* value header: idx, ver, len, check */

static uint64_t seed;
static uint32_t ver[NKEYS];      /* model: 0 = absent, else the value's version */
static uint32_t live;            /* keys present */

static void die(const char *what, int rc)
{
	fprintf(stderr, "lmdb_writer: %s: %s\n", what, rc ? mdb_strerror(rc) : "check failed");
	exit(1);
}
#define E(call) do { int rc_ = (call); if (rc_) die(#call, rc_); } while (0)

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rng_state;
static uint64_t rnd(void) { return mix(rng_state++); }
static uint32_t rndn(uint32_t n) { return (uint32_t)(rnd() % n); }

/* The value of key idx at version v: its length, and its bytes. A put
 * gives a key the next even version; an in-place overwrite turns even
 * version v into v + 1, which has the same length and other bytes. */
static uint32_t vlen(uint32_t idx, uint32_t v)
{
	uint64_t h = mix(seed ^ ((uint64_t)idx << 32) ^ (v & ~1u) ^ 0x1234);
	if (h % 16 == 0)
		return 2500 + (uint32_t)((h >> 8) % 9800);   /* overflow pages */
	return 32 + (uint32_t)((h >> 8) % 1800);
}

static void vfill(unsigned char *buf, uint32_t idx, uint32_t v, uint32_t len)
{
	uint64_t s = seed ^ ((uint64_t)v << 40) ^ idx, x = 0;
	uint32_t hdr[4] = { idx, v, len, (uint32_t)mix(s) };
	memcpy(buf, hdr, HDR);
	for (uint32_t i = HDR; i < len; i++) {
		if ((i - HDR) % 8 == 0)
			x = mix(s + i);
		buf[i] = (unsigned char)(x >> ((i - HDR) % 8 * 8));
	}
}

/* Does this value match its own header (and, if idx != -1, key idx)? */
static int vcheck(const MDB_val *d, int64_t idx, uint32_t want_ver)
{
	static __thread unsigned char buf[16384];
	uint32_t hdr[4];
	if (d->mv_size < HDR)
		return 0;
	memcpy(hdr, d->mv_data, HDR);
	if (idx >= 0 && (hdr[0] != (uint32_t)idx || (want_ver && hdr[1] != want_ver)))
		return 0;
	if (hdr[0] >= NKEYS || hdr[2] != d->mv_size || hdr[2] != vlen(hdr[0], hdr[1]))
		return 0;
	vfill(buf, hdr[0], hdr[1], hdr[2]);
	return memcmp(buf, d->mv_data, d->mv_size) == 0;
}

static void keyname(char *k, uint32_t idx) { snprintf(k, 16, "k%08u", idx); }

static int64_t keyidx(const MDB_val *k)
{
	char s[16];
	if (k->mv_size != 9 || ((char *)k->mv_data)[0] != 'k')
		return -1;
	memcpy(s, (char *)k->mv_data + 1, 8);
	s[8] = 0;
	return strtol(s, NULL, 10);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

/* ---- the databases ---- */
static MDB_env *env;
static MDB_dbi data_dbi, tags_dbi, meta_dbi;
static atomic_int writer_done;
static unsigned char vbuf[16384];

struct meta { uint32_t batch, live; };

static void db_put(MDB_txn *t, uint32_t idx, uint32_t v, int fresh)
{
	char k[16];
	keyname(k, idx);
	MDB_val key = { 9, k }, d = { vlen(idx, v), vbuf };
	vfill(vbuf, idx, v, (uint32_t)d.mv_size);
	E(mdb_put(t, data_dbi, &key, &d, 0));
	if (fresh) {
		uint32_t tag = idx % NTAGS;
		MDB_val tk = { sizeof tag, &tag }, td = { 9, k };
		E(mdb_put(t, tags_dbi, &tk, &td, MDB_NODUPDATA));
	}
}

static void db_del_tag(MDB_txn *t, uint32_t idx)
{
	char k[16];
	keyname(k, idx);
	uint32_t tag = idx % NTAGS;
	MDB_val tk = { sizeof tag, &tag }, td = { 9, k };
	E(mdb_del(t, tags_dbi, &tk, &td));
}

/* Scan data from key `from` for at most n records (n = 0: to the end),
 * checking each against the model; returns count and a hash. */
static uint32_t scan(MDB_txn *t, uint32_t from, uint32_t n, uint64_t *hash)
{
	MDB_cursor *c;
	char k[16];
	keyname(k, from);
	MDB_val key = { 9, k }, d;
	uint32_t got = 0, expect = from;
	uint64_t h = 0xcbf29ce484222325ull;
	E(mdb_cursor_open(t, data_dbi, &c));
	int rc = mdb_cursor_get(c, &key, &d, MDB_SET_RANGE);
	while (rc == 0 && (n == 0 || got < n)) {
		int64_t idx = keyidx(&key);
		while (expect < NKEYS && !ver[expect])
			expect++;
		if (idx < 0 || (uint32_t)idx != expect) {
			fprintf(stderr, "lmdb_writer: scan from %u: found key %.*s, the model's next key is k%08u\n",
				from, (int)key.mv_size, (char *)key.mv_data, expect);
			exit(1);
		}
		if (!vcheck(&d, idx, ver[idx])) {
			fprintf(stderr, "lmdb_writer: scan: key k%08u: value (%zu bytes) is not version %u\n",
				(uint32_t)idx, d.mv_size, ver[idx]);
			exit(1);
		}
		h = fnv(fnv(h, key.mv_data, key.mv_size), d.mv_data, d.mv_size);
		got++;
		expect++;
		rc = mdb_cursor_get(c, &key, &d, MDB_NEXT);
	}
	if (rc && rc != MDB_NOTFOUND)
		die("mdb_cursor_get", rc);
	if (rc == MDB_NOTFOUND) {
		while (expect < NKEYS && !ver[expect])
			expect++;
		if (expect < NKEYS) {
			fprintf(stderr, "lmdb_writer: scan from %u: ended before k%08u, which the model holds\n",
				from, expect);
			exit(1);
		}
	}
	mdb_cursor_close(c);
	*hash = h;
	return got;
}

/* The whole tags database against the model. */
static uint32_t scan_tags(MDB_txn *t)
{
	MDB_cursor *c;
	MDB_val key, d;
	uint32_t got = 0;
	E(mdb_cursor_open(t, tags_dbi, &c));
	int rc = mdb_cursor_get(c, &key, &d, MDB_FIRST);
	while (rc == 0) {
		uint32_t tag;
		int64_t idx = keyidx(&d);
		memcpy(&tag, key.mv_data, sizeof tag);
		if (key.mv_size != sizeof tag || idx < 0 || (uint32_t)idx % NTAGS != tag || !ver[idx]) {
			fprintf(stderr, "lmdb_writer: tags: bad entry %u -> %.*s\n", tag, (int)d.mv_size,
				(char *)d.mv_data);
			exit(1);
		}
		got++;
		rc = mdb_cursor_get(c, &key, &d, MDB_NEXT);
	}
	if (rc != MDB_NOTFOUND)
		die("mdb_cursor_get(tags)", rc);
	mdb_cursor_close(c);
	if (got != live) {
		fprintf(stderr, "lmdb_writer: tags: %u entries, the model has %u keys\n", got, live);
		exit(1);
	}
	return got;
}

static void *reader(void *arg)
{
	(void)arg;
	unsigned long snapshots = 0, values = 0;
	uint64_t r = seed ^ 0xabcdef;
	while (!atomic_load(&writer_done)) {
		MDB_txn *t;
		MDB_stat st;
		MDB_val mk = { 4, "meta" }, md, key, d;
		struct meta m;
		E(mdb_txn_begin(env, NULL, MDB_RDONLY, &t));
		int rc = mdb_get(t, meta_dbi, &mk, &md);
		if (rc == MDB_NOTFOUND) {
			mdb_txn_abort(t);
			continue;
		}
		if (rc)
			die("reader: mdb_get(meta)", rc);
		memcpy(&m, md.mv_data, sizeof m);
		E(mdb_stat(t, data_dbi, &st));
		if (st.ms_entries != m.live) {
			fprintf(stderr, "lmdb_writer: reader: snapshot of batch %u: %zu entries, its meta says %u\n",
				m.batch, st.ms_entries, m.live);
			exit(1);
		}
		E(mdb_stat(t, tags_dbi, &st));
		if (st.ms_entries != m.live) {
			fprintf(stderr, "lmdb_writer: reader: snapshot of batch %u: %zu tags, meta says %u\n",
				m.batch, st.ms_entries, m.live);
			exit(1);
		}
		/* a run of 300 records from a random key: each value self-consistent */
		MDB_cursor *c;
		char k[16];
		keyname(k, (uint32_t)(mix(r++) % NKEYS));
		key.mv_size = 9;
		key.mv_data = k;
		E(mdb_cursor_open(t, data_dbi, &c));
		rc = mdb_cursor_get(c, &key, &d, MDB_SET_RANGE);
		for (int i = 0; rc == 0 && i < 300; i++) {
			int64_t idx = keyidx(&key);
			if (idx < 0 || !vcheck(&d, idx, 0)) {
				uint32_t hd[4] = { 0, 0, 0, 0 };
				memcpy(hd, d.mv_data, d.mv_size < HDR ? d.mv_size : HDR);
				fprintf(stderr, "lmdb_writer: reader: snapshot of batch %u: key %.*s: bad value "
					"(%zu bytes, header: key %u version %u length %u)\n", m.batch,
					(int)key.mv_size, (char *)key.mv_data, d.mv_size, hd[0], hd[1], hd[2]);
				exit(1);
			}
			values++;
			rc = mdb_cursor_get(c, &key, &d, MDB_NEXT);
		}
		if (rc && rc != MDB_NOTFOUND)
			die("reader: mdb_cursor_get", rc);
		mdb_cursor_close(c);
		mdb_txn_abort(t);
		snapshots++;
		usleep(1000);   /* leave the writer most of the CPU */
	}
	fprintf(stderr, "lmdb_writer: reader checked %lu snapshots, %lu values\n", snapshots, values);
	return NULL;
}

/* One batch: ops drawn from the generator, applied to the model and (when
 * t is not NULL) to the databases. */
static void batch(MDB_txn *t, int b)
{
	for (uint32_t i = 0; b == 0 && i < NKEYS; i++) {
		if (rndn(4) == 0)
			continue;
		ver[i] = 2;
		live++;
		if (t)
			db_put(t, i, ver[i], 1);
	}
	for (int i = 0; b > 0 && i < PUTS; i++) {
		uint32_t idx = rndn(NKEYS);
		int fresh = !ver[idx];
		ver[idx] = (ver[idx] | 1) + 1;
		if (fresh)
			live++;
		if (t)
			db_put(t, idx, ver[idx], fresh);
	}
	for (int i = 0; i < DELS; i++) {
		uint32_t idx = rndn(NKEYS);
		if (!ver[idx])
			continue;
		ver[idx] = 0;
		live--;
		if (t) {
			char k[16];
			keyname(k, idx);
			MDB_val key = { 9, k };
			E(mdb_del(t, data_dbi, &key, NULL));
			db_del_tag(t, idx);
		}
	}
	/* Overwrites in place through a cursor (MDB_CURRENT, same length). */
	for (int i = 0; i < INPLACE; i++) {
		uint32_t idx = rndn(NKEYS);
		if (!ver[idx] || (ver[idx] & 1) || vlen(idx, ver[idx]) > 2000)
			continue;
		uint32_t len = vlen(idx, ver[idx]), nv = ver[idx] + 1;
		ver[idx] = nv;
		if (t) {
			MDB_cursor *c;
			char k[16];
			keyname(k, idx);
			MDB_val key = { 9, k }, d;
			E(mdb_cursor_open(t, data_dbi, &c));
			E(mdb_cursor_get(c, &key, &d, MDB_SET_KEY));
			if (d.mv_size != len)
				die("in-place overwrite: old length", 0);
			/* our own copy of the key: MDB_SET_KEY left key pointing
			 * into the page, which this put may change (LMDB 0.9.24
			 * then writes a wrong key into the node) */
			key.mv_data = k;
			d.mv_data = vbuf;
			vfill(vbuf, idx, nv, len);
			E(mdb_cursor_put(c, &key, &d, MDB_CURRENT));
			mdb_cursor_close(c);
		}
	}
	/* Runs of consecutive keys deleted through a cursor. */
	for (int i = 0; i < RUNDELS; i++) {
		uint32_t from = rndn(NKEYS), n = 0, idx = from;
		MDB_cursor *c = NULL;
		MDB_val key, d;
		char k[16];
		if (t) {
			keyname(k, from);
			key.mv_size = 9;
			key.mv_data = k;
			E(mdb_cursor_open(t, data_dbi, &c));
		}
		while (n < RUNLEN) {
			while (idx < NKEYS && !ver[idx])
				idx++;
			if (idx >= NKEYS)
				break;
			if (t) {
				/* the cursor finds the next key on its own (SET_RANGE
				 * from the last deleted one), and must land on the
				 * model's */
				int rc = mdb_cursor_get(c, &key, &d, MDB_SET_RANGE);
				if (rc || keyidx(&key) != idx)
					die("run delete: cursor not on the model's key", rc);
				E(mdb_cursor_del(c, 0));
				db_del_tag(t, idx);
				key.mv_size = 9;
				key.mv_data = k;   /* k: the first key of the run, or the last deleted */
				keyname(k, idx);
			}
			ver[idx] = 0;
			live--;
			n++;
		}
		if (c)
			mdb_cursor_close(c);
	}
	if (t) {
		struct meta m = { (uint32_t)b, live };
		MDB_val mk = { 4, "meta" }, md = { sizeof m, &m };
		E(mdb_put(t, meta_dbi, &mk, &md, 0));
	}
}

static void open_env(const char *dir, unsigned flags)
{
	E(mdb_env_create(&env));
	E(mdb_env_set_mapsize(env, MAPSIZE));
	E(mdb_env_set_maxdbs(env, 4));
	E(mdb_env_set_maxreaders(env, 16));
	E(mdb_env_open(env, dir, flags, 0644));
}

static void open_dbs(MDB_txn *t, unsigned create)
{
	E(mdb_dbi_open(t, "data", create, &data_dbi));
	E(mdb_dbi_open(t, "tags", create | MDB_DUPSORT, &tags_dbi));
	E(mdb_dbi_open(t, "meta", create, &meta_dbi));
}

static int do_write(const char *dir, int writemap, const char *copydir, const char *compactdir)
{
	MDB_txn *t;
	pthread_t rd;
	open_env(dir, writemap ? MDB_WRITEMAP : 0);
	E(mdb_txn_begin(env, NULL, 0, &t));
	open_dbs(t, MDB_CREATE);
	E(mdb_txn_commit(t));
	if (pthread_create(&rd, NULL, reader, NULL))
		die("pthread_create", 0);
	for (int b = 0; b < NBATCH; b++) {
		/* every third batch, and the last, without sync: its pages
		 * reach the file at the next sync, or at close and exit */
		int nosync = b % 3 == 2 || b == NBATCH - 1;
		E(mdb_env_set_flags(env, MDB_NOSYNC, nosync));
		E(mdb_txn_begin(env, NULL, 0, &t));
		batch(t, b);
		E(mdb_txn_commit(t));
		if (b % 3 == 2 && b != NBATCH - 1)
			E(mdb_env_sync(env, 1));

		uint64_t h;
		E(mdb_txn_begin(env, NULL, MDB_RDONLY, &t));
		uint32_t from = rndn(NKEYS);
		uint32_t n = scan(t, from, 500, &h);
		printf("batch %2d: %u keys; scan from k%08u: %u records, hash %016" PRIx64 "\n",
		       b, live, from, n, h);
		if (b % 4 == 0 || b == NBATCH - 1) {
			n = scan(t, 0, 0, &h);
			printf("batch %2d: full scan: %u records, hash %016" PRIx64 "; tags %u\n",
			       b, n, h, scan_tags(t));
			if (n != live)
				die("full scan: count differs from the model", 0);
		}
		mdb_txn_abort(t);
		fflush(stdout);
	}
	atomic_store(&writer_done, 1);
	pthread_join(rd, NULL);
	if (copydir) {
		E(mdb_env_copy(env, copydir));
		E(mdb_env_copy2(env, compactdir, MDB_CP_COMPACT));
		printf("copies made\n");
	}
	MDB_stat st;
	E(mdb_env_stat(env, &st));
	printf("done: %u keys, main db depth %u\n", live, st.ms_depth);
	mdb_env_close(env);
	return 0;
}

static int do_verify(const char *dir)
{
	MDB_txn *t;
	uint64_t h;
	for (int b = 0; b < NBATCH; b++) {
		batch(NULL, b);
		(void)rndn(NKEYS);   /* the scan start each batch drew */
	}
	open_env(dir, MDB_RDONLY);
	E(mdb_txn_begin(env, NULL, MDB_RDONLY, &t));
	open_dbs(t, 0);
	uint32_t n = scan(t, 0, 0, &h);
	printf("verify: full scan: %u records, hash %016" PRIx64 "; tags %u\n", n, h, scan_tags(t));
	if (n != live)
		die("verify: count differs from the model", 0);
	MDB_val mk = { 4, "meta" }, md;
	struct meta m;
	E(mdb_get(t, meta_dbi, &mk, &md));
	memcpy(&m, md.mv_data, sizeof m);
	if (m.batch != NBATCH - 1 || m.live != live) {
		fprintf(stderr, "lmdb_writer: verify: meta says batch %u with %u keys; expected %d, %u\n",
			m.batch, m.live, NBATCH - 1, live);
		return 1;
	}
	mdb_txn_abort(t);
	mdb_env_close(env);
	return 0;
}

int main(int argc, char **argv)
{
	int writemap = 0, a = 2;
	if (argc >= 3 && !strcmp(argv[2], "--writemap")) {
		writemap = 1;
		a = 3;
	}
	if (argc < a + 2 || (strcmp(argv[1], "write") && strcmp(argv[1], "verify")) ||
	    (!strcmp(argv[1], "write") && argc != a + 2 && argc != a + 4) ||
	    (!strcmp(argv[1], "verify") && (argc != a + 2 || writemap))) {
		fprintf(stderr, "usage: lmdb_writer write [--writemap] DIR SEED [COPYDIR COMPACTDIR]\n"
				"       lmdb_writer verify DIR SEED\n");
		return 2;
	}
	seed = strtoull(argv[a + 1], NULL, 0);
	rng_state = mix(seed);
	if (!strcmp(argv[1], "verify"))
		return do_verify(argv[a]);
	return do_write(argv[a], writemap, argc == a + 4 ? argv[a + 2] : NULL,
			argc == a + 4 ? argv[a + 3] : NULL);
}

#!/usr/bin/env bash
# lmdb_write.sh - LMDB writing a database larger than the budget, through
# pwrite and through a writable shared mapping (MDB_WRITEMAP).
#
# build/tests/prog/lmdb_writer (tests/prog/lmdb_writer.c) runs 6 seeded
# batches: a load of 24,000 keys in key order, then puts at random keys,
# in-place cursor overwrites, deletes and cursor range deletes, over a data
# and a dupsort database, checking them against its own
# model with cursor scans while a reader thread checks snapshots, then makes
# a plain and a compacting copy (mdb_env_copy, mdb_env_copy2). It runs once
# in the default mode (pages written with pwrite, the map read-only) and once
# with MDB_WRITEMAP (every page written through a MAP_SHARED PROT_WRITE
# mapping of data.mdb and msync'd, some commits with MDB_NOSYNC, the last one
# too, so its pages reach the file only at close and exit), each without and
# with the library (budget 8M; ~17,000 pages, 68M, in data.mdb). Then:
#   - every run's output (scan results) is the same;
#   - `lmdb_writer verify` without the library finds in the database and
#     in both copies exactly what the model says (so the pageshim run's
#     writes reached the file), and with the library reads them back too;
#   - mdb_dump -a and mdb_stat -a of the database and the copies are the same;
#   - the library's stats: mappings managed, pages filled, and in the
#     MDB_WRITEMAP run at least as many pages written back as the database
#     has pages written through the mapping (every page but the two meta
#     pages mdb_env_open writes with pwrite).
. "$(dirname "$0")/common.bash"
need_lib
need_cmd mdb_dump "apt-get install lmdb-utils"
need_cmd python3
W=$B/tests/prog/lmdb_writer
[ -x "$W" ] || fail "$W not built (make $W; needs liblmdb-dev)"

SEED=20261122
export PAGESHIM_CACHE_SIZE=8M

# runin MODE TAG CMD...: CMD without or with the library, stdout to
# $DIR/TAG.out, stderr to $DIR/TAG.err, the library's stats to
# $DIR/TAG.stats.PID.json.
runin() {
	local mode=$1 tag=$2 rc
	shift 2
	run_side "$mode" "$tag" "$DIR/$tag.out" "$@"
	rc=$?
	[ $rc = 0 ] || fail "$tag: $* exited $rc: $(tail -n 5 "$DIR/$tag.err")"
}

for variant in default writemap; do
	flag=()
	[ $variant = writemap ] && flag=(--writemap)
	for mode in kernel pageshim; do
		r=$mode.$variant d=$DIR/$mode.$variant
		mkdir -p "$d.db" "$d.copy" "$d.compact"
		t0=$(date +%s.%N)
		runin $mode "$r.write" "$W" write "${flag[@]}" "$d.db" $SEED "$d.copy" "$d.compact"
		note "$r: write took $(python3 -c "import time; print('%.1fs' % (time.time() - $t0))");" \
			"$(grep reader "$DIR/$r.write.err")"
		for db in db copy compact; do
			runin kernel "$r.verify.$db" "$W" verify "$d.$db" $SEED
			runin kernel "$r.dump.$db" mdb_dump -a -p "$d.$db"
			runin kernel "$r.stat.$db" mdb_stat -a "$d.$db"
		done
		[ $mode = pageshim ] && runin pageshim "$r.shimverify" "$W" verify "$d.db" $SEED
	done
done

# The kernel's runs first: they define what is right.
grep -q '^done: ' "$DIR/kernel.default.write.out" || fail "kernel run: no final line from lmdb_writer"
pages=$(kern mdb_stat -e "$DIR/kernel.default.db" | sed -n 's/^ *Number of pages used: //p')
note "database: $pages pages used ($(du -sh "$DIR/kernel.default.db/data.mdb" | cut -f1)); $(tail -n 1 "$DIR/kernel.default.write.out")"
[ "$pages" -ge $((4 * 2048)) ] || fail "expected a database of at least 4x the 8M budget, got $pages pages"
ref=$DIR/kernel.default
for r in kernel.writemap pageshim.default pageshim.writemap; do
	same "$ref.write.out" "$DIR/$r.write.out" "$r: lmdb_writer's scans and counts"
	for db in db copy compact; do
		same "$ref.verify.$db.out" "$DIR/$r.verify.$db.out" "$r: verify of the $db, without the library"
		same "$ref.dump.$db.out" "$DIR/$r.dump.$db.out" "$r: mdb_dump -a of the $db"
		same "$ref.stat.$db.out" "$DIR/$r.stat.$db.out" "$r: mdb_stat -a of the $db"
	done
done
for db in copy compact; do
	same "$ref.dump.db.out" "$DIR/kernel.default.dump.$db.out" "mdb_dump of the $db against the database"
done
for v in default writemap; do
	same "$ref.verify.db.out" "$DIR/pageshim.$v.shimverify.out" "pageshim.$v: verify with the library"
done

# The library's own account.
for v in default writemap; do
	files=("$DIR"/pageshim.$v.write.stats.*.json)
	what="pageshim.$v write (data.mdb mapped MAP_SHARED PROT_READ)"
	[ $v = writemap ] && what="pageshim.writemap write (data.mdb mapped MAP_SHARED PROT_READ|PROT_WRITE)"
	expect_counter mappings_managed -ge 1 "$what" "${files[@]}"
	expect_counter pages_filled -gt 0 "pageshim.$v write" "${files[@]}"
	expect_counter faults -gt 0 "pageshim.$v write" "${files[@]}"
	expect_counter mappings_managed -ge 1 "pageshim.$v verify" "$DIR"/pageshim.$v.shimverify.stats.*.json
done
used=$(kern mdb_stat -e "$DIR/pageshim.writemap.db" | sed -n 's/^ *Number of pages used: //p')
expect_counter pages_written_back -ge $((used - 2)) \
	"pageshim.writemap write ($used pages used, all but 2 written through the mapping)" \
	"$DIR"/pageshim.writemap.write.stats.*.json
note "lmdb_write: same scans, data, dumps and copies with and without pageshim, default and MDB_WRITEMAP"

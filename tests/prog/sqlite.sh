#!/usr/bin/env bash
# sqlite.sh - sqlite3 reading its database through mmap, larger than the budget.
#
# The same SQL runs without and with the library (budget 8M): build a
# database of ~40M (deterministic rows from a recursive CTE), update it,
# query it (aggregates, ranges, integrity_check), each step a new sqlite3
# process with PRAGMA mmap_size far above the file size, so sqlite reads its
# pages from a MAP_SHARED mapping and writes with pwrite (the library must
# keep the mapping coherent). Outputs and the database files must be
# identical; the library's stats files show managed mappings and faults.
. "$(dirname "$0")/common.bash"
need_lib
need_cmd sqlite3
need_cmd python3

ROWS=150000
MMAP="PRAGMA mmap_size=1073741824;"

cat >"$DIR/build.sql" <<EOF
PRAGMA page_size=4096;
$MMAP
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
INSERT INTO t SELECT x, (x * 7919) % 100003,
  printf('%08d:', x) || substr(replace(hex(zeroblob(130)), '00', printf('%02x', x % 251)), 1, 250)
  FROM c;
CREATE INDEX t_k ON t(k);
EOF
cat >"$DIR/update.sql" <<EOF
$MMAP
UPDATE t SET v = upper(v) || printf('/%d', k) WHERE id % 7 = 0;
DELETE FROM t WHERE id % 13 = 0;
INSERT INTO t(k, v) SELECT k + 1, substr(v, 1, 100) FROM t WHERE id % 101 = 0;
EOF
cat >"$DIR/queries.sql" <<EOF
$MMAP
PRAGMA mmap_size;
SELECT count(*), sum(k), sum(length(v)), max(id) FROM t;
SELECT k % 10, count(*), sum(length(v)), min(id), max(id) FROM t GROUP BY 1 ORDER BY 1;
SELECT id, k, substr(v, 1, 40) FROM t WHERE k BETWEEN 500 AND 530 ORDER BY k, id;
SELECT id, v FROM t WHERE id IN (1, 7, 1000, 77777, 149999, $ROWS + 5);
SELECT sum(unicode(substr(v, 120, 1))), count(DISTINCT substr(v, 10, 2)) FROM t;
PRAGMA integrity_check;
PRAGMA page_count;
EOF
# The update step queries too: in the process that just wrote the pages.
cat "$DIR/queries.sql" >>"$DIR/update.sql"
cp "$DIR/queries.sql" "$DIR/query.sql"

# run MODE: the three steps in $DIR/MODE, outputs in $DIR/MODE.out
run() {
	local mode=$1 d=$DIR/$1 step
	mkdir -p "$d"
	for step in build update query; do
		if [ "$mode" = kernel ]; then
			kern sqlite3 "$d/db" <"$DIR/$step.sql" >>"$d.out" 2>>"$d.err" ||
				fail "$mode $step: sqlite3 exited $? ($(tail -n 3 "$d.err"))"
		else
			PAGESHIM_CACHE_SIZE=8M PAGESHIM_STATS_FILE="$d/stats.$step.%p.json" \
				shim sqlite3 "$d/db" <"$DIR/$step.sql" >>"$d.out" 2>>"$d.err" ||
				fail "$mode $step: sqlite3 exited $? ($(tail -n 3 "$d.err"))"
		fi
	done
}

run kernel
run pageshim
head -n 1 "$DIR/kernel.out" | grep -qx 1073741824 ||
	skip "this sqlite3 does not use mmap (PRAGMA mmap_size says $(head -n 1 "$DIR/kernel.out"))"
size=$(stat -c %s "$DIR/kernel/db")
note "database: $size bytes; integrity_check ok: $(grep -cx ok "$DIR/kernel.out") of 2"
[ "$size" -ge $((32 * 1024 * 1024)) ] || fail "expected a database >= 32M (4x the budget), got $size bytes"
[ "$(grep -cx ok "$DIR/kernel.out")" = 2 ] || fail "kernel run: integrity_check did not say ok twice"
[ -s "$DIR/pageshim.err" ] && note "pageshim run stderr: $(head -n 5 "$DIR/pageshim.err")"
same "$DIR/kernel.out" "$DIR/pageshim.out" "query output"
same "$DIR/kernel/db" "$DIR/pageshim/db" "database file"
for step in update query; do
	f=$(ls "$DIR"/pageshim/stats.$step.*.json 2>/dev/null | head -n 1)
	[ -n "$f" ] || fail "no stats file for the $step step (PAGESHIM_STATS_FILE with %p)"
	expect_stats "$f" "$step"
done
note "sqlite3: identical output and database with and without pageshim"

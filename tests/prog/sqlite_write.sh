#!/usr/bin/env bash
# sqlite_write.sh - sqlite3 writing a database larger than the budget, in WAL
# and in DELETE journal mode, with a reader process running meanwhile.
#
# Each step is a new sqlite3 process with PRAGMA mmap_size=1G (pages read
# from a MAP_SHARED mapping of the database; this sqlite writes them with
# pwrite). In WAL mode the wal-index (the -shm file) is a writable MAP_SHARED
# mapping that every process writes, and persist_wal keeps it after the last
# close, so what reached the file can be read. Without and with the library
# (budget 8M, database ~45M), for journal_mode WAL and DELETE:
#   1. build: 150,000 rows in three transactions, an index, small tables;
#   2. update: updates that grow rows, index updates, deletes, inserts, a
#      fifty small transactions, then VACUUM (the file shrinks under the
#      mapping) and more writes;
#   3. transfer: 200 transactions moving amounts between 1,000 accounts while
#      a second process (python3's sqlite3, same library) polls: the total
#      must never change, the commit counter must never go back, and once the
#      writer has exited the poller must see its last commit;
#   4. query: counts, sums, a SHA3 of every row (the shell's sha3_query),
#      PRAGMA integrity_check.
# Outputs must be identical between the kernel's and the library's runs, and
# between WAL and DELETE; integrity_check says ok. In WAL mode the -shm
# file's header, as left on disk, must be valid (both copies equal, the
# checksum right, the salt the WAL file's): only the writes through the
# mapping put it there. (The -shm file is managed only while one process
# uses it; see run.) The library's stats: mappings managed and faults in
# every process; in WAL mode, pages written back (the wal-index).
. "$(dirname "$0")/common.bash"
need_lib
need_cmd sqlite3
need_cmd python3
# The poller: the system's python3 (the one linked with Debian's libsqlite3)
# when there is one, not a wrapper script that forks on every start.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" -c 'import sqlite3' 2>/dev/null || skip "$PY has no sqlite3 module"

ROWS=150000
XFERS=200
# synchronous=NORMAL: fewer fsyncs (WAL: at checkpoints only), the same writes
MMAP="PRAGMA mmap_size=1073741824; PRAGMA busy_timeout=20000; PRAGMA synchronous=NORMAL;"
export PAGESHIM_CACHE_SIZE=8M

# The rows: id, k, v (text, 120 to 330 bytes), b (a 64-byte blob).
rows() {   # rows FROM TO
	cat <<EOF
BEGIN;
WITH RECURSIVE c(x) AS (SELECT $1 UNION ALL SELECT x + 1 FROM c WHERE x < $2)
INSERT INTO t SELECT x, (x * 7919) % 100003,
  printf('%08d:%.*c', x, 110 + (x * 31) % 211, char(97 + x % 26)),
  CAST(printf('%016x%016x%016x%016x', x * 2654435761, x * 40503, x * x, -x) AS BLOB)
  FROM c;
COMMIT;
EOF
}
{
	echo "PRAGMA page_size=4096;"
	echo "$MMAP"
	echo "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT, b BLOB);"
	echo "CREATE INDEX t_k ON t(k);"
	rows 1 50000
	rows 50001 100000
	rows 100001 $ROWS
	echo "CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER);"
	echo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000)"
	echo "  INSERT INTO acct SELECT x, 1000 FROM c;"
	echo "CREATE TABLE prog(n INTEGER);"
	echo "INSERT INTO prog VALUES (0);"
} >"$DIR/build.sql"

{
	echo "$MMAP"
	echo "UPDATE t SET v = v || printf('/%d', k) WHERE id % 5 = 0;"
	echo "UPDATE t SET k = k + 1 WHERE id % 11 = 0;"
	echo "DELETE FROM t WHERE id % 9 = 0;"
	echo "INSERT INTO t(k, v, b) SELECT k * 3, substr(v, 1, 120), b FROM t WHERE id % 17 = 0;"
	for i in $(seq 1 50); do
		echo "UPDATE t SET v = upper(v) WHERE id BETWEEN $((i * 2800)) AND $((i * 2800 + 40));"
	done
	echo "DELETE FROM t WHERE id BETWEEN 20000 AND 30000;"
	echo "VACUUM;"
	echo "UPDATE t SET b = zeroblob(100) WHERE id % 23 = 0;"
	echo "INSERT INTO t(k, v) SELECT k, v FROM t WHERE id % 29 = 0;"
} >"$DIR/update.sql"

{
	echo "$MMAP"
	for i in $(seq 1 $XFERS); do
		a=$(((i * 7919) % 1000 + 1)) b=$(((i * 104729) % 1000 + 1))
		echo "BEGIN IMMEDIATE; UPDATE acct SET bal = bal - $((i % 97 + 1)) WHERE id = $a;"
		echo "UPDATE acct SET bal = bal + $((i % 97 + 1)) WHERE id = $b; UPDATE prog SET n = n + 1; COMMIT;"
	done
} >"$DIR/xfer.sql"

cat >"$DIR/query.sql" <<EOF
$MMAP
PRAGMA journal_mode;
SELECT count(*), sum(k), sum(length(v)), sum(length(b)), max(id) FROM t;
SELECT k % 7, count(*), sum(length(v)), min(id), max(id) FROM t GROUP BY 1 ORDER BY 1;
SELECT id, k, substr(v, 1, 30) FROM t WHERE k BETWEEN 700 AND 720 ORDER BY k, id;
SELECT (SELECT n FROM prog), sum(bal), min(bal), max(bal) FROM acct;
SELECT hex(sha3_query('SELECT * FROM t ORDER BY id'));
SELECT hex(sha3_query('SELECT * FROM acct ORDER BY id'));
PRAGMA integrity_check;
EOF

# The poller: a second process reading while the writer commits.
cat >"$DIR/poll.py" <<'EOF'
import os, sqlite3, sys, time
db, done, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect(db, timeout=20, isolation_level=None)
c.execute("PRAGMA mmap_size=1073741824")
polls, last, deadline, final = 0, -1, time.time() + 60, False
while True:
    if not final and os.path.exists(done):
        final = True   # the writer has exited: the next poll must see it all
    n, total, rows = c.execute(
        "SELECT (SELECT n FROM prog), sum(bal), count(*) FROM acct").fetchone()
    polls += 1
    if total != 1000 * 1000 or rows != 1000:
        sys.exit("poll %d: accounts total %s over %s rows, expected 1000000 over 1000 (commit %s)"
                 % (polls, total, rows, n))
    if n < last:
        sys.exit("poll %d: commit counter went back from %d to %d" % (polls, last, n))
    last = n
    if final:
        if n != want:
            sys.exit("after the writer exited, the poller sees commit %d of %d "
                     "(another process's writes not visible)" % (n, want))
        break
    if time.time() > deadline:
        sys.exit("the writer did not finish within 60 s (poller saw commit %d)" % n)
    time.sleep(0.002)
print("poller: total constant, commits in order, saw the last commit")
sys.stderr.write("poller: %d polls\n" % polls)
EOF

# shmcheck DB: the -shm file's header as on disk, checked against the WAL's.
shmcheck() {
	python3 - "$1" <<'EOF'
import struct, sys
db = sys.argv[1]
shm, wal = open(db + "-shm", "rb").read(136), open(db + "-wal", "rb").read(32)
if len(shm) < 136:
    sys.exit("-shm file is %d bytes, shorter than its header" % len(shm))
h1, h2 = shm[0:48], shm[48:96]
if h1 != h2:
    sys.exit("-shm: the two header copies differ: %s / %s" % (h1.hex(), h2.hex()))
ver, _, change, init, bigend, szpage, mxframe, npage = struct.unpack("=IIIBBHII", h1[:24])
salt, cksum = h1[32:40], struct.unpack("=II", h1[40:48])
if ver != 3007000 or init != 1:
    sys.exit("-shm: header not initialized (version %d, isInit %d): %s" % (ver, init, h1.hex()))
# the wal-index header checksum: sqlite's over the first 40 bytes, native order
fmt = ">" if bigend else "<"
s1 = s2 = 0
words = struct.unpack(fmt + "10I", h1[:40])
for i in range(0, 10, 2):
    s1 = (s1 + words[i] + s2) & 0xffffffff
    s2 = (s2 + words[i + 1] + s1) & 0xffffffff
if (s1, s2) != cksum:
    sys.exit("-shm: header checksum %08x %08x, computed %08x %08x" % (cksum + (s1, s2)))
if salt != wal[16:24]:   # copied as bytes from the WAL header
    sys.exit("-shm: salt %s is not the WAL file's %s" % (salt.hex(), wal[16:24].hex()))
print("-shm header valid: page size %d, mxFrame %d, %d pages" % (szpage, mxframe, npage))
EOF
}

# run J MODE: the steps for journal mode J without or with the library.
run() {
	local j=$1 mode=$2 d=$DIR/$1.$2 step pre persist="" p
	mkdir -p "$d"
	persist=".filectrl persist_wal 1"   # harmless in DELETE mode: the outputs stay alike
	for step in build update xfer query; do
		pre=()
		# One process at a time: the -shm file (32K mappings) is managed
		# too, to test writes through it. With two processes it is shared
		# memory both write without a common lock: it must stay with the
		# kernel, as it does by default (PAGESHIM_MIN_SIZE).
		min=0
		[ $step = xfer ] && min=1M
		[ $mode = pageshim ] && pre=(env PAGESHIM_STATS_FILE="$d/stats.$step.%p.json" LD_PRELOAD="$LIBPAGESHIM"
			PAGESHIM_MIN_SIZE=$min)
		[ $mode = kernel ] && pre=(env -u LD_PRELOAD)
		if [ $step = xfer ]; then
			rm -f "$d/writer.done"
			"${pre[@]}" "$PY" "$DIR/poll.py" "$d/db" "$d/writer.done" $XFERS \
				>"$d.poll.out" 2>"$d.poll.err" &
			p=$!
		fi
		{ echo "$persist"; [ $step = build ] && echo "PRAGMA journal_mode=$j;"
		  cat "$DIR/$step.sql"; } >"$d/$step.sql"
		"${pre[@]}" sqlite3 -bail "$d/db" <"$d/$step.sql" >>"$d.out" 2>>"$d.err" ||
			fail "$j $mode $step: sqlite3 exited $? ($(tail -n 3 "$d.err"))"
		if [ $step = xfer ]; then
			touch "$d/writer.done"
			wait $p || fail "$j $mode: the poller: $(tail -n 2 "$d.poll.err")"
			cat "$d.poll.out" >>"$d.out"
		fi
		if [ $j = wal ] && { [ $step = build ] || [ $step = update ]; }; then
			[ -e "$d/db-shm" ] || fail "$j $mode $step: no -shm file left (persist_wal)"
			shmcheck "$d/db" >"$d.shm.$step" ||
				fail "$j $mode $step: the wal-index on disk is not what sqlite wrote through its mapping"
		fi
	done
}

t0=$SECONDS
for j in wal delete; do
	for mode in kernel pageshim; do
		run $j $mode
		note "$j $mode: done at $((SECONDS - t0))s"
	done
done

size=$(stat -c %s "$DIR/delete.kernel/db")
note "database: $size bytes after VACUUM; count, sums, max id: $(grep -m1 "|" "$DIR/delete.kernel.out")"
[ "$size" -ge $((40 * 1024 * 1024)) ] || fail "expected a database >= 40M (5x the budget), got $size bytes"
grep -qx wal "$DIR/wal.kernel.out" || fail "kernel run: the WAL database is not in WAL mode"
for r in wal.kernel wal.pageshim delete.kernel delete.pageshim; do
	[ "$(tail -n 1 "$DIR/$r.out")" = ok ] || fail "$r: integrity_check did not say ok: $(tail -n 3 "$DIR/$r.out")"
done
note "$(cat "$DIR/wal.kernel.shm.update")"
for j in wal delete; do
	[ -s "$DIR/$j.pageshim.err" ] && note "$j pageshim stderr: $(head -n 5 "$DIR/$j.pageshim.err")"
	same "$DIR/$j.kernel.out" "$DIR/$j.pageshim.out" "$j: query output"
done
# WAL and DELETE hold the same data.
grep -v '^wal$' "$DIR/wal.kernel.out" >"$DIR/wal.cmp"
grep -v '^delete$' "$DIR/delete.kernel.out" >"$DIR/delete.cmp"
same "$DIR/wal.cmp" "$DIR/delete.cmp" "WAL against DELETE (kernel)"

for j in wal delete; do
	for step in build update xfer query; do
		files=("$DIR/$j.pageshim"/stats.$step.*.json)
		expect_counter mappings_managed -ge 1 "$j $step" "${files[@]}"
		expect_counter faults -gt 0 "$j $step" "${files[@]}"
	done
done
# The wal-index is written through its mapping by every writer.
expect_counter pages_written_back -gt 0 "wal: the -shm mapping, all steps" "$DIR/wal.pageshim"/stats.*.json
note "sqlite_write: identical results with and without pageshim, WAL and DELETE"

#!/usr/bin/env bash
# lmdb.sh - LMDB's tools on a database larger than the budget.
#
# LMDB maps its data file MAP_SHARED read-only, mapsize (256M) far beyond the
# file, and writes with pwrite and lseek+writev while the file grows under
# the mapping: the library must keep up. A generated dump (60,000 records,
# ~40M) is loaded with mdb_load, then read back with mdb_dump, mdb_stat and
# mdb_copy (plain and compacting), each without and with the library (budget
# 8M): the databases, dumps, stats and copies must be identical, and the
# library's stats files show managed mappings and faults.
. "$(dirname "$0")/common.bash"
need_lib
need_cmd mdb_load "apt-get install lmdb-utils"
need_cmd python3

N=60000
python3 - "$N" >"$DIR/in.txt" <<'EOF'
import sys
n = int(sys.argv[1])
w = sys.stdout.write
w("VERSION=3\nformat=print\ntype=btree\nmapsize=268435456\nmaxreaders=126\n"
  "db_pagesize=4096\nHEADER=END\n")
for i in range(n):
    # print format: one space, then the bytes (printable ones as themselves)
    w(" key%08d\n val%08d-%s\n" % (i, i, chr(97 + i % 26) * (300 + (i * 37) % 700)))
w("DATA=END\n")
EOF

# runin MODE TAG CMD...: run CMD without or with the library; stdout to
# $DIR/MODE.TAG, the library's stats to $DIR/MODE.TAG.json.
runin() {
	local mode=$1 tag=$2 rc
	shift 2
	if [ "$mode" = kernel ]; then
		kern "$@" >"$DIR/$mode.$tag" 2>>"$DIR/$mode.err"
	else
		PAGESHIM_CACHE_SIZE=8M PAGESHIM_STATS_FILE="$DIR/$mode.$tag.json" \
			shim "$@" >"$DIR/$mode.$tag" 2>>"$DIR/$mode.err"
	fi
	rc=$?
	[ $rc = 0 ] || fail "$mode: $* exited $rc ($(tail -n 3 "$DIR/$mode.err"))"
}

for mode in kernel pageshim; do
	db=$DIR/$mode.db
	mkdir -p "$db" "$db.copy" "$db.compact"
	runin $mode load mdb_load -f "$DIR/in.txt" "$db"
	runin $mode dump mdb_dump -p "$db"
	runin $mode stat mdb_stat "$db"
	runin $mode envstat mdb_stat -e "$db"
	runin $mode copy mdb_copy "$db" "$db.copy"
	runin $mode compact mdb_copy -c "$db" "$db.compact"
	# The copies, read back without the library.
	runin kernel "$mode.copydump" mdb_dump -p "$db.copy"
	runin kernel "$mode.compactdump" mdb_dump -p "$db.compact"
done

size=$(stat -c %s "$DIR/kernel.db/data.mdb")
note "data.mdb: $size bytes, $(grep -c '^ key' "$DIR/kernel.dump") records in the dump"
[ "$size" -ge $((32 * 1024 * 1024)) ] || fail "expected a database >= 32M (4x the budget), got $size bytes"
[ "$(grep -c '^ key' "$DIR/kernel.dump")" = $N ] || fail "kernel dump: expected $N records"
sed -n '/^HEADER=END$/,$p' "$DIR/in.txt" >"$DIR/in.data"
sed -n '/^HEADER=END$/,$p' "$DIR/kernel.dump" >"$DIR/kernel.data"
same "$DIR/in.data" "$DIR/kernel.data" "the records loaded and dumped without the library"
same "$DIR/kernel.db/data.mdb" "$DIR/pageshim.db/data.mdb" "data.mdb loaded by mdb_load"
for tag in dump stat envstat kernel.copydump kernel.compactdump; do
	k=$DIR/kernel.$tag p=$DIR/pageshim.$tag
	[ "$tag" = kernel.copydump ] && p=$DIR/kernel.pageshim.copydump
	[ "$tag" = kernel.compactdump ] && p=$DIR/kernel.pageshim.compactdump
	same "$k" "$p" "$tag"
done
same "$DIR/kernel.db.copy/data.mdb" "$DIR/pageshim.db.copy/data.mdb" "mdb_copy output"
same "$DIR/kernel.db.compact/data.mdb" "$DIR/pageshim.db.compact/data.mdb" "mdb_copy -c output"
for tag in load dump stat copy compact; do
	expect_stats "$DIR/pageshim.$tag.json" "$tag"
done
note "lmdb: identical databases, dumps, stats and copies with and without pageshim"

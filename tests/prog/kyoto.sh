#!/usr/bin/env bash
# kyoto.sh - Kyoto Cabinet's file hash database, written through its mapping.
#
# A HashDB maps its file MAP_SHARED, PROT_READ|PROT_WRITE, up to -msiz bytes,
# writes records and buckets there with memcpy (pwrite past -msiz), grows the
# file with ftruncate under the mapping and shrinks it at close. Without and
# with the library (budget 8M), on a ~13M database:
#   1. kchashtest order -set: 200,000 records, all through a 256M mapping;
#   2. kchashtest order -rem -oas: removes 2,000 of them with an 8M mapping
#      (the rest by pwrite), msync(MS_SYNC) and fsync after every removal;
#   3. kchashmgr defrag: moves records inside a 64M mapping;
#   4. kchashmgr check and inform, and kchashmgr list -pv (every record).
# Each must exit 0; the database files must be identical, and so must the
# record lists, counts and the tests' own counts, read back without the
# library (and inform and list with it). The library's stats: mappings
# managed in every step, and pages written back: for step 1 at least half
# the file's pages (the records, appended through the mapping, fill half of
# it; the buckets, written at random, the rest).
. "$(dirname "$0")/common.bash"
need_lib
need_cmd kchashtest "apt-get install kyotocabinet-utils"
need_cmd kchashmgr "apt-get install kyotocabinet-utils"
need_cmd python3

export PAGESHIM_CACHE_SIZE=8M
RNUM=200000 REM=2000

# runin MODE TAG CMD...: CMD without or with the library; stdout to
# $DIR/TAG.out (progress dots dropped), stderr to $DIR/TAG.err, the
# library's stats to $DIR/TAG.stats.PID.json.
runin() {
	local mode=$1 tag=$2 rc
	shift 2
	run_side "$mode" "$tag" "$DIR/$tag.raw" "$@"
	rc=$?
	[ $rc = 0 ] || fail "$tag: $* exited $rc: $(tail -n 4 "$DIR/$tag.err") $(tail -n 4 "$DIR/$tag.raw")"
	[ -s "$DIR/$tag.err" ] && note "$tag stderr: $(head -n 3 "$DIR/$tag.err")"
	# what does not depend on the run: drop dots, times, memory, the seed, the path
	grep -v -e '^\.' -e '^time:' -e '^memory:' -e 'seed=' -e '^path:' "$DIR/$tag.raw" >"$DIR/$tag.out"
}

for mode in kernel pageshim; do
	db=$DIR/$mode.kch
	t0=$SECONDS
	runin $mode $mode.set kchashtest order -set -msiz 268435456 "$db" $RNUM
	grep -qx 'ok' "$DIR/$mode.set.out" || fail "$mode set: kchashtest did not end with ok"
	runin $mode $mode.rem kchashtest order -rem -oas -msiz 8388608 "$db" $REM
	grep -qx 'ok' "$DIR/$mode.rem.out" || fail "$mode rem: kchashtest did not end with ok"
	runin $mode $mode.defrag kchashmgr defrag "$db"
	note "$mode: set, rem, defrag took $((SECONDS - t0))s"
	# read back without the library, then with it
	# (check is slow under an 8M budget: its random reads fault one by one)
	runin kernel $mode.kernel.check kchashmgr check "$db"
	cp "$DIR/$mode.kernel.check.out" "$DIR/$mode.pageshim.check.out"
	for rmode in kernel pageshim; do
		runin $rmode $mode.$rmode.inform kchashmgr inform "$db"
		runin $rmode $mode.$rmode.list kchashmgr list -pv "$db"
		sha256sum <"$DIR/$mode.$rmode.list.out" | cut -d' ' -f1 >"$DIR/$mode.$rmode.listsum"
		rm -f "$DIR/$mode.$rmode.list.out" "$DIR/$mode.$rmode.list.raw"
	done
done

size=$(stat -c %s "$DIR/kernel.kch")
note "database: $size bytes; $(grep '^count' "$DIR/kernel.kernel.inform.out")"
[ "$size" -ge $((12 * 1024 * 1024)) ] || fail "expected a database >= 12M (1.5x the budget), got $size bytes"
grep -qx "count: $((RNUM - REM))" "$DIR/kernel.kernel.inform.out" ||
	fail "kernel run: expected $((RNUM - REM)) records: $(cat "$DIR/kernel.kernel.inform.out")"
grep -q "^$((RNUM - REM)) records were checked successfully" "$DIR/kernel.kernel.check.out" ||
	fail "kernel run: kchashmgr check: $(tail -n 1 "$DIR/kernel.kernel.check.out")"
for tag in set rem defrag; do
	same "$DIR/kernel.$tag.out" "$DIR/pageshim.$tag.out" "$tag: kchashtest's or kchashmgr's output"
done
for r in kernel.pageshim pageshim.kernel pageshim.pageshim; do
	for what in check.out inform.out listsum; do
		same "$DIR/kernel.kernel.$what" "$DIR/$r.$what" "${what%.out} ($r: written ${r%%.*}, read ${r#*.})"
	done
done
same "$DIR/kernel.kch" "$DIR/pageshim.kch" "the database file"

for tag in set rem defrag; do
	expect_counter mappings_managed -ge 1 "pageshim $tag (a MAP_SHARED PROT_WRITE mapping)" \
		"$DIR"/pageshim.$tag.stats.*.json
	expect_counter faults -gt 0 "pageshim $tag" "$DIR"/pageshim.$tag.stats.*.json
done
expect_counter pages_written_back -ge $((size / 4096 / 2)) \
	"pageshim set (written through the mapping: all $((size / 4096)) pages but some buckets)" \
	"$DIR"/pageshim.set.stats.*.json
expect_counter pages_written_back -gt 0 "pageshim rem (msync after every removal)" "$DIR"/pageshim.rem.stats.*.json
expect_counter pages_written_back -gt 0 "pageshim defrag" "$DIR"/pageshim.defrag.stats.*.json
note "kyoto: identical databases, records and counts with and without pageshim"

#!/usr/bin/env bash
# bench_write.sh - `pageshim bench --read-ratio`: accesses that write.
#
# A write puts the block's own pattern back, so every later read still
# verifies and the file must end byte for byte what it was: each run is
# followed by a cmp with a file written afresh. With 30% writes through a
# writable shared mapping, under the kernel and under pageshim (a 4M cache
# over a 64M file, so dirty pages are evicted and written back), then with
# pread, pread-direct and pread-direct 8 in flight (io_uring writes): about
# 30% of the ops are counted as writes and the final msync/fdatasync is
# timed; under pageshim every page dirtied was written back once the final
# msync returned. Only writes (--read-ratio 0) under
# PAGESHIM_WRITEBACK=msync with a 2M cache count every op as a write and
# spill dirty pages; a ratio outside [0, 1] or not a number is refused
# with exit 2.
. "$(dirname "$0")/common.bash"
need_lib
P=$B/pageshim
[ -x "$P" ] || fail "$P not built"
f=$DIR/data.bin ref=$DIR/ref.bin
"$P" bench --file "$f" --size 64M --seconds 0 2>/dev/null || fail "cannot create $f"
"$P" bench --file "$ref" --size 64M --seconds 0 2>/dev/null || fail "cannot create $ref"

# bench_rw TAG MODE [ENV...] -- BENCH-FLAGS...: one 1-second run with
# --json into $DIR/TAG.json; the file must still equal the reference.
bench_rw() {
	local tag=$1 mode=$2
	shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	$mode env "${envs[@]}" "$P" bench --file "$f" --seconds 1 --json "$@" \
		>"$DIR/$tag.json" 2>"$DIR/$tag.err" || fail "$tag: $(cat "$DIR/$tag.err")"
	cmp -s "$f" "$ref" || fail "$tag: the file differs from its pattern after the run: $(cmp "$f" "$ref")"
}

# ratio_ok TAG: 0.7 reported, writes about 30% of ops, the sync timed.
ratio_ok() {
	[ "$(json_get "$DIR/$1.json" 'j["read_ratio"] == 0.7 and j["ops"] >= 500 and 0.2 < j["writes"] / j["ops"] < 0.4 and j["sync_s"] >= 0')" = True ] ||
		fail "$1: expected 0.2-0.4 of 500+ ops to be writes and sync_s: $(cat "$DIR/$1.json")"
	note "$1: $(json_get "$DIR/$1.json" 'j["ops"]') ops, $(json_get "$DIR/$1.json" 'j["writes"]') writes," \
	     "sync $(json_get "$DIR/$1.json" 'j["sync_s"]') s"
}

bench_rw mmap-kern kern -- --io mmap --threads 2 --read-ratio 0.7
ratio_ok mmap-kern
bench_rw mmap-shim shim PAGESHIM_CACHE_SIZE=4M -- --io mmap --threads 2 --read-ratio 0.7
ratio_ok mmap-shim
# only writes, with a 2M cache: more pages are dirtied than the cache holds
bench_rw mmap-spill shim PAGESHIM_WRITEBACK=msync PAGESHIM_CACHE_SIZE=2M -- --io mmap --read-ratio 0
[ "$(json_get "$DIR/mmap-spill.json" 'j["ops"] > 0 and j["writes"] == j["ops"]')" = True ] ||
	fail "--read-ratio 0: expected every op a write: $(cat "$DIR/mmap-spill.json")"
for tag in mmap-shim mmap-spill; do
	[ "$(json_get "$DIR/$tag.json" 'j["pageshim_mappings_managed"] == 1 and j["pageshim_pages_dirtied"] > 0 and j["pageshim_pages_written_back"] == j["pageshim_pages_dirtied"]')" = True ] ||
		fail "$tag: expected the mapping managed and every dirtied page written back after msync: $(cat "$DIR/$tag.json")"
done
# The default write-back evicts (clean pages, and dirty ones once written
# back); under msync write-back a dirty page over the budget is spilled
# instead, which pages_spilled counts and evicted_pages does not.
[ "$(json_get "$DIR/mmap-shim.json" 'j["pageshim_evicted_pages"] > 0 and j["pageshim_pages_spilled"] == 0')" = True ] ||
	fail "mmap-shim: expected evictions and no spilled page under the default write-back: $(cat "$DIR/mmap-shim.json")"
[ "$(json_get "$DIR/mmap-spill.json" 'j["pageshim_pages_spilled"] > 0')" = True ] ||
	fail "mmap-spill: expected dirty pages over the budget spilled: $(cat "$DIR/mmap-spill.json")"
note "mmap-spill: $(json_get "$DIR/mmap-spill.json" 'j["ops"]') writes, $(json_get "$DIR/mmap-spill.json" 'j["pageshim_pages_spilled"]') spills," \
     "sync $(json_get "$DIR/mmap-spill.json" 'j["sync_s"]') s"

bench_rw pread kern -- --io pread --threads 2 --read-ratio 0.7
ratio_ok pread
bench_rw direct kern -- --io pread-direct --read-ratio 0.7
ratio_ok direct
bench_rw direct8 kern -- --io pread-direct --depth 8 --read-ratio 0.7
ratio_ok direct8

for bad in 1.5 -0.1 x nan; do
	"$P" bench --file "$f" --read-ratio "$bad" >/dev/null 2>"$DIR/bad.err"
	rc=$?
	[ $rc = 2 ] && grep -q "read-ratio \"$bad\".*from 0" "$DIR/bad.err" ||
		fail "--read-ratio $bad: expected exit 2 and the range, got $rc: $(cat "$DIR/bad.err")"
done
note "--read-ratio 0 writes only; 1.5, -0.1, x and nan refused"

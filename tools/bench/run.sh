#!/bin/bash
# run.sh - what `make bench` runs: the benchmark suite of issue 3.
#
# Five scenarios, each kernel mmap (A) vs pageshim (B) through `pageshim ab`
# (a fresh memory cgroup per run, BENCH_MEMORY_MB, cold page cache unless
# said), and the device's own limit (`pageshim bench --io pread-direct`,
# run bare: O_DIRECT bypasses the page cache, so the limit changes nothing):
#   1. random 4 KiB reads, 2 and 8 threads: MADV_RANDOM vs pageshim vs
#      O_DIRECT; and no madvise at 8 threads;
#   2. sequential scan, 1 thread: MADV_SEQUENTIAL vs pageshim vs O_DIRECT,
#      1 MiB reads one at a time and the best of two depths of reads in
#      flight (io_uring: 1 MiB x 8, 512 KiB x 32);
#   3. scan+hot: 1 scanner, 2 hot readers on a hot set of half the limit;
#   4. a hot set inside the budget (a file of a quarter of the limit),
#      random reads, 2 threads: steady state after warm-up;
#   5. first touch of a file already in the page cache (three quarters of
#      the limit, read once beforehand; --no-drop), random reads, 2 threads.
# Scenarios 1-3 use a file of BENCH_FILE_MB (4x the limit by default).
# Every run is repeated BENCH_RUNS times (ab alternates A B A B ...) and
# the report takes medians.
#
# Environment: BENCH_FILE_MB (2048), BENCH_MEMORY_MB (512), BENCH_SECONDS
# (10), BENCH_RUNS (3); BENCH_OUT (tools/bench) gets RESULTS.md and the
# SVGs; the data and every run's output go to build/bench. Needs root.
# About 10 minutes with the defaults.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
pageshim=$root/build/pageshim
file_mb=${BENCH_FILE_MB:-2048}
memory_mb=${BENCH_MEMORY_MB:-512}
seconds=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
out=${BENCH_OUT:-$root/tools/bench}
work=$root/build/bench
big=$work/data-${file_mb}M.bin
small=$work/data-$((memory_mb / 4))M.bin
cached=$work/data-$((memory_mb * 3 / 4))M.bin

die() { echo "bench: $*" >&2; exit 1; }

for v in "$file_mb" "$memory_mb" "$seconds" "$runs"; do
	case $v in ''|*[!0-9]*|0) die "BENCH_* settings are positive integers (got \"$v\")" ;; esac
done
(( memory_mb >= 64 )) || die "BENCH_MEMORY_MB must be at least 64"
[ -x "$pageshim" ] || die "$pageshim is missing: run make first"
[ "$(id -u)" = 0 ] || die "needs root (pageshim ab makes a memory cgroup per run and drops the page cache)"
mkdir -p "$work" "$out" || die "cannot create $work or $out"
rm -f "$work"/*.json "$work/commands.txt"
rm -rf "$work"/s[0-9]*

prepare() {
	"$pageshim" bench --file "$1" --size "$2M" --seconds 0 || die "cannot prepare $1"
}
prepare "$big" "$file_mb"
prepare "$small" $((memory_mb / 4))
prepare "$cached" $((memory_mb * 3 / 4))

# ab NAME [AB FLAGS] -- BENCH FLAGS: A/B runs of pageshim bench; JSON in
# $work/NAME.json, every run's output in $work/NAME/.
ab() {
	local name=$1 flags=()
	shift
	while [ "$1" != -- ]; do flags+=("$1"); shift; done
	shift
	local cmd=("$pageshim" ab --memory "${memory_mb}M" --runs "$runs" "${flags[@]}"
		   --out "$work/$name" --json -- "$pageshim" bench --seconds "$seconds" --json "$@")
	echo "$name: ${cmd[*]}" >>"$work/commands.txt"
	echo "bench: $name" >&2
	"${cmd[@]}" >"$work/$name.json" || die "$name failed (see above; files in $work/$name)"
}

# direct NAME BENCH FLAGS: the O_DIRECT run, BENCH_RUNS times, JSON of
# run k in $work/NAME-k.json.
direct() {
	local name=$1
	shift
	local cmd=("$pageshim" bench --seconds "$seconds" --io pread-direct --json "$@")
	echo "$name: ${cmd[*]}" >>"$work/commands.txt"
	echo "bench: $name" >&2
	for ((k = 1; k <= runs; k++)); do
		"${cmd[@]}" >"$work/$name-$k.json" || die "$name failed"
	done
}

for t in 2 8; do
	ab s1-random-t$t -- --file "$big" --pattern random --advice random --threads $t
	direct s1-direct-t$t --file "$big" --pattern random --threads $t
done
ab s1-normal-t8 -- --file "$big" --pattern random --advice normal --threads 8
ab s2-seq -- --file "$big" --pattern seq --advice sequential --threads 1
direct s2-direct --file "$big" --pattern seq --access 1M --threads 1
direct s2-direct-d8 --file "$big" --pattern seq --access 1M --depth 8 --threads 1
direct s2-direct-d32 --file "$big" --pattern seq --access 512K --depth 32 --threads 1
ab s3-scanhot -- --file "$big" --pattern scan+hot --hot $((memory_mb / 2))M --threads 3
ab s4-hot -- --file "$small" --pattern random --threads 2
cat "$cached" >/dev/null
ab s5-cached --no-drop -- --file "$cached" --pattern random --threads 2

python3 "$root/tools/bench/report.py" "$work" "$out" "$file_mb" "$memory_mb" "$seconds" "$runs" ||
	die "cannot write the report"
echo "bench: wrote $out/RESULTS.md, $out/random.svg, $out/seq.svg" >&2

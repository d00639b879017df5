#!/bin/bash
# cost.sh - what `make bench-cost` runs: what pageshim's diagnostics cost.
#
# Random 4 KiB reads (2 threads, MADV_RANDOM) of a file 16 times the budget,
# under pageshim in four configurations, one after another in each round so
# that the machine's drift falls on all alike:
#   none     PAGESHIM_STACK_SAMPLE=0 (stats and histograms only: always on)
#   default  stack sampling at its default, 1/1000
#   all      every fault's stack taken (1/1), to show what one sample costs
#   trace    the default plus PAGESHIM_TRACE
# It prints each configuration's median ops/s, the median over rounds of its
# ratio to `none` in the same round, and its median fault service time
# (pageshim's own histogram, from the stats file). The stats themselves
# cannot be switched off: build/statcost times their per-fault work alone,
# on one thread and on two with every add contended, set against the fault
# service time here.
#
# Environment: COST_FILE_MB (1024), COST_CACHE_MB (64), COST_SECONDS (3),
# COST_ROUNDS (7). About 1.5 minutes with the defaults.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
pageshim=$root/build/pageshim
file_mb=${COST_FILE_MB:-1024}
cache_mb=${COST_CACHE_MB:-64}
seconds=${COST_SECONDS:-3}
rounds=${COST_ROUNDS:-7}
work=$root/build/cost
data=$work/data-${file_mb}M.bin

die() { echo "bench-cost: $*" >&2; exit 1; }
for v in "$file_mb" "$cache_mb" "$seconds" "$rounds"; do
	case $v in ''|*[!0-9]*|0) die "COST_* settings are positive integers (got \"$v\")" ;; esac
done
[ -x "$pageshim" ] && [ -x "$root/build/statcost" ] || die "run make first"
mkdir -p "$work" || die "cannot create $work"
rm -f "$work"/*.json "$work"/*.trace
"$pageshim" bench --file "$data" --size "${file_mb}M" --seconds 0 || die "cannot prepare $data"

for ((r = 1; r <= rounds; r++)); do
	for c in none default all trace; do
		flags=(--cache "${cache_mb}M" --stats "$work/$c-$r.stats.json")
		case $c in
		none) flags+=(--stack-sample 0) ;;
		all) flags+=(--stack-sample 1/1) ;;
		trace) flags+=(--trace "$work/$c-$r.trace") ;;
		esac
		"$pageshim" run "${flags[@]}" -- "$pageshim" bench --file "$data" --threads 2 \
			--seconds "$seconds" --advice random --json >"$work/$c-$r.json" ||
			die "round $r, $c failed"
		echo "bench-cost: round $r/$rounds: $c" >&2
	done
done

python3 - "$work" "$rounds" "$("$root/build/statcost" 1)" "$("$root/build/statcost" 2)" <<'PY'
import json, os, statistics as st, sys
work, rounds, stat_ns, stat_contended_ns = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
def bench(c, r): return json.loads(open(f"{work}/{c}-{r}.json").readline())["ops_per_s"]
def p50(c, r): return json.load(open(f"{work}/{c}-{r}.stats.json"))["fault_latency_us"]["p50"]
print("| configuration | ops/s (median) | ratio to none (median of rounds) | fault p50 us |")
print("|---|---|---|---|")
for c in ("none", "default", "all", "trace"):
    ops = [bench(c, r) for r in range(1, rounds + 1)]
    ratio = st.median(bench(c, r) / bench("none", r) for r in range(1, rounds + 1))
    print(f"| {c} | {st.median(ops):.0f} | {ratio:.3f} | {st.median(p50(c, r) for r in range(1, rounds + 1)):.0f} |")
faults = [json.load(open(f"{work}/trace-{r}.stats.json"))["faults"] for r in range(1, rounds + 1)]
size = [os.path.getsize(f"{work}/trace-{r}.trace") for r in range(1, rounds + 1)]
base = st.median(p50("none", r) for r in range(1, rounds + 1))
extra = st.median(p50("all", r) - p50("none", r) for r in range(1, rounds + 1))
print(f"\ntrace: {st.median(s / f for s, f in zip(size, faults)):.1f} bytes per fault")
print(f"one stack sample: about {extra:.0f} us added to its fault (p50 all - p50 none); "
      f"at 1/1000, {extra / 1000 / base * 100:.3f}% of a fault")
print(f"stats: {stat_ns:.0f} ns of bookkeeping per fault, {stat_contended_ns:.0f} ns with every add "
      f"contended (build/statcost 1, 2): {stat_ns / 1000 / base * 100:.2f}% and "
      f"{stat_contended_ns / 1000 / base * 100:.2f}% of the median fault here ({base:.0f} us)")
PY

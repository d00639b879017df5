#!/usr/bin/env bash
# run.sh - run pageshim's tests: unit tests once, each semantic test under the
# kernel and under pageshim, each program test once.
#
#   tests/run.sh [NAME...]      only the tests whose name contains one NAME
#   MODES="kernel"              run semantic tests in these modes only
#   TEST_TIMEOUT=120            seconds per run
#
# Exit codes of a test: 0 pass, 77 skip (it must print a line "SKIP: why"),
# anything else fails. One line per run (result, name, mode, seconds); the
# output of failures follows; the last line is "N passed, N failed[, N skipped]".
#
# Semantic tests (build/tests/sem/NAME) get PAGESHIM_TEST_MODE=kernel|pageshim
# and PAGESHIM_TEST_DIR, a fresh directory under build/tmp (on disk: pageshim
# passes tmpfs files through). The pageshim run adds
#     LD_PRELOAD=build/libpageshim.so PAGESHIM_MIN_SIZE=0 PAGESHIM_CACHE_SIZE=16M
# Comment lines in tests/sem/NAME.c change that run:
#     // pageshim-env: VAR=value ... LD_PRELOAD+=LIB
#         more environment; LD_PRELOAD+=LIB appends build/tests/lib/LIB.so
#         after libpageshim.so, so that the library's dlsym(RTLD_NEXT) finds it
#     // preload: LIB ...
#         build/tests/lib/LIB.so preloaded in both modes (after libpageshim.so)
#     // pageshim-stderr: N
#         stderr must hold exactly N lines, each naming pageshim (tests print
#         only to stdout, so stderr is the library's)
#
# Program tests (tests/prog/NAME.sh) run once with LIBPAGESHIM (absolute path
# of the library), PAGESHIM_BUILD (absolute build dir) and PAGESHIM_TEST_DIR.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
B=$ROOT/build
LIB=$B/libpageshim.so
# Scratch for this invocation only (two runs at once must not share files);
# removed at the end unless something failed, and then at the next run.
TMP=$B/tmp/run.$$
for old in "$B"/tmp/run.*; do
	[ -d "$old" ] && ! kill -0 "${old##*.}" 2>/dev/null && rm -rf "$old"
done
TIMEOUT=${TEST_TIMEOUT:-120}
MODES=${MODES:-kernel pageshim}
FILTERS=("$@")

passed=0 failed=0 skipped=0
failures=()
current=""
# Interrupted: take the running test's whole process group down with us.
trap '[ -n "$current" ] && kill -KILL -- -"$current" 2>/dev/null; exit 130' INT TERM

mkdir -p "$TMP" || exit 1
if [ "$(stat -f -c %T "$TMP")" = tmpfs ]; then
	echo "run.sh: $TMP is on tmpfs; pageshim passes tmpfs files through, tests need a disk" >&2
	exit 1
fi

# The environment a run starts from: none of the caller's PAGESHIM_* settings.
CLEAN_ENV=(-u LD_PRELOAD)
for v in $(compgen -e | grep '^PAGESHIM_'); do CLEAN_ENV+=(-u "$v"); done

selected() {
	[ ${#FILTERS[@]} -eq 0 ] && return 0
	local f
	for f in "${FILTERS[@]}"; do [[ $1 == *"$f"* ]] && return 0; done
	return 1
}

# directive FILE KEY: the text after "// KEY:" in FILE (all such lines).
directive() {
	[ -f "$1" ] && sed -n "s|^// $2: *||p" "$1"
}

# run NAME MODE STDERR_LINES CMD...: one run, its line, its bookkeeping.
# STDERR_LINES is "" (not checked) or the exact number of pageshim lines.
run() {
	local name=$1 mode=$2 want_err=$3
	shift 3
	local dir=$TMP/$name.$mode log=$TMP/$name.$mode.log
	rm -rf "$dir" && mkdir -p "$dir"
	local t0 t1 rc result note=""
	t0=$(date +%s%N)
	# timeout leads its own process group: whatever the test leaves running
	# (a child stuck in a fault) is found by group and killed.
	env "${CLEAN_ENV[@]}" PAGESHIM_TEST_DIR="$dir" timeout -k 5 "$TIMEOUT" "$@" \
		>"$log.out" 2>"$log.err" </dev/null &
	local pid=$!
	current=$pid
	wait $pid
	rc=$?
	t1=$(date +%s%N)
	local left
	left=$(pgrep -g $pid | tr '\n' ' ')
	if [ -n "$left" ]; then
		kill -KILL -- -$pid 2>/dev/null
		[ $rc = 0 ] && rc=1
		echo "run.sh: processes left running after the test exited, killed: $left" >>"$log.out"
	fi
	case $rc in
	0) result=PASS ;;
	77) result=SKIP
	    note=$(grep -m1 '^SKIP' "$log.out" | sed 's/^SKIP:* *//')
	    if [ -z "$note" ]; then result=FAIL; note="exit 77 without a \"SKIP: reason\" line"; fi ;;
	124|137) result=FAIL; note="timed out after ${TIMEOUT}s" ;;
	*) result=FAIL
	   if [ $rc -gt 128 ]; then note="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null))"
	   else note="exit $rc"; fi ;;
	esac
	if [ $result = PASS ] && [ -n "$want_err" ]; then
		local lines named
		lines=$(grep -c '' "$log.err")
		named=$(grep -ci pageshim "$log.err")
		if [ "$lines" != "$want_err" ] || [ "$named" != "$want_err" ]; then
			result=FAIL
			note="expected $want_err pageshim line(s) on stderr, got $lines line(s), $named naming pageshim"
		fi
	fi
	printf '%-4s  %-22s %-9s %7ss%s\n' "$result" "$name" "$mode" \
		"$(awk "BEGIN { printf \"%.2f\", ($t1 - $t0) / 1e9 }")" "${note:+  ($note)}"
	case $result in
	PASS) passed=$((passed + 1)); rm -rf "$dir" "$log.out" "$log.err" ;;
	SKIP) skipped=$((skipped + 1)); rm -rf "$dir" "$log.out" "$log.err" ;;
	FAIL) failed=$((failed + 1)); failures+=("$name.$mode") ;;
	esac
}

show_failures() {
	local f
	for f in "${failures[@]}"; do
		echo
		echo "==== $f: stdout (last 40 lines) ===="
		tail -n 40 "$TMP/$f.log.out"
		echo "==== $f: stderr (last 20 lines) ===="
		tail -n 20 "$TMP/$f.log.err"
		echo "==== (files kept in $TMP/$f) ===="
	done
}

missing() {
	printf '%-4s  %-22s %-9s %7.2fs  (%s)\n' FAIL "$1" "$2" 0 "$3"
	failed=$((failed + 1))
}

# ---- unit tests ----
for src in tests/unit/*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	selected "$name" || continue
	if [ -x "$B/tests/unit/$name" ]; then run "$name" unit "" "$B/tests/unit/$name"
	else missing "$name" unit "not built: make $B/tests/unit/$name"; fi
done

# ---- semantic tests ----
for src in tests/sem/*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	selected "$name" || continue
	bin=$B/tests/sem/$name
	for mode in $MODES; do
		if [ ! -x "$bin" ]; then missing "$name" "$mode" "not built: make $bin"; continue; fi
		both="" bad=""
		for lib in $(directive "$src" preload); do
			[ -e "$B/tests/lib/$lib.so" ] || bad="not built: $B/tests/lib/$lib.so"
			both="$both $B/tests/lib/$lib.so"
		done
		if [ -n "$bad" ]; then missing "$name" "$mode" "$bad"; continue; fi
		if [ "$mode" = kernel ]; then
			run "$name" kernel "" env ${both:+LD_PRELOAD="${both# }"} PAGESHIM_TEST_MODE=kernel "$bin"
			continue
		fi
		if [ ! -e "$LIB" ]; then
			printf '%-4s  %-22s %-9s %7.2fs  (%s)\n' SKIP "$name" pageshim 0 "$LIB not built"
			skipped=$((skipped + 1))
			continue
		fi
		preload="$LIB$both" extra=()
		for word in $(directive "$src" pageshim-env); do
			case $word in
			LD_PRELOAD+=*)
				lib=$B/tests/lib/${word#LD_PRELOAD+=}.so
				[ -e "$lib" ] || bad="not built: $lib"
				preload="$preload $lib" ;;
			*=*) extra+=("$word") ;;
			*) bad="bad pageshim-env word \"$word\" in $src" ;;
			esac
		done
		if [ -n "$bad" ]; then missing "$name" pageshim "$bad"; continue; fi
		run "$name" pageshim "$(directive "$src" pageshim-stderr | tail -n1)" \
			env LD_PRELOAD="$preload" PAGESHIM_MIN_SIZE=0 PAGESHIM_CACHE_SIZE=16M \
			"${extra[@]}" PAGESHIM_TEST_MODE=pageshim "$bin"
	done
done

# ---- program tests ----
for src in tests/prog/*.sh; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .sh)
	selected "$name" || continue
	run "$name" prog "" env LIBPAGESHIM="$LIB" PAGESHIM_BUILD="$B" bash "$ROOT/$src"
done

show_failures
[ $failed -eq 0 ] && rm -rf "$TMP"
summary="$passed passed, $failed failed"
[ $skipped -gt 0 ] && summary="$summary, $skipped skipped"
echo
echo "$summary"
[ $failed -eq 0 ]

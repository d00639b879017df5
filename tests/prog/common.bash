# common.bash - sourced by tests/prog/*.sh (not a test itself: the runner
# only runs *.sh). A program test runs a real program with and without the
# library and compares; exit 0 pass, 1 fail, 77 skip with "SKIP: why".
#
# From the runner: LIBPAGESHIM (absolute path of the library), PAGESHIM_BUILD
# (the build directory), PAGESHIM_TEST_DIR (scratch, on disk).
set -u
set -o pipefail

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "$*"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${PAGESHIM_BUILD:-$ROOT/build}
LIBPAGESHIM=${LIBPAGESHIM:-$B/libpageshim.so}
DIR=${PAGESHIM_TEST_DIR:-}
[ -n "$DIR" ] && [ -d "$DIR" ] || fail "PAGESHIM_TEST_DIR is not a directory: '$DIR'"
[ "$(stat -f -c %T "$DIR")" != tmpfs ] || fail "PAGESHIM_TEST_DIR $DIR is tmpfs (files there pass through)"

need_lib() { [ -e "$LIBPAGESHIM" ] || skip "$LIBPAGESHIM not built"; }
need_cmd() { command -v "$1" >/dev/null || skip "$1 not installed (${2:-apt-get install $1})"; }

# kern CMD...: run without the library. shim CMD...: run with it and the
# test budget; extra PAGESHIM_* may be set in the environment of the call.
kern() { env -u LD_PRELOAD "$@"; }
shim() {
	env LD_PRELOAD="$LIBPAGESHIM" PAGESHIM_MIN_SIZE="${PAGESHIM_MIN_SIZE:-0}" \
		PAGESHIM_CACHE_SIZE="${PAGESHIM_CACHE_SIZE:-16M}" "$@"
}

# json_num FILE KEY: the number under KEY (searched at any depth) in a JSON
# file the library wrote; fails when the file or the key is missing.
json_num() {
	[ -s "$1" ] || fail "stats file $1 missing or empty"
	stats_sum "$2" "$1" "$1"
	echo "$REPLY"
}

# run_side MODE TAG OUT CMD...: CMD without (MODE kernel) or with the library
# (its stats to $DIR/TAG.stats.PID.json), stdout to OUT, stderr to
# $DIR/TAG.err; returns CMD's status.
run_side() {
	local mode=$1 tag=$2 out=$3
	shift 3
	if [ "$mode" = kernel ]; then
		kern "$@" >"$out" 2>"$DIR/$tag.err"
	else
		PAGESHIM_STATS_FILE="$DIR/$tag.stats.%p.json" shim "$@" >"$out" 2>"$DIR/$tag.err"
	fi
}

# expect_stats FILE WHAT: the run managed at least one mapping and faulted.
expect_stats() {
	local managed faults
	managed=$(json_num "$1" mappings_managed) || exit 1
	faults=$(json_num "$1" faults) || exit 1
	note "$2: mappings_managed $managed, faults $faults"
	[ "$managed" -ge 1 ] || fail "$2: expected mappings_managed >= 1 in $1, got $managed"
	[ "$faults" -gt 0 ] || fail "$2: expected faults > 0 in $1, got $faults"
}

# json_get FILE EXPR: a Python expression over the JSON object j on FILE's
# first line (pageshim bench --json).
json_get() {
	python3 -c 'import json, sys; j = json.loads(open(sys.argv[1]).readline()); print(eval(sys.argv[2]))' "$1" "$2" ||
		fail "cannot read $2 from $1: $(head -c 300 "$1")"
}

# same FILE1 FILE2 WHAT: identical files, else the first differences.
same() {
	cmp -s "$1" "$2" && return 0
	echo "--- $1 vs $2 (first differences):"
	diff "$1" "$2" | head -n 20
	fail "$3: outputs differ"
}

# stats_sum KEY WHAT FILE...: REPLY = the sum of the library's counter KEY
# over the stats files (one per process; one python3 for them all). Fails
# naming the counter when a file lacks it, and when there is no file.
stats_sum() {
	local key=$1 what=$2 out
	shift 2
	[ $# -gt 0 ] && [ -e "$1" ] || fail "$what: no stats file written (PAGESHIM_STATS_FILE)"
	out=$(python3 - "$key" "$@" <<'EOF'
import json, sys
def find(o, key):
    if isinstance(o, dict):
        if key in o and isinstance(o[key], (int, float)):
            return o[key]
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            r = find(v, key)
            if r is not None:
                return r
    return None
total = 0
for f in sys.argv[2:]:
    try:
        r = find(json.load(open(f)), sys.argv[1])
    except (OSError, ValueError) as e:
        print("stats file %s unreadable: %s" % (f, e))
        sys.exit(1)
    if r is None:
        print("the library's stats have no counter \"%s\" (%s: %s)"
              % (sys.argv[1], f, open(f).read(300).replace("\n", " ")))
        sys.exit(1)
    total += int(r)
print(total)
EOF
	) || fail "$what: $out"
	REPLY=$out
}

# expect_counter KEY OP N WHAT FILE...: the counter KEY summed over the stats
# files, compared with N by test's OP (-ge, -gt, -eq ...).
expect_counter() {
	local key=$1 op=$2 n=$3 what=$4
	shift 4
	stats_sum "$key" "$what" "$@"
	note "$what: $key $REPLY"
	[ "$REPLY" "$op" "$n" ] || fail "$what: expected $key $op $n, got $REPLY (in $*)"
}

#!/usr/bin/env bash
# bad_config.sh - a malformed PAGESHIM_* value: one line naming it, no harm.
#
# For each bad setting the library must write exactly one stderr line that
# names the variable, manage nothing, and leave the program working on the
# kernel's mmap: build/tests/sem/no_uffd --any-passthrough checks the data
# and that stats show active 0 and mappings_managed 0; a bad PAGESHIM_INJECT
# rule is named with its number. PAGESHIM_DISABLE=1 is
# the good-value control: nothing managed, nothing said.
. "$(dirname "$0")/common.bash"
need_lib
BIN=$B/tests/sem/no_uffd
[ -x "$BIN" ] || fail "$BIN not built"

# setting, stderr lines expected
cases=(
	"PAGESHIM_CACHE_SIZE=lots 1"
	"PAGESHIM_CACHE_SIZE=-16M 1"
	"PAGESHIM_HANDLERS=0 1"
	"PAGESHIM_HANDLERS=many 1"
	"PAGESHIM_READAHEAD=0 1"
	"PAGESHIM_LOG=loud 1"
	"PAGESHIM_ON_CORRUPT=panic 1"
	"PAGESHIM_DISABLE=maybe 1"
	"PAGESHIM_MIN_SIZE=1Q 1"
	"PAGESHIM_INJECT=eio,offset=1Q-2M 1"
	"PAGESHIM_INJECT=delay:20,every=3;boom 1"
	"PAGESHIM_INJECT=eio,prob=0.5,every=2 1"
	"PAGESHIM_DISABLE=1 0"
)
i=0
for c in "${cases[@]}"; do
	set -- $c
	setting=$1 want=$2 var=${1%%=*}
	i=$((i + 1))
	d=$DIR/$i
	mkdir -p "$d"
	# (env applies assignments in order: the setting under test comes last)
	env LD_PRELOAD="$LIBPAGESHIM" PAGESHIM_MIN_SIZE=0 "$setting" \
		PAGESHIM_TEST_MODE=pageshim PAGESHIM_TEST_DIR="$d" "$BIN" --any-passthrough \
		>"$d.out" 2>"$d.err"
	rc=$?
	[ $rc = 0 ] || { cat "$d.out"; fail "$setting: the program exited $rc; stderr: $(head -n 5 "$d.err")"; }
	lines=$(grep -c '' "$d.err")
	named=$(grep -c "$var" "$d.err")
	[ "$lines" = "$want" ] && [ "$named" = "$want" ] ||
		fail "$setting: expected $want stderr line(s) naming $var, got $lines line(s), $named naming it: $(head -n 5 "$d.err")"
	note "$setting: ${want} line(s) $(head -n 1 "$d.err")"
done
# A bad injection rule is named, as written, with its number.
grep -q 'rule 2 "boom"' "$DIR/11.err" || fail "PAGESHIM_INJECT: the bad rule not named: $(cat "$DIR/11.err")"
note "${#cases[@]} settings: one line naming each bad variable, the program right on the kernel's mmap"

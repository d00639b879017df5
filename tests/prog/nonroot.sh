#!/usr/bin/env bash
# nonroot.sh - as an unprivileged user, userfaultfd is refused for real.
#
# vm.unprivileged_userfaultfd=0 and /dev/userfaultfd readable by root only:
# user nobody cannot get a userfaultfd. The library must then pass every
# mapping through, say so in exactly one stderr line, and the program must
# run as under the kernel. build/tests/sem/no_uffd checks the data and that
# the stats show nothing managed; it runs as nobody in both modes.
. "$(dirname "$0")/common.bash"
need_lib
need_cmd setpriv "apt-get install util-linux"
[ "$(id -u)" = 0 ] || skip "needs root to switch to user nobody"
[ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ] ||
	skip "vm.unprivileged_userfaultfd is not 0 here: nobody could use userfaultfd"
BIN=$B/tests/sem/no_uffd
[ -x "$BIN" ] || fail "$BIN not built"

AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${AS_NOBODY[@]}" test -x "$BIN" -a -r "$LIBPAGESHIM" ||
	skip "user nobody cannot reach $BIN or $LIBPAGESHIM (a parent directory is not searchable)"
if "${AS_NOBODY[@]}" test -w /dev/userfaultfd; then
	skip "user nobody can open /dev/userfaultfd here"
fi

for mode in kernel pageshim; do
	d=$DIR/$mode
	mkdir -p "$d" && chown 65534:65534 "$d"
	if [ $mode = kernel ]; then
		kern "${AS_NOBODY[@]}" env PAGESHIM_TEST_MODE=kernel PAGESHIM_TEST_DIR="$d" "$BIN" \
			>"$d.out" 2>"$d.err"
	else
		shim "${AS_NOBODY[@]}" env PAGESHIM_TEST_MODE=pageshim PAGESHIM_TEST_DIR="$d" "$BIN" \
			>"$d.out" 2>"$d.err"
	fi
	rc=$?
	cat "$d.out"
	[ $rc = 0 ] || fail "$mode run as nobody exited $rc; stderr: $(head -n 5 "$d.err")"
done
[ ! -s "$DIR/kernel.err" ] || fail "kernel run wrote to stderr: $(head -n 3 "$DIR/kernel.err")"
lines=$(grep -c '' "$DIR/pageshim.err")
named=$(grep -ci pageshim "$DIR/pageshim.err")
note "pageshim's line: $(head -n 1 "$DIR/pageshim.err")"
[ "$lines" = 1 ] && [ "$named" = 1 ] ||
	fail "expected exactly one pageshim line on stderr, got $lines line(s), $named naming pageshim: $(head -n 5 "$DIR/pageshim.err")"
note "as nobody: userfaultfd refused, one warning, every mapping right through the kernel"

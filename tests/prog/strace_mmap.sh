#!/usr/bin/env bash
# strace_mmap.sh - below the API: the kernel does not keep the file mapped.
#
# python3 maps a 1M file with mmap.mmap, prints a SHA-256 of its bytes and
# the lines of /proc/self/maps that name the file while it is mapped. Under
# the kernel there is one; under the library none (the range is anonymous
# memory), and strace -y shows a UFFDIO_REGISTER of the whole 1M range. The
# digest is sha256sum's in both runs.
. "$(dirname "$0")/common.bash"
need_lib
need_cmd strace
PY=/usr/bin/python3
[ -x $PY ] || skip "$PY not installed (apt-get install python3)"

DATA=$(realpath "$DIR")/data
head -c $((1024 * 1024)) /dev/urandom >"$DATA"
want=$(sha256sum <"$DATA" | cut -d' ' -f1)
PROG='import hashlib, mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print(hashlib.sha256(m[:]).hexdigest())
    print(sum(1 for l in open("/proc/self/maps") if l.rstrip().endswith(sys.argv[1])))
    m.close()'

strace -f -y -qq -e trace=mmap,ioctl -o "$DIR/kernel.trace" -E LD_PRELOAD= \
	$PY -c "$PROG" "$DATA" >"$DIR/kernel.out" || fail "kernel run exited $?"
strace -f -y -qq -e trace=mmap,ioctl -o "$DIR/pageshim.trace" -E LD_PRELOAD="$LIBPAGESHIM" \
	-E PAGESHIM_MIN_SIZE=0 -E PAGESHIM_CACHE_SIZE=8M $PY -c "$PROG" "$DATA" >"$DIR/pageshim.out" ||
	fail "pageshim run exited $? ($(tail -n 3 "$DIR/pageshim.trace"))"

for mode in kernel pageshim; do
	got=$(head -n 1 "$DIR/$mode.out")
	[ "$got" = "$want" ] || fail "$mode: expected the digest $want, got '$got'"
done
k=$(sed -n 2p "$DIR/kernel.out") p=$(sed -n 2p "$DIR/pageshim.out")
[ "$k" = 1 ] || fail "kernel run: expected 1 line of /proc/self/maps naming the file, got '$k'"
[ "$p" = 0 ] || fail "pageshim run: expected no line of /proc/self/maps naming the file, got '$p'"
n=$(grep -c 'UFFDIO_REGISTER, {range={start=0x[0-9a-f]*, len=0x100000}' "$DIR/pageshim.trace")
[ "$n" -ge 1 ] || fail "pageshim run: expected a UFFDIO_REGISTER of 0x100000 bytes in the trace, got none"
note "digests equal; maps lines naming the file: $k without, $p with the library ($n UFFDIO_REGISTER)"

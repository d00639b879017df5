#!/usr/bin/env bash
# stat.sh - `pageshim stat` and `pageshim top` read running processes' counters.
#
# A python3 process under `pageshim run --cache 16M` maps a 32 MiB file,
# reads every page once, says it is ready, then reads random pages until told
# to stop (twice the budget: it keeps faulting and evicting). Meanwhile:
#   1. `pageshim stat --json PID`: serving, one managed mapping, the budget,
#      resident within it; rates over a second: faults and evictions going
#      on; per file: the data file first, its 8192 pages filled and 32 MiB
#      read at least, pages evicted; a stall site at offset 0 of the data
#      file (its first page's read is delayed 20 ms with --inject), with a
#      stack;
#   2. the table form names the same process; `pageshim top`, driven in a
#      pseudo-terminal, lists it, shows its files (the data file) on Enter,
#      and quits with status 0 on q and on Ctrl-C
#      (without a terminal it refuses, exit 2);
#   3. once the process has exited, its segment is gone;
#   4. a process killed with SIGKILL leaves its segment: `pageshim stat`
#      says it is gone (exit 1) and removes it;
#   5. no PID, or a bad one: exit 2; a process not under pageshim: exit 1;
#      one with another version's (shorter) segment: exit 1, and top runs on.
. "$(dirname "$0")/common.bash"
need_lib
need_cmd python3
PS=$B/pageshim
[ -x "$PS" ] || fail "$PS not built"
[ -d /dev/shm ] || skip "no /dev/shm"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
DATA=$DIR/data
head -c $((32 << 20)) /dev/urandom >"$DATA"

cat >"$DIR/reader.py" <<'EOF'
import mmap, os, random, sys, time
data, ready, done = sys.argv[1:4]
f = open(data, "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
s = 0
for i in range(0, len(m), 4096):
    s += m[i]
open(ready, "w").close()
deadline = time.time() + 30
rnd = random.Random(7)
while not os.path.exists(done) and time.time() < deadline:
    for _ in range(2000):
        s += m[rnd.randrange(len(m) // 4096) * 4096]
    time.sleep(0.001)
EOF

# start_reader TAG: the reader under pageshim; its pid in READER
start_reader() {
	rm -f "$DIR/$1.ready" "$DIR/$1.done"
	env -u LD_PRELOAD "$PS" run --cache 16M --inject "delay:20,file=*/data,offset=0-4K" -- "$PY" "$DIR/reader.py" "$DATA" "$DIR/$1.ready" "$DIR/$1.done" \
		2>"$DIR/$1.err" &
	READER=$!
	for _ in $(seq 1 200); do
		[ -e "$DIR/$1.ready" ] && return 0
		kill -0 $READER 2>/dev/null || fail "$1: the reader exited early: $(tail -n 3 "$DIR/$1.err")"
		sleep 0.1
	done
	fail "$1: the reader was not ready within 20 s"
}

start_reader a
seg=/dev/shm/pageshim-$(id -u)-$READER
[ -e "$seg" ] || fail "no segment $seg for the running reader"
"$PS" stat --json "$READER" >"$DIR/stat.json" || fail "pageshim stat --json exited $?"
python3 - "$DIR/stat.json" "$READER" "$(realpath "$DATA")" <<'EOF' || fail "pageshim stat --json: $(cat "$DIR/stat.json")"
import json, sys
s = json.load(open(sys.argv[1]))
def want(cond, what):
    if not cond:
        sys.exit("%s: %s" % (what, s))
want(s["pid"] == int(sys.argv[2]), "pid")
want(s["active"] == 1 and s["mappings_live"] == 1, "serving one managed mapping")
want(s["budget_mib"] == 16.0 and s["resident_mib"] <= 17, "budget 16 MiB, resident within it")
want(s["faults"] >= 1 and s["fault_max_us"] >= s["fault_p50_us"] > 0, "faults and their latencies")
want(s["interval_s"] > 0.5, "a rate over about a second")
want(s["faults_per_s"] > 0 and s["evictions_per_s"] > 0, "faulting and evicting (random reads over twice the budget)")
data = [f for f in s["files"] if f["path"] == sys.argv[3]]
want(len(data) == 1 and data[0] == s["files"][0], "the data file first among the files")
want(data[0]["pages_filled"] >= 8192 and data[0]["bytes_read"] >= 32 << 20 and data[0]["evicted_pages"] > 0,
     "the data file: every page filled and read once at least, pages evicted")
fl, io = data[0]["fault_latency_us"], data[0]["io_latency_us"]
want(0 < fl["count"] <= data[0]["faults"] and fl["p50"] <= fl["p99"] <= fl["max"] and fl["max"] >= 20000
     and 0 < io["count"] and io["max"] <= fl["max"],
     "the data file's own latency: its faults counted, the 20 ms delay its slowest, its I/O within")
site = [t for t in s["stall_sites"] if t["file"] == sys.argv[3] and t["offset_min"] == 0]
want(len(site) >= 1 and site[0]["max_us"] >= 20000 and len(site[0]["stack"]) >= 1,
     "a stall site of 20 ms or more at offset 0 of the data file, with a stack")
print("stat: %d faults, %.0f/s, %.0f evictions/s, p99 %d us" % (s["faults"], s["faults_per_s"], s["evictions_per_s"], s["fault_p99_us"]))
EOF
note "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("json: %d faults, %.0f/s" % (s["faults"], s["faults_per_s"]))' "$DIR/stat.json")"
"$PS" stat --interval 0.2 "$READER" >"$DIR/stat.txt" || fail "pageshim stat exited $?"
grep -Eq "^ *process +$READER$" "$DIR/stat.txt" || fail "the table does not name process $READER: $(head -n 3 "$DIR/stat.txt")"
grep -q "stall sites, most waiting first" "$DIR/stat.txt" && grep -Eq "^ +[0-9]+ +[0-9.]+ +[0-9.]+  $(realpath "$DATA") 0-" "$DIR/stat.txt" ||
	fail "the table shows no stall site of the data file: $(tail -n 5 "$DIR/stat.txt")"
# top_pty.py PID PAGESHIM KEY [PATH]: pageshim top in a pseudo-terminal until
# PID shows (then, with PATH, Enter on PID's row until the process's files
# show PATH: other shimmed processes on the machine may come first, so a
# wrong row is left with Backspace and the next one tried), then KEY; its
# exit status must be 0.
cat >"$DIR/top_pty.py" <<'EOF'
import os, pty, select, sys, time
want, ps, key = sys.argv[1].encode(), sys.argv[2], sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.environ.update(TERM="xterm", COLUMNS="250", LINES="40")      # room for whole paths
    os.execv(ps, [ps, "top", "--delay", "0.2"])
buf, seen, deadline = b"", False, time.time() + 15
while time.time() < deadline and not seen:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            buf += os.read(fd, 65536)
        except OSError:
            break
    seen = b"pageshim top" in buf and want in buf
if seen and len(sys.argv) > 4:
    path, mine, seen = sys.argv[4].encode(), b"files of process " + want + b" ", False
    for row in range(16):
        buf, deadline = b"", time.time() + 10
        os.write(fd, b"\r")
        while time.time() < deadline and not seen and (mine in buf or b"files of process" not in buf):
            if select.select([fd], [], [], 0.2)[0]:
                buf += os.read(fd, 65536)
            seen = mine in buf and path in buf
        if seen or b"files of process" not in buf:
            break
        os.write(fd, b"\x7f")        # another process's files: back, and the next row
        time.sleep(0.5)
        os.write(fd, b"\x1b[B")
        time.sleep(0.3)
    want = path
os.write(fd, key)
end = time.time() + 5
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if select.select([fd], [], [], 0.1)[0]:
        try:
            os.read(fd, 65536)
        except OSError:
            pass
else:
    os.kill(pid, 9)
    sys.exit("top did not quit on %r within 5 s" % key)
if not seen:
    sys.exit("top never showed pid %s: %r" % (want.decode(), buf[-400:]))
if status != 0:
    sys.exit("top exited with status %#x on %r" % (status, key))
print("top: pid shown, quit on %r" % key)
EOF
python3 "$DIR/top_pty.py" "$READER" "$PS" q "$(realpath "$DATA")" || fail "pageshim top, Enter on the reader, q"
python3 "$DIR/top_pty.py" "$READER" "$PS" $'\x03' || fail "pageshim top, Ctrl-C"
"$PS" top </dev/null >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || fail "pageshim top without a terminal: expected exit 2, got $rc"
touch "$DIR/a.done"
wait $READER || fail "the reader exited $?: $(tail -n 3 "$DIR/a.err")"
[ -e "$seg" ] && fail "$seg still there after the reader exited"

start_reader b
seg=/dev/shm/pageshim-$(id -u)-$READER
kill -9 $READER
wait $READER 2>/dev/null
[ -e "$seg" ] || fail "no stale segment after SIGKILL (expected one to clean)"
"$PS" stat "$READER" >"$DIR/gone.out" 2>"$DIR/gone.err"
rc=$?
[ $rc = 1 ] && grep -q "gone" "$DIR/gone.err" || fail "a killed process: expected exit 1 saying gone, got $rc: $(cat "$DIR/gone.err")"
[ -e "$seg" ] && fail "pageshim stat left the stale $seg"

"$PS" stat >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "no PID: expected exit 2, got $rc"
"$PS" stat x1 >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "PID x1: expected exit 2, got $rc"
sleep 5 &
"$PS" stat $! >/dev/null 2>"$DIR/plain.err"; rc=$?
kill $! 2>/dev/null
[ $rc = 1 ] && grep -q "publishes no pageshim stats" "$DIR/plain.err" ||
	fail "a process not under pageshim: expected exit 1, got $rc: $(cat "$DIR/plain.err")"
# Another version's segment, shorter than this one's (once a SIGBUS in the tools).
sleep 5 &
other=/dev/shm/pageshim-$(id -u)-$!
head -c 100 /dev/zero >"$other"
"$PS" stat $! >/dev/null 2>"$DIR/other.err"; rc=$?
python3 "$DIR/top_pty.py" "processes under pageshim" "$PS" q >"$DIR/other.top" 2>&1
top_rc=$?
kill $! 2>/dev/null
rm -f "$other"
[ $rc = 1 ] && grep -q "not a pageshim stats segment of this version" "$DIR/other.err" ||
	fail "another version's segment: expected exit 1 naming it, got $rc: $(cat "$DIR/other.err")"
[ $top_rc = 0 ] || fail "pageshim top with another version's segment: expected it to draw and quit, got $top_rc: $(cat "$DIR/other.top")"
note "stat: a running process read (stat and top), its segment gone at exit, a killed one's cleaned"

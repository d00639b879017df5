#!/usr/bin/env bash
# report.sh - `pageshim report` turns a trace, or a stats file, into a
# summary and SVG pictures that parse and hold the run's numbers.
#
# `pageshim bench` reads a 48 MiB file at random under a 16 MiB budget with
# --trace and --stats. Then:
#   1. `pageshim report TRACE --svg DIR`: the summary counts the trace's
#      faults (counted here from the file itself, in Python) and names the
#      file; latency.svg's bars sum to the faults; timeline.svg has both
#      series; heatmap-1.svg is the data file's, and its cells sum to the
#      data file's faults;
#   2. `pageshim report STATS --svg DIR`: the summary has the stats' faults;
#      latency.svg's bars sum to the histogram's count;
#   3. a trace cut in the middle of a record is read up to there, with a
#      note; a file that is neither: exit 1; a missing file: exit 1; no
#      operand or an unknown flag: exit 2; crafted traces: a fault at page
#      2^52-1 (its offset would pass 2^64 bytes) and a page size of 1 are
#      refused with exit 1, every fault served in 0 ns gives a latency.svg
#      without NaN; /dev/zero is refused at once, not read forever.
. "$(dirname "$0")/common.bash"
need_cmd python3
PS=$B/pageshim
[ -x "$PS" ] || fail "$PS not built"
need_lib
DATA=$DIR/data
TRACE=$DIR/run.trace
STATS=$DIR/run.stats.json

"$PS" run --cache 16M --min-size 0 --trace "$TRACE" --stats "$STATS" -- \
	"$PS" bench --file "$DATA" --size 48M --threads 2 --seconds 1 --advice random >"$DIR/bench.out" ||
	fail "pageshim bench under --trace failed: $(tail -n 3 "$DIR/bench.out")"
[ -s "$TRACE" ] || fail "no trace written"

# The trace's own numbers: faults in all, and those of the data file.
read -r FAULTS DATA_FAULTS < <(python3 - "$TRACE" "$DATA" <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"pstrace1", "magic"
i, names, faults, per = 32, {}, 0, {}
while i + 40 <= len(b):
    t, page, tid, pages, svc, io, f, typ, cause, pad = struct.unpack_from("<QQIIIIHBBI", b, i)
    if typ == 2:
        names[f] = b[i + 40:i + 40 + pages].decode()
        i += 40 + (pages + 39) // 40 * 40
        continue
    faults += 1
    per[f] = per.get(f, 0) + 1
    i += 40
print(faults, sum(n for f, n in per.items() if names.get(f) == sys.argv[2]))
EOF
)
[ "${DATA_FAULTS:-0}" -gt 0 ] || fail "the trace holds no fault of $DATA"

"$PS" report "$TRACE" --svg "$DIR/svg" >"$DIR/report.txt" 2>"$DIR/report.err" ||
	fail "pageshim report TRACE exited $?: $(cat "$DIR/report.err")"
grep -Eq "\b$FAULTS\b" "$DIR/report.txt" || fail "the summary does not count $FAULTS faults: $(head -n 12 "$DIR/report.txt")"
grep -q "$DATA" "$DIR/report.txt" || fail "the summary does not name $DATA"

python3 - "$DIR/svg" "$FAULTS" "$DATA" "$DATA_FAULTS" <<'EOF' || exit 1
import os, sys, xml.etree.ElementTree as ET
d, faults, data, data_faults = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
NS = "{http://www.w3.org/2000/svg}"
def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)
def load(name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        fail("%s not written (%s)" % (name, sorted(os.listdir(d))))
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        fail("%s does not parse: %s" % (name, e))
def by_id(root, ident):
    for e in root.iter():
        if e.get("id") == ident:
            return e
    fail("no element with id %s" % ident)
def counts(group):
    return sum(int(e.get("data-count")) for e in group.iter() if e.get("data-count") is not None)
lat = load("latency.svg")
n = counts(by_id(lat, "bars"))
if n != faults:
    fail("latency.svg: bars sum to %d, the trace has %d faults" % (n, faults))
tl = load("timeline.svg")
for series in ("faults_per_s", "mb_per_s"):
    pts = by_id(tl, series).get("points", "").split()
    if len(pts) < 2:
        fail("timeline.svg: series %s has %d points" % (series, len(pts)))
hm = load("heatmap-1.svg")
title = hm.find(NS + "title")
if title is None or data not in (title.text or ""):
    fail("heatmap-1.svg is not the data file's (title %r)" % (title.text if title is not None else None))
n = counts(by_id(hm, "cells"))
if n != data_faults:
    fail("heatmap-1.svg: cells sum to %d, the data file has %d faults" % (n, data_faults))
print("report: %d faults; latency, timeline and heat map agree with the trace" % faults)
EOF

STATS_FAULTS=$(json_num "$STATS" faults) || exit 1
"$PS" report "$STATS" --svg "$DIR/svg-stats" >"$DIR/report-stats.txt" 2>"$DIR/report-stats.err" ||
	fail "pageshim report STATS exited $?: $(cat "$DIR/report-stats.err")"
grep -Eq "\b$STATS_FAULTS\b" "$DIR/report-stats.txt" || fail "the stats summary does not count $STATS_FAULTS faults"
python3 - "$DIR/svg-stats/latency.svg" "$STATS" <<'EOF' || exit 1
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
want = sum(b[2] for b in json.load(open(sys.argv[2]))["fault_hist_ns"])
bars = [e for e in root.iter() if e.get("id") == "bars"]
got = sum(int(e.get("data-count")) for e in bars[0].iter() if e.get("data-count") is not None) if bars else -1
if got != want:
    print("FAIL: stats latency.svg: bars sum to %d, the histogram holds %d" % (got, want))
    sys.exit(1)
EOF

# 3. Bad input.
size=$(stat -c %s "$TRACE")
head -c $((size - 13)) "$TRACE" >"$DIR/cut.trace"
"$PS" report "$DIR/cut.trace" >/dev/null 2>"$DIR/cut.err" || fail "a cut trace: exit $?: $(cat "$DIR/cut.err")"
[ -s "$DIR/cut.err" ] || fail "a cut trace: no note on stderr"
echo "just text" >"$DIR/neither"
"$PS" report "$DIR/neither" >/dev/null 2>"$DIR/neither.err"
[ $? = 1 ] || fail "a file that is neither a trace nor stats: expected exit 1"
[ -s "$DIR/neither.err" ] || fail "a file that is neither: no message"
# craft PAGE_SIZE OUT PAGE SERVICE_NS...: the real trace's header with that
# page size, then one fault of file 0 per SERVICE_NS, the first at page 0
# and the others at PAGE.
craft() {
	python3 - "$TRACE" "$@" <<'EOF'
import struct, sys
src, ps, out, page = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
head = bytearray(open(src, "rb").read()[:32])
assert struct.unpack_from("<I", head, 12)[0] == 4096, "the header's page size is not at byte 12"
struct.pack_into("<I", head, 12, ps)
recs = b"".join(struct.pack("<QQIIIIHBBI", 1000 * i, page if i else 0, 7, 1, int(ns), 0, 0, 1, 1, 0)
                for i, ns in enumerate(sys.argv[5:]))
open(out, "wb").write(bytes(head) + recs)
EOF
}
craft 4096 "$DIR/far.trace" $((0xFFFFFFFFFFFFF)) 5000 5000 || fail "cannot craft a trace"
"$PS" report "$DIR/far.trace" --svg "$DIR/svg-far" >/dev/null 2>"$DIR/far.err"
rc=$?
[ $rc = 1 ] && grep -q "past 2^64" "$DIR/far.err" ||
	fail "a fault past 2^64 bytes: expected exit 1 and a reason, got $rc: $(cat "$DIR/far.err")"
craft 1 "$DIR/ps1.trace" 7 5000 5000 || fail "cannot craft a trace"
"$PS" report "$DIR/ps1.trace" >/dev/null 2>"$DIR/ps1.err"
rc=$?
[ $rc = 1 ] && grep -q "another pageshim version" "$DIR/ps1.err" ||
	fail "a page size of 1: expected exit 1 and a reason, got $rc: $(cat "$DIR/ps1.err")"
craft 4096 "$DIR/zero.trace" 3 0 0 0 || fail "cannot craft a trace"
"$PS" report "$DIR/zero.trace" --svg "$DIR/svg-zero" >/dev/null 2>"$DIR/zero.err" ||
	fail "faults of 0 ns: exit $?: $(cat "$DIR/zero.err")"
grep -qi nan "$DIR/svg-zero/latency.svg" && fail "faults of 0 ns: NaN in latency.svg"
timeout 10 "$PS" report /dev/zero >/dev/null 2>"$DIR/devzero.err"
rc=$?
[ $rc = 1 ] && grep -q "not a regular file" "$DIR/devzero.err" ||
	fail "/dev/zero: expected exit 1 at once, got $rc: $(cat "$DIR/devzero.err")"
"$PS" report "$DIR/missing" >/dev/null 2>&1
[ $? = 1 ] || fail "a missing file: expected exit 1"
"$PS" report >/dev/null 2>&1
[ $? = 2 ] || fail "no operand: expected exit 2"
"$PS" report --bogus "$TRACE" >/dev/null 2>&1
[ $? = 2 ] || fail "an unknown flag: expected exit 2"
note "report: trace of $FAULTS faults and stats of $STATS_FAULTS faults turned into SVG"

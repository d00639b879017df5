#!/usr/bin/env bash
# fio_mmap.sh - fio's mmap engine writing and verifying a file 4x the budget.
#
# fio --ioengine=mmap maps the file MAP_SHARED, PROT_READ|PROT_WRITE and
# memcpy()s to and from it. One fio run (a process per job, one after the
# other) runs two jobs on a 64M file, without and with the library (budget
# 16M):
#   fill:   writes every 4K block through the mapping, each with a verify
#           header (crc32c, offset, job number);
#   randrw: then random reads and writes (70% writes) over the whole file,
#           msync(MS_SYNC) every 256 writes (--fsync), verifying its writes
#           as it goes (--verify_backlog) and all of them at the end
#           (--do_verify), logging its I/O (--write_iolog).
# fio must exit 0 with no job error and no verify message. Then, in new
# processes: fio reads the whole file with pread (psync, no mapping, no
# library) and checks every block's header and crc32c; a python3 check finds
# in each block the header of the job that wrote it last (the randrw job for
# exactly the blocks its log says it wrote: a write lost on the way to the
# file would leave the fill job's block, which crc32c alone would accept);
# and fio reads it once more through a mapping, with the library. The
# library's stats: the fill job's mapping and the randrw job's managed (fio
# maps the file a second time for the final verify phase, which hands both
# back to the kernel: the library writes back first), and at least one
# write-back for each page written through them: the 16384 of the fill job
# and those the randrw job wrote (less the last 256, which it may hand back
# with the mapping rather than write back).
. "$(dirname "$0")/common.bash"
need_lib
need_cmd fio
need_cmd python3

export PAGESHIM_CACHE_SIZE=16M
COMMON=(--size=64m --bs=4k --verify=crc32c --verify_fatal=1 --verify_state_save=0 --output-format=json)
cd "$DIR" || fail "cannot cd to $DIR"   # fio's files, if any, go there

# runfio MODE TAG ARGS...: fio without or with the library; its JSON report
# to $DIR/TAG.json, stderr to $DIR/TAG.err; exit 0 and no error or verify
# message in either, or fail.
runfio() {
	local mode=$1 tag=$2 rc
	shift 2
	if [ "$mode" = kernel ]; then
		kern fio --output="$DIR/$tag.json" "${COMMON[@]}" "$@" 2>"$DIR/$tag.err"
	else
		PAGESHIM_STATS_FILE="$DIR/$tag.stats.%p.json" \
			shim fio --output="$DIR/$tag.json" "${COMMON[@]}" "$@" 2>"$DIR/$tag.err"
	fi
	rc=$?
	[ $rc = 0 ] || fail "$tag: fio exited $rc: $(grep -v '^$' "$DIR/$tag.err" | head -n 4)"
	! grep -qi 'verify' "$DIR/$tag.err" || fail "$tag: fio reported: $(grep -i -m 3 verify "$DIR/$tag.err")"
	python3 - "$DIR/$tag.json" <<'EOF' >>"$DIR/$tag.jobs" || fail "$tag: $(tail -n 1 "$DIR/$tag.jobs")"
import json, sys
d = json.load(open(sys.argv[1]))
for j in d["jobs"]:
    r, w = j["read"], j["write"]
    print("%s: error %d, read %d ios, write %d ios, sync %d" % (j["jobname"], j["error"],
          r["total_ios"], w["total_ios"], j.get("sync", {}).get("total_ios", 0)))
    if j["error"]:
        sys.exit("job %s: error %d" % (j["jobname"], j["error"]))
EOF
}

# blockcheck FILE IOLOG: each block's header names the job that wrote it last.
blockcheck() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys
path, log = sys.argv[1], sys.argv[2]
written = set()
for line in open(log):
    f = line.split()
    if len(f) >= 5 and f[2] == "write":      # iolog v3: time file action offset length
        if int(f[4]) != 4096:
            sys.exit("iolog: a write of %s bytes" % f[4])
        written.add(int(f[3]))
data = open(path, "rb").read()
if len(data) != 64 << 20:
    sys.exit("%s is %d bytes, expected 64M" % (path, len(data)))
counts = {1: 0, 2: 0}
for off in range(0, len(data), 4096):
    magic, vtype, ln, seed, hoff, ts, tns, job, pad, nio, crc = \
        struct.unpack_from("<HHIQQIIHHII", data, off)
    want = 2 if off in written else 1
    if magic != 0xacca or hoff != off or job != want:
        sys.exit("block at %d: magic %x, offset %d, written by job %d; expected the %s job's"
                 % (off, magic, hoff, job, "randrw" if want == 2 else "fill"))
    counts[job] += 1
print("blocks: %d from fill, %d from randrw (as its log says)" % (counts[1], counts[2]))
EOF
}

for mode in kernel pageshim; do
	f=$DIR/$mode.dat
	runfio $mode $mode.write --filename="$f" --ioengine=mmap \
		--name=fill --rw=write --do_verify=0 \
		--name=randrw --stonewall --rw=randrw --rwmixread=30 --fsync=256 \
		--do_verify=1 --verify_backlog=512 --randrepeat=1 --randseed=4242 \
		--write_iolog="$DIR/$mode.iolog"
	runfio kernel $mode.check --filename="$f" --name=check --ioengine=psync --rw=read
	blockcheck "$f" "$DIR/$mode.iolog" >"$DIR/$mode.blocks" ||
		fail "$mode: the file on disk, read without the library: $(tail -n 1 "$DIR/$mode.blocks")"
	runfio pageshim $mode.mapcheck --filename="$f" --name=mapcheck --ioengine=mmap --rw=randread
	note "$mode: $(tr '\n' ';' <"$DIR/$mode.write.jobs") $(cat "$DIR/$mode.blocks")"
done
grep -q 'randrw: error 0, read 16384 ios, write [1-9]' "$DIR/kernel.write.jobs" ||
	fail "kernel run: the randrw job did not read and write as expected: $(cat "$DIR/kernel.write.jobs")"
grep -q 'sync [1-9]' "$DIR/kernel.write.jobs" || fail "kernel run: no msync (--fsync) was issued"
# Same seed, same I/O: the same blocks written, the same job counts.
same "$DIR/kernel.blocks" "$DIR/pageshim.blocks" "blocks written by each job"
same "$DIR/kernel.write.jobs" "$DIR/pageshim.write.jobs" "fio's job counts"

files=("$DIR"/pageshim.write.stats.*.json)
# fio forks a process per job, and each ends with _exit(): the library must
# write its stats there too, or nothing shows what it did for the jobs.
[ ${#files[@]} -ge 3 ] || fail "pageshim write: ${#files[@]} stats file(s) for 3 fio processes (the parent and" \
	"the fill and randrw job processes, which end with _exit): PAGESHIM_STATS_FILE not written at _exit?"
stats_sum mappings_passthrough "pageshim write" "${files[@]}"
note "pageshim write: mappings_passthrough $REPLY"
expect_counter mappings_managed -ge 2 "pageshim write (fill's and randrw's MAP_SHARED PROT_WRITE mappings)" "${files[@]}"
expect_counter faults -gt 0 "pageshim write" "${files[@]}"
expect_counter pages_filled -gt 0 "pageshim write" "${files[@]}"
writes=$(sed -n 's/^randrw: error 0, read [0-9]* ios, write \([0-9]*\) ios.*/\1/p' "$DIR/pageshim.write.jobs")
[ -n "$writes" ] || fail "no randrw write count in $DIR/pageshim.write.jobs"
expect_counter pages_written_back -ge $((16384 + writes - 256)) \
	"pageshim write (16384 pages written by fill, $writes by randrw, through the mappings)" "${files[@]}"
expect_counter mappings_managed -ge 1 "mapcheck of the kernel's file" "$DIR"/kernel.mapcheck.stats.*.json
note "fio_mmap: fio's mmap engine verified with and without pageshim, the file checked on disk"

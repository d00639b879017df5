#!/usr/bin/env python3
"""report.py - turn build/bench (what run.sh left) into RESULTS.md and two
SVG plots of throughput over time (random reads, sequential scan), each
with three lines: kernel mmap, pageshim, the device (O_DIRECT).

usage: report.py WORK OUT FILE_MB MEMORY_MB SECONDS RUNS
No plotting library: the SVG is written as text."""
import datetime
import json
import os
import platform
import statistics
import sys

WORK, OUT = sys.argv[1], sys.argv[2]
FILE_MB, MEMORY_MB, SECONDS, RUNS = (int(x) for x in sys.argv[3:7])


def load(name):
    with open(os.path.join(WORK, name + ".json")) as f:
        return json.loads(f.readline())


def bench_runs(name, side):
    """Every run's bench JSON of side 'A' or 'B' of ab scenario `name`."""
    runs = []
    for k in range(1, RUNS + 1):
        with open(os.path.join(WORK, name, "%s%d.out" % (side, k))) as f:
            runs.append(json.loads(f.readline()))
    return runs


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, dec=0):
    if v is None:
        return "-"
    return "{:,.{}f}".format(v, dec)


def ratio(b, a):
    return "%.2fx" % (b / a) if a and b is not None else "-"


def steady(series):
    """Median ops/s over the second half of a run (after warm-up)."""
    half = series[len(series) // 2:]
    return statistics.median(half) if half else None


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def ab_row(label, name, direct=None):
    ab = load(name)
    a, b = bench_runs(name, "A"), bench_runs(name, "B")
    ka, kb = med(a, "ops_per_s"), med(b, "ops_per_s")
    d = load(direct)["ops_per_s"] if direct else None
    return [label, fmt(ka), fmt(kb), fmt(d), ratio(kb, ka), ratio(kb, d), ratio(ka, d),
            fmt(med(a, "p999_us"), 0), fmt(med(b, "p999_us"), 0),
            fmt(ab["A"]["tlb_ipis"]), fmt(ab["B"]["tlb_ipis"]),
            fmt(ab["A"]["scan_all"]), fmt(ab["B"]["scan_all"]),
            fmt(ab["A"]["cpu_s"], 1), fmt(ab["B"]["cpu_s"], 1),
            fmt(med(b, "pageshim_evicted_pages"))]


HEAD = ["workload", "kernel ops/s", "pageshim ops/s", "O_DIRECT ops/s", "pageshim/kernel",
        "pageshim/O_DIRECT", "kernel/O_DIRECT", "kernel p99.9 us", "pageshim p99.9 us",
        "kernel TLB IPIs", "pageshim TLB IPIs", "kernel reclaim scans", "pageshim reclaim scans",
        "kernel CPU s", "pageshim CPU s", "pageshim evicted pages"]


def svg_plot(path, title, unit, lines):
    """lines: [(label, colour, [values per second])]."""
    w, h, l, r, t, b = 720, 360, 80, 160, 40, 50
    n = max(len(v) for _, _, v in lines) or 1
    top = max(max(v) if v else 0 for _, _, v in lines) * 1.1 or 1
    x = lambda i: l + (w - l - r) * i / max(n - 1, 1)
    y = lambda v: t + (h - t - b) * (1 - v / top)
    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="12">' % (w, h), '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="20" font-size="14">%s</text>' % (l, title)]
    for k in range(6):
        v = top * k / 5
        s.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (l, y(v), w - r, y(v)))
        s.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (l - 5, y(v) + 4, fmt(v)))
    for i in range(0, n, max(1, n // 10)):
        s.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(i), h - b + 15, i + 1))
    s.append('<text x="%d" y="%d" text-anchor="middle">second</text>' % ((l + w - r) / 2, h - 10))
    s.append('<text x="15" y="%d" transform="rotate(-90 15 %d)" text-anchor="middle">%s</text>'
             % ((t + h - b) / 2, (t + h - b) / 2, unit))
    for j, (label, colour, vals) in enumerate(lines):
        pts = " ".join("%.1f,%.1f" % (x(i), y(v)) for i, v in enumerate(vals))
        s.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (colour, pts))
        s.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                 % (w - r + 10, t + 20 * j, w - r + 30, t + 20 * j, colour))
        s.append('<text x="%d" y="%d">%s</text>' % (w - r + 35, t + 20 * j + 4, label))
    s.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def plot(svg, title, name, direct, mb):
    a, b, d = bench_runs(name, "A")[0], bench_runs(name, "B")[0], load(direct)
    conv = (lambda r: [v * r["access_bytes"] / 1e6 for v in r["series_ops"]]) if mb else \
        (lambda r: r["series_ops"])
    svg_plot(os.path.join(OUT, svg), title, "MB/s" if mb else "ops/s",
             [("kernel mmap", "#d62728", conv(a)), ("pageshim", "#1f77b4", conv(b)),
              ("O_DIRECT (device)", "#7f7f7f", conv(d))])


def main():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    commands = open(os.path.join(WORK, "commands.txt")).read()
    dev = os.stat(WORK).st_dev
    ra = "?"
    for q in ("queue", "../queue"):
        p = "/sys/dev/block/%d:%d/%s/read_ahead_kb" % (os.major(dev), os.minor(dev), q)
        if os.path.exists(p):
            ra = open(p).read().strip()
            break
    sh = load("s3-scanhot")
    sa, sb = bench_runs("s3-scanhot", "A"), bench_runs("s3-scanhot", "B")
    hot = [["kernel mmap", fmt(med(sa, "hot_ops_per_s")), fmt(med(sa, "hot_p99_us"), 1),
            fmt(med(sa, "scan_mb_per_s"), 1), fmt(sh["A"]["tlb_ipis"]), fmt(sh["A"]["scan_all"])],
           ["pageshim", fmt(med(sb, "hot_ops_per_s")), fmt(med(sb, "hot_p99_us"), 1),
            fmt(med(sb, "scan_mb_per_s"), 1), fmt(sh["B"]["tlb_ipis"]), fmt(sh["B"]["scan_all"])]]
    warm = []
    for name, label in (("s4-hot", "hot set inside the budget (random, 2 threads)"),
                        ("s5-cached", "first touch, file in the page cache (random, 2 threads)")):
        a, b = bench_runs(name, "A"), bench_runs(name, "B")
        sa_, sb_ = med([{"v": steady(r["series_ops"])} for r in a], "v"), \
            med([{"v": steady(r["series_ops"])} for r in b], "v")
        warm.append([label, fmt(med(a, "ops_per_s")), fmt(med(b, "ops_per_s")),
                     ratio(med(b, "ops_per_s"), med(a, "ops_per_s")),
                     fmt(sa_), fmt(sb_), ratio(sb_, sa_)])
    rows = [ab_row("random 4K, MADV_RANDOM, 2 threads", "s1-random-t2", "s1-direct-t2"),
            ab_row("random 4K, MADV_RANDOM, 8 threads", "s1-random-t8", "s1-direct-t8"),
            ab_row("random 4K, no madvise, 8 threads", "s1-normal-t8", "s1-direct-t8"),
            ab_row("sequential 4K, MADV_SEQUENTIAL, 1 thread (O_DIRECT: 1 MiB reads)", "s2-seq")]
    d2 = load("s2-direct")
    s2a, s2b = bench_runs("s2-seq", "A"), bench_runs("s2-seq", "B")
    seq = [["MB/s", fmt(med(s2a, "mb_per_s"), 1), fmt(med(s2b, "mb_per_s"), 1), fmt(d2["mb_per_s"], 1),
            ratio(med(s2b, "mb_per_s"), med(s2a, "mb_per_s")), ratio(med(s2b, "mb_per_s"), d2["mb_per_s"])]]
    plot("random.svg", "random 4 KiB reads, 8 threads, MADV_RANDOM (%d MiB file, %d MiB limit)"
         % (FILE_MB, MEMORY_MB), "s1-random-t8", "s1-direct-t8", False)
    plot("seq.svg", "sequential scan, 1 thread (%d MiB file, %d MiB limit)" % (FILE_MB, MEMORY_MB),
         "s2-seq", "s2-direct", True)
    md = ["# pageshim benchmark results", "",
          "Written by `make bench` (tools/bench/run.sh, tools/bench/report.py); do not edit by hand.", "",
          "- date: %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
          "- machine: %s, %d CPUs, %d MiB RAM" % (cpu, os.cpu_count(), int(mem) // 1024),
          "- kernel: %s %s" % (platform.system(), platform.release()),
          "- device read-ahead: %s KiB" % ra,
          "- file: %d MiB; memory cgroup limit per run: %d MiB (pageshim's cache: the limit minus "
          "32 MiB); %d s per run; %d run(s) per side, medians" % (FILE_MB, MEMORY_MB, SECONDS, RUNS),
          "- kernel counters (TLB IPIs, reclaim scans = pgscan_anon+pgscan_file) are machine-wide deltas",
          "", "## 1, 2: random reads and the sequential scan", "", table(HEAD, rows), "",
          table(["sequential", "kernel", "pageshim", "O_DIRECT 1 MiB", "pageshim/kernel",
                 "pageshim/O_DIRECT"], seq), "",
          "![random reads over time](random.svg)", "", "![sequential scan over time](seq.svg)", "",
          "## 3: scan+hot (1 scanner over the file, 2 readers on a hot set of half the limit)", "",
          table(["", "hot ops/s", "hot p99 us", "scanner MB/s", "TLB IPIs", "reclaim scans"], hot), "",
          "## 4, 5: inside the budget", "",
          "steady = median ops/s over the second half of the run (after warm-up).", "",
          table(["workload", "kernel ops/s", "pageshim ops/s", "ratio", "kernel steady",
                 "pageshim steady", "steady ratio"], warm), "",
          "## Commands", "", "```", commands.rstrip(), "```", ""]
    with open(os.path.join(OUT, "RESULTS.md"), "w") as f:
        f.write("\n".join(md))


main()

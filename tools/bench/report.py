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


def direct_runs(name):
    """Every run's bench JSON of O_DIRECT scenario `name`."""
    runs = []
    for k in range(1, RUNS + 1):
        with open(os.path.join(WORK, "%s-%d.json" % (name, k))) as f:
            runs.append(json.loads(f.readline()))
    return runs


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, dec=0):
    if v is None:
        return "-"
    return "{:,.{}f}".format(v, dec)


def div(b, a):
    return b / a if a and b is not None else None


def ratio(b, a):
    r = div(b, a)
    return "%.2fx" % r if r is not None else "-"


def steady(series):
    """Median ops/s over the second half of a run (after warm-up)."""
    half = series[len(series) // 2:]
    return statistics.median(half) if half else None


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def per_page(side, key, scale):
    """side's `key` (medians of ab) per 4 KiB page read from the device, times scale."""
    pages = side["device_read_mib"] * 256 if side.get("device_read_mib") else None
    return div(side[key] * scale, pages) if side.get(key) is not None else None


class Scenario:
    """One ab scenario's medians: kernel (a), pageshim (b), O_DIRECT (d)."""

    def __init__(self, name, direct=None):
        self.ab = load(name)
        self.a, self.b = bench_runs(name, "A"), bench_runs(name, "B")
        self.d = direct_runs(direct) if direct else None

    def get(self, side, key):
        if side == "d":
            return med(self.d, key) if self.d else None
        return med(self.a if side == "a" else self.b, key)

    def ops(self, side):
        return self.get(side, "ops_per_s")

    def counter(self, side, key):
        return self.ab["A" if side == "a" else "B"].get(key)

    def ipis(self, side):
        """TLB shootdown IPIs per 1,000 pages read from the device."""
        return per_page(self.ab["A" if side == "a" else "B"], "tlb_ipis", 1000)

    def cpu(self, side):
        """CPU microseconds (user+sys) per page read from the device."""
        return per_page(self.ab["A" if side == "a" else "B"], "cpu_s", 1e6)


def pair(s, f, dec):
    return "%s / %s" % (fmt(f(s, "a"), dec), fmt(f(s, "b"), dec))


def ab_row(label, s, direct=True):
    """One row; direct=False when the O_DIRECT runs' ops are not the same size (the scan's)."""
    d = s.ops("d") if direct else None
    return [label, fmt(s.ops("a")), fmt(s.ops("b")), fmt(d), ratio(s.ops("b"), s.ops("a")),
            ratio(s.ops("b"), d), ratio(s.ops("a"), d),
            pair(s, lambda x, k: x.get(k, "p999_us"), 0), pair(s, Scenario.ipis, 2),
            pair(s, Scenario.cpu, 1), pair(s, lambda x, k: x.counter(k, "scan_all"), 0)]


HEAD = ["workload", "kernel ops/s", "pageshim ops/s", "O_DIRECT ops/s", "pageshim/kernel",
        "pageshim/O_DIRECT", "kernel/O_DIRECT", "p99.9 us (kernel / pageshim)",
        "TLB IPIs per 1k pages read", "CPU us per page read", "reclaim scans"]


def target(label, value, ok, note=""):
    return [label, value, "met" if ok else "**not met**", note]


def targets(r2, r8, n8, seq, seq_best, hot):
    """The targets of issue 3, each with what this run measured."""
    rows = [target("random, no madvise, 8 threads: pageshim >= 0.9x O_DIRECT",
                   ratio(n8.ops("b"), n8.ops("d")), (div(n8.ops("b"), n8.ops("d")) or 0) >= 0.9)]
    for name, s in (("2 threads", r2), ("8 threads", r8)):
        vd, vk = div(s.ops("b"), s.ops("d")) or 0, div(s.ops("b"), s.ops("a")) or 0
        rows.append(target("random, MADV_RANDOM, %s: >= 0.9x O_DIRECT and >= kernel" % name,
                           "%.2fx O_DIRECT, %.2fx kernel" % (vd, vk), vd >= 0.9 and vk >= 1))
    mk, mp = seq.get("a", "mb_per_s"), seq.get("b", "mb_per_s")
    rows.append(target("sequential: >= kernel MADV_SEQUENTIAL and >= 0.9x best O_DIRECT in flight",
                       "%s kernel, %s O_DIRECT" % (ratio(mp, mk), ratio(mp, seq_best)),
                       (div(mp, mk) or 0) >= 1 and (div(mp, seq_best) or 0) >= 0.9))
    rows.append(target("hot set inside the budget, after warm-up: within 3% of the kernel",
                       ratio(hot[1], hot[0]), (div(hot[1], hot[0]) or 0) >= 0.97))
    for name, s in (("random 2 threads", r2), ("random 8 threads", r8), ("sequential", seq)):
        ka, kb = s.ipis("a"), s.ipis("b")
        rows.append(target("TLB IPIs per page read, %s: <= 1/10 of the kernel's" % name,
                           "%s vs %s per 1k pages" % (fmt(kb, 2), fmt(ka, 2)),
                           ka is not None and kb is not None and kb <= ka / 10))
    scans = [s.counter("b", "scan_all") for s in (r2, r8, n8, seq)]
    rows.append(target("reclaim scans during pageshim runs: none", fmt(max(scans)),
                       max(scans) == 0, "machine-wide, so another process's reclaim would count"))
    for name, s in (("random 2 threads", r2), ("random 8 threads", r8), ("no madvise 8 threads", n8),
                    ("sequential", seq)):
        pa, pb = s.get("a", "p999_us"), s.get("b", "p999_us")
        rows.append(target("p99.9 access latency, %s: no worse than the kernel's" % name,
                           "%s vs %s us" % (fmt(pb), fmt(pa)), pa is not None and pb is not None and pb <= pa))
    return rows


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


def plot(svg, title, s, mb):
    a, b, d = s.a[0], s.b[0], s.d[0]
    conv = (lambda r: [v * r["access_bytes"] / 1e6 for v in r["series_ops"]]) if mb else \
        (lambda r: r["series_ops"])
    svg_plot(os.path.join(OUT, svg), title, "MB/s" if mb else "ops/s",
             [("kernel mmap", "#d62728", conv(a)), ("pageshim", "#1f77b4", conv(b)),
              ("O_DIRECT (device)", "#7f7f7f", conv(d))])


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    dev = os.stat(WORK).st_dev
    ra = "?"
    for q in ("queue", "../queue"):
        p = "/sys/dev/block/%d:%d/%s/read_ahead_kb" % (os.major(dev), os.minor(dev), q)
        if os.path.exists(p):
            ra = open(p).read().strip()
            break
    return ["- date: %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
            "- machine: %s, %d CPUs, %d MiB RAM" % (cpu, os.cpu_count(), int(mem) // 1024),
            "- kernel: %s %s" % (platform.system(), platform.release()),
            "- device read-ahead: %s KiB" % ra,
            "- file: %d MiB; memory cgroup limit per run: %d MiB (pageshim's cache: the limit minus "
            "32 MiB); %d s per run; %d run(s) per side, medians" % (FILE_MB, MEMORY_MB, SECONDS, RUNS),
            "- kernel counters (TLB IPIs, reclaim scans = pgscan_anon+pgscan_file) are machine-wide "
            "deltas; per page read = per 4 KiB read from the device (in steady state, per page evicted)"]


def main():
    r2 = Scenario("s1-random-t2", "s1-direct-t2")
    r8 = Scenario("s1-random-t8", "s1-direct-t8")
    n8 = Scenario("s1-normal-t8", "s1-direct-t8")
    seq = Scenario("s2-seq", "s2-direct")
    sh = Scenario("s3-scanhot")
    m1 = seq.get("d", "mb_per_s")
    depths = [("1 MiB x 8", direct_runs("s2-direct-d8")), ("512 KiB x 32", direct_runs("s2-direct-d32"))]
    best_label, seq.d = max(depths, key=lambda x: med(x[1], "mb_per_s") or 0)
    best = seq.get("d", "mb_per_s")
    mk, mp = seq.get("a", "mb_per_s"), seq.get("b", "mb_per_s")
    seq_rows = [["MB/s", fmt(mk, 1), fmt(mp, 1), fmt(m1, 1), "%s (%s in flight)" % (fmt(best, 1), best_label),
                 ratio(mp, mk), ratio(mp, best)]]
    hot = []
    for label, side in (("kernel mmap", "a"), ("pageshim", "b")):
        hot.append([label, fmt(sh.get(side, "hot_ops_per_s")), fmt(sh.get(side, "hot_hit_ratio"), 4),
                    fmt(sh.get(side, "hot_p99_us"), 1), fmt(sh.get(side, "hot_p999_us"), 1),
                    fmt(sh.get(side, "scan_mb_per_s"), 1), fmt(sh.ipis(side), 2),
                    fmt(sh.counter(side, "scan_all"))])
    warm, s4 = [], None
    for name, label in (("s4-hot", "hot set inside the budget (random, 2 threads)"),
                        ("s5-cached", "first touch, file in the page cache (random, 2 threads)")):
        s = Scenario(name)
        sa = med([{"v": steady(r["series_ops"])} for r in s.a], "v")
        sb = med([{"v": steady(r["series_ops"])} for r in s.b], "v")
        s4 = s4 or (sa, sb)
        warm.append([label, fmt(s.ops("a")), fmt(s.ops("b")), ratio(s.ops("b"), s.ops("a")),
                     fmt(sa), fmt(sb), ratio(sb, sa)])
    rows = [ab_row("random 4K, MADV_RANDOM, 2 threads", r2),
            ab_row("random 4K, MADV_RANDOM, 8 threads", r8),
            ab_row("random 4K, no madvise, 8 threads", n8),
            ab_row("sequential 4K, MADV_SEQUENTIAL, 1 thread (O_DIRECT: next table)", seq, False)]
    plot("random.svg", "random 4 KiB reads, 8 threads, MADV_RANDOM (%d MiB file, %d MiB limit)"
         % (FILE_MB, MEMORY_MB), r8, False)
    plot("seq.svg", "sequential scan, 1 thread (%d MiB file, %d MiB limit; O_DIRECT %s in flight)"
         % (FILE_MB, MEMORY_MB, best_label), seq, True)
    commands = open(os.path.join(WORK, "commands.txt")).read()
    md = ["# pageshim benchmark results", "",
          "Written by `make bench` (tools/bench/run.sh, tools/bench/report.py); do not edit by hand.", ""]
    md += machine()
    md += ["", "## Targets (issue 3)", "",
           table(["target", "measured", "", "note"], targets(r2, r8, n8, seq, best, s4)), "",
           "## 1, 2: random reads and the sequential scan", "", table(HEAD, rows), "",
           table(["sequential", "kernel", "pageshim", "O_DIRECT 1 MiB, one at a time",
                  "O_DIRECT, best in flight", "pageshim/kernel", "pageshim/best O_DIRECT"], seq_rows), "",
           "![random reads over time](random.svg)", "", "![sequential scan over time](seq.svg)", "",
           "## 3: scan+hot (1 scanner over the file, 2 readers on a hot set of half the limit)", "",
           "hit ratio = the hot readers' accesses served within 20 us (the rest waited for I/O).", "",
           table(["", "hot ops/s", "hot hit ratio", "hot p99 us", "hot p99.9 us", "scanner MB/s",
                  "TLB IPIs per 1k pages read", "reclaim scans"], hot), "",
           "## 4, 5: inside the budget", "",
           "steady = median ops/s over the second half of the run (after warm-up).", "",
           table(["workload", "kernel ops/s", "pageshim ops/s", "ratio", "kernel steady",
                  "pageshim steady", "steady ratio"], warm), "",
           "## Commands", "", "```", commands.rstrip(), "```", ""]
    with open(os.path.join(OUT, "RESULTS.md"), "w") as f:
        f.write("\n".join(md))


main()

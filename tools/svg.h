/* svg.h - the pictures `pageshim report --svg` draws, each a standalone SVG
 * file written as text (no library). Their data elements carry their
 * numbers, for tests to check:
 *
 *   latency.svg    <g id="bars">, one <rect data-count data-low-ns
 *                  data-high-ns> per non-empty histogram bucket (bounds
 *                  inclusive); <line id="p50" | "p99" | "max" data-us>
 *   timeline.svg   <polyline id="faults_per_s"> and <polyline id="mb_per_s">,
 *                  two points (a step) per time bin of data-bin-s seconds
 *   heatmap-N.svg  <g id="cells">, one <rect data-count data-t data-offset>
 *                  per non-empty cell (its first second and byte offset)
 *
 * The title is the <title> and a caption. Each returns 0, or -errno when
 * the file could not be written. */
#ifndef PAGESHIM_TOOLS_SVG_H
#define PAGESHIM_TOOLS_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "trace.h"

/* The fault service-time histogram h (ns) on a log scale of microseconds,
 * with its p50, p99 and max marked. h must hold a sample. */
int svg_latency(const char *path, const char *title, const struct ps_hist *h);

/* Faults per second over MB per second installed (pages * page_size), in
 * two panels over the same time axis. */
int svg_timeline(const char *path, const char *title, const struct trace_bins *b, uint32_t page_size);

/* h's file offset against time (the trace's duration_ns), each cell coloured
 * by its faults on a log scale. */
int svg_heat(const char *path, const char *title, const struct trace_heat *h, uint64_t duration_ns);

/* A byte count as the axes label it: 0, 512K, 1.5M, 2G. */
void svg_bytes(char *buf, size_t len, double v);

#endif

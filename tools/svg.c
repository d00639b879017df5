/* svg.c - see svg.h. Coordinates are pixels from the top left; a frame
 * maps data values into its rectangle, leaving 80-90 px on its left for the
 * tick labels and the axis title. */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define INK "#444"              /* axes and ticks */
#define GRID "#e4e4e4"          /* grid lines, faint under the data */
#define MARK "#c0392b"          /* percentile marks */
#define MAX_TICKS 12
#define LEGEND_STEPS 6

enum scale {
	LINEAR,         /* ticks in 1-2-5 steps */
	LOG,            /* log10, ticks at powers of ten; the range must be > 0 */
	BYTES,          /* linear, ticks in power-of-two steps labelled 4K, 1.5M */
};

struct frame {
	double left, top, width, height;        /* the plot area */
	double x0, x1, y0, y1;                  /* the data at its edges (x0 < x1, y0 < y1) */
	enum scale xs, ys;
};

/* s as XML character data: the five markup characters as entities, and
 * what XML cannot hold (control characters, bytes that are not UTF-8, as a
 * path may have) as '?'. */
static void escaped(FILE *f, const char *s)
{
	static const char mark[] = "&<>\"'";
	static const char *const entity[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
	for (const unsigned char *p = (const void *)s; *p; p++) {
		/* the continuation bytes a UTF-8 lead byte promises; 4: not a lead byte */
		unsigned n = *p < 0x80 ? 0 : *p >= 0xc2 && *p <= 0xdf ? 1 : *p >= 0xe0 && *p <= 0xef ? 2 :
			     *p >= 0xf0 && *p <= 0xf4 ? 3 : 4, k = 0;
		while (k < n && k < 3 && (p[k + 1] & 0xc0) == 0x80)
			k++;
		const char *m = strchr(mark, *p);
		if (m) {
			fputs(entity[m - mark], f);
		} else if ((*p < 0x20 && *p != '\t' && *p != '\n') || k != n) {
			fputc('?', f);
		} else {
			fwrite(p, 1, n + 1, f);
			p += n;
		}
	}
}

/* <text x y ATTRS>the formatted text, escaped</text>. */
static void __attribute__((format(printf, 5, 6)))
text(FILE *f, double x, double y, const char *attrs, const char *fmt, ...)
{
	char buf[4200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y, attrs);
	escaped(f, buf);
	fputs("</text>\n", f);
}

static void line(FILE *f, double x1, double y1, double x2, double y2, const char *stroke)
{
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
		x1, y1, x2, y2, stroke);
}

/* A w x h picture on white, titled; NULL and errno when it cannot be created. */
static FILE *start(const char *path, int w, int h, const char *title)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"sans-serif\" font-size=\"12\">\n<title>", w, h, w, h);
	escaped(f, title);
	fprintf(f, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	text(f, w / 2.0, 20, "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"", "%s", title);
	return f;
}

static int finish(FILE *f)
{
	fputs("</svg>\n", f);
	int err = ferror(f) ? (errno ? errno : EIO) : 0;
	if (fclose(f) && !err)
		err = errno;
	return -err;
}

/* Where v lies between lo and hi, 0..1, on scale s (clamped at lo on LOG). */
static double frac(enum scale s, double lo, double hi, double v)
{
	if (s == LOG)
		return (log10(v > lo ? v : lo) - log10(lo)) / (log10(hi) - log10(lo));
	return (v - lo) / (hi - lo);
}

static double px(const struct frame *fr, double v)
{
	return fr->left + fr->width * frac(fr->xs, fr->x0, fr->x1, v);
}

static double py(const struct frame *fr, double v)
{
	return fr->top + fr->height * (1 - frac(fr->ys, fr->y0, fr->y1, v));
}

/* Tick values in [lo, hi]: about five, at round numbers of scale s. */
static unsigned ticks(enum scale s, double lo, double hi, double *out)
{
	unsigned n = 0;
	if (s == LOG) {
		double v = pow(10, ceil(log10(lo) - 1e-9));
		for (; v <= hi * (1 + 1e-9) && n < MAX_TICKS; v *= 10)
			out[n++] = v;
		return n;
	}
	double raw = (hi - lo) / 5, p = pow(10, floor(log10(raw))), step;
	if (s == BYTES)
		step = pow(2, ceil(log2(raw)));
	else
		step = raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
	for (double v = ceil(lo / step) * step; v <= hi + step * 1e-9 && n < MAX_TICKS; v += step)
		out[n++] = v;
	return n;
}

void svg_bytes(char *buf, size_t len, double v)
{
	static const char unit[] = " KMGTP";
	unsigned u = 0;
	for (; u < 5 && v >= 1024; u++)
		v /= 1024;
	snprintf(buf, len, u ? "%.4g%c" : "%.4g", v, unit[u]);
}

/* The frame's grid lines, labelled ticks on its left and bottom edges, its
 * border and the axis titles; drawn before the data, which goes over them. */
static void axes(FILE *f, const struct frame *fr, const char *xtitle, const char *ytitle)
{
	double t[MAX_TICKS], bottom = fr->top + fr->height;
	char label[32];
	for (unsigned axis = 0; axis < 2; axis++) {
		enum scale s = axis ? fr->ys : fr->xs;
		unsigned n = axis ? ticks(s, fr->y0, fr->y1, t) : ticks(s, fr->x0, fr->x1, t);
		for (unsigned i = 0; i < n; i++) {
			if (s == BYTES)
				svg_bytes(label, sizeof label, t[i]);
			else
				snprintf(label, sizeof label, "%.6g", t[i]);
			double x = px(fr, t[i]), y = py(fr, t[i]);
			if (axis) {
				line(f, fr->left, y, fr->left + fr->width, y, GRID);
				line(f, fr->left - 5, y, fr->left, y, INK);
				text(f, fr->left - 8, y + 4, "text-anchor=\"end\"", "%s", label);
			} else {
				line(f, x, fr->top, x, bottom, GRID);
				line(f, x, bottom, x, bottom + 5, INK);
				text(f, x, bottom + 18, "text-anchor=\"middle\"", "%s", label);
			}
		}
	}
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		"stroke=\"" INK "\"/>\n", fr->left, fr->top, fr->width, fr->height);
	text(f, fr->left + fr->width / 2, bottom + 36, "text-anchor=\"middle\"", "%s", xtitle);
	fprintf(f, "<g transform=\"translate(%.1f %.1f) rotate(-90)\">", fr->left - 56,
		fr->top + fr->height / 2);
	text(f, 0, 0, "text-anchor=\"middle\"", "%s", ytitle);
	fprintf(f, "</g>\n");
}

int svg_latency(const char *path, const char *title, const struct ps_hist *h)
{
	static const char *const mark_name[] = { "p50", "p99", "max" };
	FILE *f = start(path, 820, 440, title);
	if (!f)
		return -errno;
	unsigned first = PS_HIST_BUCKETS, last = 0;
	double top = 1;
	for (unsigned b = 0; b < PS_HIST_BUCKETS; b++) {
		if (h->bucket[b]) {
			first = first < b ? first : b;
			last = b;
			top = fmax(top, (double)h->bucket[b]);
		}
	}
	/* whole decades of microseconds, from 1 ns up, so that every tick is a power of ten */
	double lo_us = fmax(ps_hist_bucket_low(first), 1) / 1e3, hi_us = ps_hist_bucket_low(last + 1) / 1e3;
	double axis_lo = pow(10, floor(log10(lo_us)));
	/* at least one decade: every fault under 1 ns would make the axis a point */
	struct frame fr = { 80, 50, 700, 320, axis_lo, fmax(pow(10, ceil(log10(hi_us))), axis_lo * 10),
			    0, top * 1.08, LOG, LINEAR };
	axes(f, &fr, "fault service time (\u00b5s, log scale)", "faults");
	fprintf(f, "<g id=\"bars\" fill=\"#4878b8\">\n");
	for (unsigned b = first; b <= last; b++) {
		if (!h->bucket[b])
			continue;
		double lo = ps_hist_bucket_low(b), hi = ps_hist_bucket_low(b + 1);
		double x0 = px(&fr, lo / 1e3), x1 = px(&fr, hi / 1e3), y = py(&fr, (double)h->bucket[b]);
		fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" data-count=\"%llu\" "
			"data-low-ns=\"%.0f\" data-high-ns=\"%.0f\"/>\n", x0, y, fmax(x1 - x0, 0.5),
			fr.top + fr.height - y, (unsigned long long)h->bucket[b], lo, hi - 1);
	}
	fprintf(f, "</g>\n");
	double mark[3] = { ps_hist_quantile(h, 0.5) / 1e3, ps_hist_quantile(h, 0.99) / 1e3,
			   (double)h->max / 1e3 };
	for (unsigned k = 0; k < 3; k++) {
		double x = px(&fr, fmin(mark[k], fr.x1));
		int right = x > fr.left + fr.width / 2;
		fprintf(f, "<line id=\"%s\" data-us=\"%g\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			"stroke=\"" MARK "\" stroke-dasharray=\"4 3\"/>\n", mark_name[k], mark[k],
			x, fr.top, x, fr.top + fr.height);
		/* one under the other, on the side with room */
		text(f, right ? x - 4 : x + 4, fr.top + 14 + 14 * k,
		     right ? "text-anchor=\"end\" fill=\"" MARK "\"" : "fill=\"" MARK "\"", "%s %.4g \u00b5s",
		     mark_name[k], mark[k]);
	}
	return finish(f);
}

int svg_timeline(const char *path, const char *title, const struct trace_bins *b, uint32_t page_size)
{
	static const struct {
		const char *id, *axis, *colour;
	} series[] = {
		{ "faults_per_s", "faults/s", "#4878b8" },
		{ "mb_per_s", "MB/s installed", "#d9822b" },
	};
	FILE *f = start(path, 820, 500, title);
	if (!f)
		return -errno;
	double w = (double)b->width_ns / 1e9, v[TRACE_BINS];
	for (unsigned k = 0; k < 2; k++) {
		double top = 0;
		for (unsigned i = 0; i < b->n; i++) {
			v[i] = (k ? (double)b->pages[i] * page_size / 1e6 : (double)b->faults[i]) / w;
			top = fmax(top, v[i]);
		}
		struct frame fr = { 80, 50 + 230 * k, 700, 160, 0, b->n * w, 0, top > 0 ? top * 1.08 : 1,
				    LINEAR, LINEAR };
		axes(f, &fr, "time since the trace began (s)", series[k].axis);
		fprintf(f, "<polyline id=\"%s\" data-bin-s=\"%g\" fill=\"none\" stroke=\"%s\" "
			"stroke-width=\"1.5\" points=\"", series[k].id, w, series[k].colour);
		for (unsigned i = 0; i < b->n; i++)
			fprintf(f, "%s%.1f,%.1f %.1f,%.1f", i ? " " : "", px(&fr, i * w), py(&fr, v[i]),
				px(&fr, (i + 1) * w), py(&fr, v[i]));
		fprintf(f, "\"/>\n");
	}
	return finish(f);
}

/* v (0..1) on a yellow to dark red ramp (after ColorBrewer's YlOrRd),
 * whose lightest end still shows on white. */
static void colour(char *out, size_t len, double v)
{
	static const unsigned char stop[][3] = { { 254, 217, 118 }, { 253, 141, 60 }, { 227, 26, 28 },
						 { 128, 0, 38 } };
	double p = fmin(fmax(v, 0), 1) * 3;
	unsigned i = p >= 2 ? 2 : (unsigned)p;
	unsigned char c[3];
	for (unsigned j = 0; j < 3; j++)
		c[j] = (unsigned char)(stop[i][j] + (p - i) * (stop[i + 1][j] - stop[i][j]) + 0.5);
	snprintf(out, len, "#%02x%02x%02x", c[0], c[1], c[2]);
}

int svg_heat(const char *path, const char *title, const struct trace_heat *h, uint64_t duration_ns)
{
	FILE *f = start(path, 900, 520, title);
	if (!f)
		return -errno;
	double secs = (double)(duration_ns ? duration_ns : 1) / 1e9, cw = secs / HEAT_COLS, top = 1;
	for (unsigned r = 0; r < h->rows; r++)
		for (unsigned c = 0; c < HEAT_COLS; c++)
			top = fmax(top, (double)h->cell[r][c]);
	double base = (double)h->file->off_min, rb = (double)h->row_bytes;
	struct frame fr = { 90, 50, 720, 400, 0, secs, base, base + h->rows * rb, LINEAR, BYTES };
	axes(f, &fr, "time since the trace began (s)", "file offset (bytes)");
	char fill[16];
	fprintf(f, "<g id=\"cells\">\n");
	for (unsigned r = 0; r < h->rows; r++) {
		for (unsigned c = 0; c < HEAT_COLS; c++) {
			uint64_t n = h->cell[r][c];
			if (!n)
				continue;
			double x = px(&fr, c * cw), y = py(&fr, base + (r + 1) * rb);
			colour(fill, sizeof fill, log((double)n) / log(fmax(top, 2)));
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
				"data-count=\"%llu\" data-t=\"%.6f\" data-offset=\"%.0f\"/>\n", x, y,
				px(&fr, (c + 1) * cw) - x, py(&fr, base + r * rb) - y, fill,
				(unsigned long long)n, c * cw, base + r * rb);
		}
	}
	fprintf(f, "</g>\n");
	/* the colour scale: fewest faults at the bottom */
	text(f, 830, 44, "", "faults");
	for (unsigned k = 0; k < LEGEND_STEPS; k++) {
		double v = (double)k / (LEGEND_STEPS - 1), y = 50 + 24.0 * (LEGEND_STEPS - 1 - k);
		colour(fill, sizeof fill, v);
		fprintf(f, "<rect x=\"830\" y=\"%.1f\" width=\"16\" height=\"20\" fill=\"%s\"/>\n", y, fill);
		text(f, 852, y + 14, "", "%.3g", pow(top, v));
	}
	text(f, 830, 50 + 24.0 * LEGEND_STEPS + 10, "", "(log scale)");
	return finish(f);
}

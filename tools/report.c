/* report.c - a list of fields as a table or as JSON (see report.h). */
#include "report.h"

#include <string.h>

static void add(struct report *r, struct field f)
{
	if (r->n < REPORT_MAX_FIELDS)
		r->f[r->n++] = f;
}

void report_none(struct report *r, const char *key, const char *label, const char *unit)
{
	add(r, (struct field){ key, label, unit, FIELD_NONE });
}

void report_text(struct report *r, const char *key, const char *label, const char *text)
{
	add(r, (struct field){ key, label, "", FIELD_TEXT, .text = text });
}

void report_count(struct report *r, const char *key, const char *label, const char *unit,
		  uint64_t v)
{
	add(r, (struct field){ key, label, unit, FIELD_COUNT, .count = v });
}

void report_real(struct report *r, const char *key, const char *label, const char *unit,
		 double v, int decimals)
{
	add(r, (struct field){ key, label, unit, FIELD_REAL, .real = v, .decimals = decimals });
}

void report_series(struct report *r, const char *key, const char *label, const char *unit,
		   const uint64_t *v, size_t n)
{
	add(r, (struct field){ key, label, unit, FIELD_SERIES, .series = v, .series_n = n });
}

int report_number(const struct field *f, double *v)
{
	if (f->kind == FIELD_COUNT)
		*v = (double)f->count;
	else if (f->kind == FIELD_REAL)
		*v = f->real;
	else
		return -1;
	return 0;
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void print_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

/* The value alone; `sep` between the items of a series. */
static void print_value(FILE *out, const struct field *f, int json, const char *sep)
{
	switch (f->kind) {
	case FIELD_NONE:
		fputs(json ? "null" : "-", out);
		break;
	case FIELD_TEXT:
		if (json)
			print_json_string(out, f->text);
		else
			fputs(f->text, out);
		break;
	case FIELD_COUNT:
		fprintf(out, "%llu", (unsigned long long)f->count);
		break;
	case FIELD_REAL:
		fprintf(out, "%.*f", f->decimals, f->real);
		break;
	case FIELD_SERIES:
		fputs(json ? "[" : "", out);
		for (size_t i = 0; i < f->series_n; i++)
			fprintf(out, "%s%llu", i ? sep : "", (unsigned long long)f->series[i]);
		fputs(json ? "]" : "", out);
		break;
	}
}

void report_table(FILE *out, const struct report *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		const struct field *f = &r->f[i];
		fprintf(out, "  %-30s ", f->label);
		print_value(out, f, 0, " ");
		fprintf(out, "%s%s\n", *f->unit ? " " : "", f->unit);
	}
}

void report_json(FILE *out, const struct report *r)
{
	fputc('{', out);
	for (unsigned i = 0; i < r->n; i++) {
		fprintf(out, "%s\"%s\":", i ? "," : "", r->f[i].key);
		print_value(out, &r->f[i], 1, ",");
	}
	fputc('}', out);
}

void report_ratios(struct report *ratio, const struct report *a, const struct report *b)
{
	ratio->n = 0;
	for (unsigned i = 0; i < a->n && i < b->n; i++) {
		const struct field *fa = &a->f[i];
		double va, vb;
		if (report_number(fa, &va) == 0 && report_number(&b->f[i], &vb) == 0 && va > 0)
			report_real(ratio, fa->key, fa->label, "", vb / va, 2);
		else
			report_none(ratio, fa->key, fa->label, "");
	}
}

/* One cell of report_compare: the value right-aligned in `width`. */
static void print_cell(FILE *out, const struct field *f, int width)
{
	char cell[64];
	FILE *m = fmemopen(cell, sizeof cell, "w");
	if (!m)
		return;
	print_value(m, f, 0, " ");
	fclose(m);
	cell[sizeof cell - 1] = 0;
	fprintf(out, " %*s", width, cell);
}

void report_compare(FILE *out, const char *head_a, const char *head_b, const struct report *a,
		    const struct report *b, const struct report *ratio)
{
	fprintf(out, "  %-34s %16s %16s %8s\n", "", head_a, head_b, "B/A");
	for (unsigned i = 0; i < a->n && i < b->n && i < ratio->n; i++) {
		const struct field *f = &a->f[i];
		char label[64];
		snprintf(label, sizeof label, "%s%s%s%s", f->label, *f->unit ? " (" : "", f->unit,
			 *f->unit ? ")" : "");
		fprintf(out, "  %-34s", label);
		print_cell(out, f, 16);
		print_cell(out, &b->f[i], 16);
		print_cell(out, &ratio->f[i], 8);
		fputc('\n', out);
	}
}

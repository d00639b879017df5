/* report.h - one list of named values (key, label, unit, value), printed as
 * a table for people or as a JSON object for machines, so the two forms
 * always hold the same numbers. `pageshim bench` builds one list for its
 * result; `pageshim ab` builds one per side (medians) and one of ratios and
 * prints them side by side. */
#ifndef PAGESHIM_REPORT_H
#define PAGESHIM_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum field_kind {
	FIELD_NONE,     /* no value (table "-", JSON null) */
	FIELD_TEXT,
	FIELD_COUNT,
	FIELD_REAL,
	FIELD_SERIES,   /* counts, e.g. ops per second (JSON array) */
};

struct field {
	const char *key;        /* JSON name */
	const char *label;      /* table name */
	const char *unit;       /* after the value in the table; "" for none */
	enum field_kind kind;
	const char *text;
	uint64_t count;
	double real;
	int decimals;
	const uint64_t *series; /* not copied: must outlive the printing */
	size_t series_n;
};

#define REPORT_MAX_FIELDS 80

struct report {
	struct field f[REPORT_MAX_FIELDS];
	unsigned n;
};

/* Append one field (silently dropped past REPORT_MAX_FIELDS, which the
 * callers' fixed lists stay below). Strings are not copied. */
void report_none(struct report *r, const char *key, const char *label, const char *unit);
void report_text(struct report *r, const char *key, const char *label, const char *text);
void report_count(struct report *r, const char *key, const char *label, const char *unit,
		  uint64_t v);
void report_real(struct report *r, const char *key, const char *label, const char *unit,
		 double v, int decimals);
void report_series(struct report *r, const char *key, const char *label, const char *unit,
		   const uint64_t *v, size_t n);

/* A numeric field's value: 0 and *v set for FIELD_COUNT / FIELD_REAL, else -1. */
int report_number(const struct field *f, double *v);

/* One line per field: label, value, unit. */
void report_table(FILE *out, const struct report *r);

/* The fields as one JSON object, without a newline after it. */
void report_json(FILE *out, const struct report *r);

/* Into `ratio` (emptied first): for each field of a (b holds the same keys
 * in the same order), b/a with 2 decimals when both are numbers and a > 0,
 * else FIELD_NONE. */
void report_ratios(struct report *ratio, const struct report *a, const struct report *b);

/* a, b and their ratios as one table: label, a, b, b/a, unit; head_a and
 * head_b title the columns. */
void report_compare(FILE *out, const char *head_a, const char *head_b, const struct report *a,
		    const struct report *b, const struct report *ratio);

#endif

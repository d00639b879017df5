/* kstat.c - reading /proc/vmstat, /proc/interrupts and files of the same
 * "KEY VALUE" shape (see kstat.h). */
#include "kstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kstat_sum(const char *path, const char *const *keys, int prefix, uint64_t *sum)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char key[128];
	unsigned long long v;
	int matched = 0;
	*sum = 0;
	while (fscanf(f, "%127s %llu", key, &v) == 2) {
		for (int i = 0; keys[i]; i++) {
			if (prefix ? strncmp(key, keys[i], strlen(keys[i])) : strcmp(key, keys[i]))
				continue;
			*sum += v;
			matched++;
			break;
		}
	}
	fclose(f);
	return matched;
}

/* The "TLB:" line of /proc/interrupts: one count per CPU, then a label. */
static uint64_t tlb_ipis(void)
{
	FILE *f = fopen("/proc/interrupts", "re");
	char line[4096];
	uint64_t sum = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		char *p = line + strspn(line, " ");
		if (strncmp(p, "TLB:", 4))
			continue;
		p += 4;
		for (char *end;; p = end) {
			unsigned long long n = strtoull(p, &end, 10);
			if (end == p)
				break;
			sum += n;
		}
		break;
	}
	fclose(f);
	return sum;
}

int kstat_take(struct kstat *k)
{
	static const char *const global[] = { "pgscan_kswapd", "pgscan_direct", NULL };
	static const char *const all[] = { "pgscan_anon", "pgscan_file", NULL };
	static const char *const in[] = { "pgpgin", NULL };
	int rc;
	if ((rc = kstat_sum("/proc/vmstat", global, 0, &k->scan_global)) < 0 ||
	    (rc = kstat_sum("/proc/vmstat", all, 0, &k->scan_all)) < 0 ||
	    (rc = kstat_sum("/proc/vmstat", in, 0, &k->pgpgin_kib)) < 0)
		return rc;
	k->tlb_ipis = tlb_ipis();
	return 0;
}

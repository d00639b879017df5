/* kstat.h - the kernel's system-wide counters that `pageshim ab` compares
 * before and after each run: reclaim scans and device reads (/proc/vmstat),
 * TLB shootdown IPIs (/proc/interrupts). They count the whole machine, so a
 * run's delta includes whatever else ran meanwhile. */
#ifndef PAGESHIM_KSTAT_H
#define PAGESHIM_KSTAT_H

#include <stdint.h>

struct kstat {
	/* pgscan_kswapd + pgscan_direct: global reclaim only (the kernel does
	 * not count a memory cgroup's limit reclaim in these two) */
	uint64_t scan_global;
	/* pgscan_anon + pgscan_file: every reclaim scan, a cgroup's included */
	uint64_t scan_all;
	uint64_t pgpgin_kib;    /* read from block devices, KiB */
	uint64_t tlb_ipis;      /* "TLB shootdowns" summed over CPUs */
};

/* Sum the values of the lines "KEY VALUE" of `path` whose KEY is one of
 * `keys` (NULL-terminated), or starts with one when `prefix`. Returns how
 * many lines matched (0: none there) with the sum in *sum, or -errno. */
int kstat_sum(const char *path, const char *const *keys, int prefix, uint64_t *sum);

/* Take a snapshot. 0, or -errno when /proc/vmstat cannot be read (a
 * missing TLB line leaves tlb_ipis 0). */
int kstat_take(struct kstat *k);

#endif

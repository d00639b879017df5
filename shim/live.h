/* live.h - the stats of this process, published in shared memory once a
 * second for `pageshim stat` (struct pageshim_live in pageshim.h). The fault
 * path is not involved: the watcher thread copies the counters. */
#ifndef PAGESHIM_LIVE_H
#define PAGESHIM_LIVE_H

/* Create this process's segment (service start, and in a forked child).
 * Without one, nothing is published; no error reaches the program. */
void ps_live_start(void);
/* Copy the counters into it (the watcher thread, once a second). */
void ps_live_publish(void);
/* The managed files with the most faults, most first, into files[] (at
 * most max): counters, latency percentiles, path (its end, when long).
 * Returns how many. */
struct pageshim_live_file;
unsigned ps_live_top_files(struct pageshim_live_file *files, unsigned max);
/* Remove it (exit, exec). */
void ps_live_stop(void);

#endif

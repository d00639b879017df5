/* init.h - start-up, the service's life cycle, fork and exit.
 *
 * The constructor only parses options (and a wrapper called earlier, from
 * another library's constructor, does the same first). The userfaultfd,
 * the handler threads and the cache start with the first mapping pageshim
 * would manage, so a program that maps no file pays nothing. */
#ifndef PAGESHIM_INIT_H
#define PAGESHIM_INIT_H

#include "options.h"

extern struct ps_options ps_opt;

/* Options parsed and the shim not disabled. Wrappers call this first; it
 * initialises on first use and says no while initialising (re-entry). */
int ps_enabled(void);

/* Start the service if needed; 1 when userfaultfd serves mappings. */
int ps_service_ready(void);

/* The address space is about to go (exit, _exit, exec): written pages go to
 * their files, and when `exiting`, the stats to PAGESHIM_STATS_FILE. */
void ps_leaving(int exiting);

#endif

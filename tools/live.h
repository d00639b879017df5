/* live.h - reading the stats segments running processes publish
 * (struct pageshim_live in pageshim.h), for `pageshim stat` and `top`. */
#ifndef PAGESHIM_TOOLS_LIVE_H
#define PAGESHIM_TOOLS_LIVE_H

#include <stddef.h>
#include <sys/types.h>

#include "pageshim.h"

/* The segment's path for (uid, pid). */
void live_path(char *out, size_t len, unsigned uid, long pid);
/* Map the segment at path read-only: 0, or -errno (-EPROTO: not a segment
 * of this version, or not of `pid`). */
int live_open(const char *path, long pid, const struct pageshim_live **out);
void live_close(const struct pageshim_live *l);
/* A consistent copy (the writer's seq even and unchanged across it):
 * 0, or -1 when the writer never let one be taken. */
int live_snapshot(const struct pageshim_live *l, struct pageshim_live *out);
/* Is pid gone? Then remove its segment at path (a stale one) and say 1. */
int live_gone(long pid, const char *path);

#endif

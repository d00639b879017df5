/* guard.h - keeps pageshim's own calls out of its own wrappers.
 *
 * A thread-local flag (initial-exec TLS: no allocation on first use) is set
 * while pageshim works on a program thread's behalf, and set for good in its
 * own threads; a wrapper that finds it set goes straight to the real call. */
#ifndef PAGESHIM_GUARD_H
#define PAGESHIM_GUARD_H

extern __thread int ps_guard_depth __attribute__((tls_model("initial-exec")));

static inline int ps_guard_busy(void) { return ps_guard_depth != 0; }
static inline void ps_guard_enter(void) { ps_guard_depth++; }
static inline void ps_guard_leave(void) { ps_guard_depth--; }
static inline void ps_guard_enter_forever(void) { ps_guard_depth = 1 << 20; }

#endif

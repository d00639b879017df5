/* log.h - pageshim's messages on stderr: one line each, prefixed
 * "pageshim[PID]: ", formatted on the stack and written with one write(2),
 * so it is safe on error paths and never touches the program's stdio. */
#ifndef PAGESHIM_LOG_H
#define PAGESHIM_LOG_H

#include "options.h"

void ps_log_set_level(enum ps_log_level level);
/* Every line also to this file (appended; "%p" becomes the process id;
 * "" for none). 0 or -errno. */
int ps_log_set_file(const char *path);
void ps_log(enum ps_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ps_warn(...) ps_log(PS_LOG_WARN, __VA_ARGS__)
#define ps_debug(...) ps_log(PS_LOG_DEBUG, __VA_ARGS__)

/* Warn at most once per call site. */
#define ps_warn_once(...)                                                 \
	do {                                                              \
		static int said_;                                         \
		if (!__atomic_exchange_n(&said_, 1, __ATOMIC_RELAXED))    \
			ps_warn(__VA_ARGS__);                             \
	} while (0)

#endif

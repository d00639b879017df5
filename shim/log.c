/* log.c - see log.h. */
#include "log.h"
#include "real.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static enum ps_log_level current = PS_LOG_WARN;

void ps_log_set_level(enum ps_log_level level) { current = level; }

void ps_log(enum ps_log_level level, const char *fmt, ...)
{
	if (level > current || current == PS_LOG_QUIET)
		return;
	char line[2048];
	int n = snprintf(line, sizeof line, "pageshim[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	(void)!real.write(2, line, (size_t)n);
}

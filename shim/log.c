/* log.c - see log.h. */
#include "log.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum ps_log_level current = PS_LOG_WARN;
static int file_fd = -1;        /* PAGESHIM_LOG_FILE, or -1 */

void ps_log_set_level(enum ps_log_level level) { current = level; }

int ps_log_set_file(const char *path)
{
	if (!path[0])
		return 0;
	char name[PS_PATH_MAX];
	if (ps_path_expand(path, name, sizeof name))
		return -ENAMETOOLONG;
	int fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (file_fd >= 0)
		close(file_fd);
	file_fd = fd;
	return 0;
}

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
	if (file_fd >= 0)
		(void)!real.write(file_fd, line, (size_t)n);
}

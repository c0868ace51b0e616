/*
 * clerksync — log: one line per message to stderr or to log_file.
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

const char *const log_level_names[LOG__MAX] = {
	"error", "warn", "info", "debug"
};

static int		log_fd = STDERR_FILENO;
static enum log_level	log_max = LOG_INFO;

int
log_open(const char *path, enum log_level level)
{
	int	 fd;

	log_max = level;
	if (path == NULL) {
		log_close();
		return 0;
	}
	/*
	 * O_NOFOLLOW: a symbolic link planted at the path (by the web app,
	 * or another account where the folder is shared) must not make
	 * clerksync append to a file it points at.
	 */
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600)) == -1)
		return -1;
	log_close();
	log_fd = fd;
	return 0;
}

void
log_close(void)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
}

/*
 * One byte as it is written: itself, \\ for a backslash, or \xNN for a
 * byte outside 0x20..0x7e (0x21..0x7e unless quoted), '"' and, unquoted,
 * '=', so that the value cannot end its field. Returns its length.
 */
static size_t
log_escape_byte(unsigned char c, int quoted, char e[5])
{
	if (c == '\\') {
		memcpy(e, "\\\\", 2);
		return 2;
	}
	if (c < (quoted ? 0x20 : 0x21) || c > 0x7e || c == '"' ||
	    (!quoted && c == '=')) {
		snprintf(e, 5, "\\x%02x", c);
		return 4;
	}
	e[0] = (char)c;
	return 1;
}

static const char *
log_escape(char *buf, size_t bufsz, const char *s, int quoted)
{
	static const char	 cut[] = "...";
	const unsigned char	*p;
	char			 e[5];
	size_t			 n = 0, w, lim, all = 0;

	if (bufsz < LOG_VALUE_MIN) {
		if (bufsz > 0)
			buf[0] = '\0';
		return buf;
	}
	if (s == NULL) {
		snprintf(buf, bufsz, "-");
		return buf;
	}
	/* Where the characters must end: before the closing quote and NUL. */
	lim = bufsz - 1 - (quoted ? 1 : 0);
	if (quoted)
		buf[n++] = '"';
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		all += log_escape_byte(*p, quoted, e);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		w = log_escape_byte(*p, quoted, e);
		if (n + all > lim && n + w + sizeof(cut) - 1 > lim) {
			memcpy(buf + n, cut, sizeof(cut) - 1);
			n += sizeof(cut) - 1;
			break;
		}
		memcpy(buf + n, e, w);
		n += w;
		all -= w;
	}
	if (quoted)
		buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

const char *
log_value(char *buf, size_t bufsz, const char *s)
{
	return log_escape(buf, bufsz, s, 0);
}

const char *
log_quoted(char *buf, size_t bufsz, const char *s)
{
	return log_escape(buf, bufsz, s, 1);
}

/*
 * Format, then escape every control byte, DEL and non-ASCII byte as \xNN
 * so that nothing can forge a second line or speak to a terminal (0x9b is
 * a C1 control to some). The line is written with one
 * write(2) so that several processes appending to one file do not
 * interleave within a line.
 */
static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char		 msg[LOG_LINE_MAX], line[LOG_LINE_MAX * 2];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n, i;
	int		 rc;

	static long	 pid;

	if (level > log_max)
		return;
	if (pid == 0)
		pid = (long)getpid();	/* clerksync never forks */
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	rc = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ clerksync[%ld] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, pid,
	    log_level_names[level]);
	if (rc < 0 || (size_t)rc >= sizeof(line))
		return;
	n = (size_t)rc;
	for (i = 0; msg[i] != '\0' && n + 5 < sizeof(line); i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c < 0x20 || c >= 0x7f) {
			snprintf(line + n, 5, "\\x%02x", c);
			n += 4;
		} else
			line[n++] = (char)c;
	}
	line[n++] = '\n';
	while (write(log_fd, line, n) == -1 && errno == EINTR)
		continue;
}

#define LOG_FN(name, level)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	log_vwrite(level, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_errx, LOG_ERROR)
LOG_FN(log_warnx, LOG_WARN)
LOG_FN(log_info, LOG_INFO)

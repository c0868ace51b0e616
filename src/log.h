/*
 * clerksync — log: one line per message to stderr or to log_file.
 * Control and non-ASCII bytes are escaped; values from a request go
 * through log_value or log_quoted first; callers never pass secrets.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_LOG_H
#define CLERKSYNC_LOG_H

#include <stddef.h>

#define LOG_VALUE_MAX	256	/* bytes of an escaped value, NUL included */
#define LOG_VALUE_MIN	16	/* smallest buffer log_value writes into */

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG__MAX
};

extern const char *const log_level_names[LOG__MAX];

/*
 * Send messages to path (appended, created 0600, never through a
 * symbolic link), or to stderr when path is NULL. Messages above level
 * are dropped. Returns 0, or -1 with errno set and logging left where it
 * was.
 */
int	log_open(const char *path, enum log_level level);
void	log_close(void);

/*
 * Write s into buf (bufsz >= LOG_VALUE_MIN) as the value of one
 * key=value field: a byte outside 0x21..0x7e, '=' or '"' becomes \xNN
 * and a backslash \\, so that no request can make a field or a line. NULL
 * is "-". A value that does not fit is cut between two characters or
 * escapes and ends in "...". Returns buf.
 */
const char	*log_value(char *buf, size_t bufsz, const char *s);

/*
 * The same, for a phrase: written between double quotes, where blanks
 * and '=' stay as they are.
 */
const char	*log_quoted(char *buf, size_t bufsz, const char *s);

void	log_errx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif

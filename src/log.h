/*
 * clerksync — log: one line per message to stderr or to log_file.
 * Control bytes from outside are escaped; callers never pass secrets.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_LOG_H
#define CLERKSYNC_LOG_H

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG__MAX
};

extern const char *const log_level_names[LOG__MAX];

/*
 * Send messages to path (appended, created 0600), or to stderr when path
 * is NULL. Messages above level are dropped. Returns 0, or -1 with errno
 * set and logging left on stderr.
 */
int	log_open(const char *path, enum log_level level);
void	log_close(void);

void	log_errx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif

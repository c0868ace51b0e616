/*
 * clerksync — store: the only includer of mysql.h. One connection per
 * process, prepared statements kept across requests, one transaction per
 * event (SPEC sections 2 and 3). Knows nothing of HTTP status codes.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_STORE_H
#define CLERKSYNC_STORE_H

#include <stddef.h>

#include "config.h"
#include "event.h"

/*
 * Seconds. Svix waits 15 for an answer. The server's lock wait must end
 * before the client's read timeout, so that a held row lock comes back
 * as a clean 1205 rather than as a lost connection worth a retry.
 */
#define STORE_CONNECT_TIMEOUT	3
#define STORE_LOCK_WAIT		4	/* innodb_lock_wait_timeout */
#define STORE_IO_TIMEOUT	8	/* read and write */
#define STORE_ATTEMPTS		3	/* tries of one event on deadlock */
#define STORE_SVIX_ID_MAX	128	/* characters of the events key */
#define STORE_PRUNE_BATCH	1000	/* events rows deleted at a time */

enum store_result {
	STORE_APPLIED,		/* row written, event recorded */
	STORE_DUPLICATE,	/* svix-id seen before: nothing done */
	STORE_STALE,		/* event recorded, row untouched */
	STORE_UNAVAILABLE,	/* connection, lock or schema trouble */
	STORE_FAILED,		/* anything else */
	STORE__MAX
};

extern const char *const store_result_names[STORE__MAX];

struct store;

/* Allocate; no connection is made until the first store_apply. */
struct store	*store_open(const struct config *cf);

/*
 * Apply ev (a user event) under svix_id, with ts the event's time in ms
 * (the envelope's, or the svix-timestamp's), in one transaction. On
 * STORE_UNAVAILABLE and STORE_FAILED nothing is written and err holds
 * the database's words for the log.
 */
enum store_result store_apply(struct store *st, const struct event *ev,
		    const char *svix_id, long long ts, char *err, size_t errsz);

/*
 * For `check`: connect, read the schema version (0: none) and prepare
 * every statement, which proves that the tables and columns exist.
 * Returns 0, or -1 with err naming the setting or step at fault.
 */
int		 store_probe(struct store *st, int *version, char *err,
		    size_t errsz);

/*
 * For `migrate`: run each compiled-in schema file newer than the recorded
 * version, with table_prefix put before every table name. *from and *to
 * receive the versions before and after. Returns 0 or -1 with err set.
 */
int		 store_migrate(struct store *st, int *from, int *to,
		    char *err, size_t errsz);

/*
 * Delete up to STORE_PRUNE_BATCH events rows older than
 * event_retention_days (a replay of a pruned event is still harmless: the
 * row write is guarded). Returns the rows deleted, or -1 with err set.
 */
long long	 store_prune(struct store *st, char *err, size_t errsz);

/* Close the connection and free; safe on NULL. */
void		 store_close(struct store *st);

#endif

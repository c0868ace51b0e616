/*
 * clerksync — store: the only includer of mysql.h (store.c, apply.c and
 * migrate.c, through store_int.h). One connection per process, prepared
 * statements kept across requests, one transaction per event (SPEC
 * sections 2 and 3). The SQL is sqlgen's. Knows nothing of HTTP status
 * codes.
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

/* What a backfill write did to its object's row. */
enum store_import {
	IMPORT_INSERTED,
	IMPORT_UPDATED,
	IMPORT_UNCHANGED,	/* the same version was there */
	IMPORT_STALE,		/* a newer one, or a tombstone */
	IMPORT__MAX
};

/* How far `check` got. */
enum store_check {
	STORE_CHECK_OK,
	STORE_CHECK_CONNECT,	/* no connection: err names the settings */
	STORE_CHECK_SCHEMA,	/* schema missing, old, or not as expected */
	STORE_CHECK__MAX
};

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
 * Returns STORE_CHECK_OK, or the step at fault with err naming the
 * setting or the statement.
 */
enum store_check store_probe(struct store *st, int *version, char *err,
		    size_t errsz);

/*
 * For `check`, after store_probe: the TLS cipher of the connection, or
 * NULL when it is not encrypted or not open.
 */
const char	*store_cipher(struct store *st);

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

/*
 * For backfill and reconcile: write ev (an object read from Clerk's API,
 * or a delete that reconcile found) through the same guarded statements
 * as a webhook, in one transaction, with no events row; ts is the time
 * of a delete. *how tells what the write did; with dry_run the same
 * writes run and are rolled back. Returns 0, or -1 with err set.
 */
int		 store_import(struct store *st, const struct event *ev,
		    long long ts, int dry_run, enum store_import *how,
		    char *err, size_t errsz);

/* Where a backfill walk stands. */
enum store_progress {
	PROGRESS_NONE,		/* never recorded */
	PROGRESS_UNFINISHED,	/* stopped at *offset */
	PROGRESS_FINISHED,	/* walked to the end */
	PROGRESS__MAX
};

/*
 * Without set, read where walk stands: returns an enum store_progress
 * with *offset its recorded next offset (0 if none). With set, record
 * *offset (done: the walk finished) and return 0. -1 on failure.
 */
int		 store_progress(struct store *st, const char *walk,
		    long long *offset, int set, int done, char *err,
		    size_t errsz);

/* The database's UTC time, "YYYY-MM-DD hh:mm:ss.mmm": 0, or -1 with
 * err set. */
int		 store_now(struct store *st, char *buf, size_t bufsz,
		    char *err, size_t errsz);

/*
 * Call fn with the clerk_id of each live users (or organizations) row
 * created before `before` (a store_now time), until fn returns non-zero
 * (then that). Returns 0, fn's value, or -1 with err set.
 */
int		 store_live(struct store *st, int orgs, const char *before,
		    int (*fn)(void *, const char *), void *arg, char *err,
		    size_t errsz);

/*
 * The same for live organization_memberships rows: fn gets the
 * membership's clerk_id, its organization's and its user's.
 */
int		 store_live_members(struct store *st, const char *before,
		    int (*fn)(void *, const char *, const char *,
		    const char *), void *arg, char *err, size_t errsz);

/* The pull (SPEC section 1, "Pull"), in apply.c. */
#define STORE_PULL_TYPE		"clerksync.pull"	/* its events rows */
#define STORE_BUDGET_NAME	"clerk_api"	/* its clerksync_api_budget row */

/* 1 if svix_id has an events row, 0 if not, -1 with err set. */
int		 store_pull_seen(struct store *st, const char *svix_id,
		    char *err, size_t errsz);

/*
 * Take one Backend API request from the budget that every process
 * shares: at most clerk_rate_limit in each window, by the database's
 * clock, in a short transaction of its own. Returns 0 (taken), 1 over
 * the limit (nothing taken; *wait: seconds to the next window), or -1
 * with err set.
 */
int		 store_budget(struct store *st, int *wait, char *err,
		    size_t errsz);

/*
 * store_apply for a pulled object: ev (its newest state, as backfill
 * reads it) written through the same guarded statements, with an events
 * row of type STORE_PULL_TYPE under svix_id, in one transaction.
 */
enum store_result store_pull_apply(struct store *st, const struct event *ev,
		    const char *svix_id, long long ts, char *err, size_t errsz);

/* Close the connection and free; safe on NULL. */
void		 store_close(struct store *st);

/* The event families that `status` reports on. */
enum store_family {
	STORE_FAMILY_USERS,
	STORE_FAMILY_ORGS,
	STORE_FAMILY_MEMBERS,
	STORE_FAMILY__MAX
};

#define STORE_STATUS_TIME	20	/* "YYYY-MM-DD hh:mm:ss" and NUL */

struct store_status {
	int	 version;		/* of the schema; 0: none */
	struct {
		long long	 age;		/* seconds since the last row;
					   -1: none */
		char		 last[STORE_STATUS_TIME]; /* its received_at */
		long long	 applied;	/* rows of the last 24 hours */
		long long	 stale;
	} fam[STORE_FAMILY__MAX];
};

/*
 * For `status`: the schema version and, of each family, the last events
 * row and the applied and stale rows of the last 24 hours, by the
 * database's clock. Reads only. Without a schema, version is 0 and the
 * rest is empty. Returns 0, or -1 with err set.
 */
int		 store_status(struct store *st, struct store_status *ss,
		    char *err, size_t errsz);

#endif

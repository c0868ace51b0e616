/*
 * clerksync — sqlgen: the text of every statement the store prepares,
 * written from the kinds' descriptors. Pure: no SQL library, no I/O.
 * sql/statements.sql holds its output for review; test_sqlgen compares
 * the two byte for byte (`make statements` rewrites the file).
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_SQLGEN_H
#define CLERKSYNC_SQLGEN_H

#include <stddef.h>

#include "kinds.h"

#define SQLGEN_MAX	4096	/* bytes of the longest statement, NUL too */

/* Statements of no one kind. */
enum sql_fixed {
	SQL_EVENT_INSERT,	/* claim a svix-id: its events row */
	SQL_EVENT_STALE,	/* mark that row stale */
	SQL_PRUNE,		/* old events rows, STORE_PRUNE_BATCH at a time */
	SQL_MEMBER_END_OLDER,	/* a pair's older live memberships */
	SQL_PROGRESS_GET,	/* backfill: where a walk stopped */
	SQL_PROGRESS_SET,
	SQL_NOW,		/* the database's UTC clock */
	SQL_SCHEMA_VERSION,
	SQL_STATUS,		/* `status`: each family's events rows */
	SQL_PULL_SEEN,		/* a pull: whether its svix-id has a row */
	SQL_BUDGET_TAKE,	/* a pull: one request from the API budget */
	SQL_BUDGET_GET,		/* its count, and seconds to the next window */
	SQL_FIXED__MAX
};

/* Statements of each kind. */
enum sql_op {
	SQL_UPSERT,		/* the guarded write: 1 inserted, 2 updated */
	SQL_DELETE,		/* the terminal write, a tombstone if unknown */
	SQL_SAME,		/* after a no-op write: 1 if the same version */
	SQL_END_MEMBERS,	/* end the memberships of a deleted row */
	SQL_LIVE,		/* reconcile: live rows created before ?, */
				/* each its key and its parents' */
	SQL_OP__MAX
};

/* Statement ids: the fixed ones, then SQL_OP__MAX per kind. */
#define SQL__MAX	(SQL_FIXED__MAX + KIND__MAX * SQL_OP__MAX)
#define SQL_OF(kind, op) ((size_t)SQL_FIXED__MAX + \
			    (size_t)(kind) * SQL_OP__MAX + (size_t)(op))

/*
 * Write statement id, with prefix before every table name, into buf.
 * keep is keep_deleted_data (a delete then clears nothing). Returns the
 * length, 0 when the kind has no such statement, -1 when bufsz is short.
 */
int		 sqlgen_write(size_t id, const char *prefix, int keep,
		    char *buf, size_t bufsz);

/* Statement id's name, such as "users upsert" (static storage). */
const char	*sqlgen_name(size_t id);

#endif

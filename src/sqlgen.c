/*
 * clerksync — sqlgen: statement text from the kinds' descriptors
 * (SPEC sections 2 and 3). Read the result in sql/statements.sql.
 * SPDX-License-Identifier: ISC
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sqlgen.h"
#include "store.h"

/* A bounded writer: once full, it stays full and says so at the end. */
struct out {
	char	*buf;
	size_t	 size, len;
	int	 full;
};

static void
put(struct out *o, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

static const char *const fixed_names[SQL_FIXED__MAX] = {
	[SQL_EVENT_INSERT] = "events insert",
	[SQL_EVENT_STALE] = "events stale",
	[SQL_PRUNE] = "events prune",
	[SQL_MEMBER_END_OLDER] = "memberships end older",
	[SQL_PROGRESS_GET] = "backfill progress get",
	[SQL_PROGRESS_SET] = "backfill progress set",
	[SQL_NOW] = "clock",
	[SQL_SCHEMA_VERSION] = "schema version",
	[SQL_STATUS] = "status",
	[SQL_PULL_SEEN] = "pull seen",
	[SQL_BUDGET_TAKE] = "api budget take",
	[SQL_BUDGET_GET] = "api budget get",
};

static const char *const op_names[SQL_OP__MAX] = {
	[SQL_UPSERT] = "upsert",
	[SQL_DELETE] = "delete",
	[SQL_SAME] = "same version",
	[SQL_END_MEMBERS] = "end memberships",
	[SQL_LIVE] = "live",
};

const char *
sqlgen_name(size_t id)
{
	static char	 name[128];
	size_t		 k;

	if (id < SQL_FIXED__MAX)
		return fixed_names[id];
	if (id >= SQL__MAX)
		return "unknown";
	k = (id - SQL_FIXED__MAX) / SQL_OP__MAX;
	snprintf(name, sizeof(name), "%s %s", kinds[k].table,
	    op_names[(id - SQL_FIXED__MAX) % SQL_OP__MAX]);
	return name;
}

/*
 * SPEC section 2: a newer clerk_updated_at wins, an equal or older one
 * changes nothing, and a deleted row is never brought back.
 */
static void
put_guard(struct out *o, const char *g)
{
	put(o, "deleted_at IS NULL AND (%s IS NULL OR VALUES(%s) > %s)", g, g,
	    g);
}

/*
 * The guarded upsert. Affected rows: 1 inserted, 2 updated, 0 not. A
 * kind with parents also takes deleted_at from the first of them that
 * is deleted (bound after the columns); the reads lock, so that a delete
 * of a parent in flight is waited for, or waits.
 */
static void
put_upsert(struct out *o, const char *pre, const struct kind_desc *k)
{
	const char	*g = k->cols[k->guard];
	size_t		 i;

	put(o, "INSERT INTO `%s%s` (", pre, k->table);
	for (i = 0; i < k->ncols; i++)
		put(o, "%s%s", i ? ", " : "", k->cols[i]);
	put(o, "%s) %s", k->nparents ? ", deleted_at" : "", k->nparents ?
	    "SELECT " : "VALUES (");
	for (i = 0; i < k->ncols; i++)
		put(o, "%s?", i ? ", " : "");
	if (k->nparents > 0) {
		put(o, ", COALESCE(");
		for (i = 0; i < k->nparents; i++)
			put(o, "%s(SELECT deleted_at FROM `%s%s` WHERE "
			    "clerk_id = ? LOCK IN SHARE MODE)", i ? ", " : "",
			    pre, kinds[k->parents[i]].table);
		put(o, ")");
	}
	put(o, "%s ON DUPLICATE KEY UPDATE ", k->nparents ? "" : ")");
	for (i = 1; i < k->ncols; i++) {
		put(o, "%s%s = IF(", i > 1 ? ", " : "", k->cols[i]);
		put_guard(o, g);
		put(o, ", VALUES(%s), %s)", k->cols[i], k->cols[i]);
	}
	if (k->nparents > 0)
		put(o, ", deleted_at = IF(deleted_at IS NULL, "
		    "VALUES(deleted_at), deleted_at)");
}

/*
 * A delete is terminal: a tombstone if unknown (of the first tomb_cols
 * columns), the columns it clears cleared unless keep, deleted_at set
 * once and last.
 */
static void
put_delete(struct out *o, const char *pre, int keep,
    const struct kind_desc *k)
{
	size_t	 i;

	put(o, "INSERT INTO `%s%s` (", pre, k->table);
	for (i = 0; i < k->tomb_cols; i++)
		put(o, "%s, ", k->cols[i]);
	put(o, "deleted_at) VALUES (");
	for (i = 0; i < k->tomb_cols; i++)
		put(o, "?, ");
	put(o, "?) ON DUPLICATE KEY UPDATE ");
	for (i = 0; !keep && i < k->ncols; i++)
		if (k->clears[i])
			put(o, "%s = IF(deleted_at IS NULL, NULL, %s), ",
			    k->cols[i], k->cols[i]);
	put(o, "deleted_at = IF(deleted_at IS NULL, VALUES(deleted_at), "
	    "deleted_at)");
}

static void
put_kind(struct out *o, enum sql_op op, const char *pre, int keep,
    const struct kind_desc *k)
{
	const char	*key = k->cols[0], *members;
	size_t		 i;

	members = kinds[KIND_MEMBER].table;
	switch (op) {
	case SQL_UPSERT:
		put_upsert(o, pre, k);
		break;
	case SQL_DELETE:
		put_delete(o, pre, keep, k);
		break;
	case SQL_SAME:
		/* Why the guard refused: 1 for the same version, live. */
		put(o, "SELECT deleted_at IS NULL AND %s = ? FROM `%s%s` WHERE "
		    "%s = ?", k->cols[k->guard], pre, k->table, key);
		break;
	case SQL_END_MEMBERS:
		/* Clerk ends the memberships of what it deletes. */
		if (k->member_col != 0)
			put(o, "UPDATE `%s%s` SET deleted_at = ? WHERE %s = ? "
			    "AND deleted_at IS NULL", pre, members,
			    kinds[KIND_MEMBER].cols[k->member_col]);
		break;
	case SQL_LIVE:
		if (!k->reconciled)
			break;
		put(o, "SELECT %s", key);
		for (i = 0; i < k->nparents; i++)
			put(o, ", %s", k->cols[k->parent_cols[i]]);
		put(o, " FROM `%s%s` WHERE deleted_at IS NULL AND created_at "
		    "< ? ORDER BY %s", pre, k->table, key);
		break;
	default:
		break;
	}
}

#define STR(x)		STR1(x)
#define STR1(x)		#x

/*
 * The statements of no kind, each %s the prefix. Of SQL_MEMBER_END_OLDER:
 * Clerk keeps one membership per (organization, user), so one created
 * later ended every earlier one, even if it has ended since: of the
 * pair's rows only the newest may be live. The derived table lets MySQL
 * read the table it updates.
 */
static const char *const fixed_sql[SQL_FIXED__MAX] = {
	[SQL_EVENT_INSERT] = "INSERT INTO `%sclerk_webhook_events` (svix_id, "
	    "event_type, object_id, event_ts, outcome, received_at) VALUES "
	    "(?, ?, ?, ?, 'applied', UTC_TIMESTAMP(3))",
	[SQL_EVENT_STALE] = "UPDATE `%sclerk_webhook_events` SET outcome = "
	    "'stale' WHERE svix_id = ?",
	[SQL_PRUNE] = "DELETE FROM `%sclerk_webhook_events` WHERE received_at "
	    "< UTC_TIMESTAMP(3) - INTERVAL ? DAY LIMIT " STR(STORE_PRUNE_BATCH),
	[SQL_MEMBER_END_OLDER] = "UPDATE `%sorganization_memberships` SET "
	    "deleted_at = ? WHERE org_clerk_id = ? AND user_clerk_id = ? AND "
	    "deleted_at IS NULL AND clerk_id <> (SELECT clerk_id FROM (SELECT "
	    "clerk_id FROM `%sorganization_memberships` WHERE org_clerk_id = ? "
	    "AND user_clerk_id = ? ORDER BY clerk_created_at DESC, clerk_id "
	    "DESC LIMIT 1) AS newest)",
	[SQL_PROGRESS_GET] = "SELECT next_offset, finished_at IS NOT NULL "
	    "FROM `%sclerksync_backfill` WHERE walk = ?",
	[SQL_PROGRESS_SET] = "INSERT INTO `%sclerksync_backfill` (walk, "
	    "next_offset, started_at, updated_at, finished_at) VALUES (?, ?, "
	    "UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), IF(?, UTC_TIMESTAMP(3), "
	    "NULL)) ON DUPLICATE KEY UPDATE started_at = IF(finished_at IS "
	    "NULL, started_at, VALUES(started_at)), next_offset = "
	    "VALUES(next_offset), updated_at = VALUES(updated_at), "
	    "finished_at = VALUES(finished_at)",
	[SQL_NOW] = "SELECT CAST(UTC_TIMESTAMP(3) AS CHAR)",
	[SQL_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM "
	    "`%sclerksync_schema`",
	/*
	 * Families by the prefix of event_type (the numbers are enum
	 * store_family's), so that only Clerk's events count. One
	 * UTC_TIMESTAMP(3) for all: the statement's start.
	 */
	[SQL_STATUS] = "SELECT CASE WHEN event_type LIKE 'user.%%' THEN 0 "
	    "WHEN event_type LIKE 'organization.%%' THEN 1 WHEN event_type "
	    "LIKE 'organizationMembership.%%' THEN 2 ELSE -1 END AS f, "
	    "DATE_FORMAT(MAX(received_at), '%%Y-%%m-%%d %%H:%%i:%%s'), "
	    "GREATEST(0, TIMESTAMPDIFF(SECOND, MAX(received_at), "
	    "UTC_TIMESTAMP(3))), COALESCE(SUM(outcome = 'applied' AND "
	    "received_at > UTC_TIMESTAMP(3) - INTERVAL 1 DAY), 0), "
	    "COALESCE(SUM(outcome = 'stale' AND received_at > "
	    "UTC_TIMESTAMP(3) - INTERVAL 1 DAY), 0) FROM "
	    "`%sclerk_webhook_events` GROUP BY f",
	[SQL_PULL_SEEN] = "SELECT 1 FROM `%sclerk_webhook_events` WHERE "
	    "svix_id = ?",
	/*
	 * The budget of SPEC section 1, "Pull": (name, window, window), a
	 * fixed window of clerk_rate_limit's seconds by the database's
	 * clock; the upsert locks the row, so that processes count in turn.
	 */
	[SQL_BUDGET_TAKE] = "INSERT INTO `%sclerksync_api_budget` (name, "
	    "window_start, used) VALUES (?, UNIX_TIMESTAMP() DIV ? * ?, 1) ON "
	    "DUPLICATE KEY UPDATE used = IF(window_start = "
	    "VALUES(window_start), used + 1, 1), window_start = "
	    "VALUES(window_start)",
	/* (window, name): the count, and seconds to the next window. */
	[SQL_BUDGET_GET] = "SELECT used, window_start + ? - UNIX_TIMESTAMP() "
	    "FROM `%sclerksync_api_budget` WHERE name = ?",
};

int
sqlgen_write(size_t id, const char *prefix, int keep, char *buf,
    size_t bufsz)
{
	struct out	 o = { buf, bufsz, 0, 0 };

	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	if (id < SQL_FIXED__MAX)
		put(&o, fixed_sql[id], prefix, prefix);
	else if (id < SQL__MAX)
		put_kind(&o, (enum sql_op)((id - SQL_FIXED__MAX) % SQL_OP__MAX),
		    prefix, keep, &kinds[(id - SQL_FIXED__MAX) / SQL_OP__MAX]);
	if (o.full) {
		buf[0] = '\0';
		return -1;
	}
	return (int)o.len;
}

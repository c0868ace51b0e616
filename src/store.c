/*
 * clerksync — store: one connection, prepared statements, one
 * transaction per event.
 * SPDX-License-Identifier: ISC
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "dberr.h"
#include "log.h"
#include "num.h"
#include "schema.h"
#include "store.h"

#define STORE_SQL_MAX	4096

enum stmt_id {
	STMT_EVENT_INSERT,
	STMT_EVENT_STALE,
	STMT_USER_UPSERT,
	STMT_USER_DELETE,
	STMT_PRUNE,
	STMT_ORG_UPSERT,
	STMT_ORG_DELETE,
	STMT_MEMBER_UPSERT,
	STMT_MEMBER_DELETE,
	STMT_MEMBER_END_OLDER,
	STMT_MEMBERS_END_USER,
	STMT_MEMBERS_END_ORG,
	STMT_PEEK_USER,		/* backfill: what a write would do */
	STMT_PEEK_ORG,
	STMT_PEEK_MEMBER,
	STMT_PROGRESS_GET,
	STMT_PROGRESS_SET,
	STMT__MAX
};

struct store {
	const struct config	*cf;
	MYSQL			*db;		/* NULL: not connected */
	MYSQL_STMT		*stmt[STMT__MAX];	/* prepared lazily */
	char			 sql[STMT__MAX][STORE_SQL_MAX];
	unsigned int		 errcode;	/* of the last failure */
	unsigned long long	 main_rows;	/* of the object's own row */
};

const char *const store_result_names[STORE__MAX] = {
	"applied", "duplicate", "stale", "unavailable", "failed"
};

const char *const store_import_names[IMPORT__MAX] = {
	"inserted", "updated", "unchanged", "stale"
};

/*
 * The owned columns of users, in bind order; clerk_updated_at, the
 * ordering key, must stay last: MySQL assigns ON DUPLICATE KEY UPDATE
 * columns left to right, so the guard must read the old value until the
 * last assignment.
 */
static const char *const user_columns[] = {
	"clerk_id", "email", "email_verified", "phone", "username",
	"first_name", "last_name", "image_url", "external_id",
	"public_metadata", "banned", "locked", "last_sign_in_at",
	"clerk_created_at", "clerk_data", "clerk_updated_at"
};
#define USER_NCOLS	(sizeof(user_columns) / sizeof(user_columns[0]))

/* SPEC section 3: what user.deleted clears unless keep_deleted_data. */
static const char *const personal_columns[] = {
	"email", "email_verified", "phone", "username", "first_name",
	"last_name", "image_url", "external_id", "public_metadata",
	"clerk_data", NULL
};

/* The same for organizations; clerk_updated_at again last. */
static const char *const org_columns[] = {
	"clerk_id", "name", "slug", "image_url", "created_by",
	"public_metadata", "clerk_created_at", "clerk_data",
	"clerk_updated_at"
};
#define ORG_NCOLS	(sizeof(org_columns) / sizeof(org_columns[0]))

static const char *const org_personal_columns[] = {
	"name", "slug", "image_url", "created_by", "public_metadata",
	"clerk_data", NULL
};

/* Memberships keep their columns when they end: they are history. */
static const char *const member_columns[] = {
	"clerk_id", "org_clerk_id", "user_clerk_id", "role", "permissions",
	"public_metadata", "clerk_created_at", "clerk_updated_at"
};
#define MEMBER_NCOLS	(sizeof(member_columns) / sizeof(member_columns[0]))

/* Append to a fixed buffer; the sizes are fixed, so overflow is a bug. */
static void
cat(char *buf, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 n = strlen(buf);
	int	 rc;

	va_start(ap, fmt);
	rc = vsnprintf(buf + n, STORE_SQL_MAX - n, fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= STORE_SQL_MAX - n)
		abort();
}

#define GUARD	"deleted_at IS NULL AND (clerk_updated_at IS NULL OR " \
		"VALUES(clerk_updated_at) > clerk_updated_at)"

/*
 * SPEC section 2: one guarded upsert. A newer clerk_updated_at wins, an
 * equal or older one changes nothing, and a deleted row is never brought
 * back. Affected rows: 1 inserted, 2 updated, 0 not. With tomb, the row
 * also takes deleted_at from that expression (of ? parameters after the
 * columns'), and a live row takes it too.
 */
static void
build_upsert(char *sql, const char *pre, const char *table,
    const char *const *cols, size_t n, const char *tomb)
{
	size_t	 i;

	cat(sql, "INSERT INTO `%s%s` (", pre, table);
	for (i = 0; i < n; i++)
		cat(sql, "%s%s", i ? ", " : "", cols[i]);
	cat(sql, "%s) %s", tomb ? ", deleted_at" : "", tomb ? "SELECT " :
	    "VALUES (");
	for (i = 0; i < n; i++)
		cat(sql, "%s?", i ? ", " : "");
	if (tomb)
		cat(sql, ", %s", tomb);
	cat(sql, "%s ON DUPLICATE KEY UPDATE ", tomb ? "" : ")");
	for (i = 1; i < n; i++)
		cat(sql, "%s%s = IF(" GUARD ", VALUES(%s), %s)", i > 1 ? ", " :
		    "", cols[i], cols[i], cols[i]);
	if (tomb)
		cat(sql, ", deleted_at = IF(deleted_at IS NULL, "
		    "VALUES(deleted_at), deleted_at)");
}

/*
 * A delete is terminal: a tombstone if unknown (with cols, of which the
 * first is the key), personal columns cleared unless keep_deleted_data,
 * deleted_at set once and last.
 */
static void
build_delete(char *sql, const char *pre, const char *table,
    const char *const *cols, size_t n, const char *const *personal,
    int keep)
{
	size_t	 i;

	cat(sql, "INSERT INTO `%s%s` (", pre, table);
	for (i = 0; i < n; i++)
		cat(sql, "%s, ", cols[i]);
	cat(sql, "deleted_at) VALUES (");
	for (i = 0; i < n; i++)
		cat(sql, "?, ");
	cat(sql, "?) ON DUPLICATE KEY UPDATE ");
	for (i = 0; !keep && personal != NULL && personal[i] != NULL; i++)
		cat(sql, "%s = IF(deleted_at IS NULL, NULL, %s), ", personal[i],
		    personal[i]);
	cat(sql, "deleted_at = IF(deleted_at IS NULL, VALUES(deleted_at), "
	    "deleted_at)");
}

static void
build_sql(struct store *st)
{
	const char	*pre = st->cf->table_prefix;
	int		 keep = st->cf->keep_deleted_data;
	char		 tomb[512];

	cat(st->sql[STMT_EVENT_INSERT], "INSERT INTO `%sclerk_webhook_events`"
	    " (svix_id, event_type, object_id, event_ts, outcome, received_at)"
	    " VALUES (?, ?, ?, ?, 'applied', UTC_TIMESTAMP(3))", pre);
	cat(st->sql[STMT_EVENT_STALE], "UPDATE `%sclerk_webhook_events` SET "
	    "outcome = 'stale' WHERE svix_id = ?", pre);
	cat(st->sql[STMT_PRUNE], "DELETE FROM `%sclerk_webhook_events` WHERE "
	    "received_at < UTC_TIMESTAMP(3) - INTERVAL ? DAY LIMIT %d", pre,
	    STORE_PRUNE_BATCH);

	build_upsert(st->sql[STMT_USER_UPSERT], pre, "users", user_columns,
	    USER_NCOLS, NULL);
	build_delete(st->sql[STMT_USER_DELETE], pre, "users", user_columns, 1,
	    personal_columns, keep);
	build_upsert(st->sql[STMT_ORG_UPSERT], pre, "organizations",
	    org_columns, ORG_NCOLS, NULL);
	build_delete(st->sql[STMT_ORG_DELETE], pre, "organizations",
	    org_columns, 1, org_personal_columns, keep);

	/*
	 * A membership of an organization or a user already deleted is
	 * born ended: their tombstones say when. The reads lock: a
	 * user.deleted in flight is waited for, or waits, so that one of
	 * the two sees the other.
	 */
	snprintf(tomb, sizeof(tomb), "COALESCE((SELECT deleted_at FROM "
	    "`%sorganizations` WHERE clerk_id = ? LOCK IN SHARE MODE), "
	    "(SELECT deleted_at FROM `%susers` WHERE clerk_id = ? LOCK IN "
	    "SHARE MODE))", pre, pre);
	build_upsert(st->sql[STMT_MEMBER_UPSERT], pre,
	    "organization_memberships", member_columns, MEMBER_NCOLS, tomb);
	build_delete(st->sql[STMT_MEMBER_DELETE], pre,
	    "organization_memberships", member_columns, MEMBER_NCOLS, NULL,
	    keep);

	/*
	 * Clerk keeps one membership per (organization, user), so one
	 * created later ended every earlier one, even if it has ended
	 * since: of the pair's rows only the newest may be live (the older
	 * ones' deletes were lost or are in flight). The derived table lets
	 * MySQL read the table it updates.
	 */
	cat(st->sql[STMT_MEMBER_END_OLDER], "UPDATE "
	    "`%sorganization_memberships` SET deleted_at = ? WHERE "
	    "org_clerk_id = ? AND user_clerk_id = ? AND deleted_at IS NULL "
	    "AND clerk_id <> (SELECT clerk_id FROM (SELECT clerk_id FROM "
	    "`%sorganization_memberships` WHERE org_clerk_id = ? AND "
	    "user_clerk_id = ? ORDER BY clerk_created_at DESC, clerk_id DESC "
	    "LIMIT 1) AS newest)", pre, pre);
	cat(st->sql[STMT_MEMBERS_END_USER], "UPDATE "
	    "`%sorganization_memberships` SET deleted_at = ? WHERE "
	    "user_clerk_id = ? AND deleted_at IS NULL", pre);
	cat(st->sql[STMT_MEMBERS_END_ORG], "UPDATE "
	    "`%sorganization_memberships` SET deleted_at = ? WHERE "
	    "org_clerk_id = ? AND deleted_at IS NULL", pre);

	cat(st->sql[STMT_PEEK_USER], "SELECT clerk_updated_at, deleted_at IS "
	    "NOT NULL FROM `%susers` WHERE clerk_id = ?", pre);
	cat(st->sql[STMT_PEEK_ORG], "SELECT clerk_updated_at, deleted_at IS "
	    "NOT NULL FROM `%sorganizations` WHERE clerk_id = ?", pre);
	cat(st->sql[STMT_PEEK_MEMBER], "SELECT clerk_updated_at, deleted_at "
	    "IS NOT NULL FROM `%sorganization_memberships` WHERE clerk_id = ?",
	    pre);
	cat(st->sql[STMT_PROGRESS_GET], "SELECT next_offset FROM "
	    "`%sclerksync_backfill` WHERE walk = ? AND finished_at IS NULL",
	    pre);
	cat(st->sql[STMT_PROGRESS_SET], "INSERT INTO `%sclerksync_backfill` "
	    "(walk, next_offset, started_at, updated_at, finished_at) VALUES "
	    "(?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), IF(?, "
	    "UTC_TIMESTAMP(3), NULL)) ON DUPLICATE KEY UPDATE started_at = "
	    "IF(finished_at IS NULL, started_at, VALUES(started_at)), "
	    "next_offset = VALUES(next_offset), updated_at = "
	    "VALUES(updated_at), finished_at = VALUES(finished_at)", pre);
}

struct store *
store_open(const struct config *cf)
{
	struct store	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->cf = cf;
	build_sql(st);
	return st;
}

static void
disconnect(struct store *st)
{
	int	 i;

	for (i = 0; i < STMT__MAX; i++) {
		if (st->stmt[i] != NULL)
			mysql_stmt_close(st->stmt[i]);
		st->stmt[i] = NULL;
	}
	if (st->db != NULL)
		mysql_close(st->db);
	st->db = NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	disconnect(st);
	free(st);
}

static int
fail_db(struct store *st, const char *what, char *err, size_t errsz)
{
	st->errcode = st->db ? mysql_errno(st->db) : CR_UNKNOWN_ERROR;
	snprintf(err, errsz, "%s: %u %s", what, st->errcode,
	    st->db ? mysql_error(st->db) : "no connection");
	return -1;
}

/* Which settings to look at when connecting fails. */
static const char *
connect_hint(unsigned int code)
{
	switch (code) {
	case ER_ACCESS_DENIED_ERROR:
		return "connect (check db_user and db_password)";
	case ER_DBACCESS_DENIED_ERROR:
	case ER_BAD_DB_ERROR:
		return "connect (check db_name and its grants)";
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_UNKNOWN_HOST:
	case CR_SERVER_LOST:
	case CR_SERVER_GONE_ERROR:
		return "connect (check db_host, db_port and db_socket, and "
		    "that the server runs)";
	default:
		return "connect";
	}
}

/* Connect to one server and set up the session; 0 or -1. */
static int
connect_one(struct store *st, const char *host, unsigned int port)
{
	const struct config	*cf = st->cf;
	unsigned int		 ct = STORE_CONNECT_TIMEOUT, io = STORE_IO_TIMEOUT;
	char			 set[256];

	if ((st->db = mysql_init(NULL)) == NULL)
		return -1;
	mysql_options(st->db, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(st->db, MYSQL_OPT_READ_TIMEOUT, &io);
	mysql_options(st->db, MYSQL_OPT_WRITE_TIMEOUT, &io);
	mysql_options(st->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(st->db, host, cf->db_user, cf->db_password,
	    cf->db_name, port, cf->db_socket, 0) == NULL)
		return -1;
	/*
	 * Rows' own times are UTC; a stuck lock gives up well inside
	 * Svix's 15 s; nothing is silently truncated.
	 */
	snprintf(set, sizeof(set), "SET SESSION time_zone = '+00:00', "
	    "SESSION innodb_lock_wait_timeout = %d, SESSION sql_mode = "
	    "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'", STORE_LOCK_WAIT);
	if (mysql_query(st->db, set) != 0 ||
	    mysql_query(st->db, "SET SESSION TRANSACTION ISOLATION LEVEL "
	    "READ COMMITTED") != 0)
		return -1;
	/*
	 * On a Galera node, a statement first waits until the node has
	 * applied what the cluster committed before it: a membership's
	 * checks read rows that other nodes write. Write conflicts need no
	 * wait: the cluster aborts the later one at commit (a deadlock,
	 * retried). Elsewhere the variable is unknown (1193) or inert.
	 */
	if (mysql_query(st->db, "SET SESSION wsrep_sync_wait = 6") != 0 &&
	    mysql_errno(st->db) != ER_UNKNOWN_SYSTEM_VARIABLE)
		return -1;
	return mysql_autocommit(st->db, 0) == 0 ? 0 : -1;
}

/*
 * Whether the server just connected to should serve while another host
 * might: a Galera node must be Synced (wsrep_local_state 4: not joining,
 * not a donor, not desynced), ready (in the primary component) and not
 * rejecting queries. A server without wsrep has no wsrep_local_state.
 * SHOW is answered even by a node that is not ready. Returns 1 yes, 0 no
 * (with what it showed in state), -1 the query failed.
 */
static int
node_synced(struct store *st, char *state, size_t statesz)
{
	MYSQL_RES	*res = NULL;
	MYSQL_ROW	 row;
	long long	 local = -1;
	const char	*ready = "?", *reject = "NONE";
	int		 rc = -1;

	snprintf(state, statesz, "no answer");
	if (mysql_query(st->db, "SHOW GLOBAL STATUS WHERE Variable_name IN "
	    "('wsrep_local_state', 'wsrep_ready')") != 0 ||
	    (res = mysql_store_result(st->db)) == NULL)
		goto out;
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL)
			continue;
		if (strcmp(row[0], "wsrep_local_state") == 0 &&
		    num_parse(row[1], strlen(row[1]), 0, 99, &local) == -1)
			local = 0;
		else if (strcmp(row[0], "wsrep_ready") == 0)
			ready = strcmp(row[1], "ON") == 0 ? "ON" : "OFF";
	}
	mysql_free_result(res);
	res = NULL;
	if (local == -1) {
		rc = 1;
		goto out;
	}
	/* A node told to reject queries is Synced and ready all the same. */
	if (mysql_query(st->db, "SHOW GLOBAL VARIABLES LIKE "
	    "'wsrep_reject_queries'") != 0 ||
	    (res = mysql_store_result(st->db)) == NULL)
		goto out;
	if ((row = mysql_fetch_row(res)) != NULL && row[1] != NULL &&
	    strcmp(row[1], "NONE") != 0)
		reject = row[1];
	snprintf(state, statesz, "wsrep_local_state %lld, wsrep_ready %s, "
	    "wsrep_reject_queries %s", local, ready, reject);
	rc = local == 4 && strcmp(ready, "ON") == 0 &&
	    strcmp(reject, "NONE") == 0;
out:
	mysql_free_result(res);
	return rc;
}

/* db_host's host i (the one host if there is no list) and its port. */
static const char *
host_at(const struct config *cf, size_t i, unsigned int *port)
{
	*port = cf->ndb_hosts > 0 && cf->db_ports[i] ? cf->db_ports[i] :
	    cf->db_port;
	return cf->ndb_hosts > 0 ? cf->db_hosts[i] : cf->db_host;
}

/*
 * Connect to db_host's host i; then, if check, as node_synced(). Returns
 * 1 connected (and synced), 0 not synced, -1 no connection (st->db NULL:
 * out of memory).
 */
static int
connect_host(struct store *st, size_t i, int check, char *state,
    size_t statesz)
{
	const char	*host;
	unsigned int	 port;

	host = host_at(st->cf, i, &port);
	if (connect_one(st, host, port) != 0)
		return -1;
	return check ? node_synced(st, state, statesz) : 1;
}

/*
 * Connect to the first of db_host's servers that answers, accepts the
 * session and, when there are several, is a synced Galera node (or no
 * Galera node at all). When none is synced, the first that answered is
 * used all the same: a desynced node still writes, and one that is not
 * ready answers 1047, which is 503.
 */
static int
connect_db(struct store *st, char *err, size_t errsz)
{
	const struct config	*cf = st->cf;
	size_t			 i, n = cf->ndb_hosts > 0 ? cf->ndb_hosts : 1;
	size_t			 fallback = n;
	const char		*host;
	unsigned int		 port;
	char			 state[128];
	int			 rc;

	for (i = 0; i < n; i++) {
		rc = connect_host(st, i, n > 1, state, sizeof(state));
		host = host_at(cf, i, &port);
		if (rc == 1) {
			if (i > 0)
				log_info("database: the hosts before %s:%u are "
				    "down or not synced, using it", host, port);
			return 0;
		}
		if (st->db == NULL)
			goto nomem;
		if (rc == 0) {
			log_info("database: %s:%u is not synced (%s), "
			    "skipped", host, port, state);
			if (fallback == n)
				fallback = i;
		} else
			fail_db(st, connect_hint(mysql_errno(st->db)), err,
			    errsz);
		disconnect(st);
	}
	if (fallback == n)
		return -1;
	host = host_at(cf, fallback, &port);
	if (connect_host(st, fallback, 0, state, sizeof(state)) == 1) {
		log_info("database: no host is synced, using %s:%u", host,
		    port);
		return 0;
	}
	if (st->db == NULL)
		goto nomem;
	fail_db(st, connect_hint(mysql_errno(st->db)), err, errsz);
	disconnect(st);
	return -1;
nomem:
	st->errcode = CR_OUT_OF_MEMORY;
	snprintf(err, errsz, "mysql_init failed");
	return -1;
}

/*
 * Prepare statement id on the current connection unless it is; what
 * begins the message in err. Returns 0 or -1.
 */
static int
prepare(struct store *st, enum stmt_id id, const char *what, char *err,
    size_t errsz)
{
	MYSQL_STMT	*s;

	if (st->stmt[id] != NULL)
		return 0;
	if ((s = mysql_stmt_init(st->db)) == NULL)
		return fail_db(st, "mysql_stmt_init", err, errsz);
	if (mysql_stmt_prepare(s, st->sql[id], strlen(st->sql[id])) != 0) {
		st->errcode = mysql_stmt_errno(s);
		snprintf(err, errsz, "%s: %u %s", what, st->errcode,
		    mysql_stmt_error(s));
		mysql_stmt_close(s);
		return -1;
	}
	st->stmt[id] = s;
	return 0;
}

static int
exec(struct store *st, enum stmt_id id, MYSQL_BIND *bind,
    unsigned long long *affected, char *err, size_t errsz)
{
	MYSQL_STMT	*s;

	if (prepare(st, id, "prepare", err, errsz) == -1)
		return -1;
	s = st->stmt[id];
	if (mysql_stmt_bind_param(s, bind) != 0 || mysql_stmt_execute(s) != 0) {
		st->errcode = mysql_stmt_errno(s);
		snprintf(err, errsz, "execute: %u %s", st->errcode,
		    mysql_stmt_error(s));
		return -1;
	}
	*affected = mysql_stmt_affected_rows(s);
	return 0;
}

static void
bind_text(MYSQL_BIND *b, const char *p, size_t len)
{
	memset(b, 0, sizeof(*b));
	if (p == NULL) {
		b->buffer_type = MYSQL_TYPE_NULL;
		return;
	}
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)(uintptr_t)p;
	b->buffer_length = len;
}

static void
bind_ev(MYSQL_BIND *b, const struct event_text *t)
{
	bind_text(b, t->p, t->len);
}

/* v < 0 binds NULL. */
static void
bind_int(MYSQL_BIND *b, const long long *v)
{
	memset(b, 0, sizeof(*b));
	if (*v < 0) {
		b->buffer_type = MYSQL_TYPE_NULL;
		return;
	}
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = (void *)(uintptr_t)v;
}

static void
bind_tiny(MYSQL_BIND *b, const signed char *v)
{
	memset(b, 0, sizeof(*b));
	if (*v < 0) {
		b->buffer_type = MYSQL_TYPE_NULL;
		return;
	}
	b->buffer_type = MYSQL_TYPE_TINY;
	b->buffer = (void *)(uintptr_t)v;
}

/* ts, in ms since the epoch, as a DATETIME(3) in UTC. */
static int
bind_when(struct store *st, MYSQL_BIND *b, MYSQL_TIME *when, long long ts,
    char *err, size_t errsz)
{
	time_t		 sec = (time_t)(ts / 1000);
	struct tm	 tm;

	if (gmtime_r(&sec, &tm) == NULL) {
		st->errcode = CR_UNKNOWN_ERROR;
		snprintf(err, errsz, "time out of range");
		return -1;
	}
	memset(when, 0, sizeof(*when));
	when->year = (unsigned int)tm.tm_year + 1900;
	when->month = (unsigned int)tm.tm_mon + 1;
	when->day = (unsigned int)tm.tm_mday;
	when->hour = (unsigned int)tm.tm_hour;
	when->minute = (unsigned int)tm.tm_min;
	when->second = (unsigned int)tm.tm_sec;
	when->second_part = (unsigned long)(ts % 1000) * 1000;
	when->time_type = MYSQL_TIMESTAMP_DATETIME;
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_DATETIME;
	b->buffer = when;
	return 0;
}

static void
bind_id(MYSQL_BIND *b, const char *id)
{
	bind_text(b, id, strlen(id));
}

/* Rows changed by the user statements, or -1. */
static long long
write_user(struct store *st, const struct event *ev, long long ts,
    char *err, size_t errsz)
{
	const struct event_user	*u = &ev->user;
	MYSQL_BIND		 b[USER_NCOLS];
	MYSQL_TIME		 when;
	unsigned long long	 rows, ended = 0;
	signed char		 verified, banned, locked;

	if (ev->type == EVENT_USER_DELETED) {
		bind_id(&b[0], ev->object_id);
		if (bind_when(st, &b[1], &when, ts, err, errsz) == -1 ||
		    exec(st, STMT_USER_DELETE, b, &rows, err, errsz) == -1)
			return -1;
		st->main_rows = rows;
		/* Clerk ends a deleted user's memberships. */
		if (st->cf->events & CONFIG_EVENTS_MEMBERSHIPS) {
			b[0] = b[1];
			bind_id(&b[1], ev->object_id);
			if (exec(st, STMT_MEMBERS_END_USER, b, &ended, err,
			    errsz) == -1)
				return -1;
		}
		return (long long)(rows + ended);
	}
	verified = (signed char)u->email_verified;
	banned = (signed char)u->banned;
	locked = (signed char)u->locked;
	bind_id(&b[0], ev->object_id);
	bind_ev(&b[1], &u->email);
	bind_tiny(&b[2], &verified);
	bind_ev(&b[3], &u->phone);
	bind_ev(&b[4], &u->username);
	bind_ev(&b[5], &u->first_name);
	bind_ev(&b[6], &u->last_name);
	bind_ev(&b[7], &u->image_url);
	bind_ev(&b[8], &u->external_id);
	bind_ev(&b[9], &u->public_metadata);
	bind_tiny(&b[10], &banned);
	bind_tiny(&b[11], &locked);
	bind_int(&b[12], &u->last_sign_in_at);
	bind_int(&b[13], &u->created_at);
	bind_ev(&b[14], &u->clerk_data);
	bind_int(&b[15], &u->updated_at);
	if (exec(st, STMT_USER_UPSERT, b, &rows, err, errsz) == -1)
		return -1;
	st->main_rows = rows;
	return (long long)rows;
}

/* The organization of ev, or its tombstone; rows changed, or -1. */
static long long
write_org(struct store *st, const struct event *ev, long long ts,
    char *err, size_t errsz)
{
	const struct event_org	*o = &ev->org;
	MYSQL_BIND		 b[ORG_NCOLS];
	MYSQL_TIME		 when;
	unsigned long long	 rows, ended = 0;

	bind_id(&b[0], o->id);
	if (ev->type == EVENT_ORG_DELETED) {
		if (bind_when(st, &b[1], &when, ts, err, errsz) == -1 ||
		    exec(st, STMT_ORG_DELETE, b, &rows, err, errsz) == -1)
			return -1;
		st->main_rows = rows;
		if (st->cf->events & CONFIG_EVENTS_MEMBERSHIPS) {
			b[0] = b[1];
			bind_id(&b[1], o->id);
			if (exec(st, STMT_MEMBERS_END_ORG, b, &ended, err,
			    errsz) == -1)
				return -1;
		}
		return (long long)(rows + ended);
	}
	bind_ev(&b[1], &o->name);
	bind_ev(&b[2], &o->slug);
	bind_ev(&b[3], &o->image_url);
	bind_ev(&b[4], &o->created_by);
	bind_ev(&b[5], &o->public_metadata);
	bind_int(&b[6], &o->created_at);
	bind_ev(&b[7], &o->clerk_data);
	bind_int(&b[8], &o->updated_at);
	if (exec(st, STMT_ORG_UPSERT, b, &rows, err, errsz) == -1)
		return -1;
	st->main_rows = rows;
	return (long long)rows;
}

/*
 * A membership event: its organization snapshot first, under the same
 * guard. That also locks the organization's row, so that events for the
 * members of one organization are applied one at a time, and the check
 * for several live memberships of a pair sees every committed one.
 */
static long long
write_member(struct store *st, const struct event *ev, long long ts,
    char *err, size_t errsz)
{
	const struct event_member *m = &ev->member;
	MYSQL_BIND		 b[MEMBER_NCOLS + 2];
	MYSQL_TIME		 when;
	unsigned long long	 rows, ended = 0;
	long long		 org;

	if ((org = write_org(st, ev, ts, err, errsz)) == -1)
		return -1;
	bind_id(&b[0], ev->object_id);
	bind_id(&b[1], ev->org.id);
	bind_id(&b[2], m->user_id);
	bind_ev(&b[3], &m->role);
	bind_ev(&b[4], &m->permissions);
	bind_ev(&b[5], &m->public_metadata);
	bind_int(&b[6], &m->created_at);
	bind_int(&b[7], &m->updated_at);
	if (ev->type == EVENT_MEMBER_DELETED) {
		if (bind_when(st, &b[8], &when, ts, err, errsz) == -1 ||
		    exec(st, STMT_MEMBER_DELETE, b, &rows, err, errsz) == -1)
			return -1;
	} else {
		bind_id(&b[8], ev->org.id);
		bind_id(&b[9], m->user_id);
		if (exec(st, STMT_MEMBER_UPSERT, b, &rows, err, errsz) == -1)
			return -1;
	}
	st->main_rows = rows;
	if (rows > 0) {
		if (bind_when(st, &b[0], &when, ts, err, errsz) == -1)
			return -1;
		bind_id(&b[1], ev->org.id);
		bind_id(&b[2], m->user_id);
		b[3] = b[1];
		b[4] = b[2];
		if (exec(st, STMT_MEMBER_END_OLDER, b, &ended, err, errsz) == -1)
			return -1;
	}
	return org + (long long)rows;
}

/* The rows of ev, in the open transaction: rows changed, or -1. */
static long long
write_event(struct store *st, const struct event *ev, long long ts,
    char *err, size_t errsz)
{
	switch (ev->type) {
	case EVENT_USER_CREATED:
	case EVENT_USER_UPDATED:
	case EVENT_USER_DELETED:
		return write_user(st, ev, ts, err, errsz);
	case EVENT_ORG_CREATED:
	case EVENT_ORG_UPDATED:
	case EVENT_ORG_DELETED:
		return write_org(st, ev, ts, err, errsz);
	case EVENT_MEMBER_CREATED:
	case EVENT_MEMBER_UPDATED:
	case EVENT_MEMBER_DELETED:
		return write_member(st, ev, ts, err, errsz);
	default:
		st->errcode = CR_UNKNOWN_ERROR;
		snprintf(err, errsz, "no statement for %s", ev->type_name);
		return -1;
	}
}

/*
 * One try of the whole transaction. Returns the outcome, or -1 with
 * st->errcode and err set; the caller rolls back.
 */
static int
txn(struct store *st, const struct event *ev, const char *svix_id,
    long long ts, char *err, size_t errsz)
{
	MYSQL_BIND		 b[4];
	unsigned long long	 rows;
	long long		 changed;
	/* Claim the svix-id first: a concurrent duplicate waits on it. */
	bind_id(&b[0], svix_id);
	bind_id(&b[1], ev->type_name);
	bind_id(&b[2], ev->object_id);
	bind_int(&b[3], &ts);
	if (exec(st, STMT_EVENT_INSERT, b, &rows, err, errsz) == -1) {
		if (st->errcode != ER_DUP_ENTRY)
			return -1;
		err[0] = '\0';
		return STORE_DUPLICATE;
	}

	if ((changed = write_event(st, ev, ts, err, errsz)) == -1)
		return -1;
	if (changed > 0)
		return STORE_APPLIED;
	bind_id(&b[0], svix_id);
	if (exec(st, STMT_EVENT_STALE, b, &rows, err, errsz) == -1)
		return -1;
	return STORE_STALE;
}

/* Errors after which the connection cannot be trusted. */
static int
conn_lost(unsigned int code)
{
	return dberr_classify(code) == DBERR_LOST;
}

/*
 * SPEC section 1: the database unreachable or not serving (a Galera node
 * that is not ready), a deadlock or lock wait, or a bad configuration
 * (access, missing schema, read-only) is 503, so that Svix retries;
 * anything else is 500. The table is in dberr.c.
 */
static enum store_result
classify(unsigned int code)
{
	return dberr_classify(code) == DBERR_FAILED ? STORE_FAILED :
	    STORE_UNAVAILABLE;
}

/*
 * Whether the last failure comes from a Galera node that does not serve
 * now, so that another host of db_host may: 1047 (not ready, not
 * primary, rejecting queries); or, on a connection kept from before, a
 * 503 error on a node no longer synced (wsrep_sync_wait fails with 1205
 * on a node that left the primary component).
 */
static int
node_failed(struct store *st, int fresh)
{
	char	 state[128];

	switch (dberr_classify(st->errcode)) {
	case DBERR_NODE:
		return 1;
	case DBERR_UNAVAILABLE:
		if (fresh || st->cf->ndb_hosts < 2)
			return 0;
		mysql_rollback(st->db);
		if (node_synced(st, state, sizeof(state)) == 1)
			return 0;
		log_info("database: the node is not synced (%s)", state);
		return 1;
	default:
		return 0;
	}
}

/*
 * A transaction's statements: the result (>= 0) with *commit set, or -1
 * with st->errcode and err set.
 */
typedef int (*txn_fn)(struct store *, const void *, int *, char *, size_t);

/*
 * Run fn as one transaction until it holds. A connection lost on first
 * use (idle past wait_timeout, a server restarted since) is retried once
 * on a new one; a deadlock, or a cluster's certification conflict at
 * commit, up to STORE_ATTEMPTS times. Returns fn's result, or -1 with
 * st->errcode and err set.
 */
static int
run(struct store *st, txn_fn fn, const void *arg, const char *what,
    char *err, size_t errsz)
{
	struct timespec	 pause;
	int		 attempt, fresh, rc, commit;

	for (attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
		fresh = st->db == NULL;
		if (fresh && connect_db(st, err, errsz) == -1)
			return -1;
		commit = 0;
		if ((rc = fn(st, arg, &commit, err, errsz)) != -1) {
			if (!commit) {
				mysql_rollback(st->db);
				return rc;
			}
			if (mysql_commit(st->db) == 0)
				return rc;
			fail_db(st, "commit", err, errsz);
		}
		/*
		 * A lost connection, or a node that stopped serving (it left
		 * the primary component, rejects queries): a new connection,
		 * which skips a node that is not synced.
		 */
		if (conn_lost(st->errcode) || node_failed(st, fresh)) {
			disconnect(st);
			/* If the lost one had committed, the retry finds it. */
			if (!fresh) {
				log_info("database: %s on %s, connecting again",
				    err, what);
				continue;
			}
			return -1;
		}
		mysql_rollback(st->db);
		if (dberr_classify(st->errcode) != DBERR_DEADLOCK)
			return -1;
		log_info("deadlock on %s, attempt %d", what, attempt + 1);
		/* Apart, so that two that collided do not collide again. */
		pause.tv_sec = 0;
		pause.tv_nsec = (long)(attempt + 1) * (1 + getpid() % 4) *
		    1000000L;
		nanosleep(&pause, NULL);
	}
	return -1;
}

struct apply_arg {
	const struct event	*ev;
	const char		*svix_id;
	long long		 ts;
};

static int
apply_fn(struct store *st, const void *arg, int *commit, char *err,
    size_t errsz)
{
	const struct apply_arg	*a = arg;
	int			 rc;

	rc = txn(st, a->ev, a->svix_id, a->ts, err, errsz);
	*commit = rc == STORE_APPLIED || rc == STORE_STALE;
	return rc;
}

enum store_result
store_apply(struct store *st, const struct event *ev, const char *svix_id,
    long long ts, char *err, size_t errsz)
{
	struct apply_arg	 a = { ev, svix_id, ts };
	int			 rc;

	if ((rc = run(st, apply_fn, &a, svix_id, err, errsz)) == -1)
		return classify(st->errcode);
	return (enum store_result)rc;
}

/*
 * Execute statement id with params and fetch at most one row into out:
 * 1 a row, 0 none, -1 with err set (what begins the message).
 */
static int
fetch_one(struct store *st, enum stmt_id id, MYSQL_BIND *params,
    MYSQL_BIND *out, const char *what, char *err, size_t errsz)
{
	MYSQL_STMT	*s;
	int		 rc;

	if (prepare(st, id, "prepare (run migrate)", err, errsz) == -1)
		return -1;
	s = st->stmt[id];
	if (mysql_stmt_bind_param(s, params) != 0 ||
	    mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, out) != 0)
		goto fail;
	rc = mysql_stmt_fetch(s);
	mysql_stmt_free_result(s);
	if (rc == 0 || rc == MYSQL_NO_DATA)
		return rc == 0;
fail:
	st->errcode = mysql_stmt_errno(s);
	snprintf(err, errsz, "%s: %u %s", what, st->errcode,
	    mysql_stmt_error(s));
	return -1;
}

/*
 * The stored clerk_updated_at (-1: NULL) and whether the row is deleted
 * for ev's object: 1 found, 0 no row, -1 error.
 */
static int
peek(struct store *st, const struct event *ev, long long *updated,
    int *deleted, char *err, size_t errsz)
{
	MYSQL_BIND	 in[1], out[2];
	enum stmt_id	 id;
	long long	 up = 0, del = 0;
	my_bool		 up_null = 0;
	int		 rc;

	switch (ev->type) {
	case EVENT_ORG_CREATED:
	case EVENT_ORG_UPDATED:
	case EVENT_ORG_DELETED:
		id = STMT_PEEK_ORG;
		break;
	case EVENT_MEMBER_CREATED:
	case EVENT_MEMBER_UPDATED:
	case EVENT_MEMBER_DELETED:
		id = STMT_PEEK_MEMBER;
		break;
	default:
		id = STMT_PEEK_USER;
		break;
	}
	bind_id(&in[0], ev->object_id);
	memset(out, 0, sizeof(out));
	out[0].buffer_type = out[1].buffer_type = MYSQL_TYPE_LONGLONG;
	out[0].buffer = &up;
	out[0].is_null = &up_null;
	out[1].buffer = &del;
	if ((rc = fetch_one(st, id, in, out, "peek", err, errsz)) == 1) {
		*updated = up_null ? -1 : up;
		*deleted = del != 0;
	}
	return rc;
}

struct import_arg {
	const struct event	*ev;
	long long		 ts;
	int			 dry_run;
};

/* The ordering key of ev's own object. */
static long long
version_of(const struct event *ev)
{
	switch (ev->type) {
	case EVENT_USER_CREATED:
	case EVENT_USER_UPDATED:
		return ev->user.updated_at;
	case EVENT_ORG_CREATED:
	case EVENT_ORG_UPDATED:
		return ev->org.updated_at;
	case EVENT_MEMBER_CREATED:
	case EVENT_MEMBER_UPDATED:
		return ev->member.updated_at;
	default:
		return -1;	/* deletes */
	}
}

static int
import_fn(struct store *st, const void *arg, int *commit, char *err,
    size_t errsz)
{
	const struct import_arg	*a = arg;
	long long		 have = -1, want = version_of(a->ev);
	int			 found, deleted = 0;

	*commit = !a->dry_run;
	if (!a->dry_run) {
		if (write_event(st, a->ev, a->ts, err, errsz) == -1)
			return -1;
		if (st->main_rows == 1)
			return IMPORT_INSERTED;
		if (st->main_rows == 2)
			return IMPORT_UPDATED;
	}
	/* What the guard decided, or would decide. */
	if ((found = peek(st, a->ev, &have, &deleted, err, errsz)) == -1)
		return -1;
	if (!a->dry_run)
		return deleted || (want >= 0 && have > want) ?
		    IMPORT_STALE : IMPORT_UNCHANGED;
	if (!found)
		return IMPORT_INSERTED;
	if (deleted)
		return IMPORT_STALE;
	if (want < 0)
		return IMPORT_UPDATED;	/* a delete of a live row */
	if (have < 0 || want > have)
		return IMPORT_UPDATED;
	return want == have ? IMPORT_UNCHANGED : IMPORT_STALE;
}

int
store_import(struct store *st, const struct event *ev, long long ts,
    int dry_run, enum store_import *how, char *err, size_t errsz)
{
	struct import_arg	 a = { ev, ts, dry_run };
	int			 rc;

	if ((rc = run(st, import_fn, &a, ev->object_id, err, errsz)) == -1)
		return -1;
	*how = (enum store_import)rc;
	return 0;
}

struct progress_arg {
	const char	*walk;
	long long	*offset;
	int		 set, done;
};

static int
progress_fn(struct store *st, const void *arg, int *commit, char *err,
    size_t errsz)
{
	const struct progress_arg *a = arg;
	MYSQL_BIND		 b[3];
	unsigned long long	 rows;
	long long		 done = a->done, off = 0;
	int			 rc;

	bind_id(&b[0], a->walk);
	if (a->set) {
		*commit = 1;
		bind_int(&b[1], a->offset);
		bind_int(&b[2], &done);
		return exec(st, STMT_PROGRESS_SET, b, &rows, err, errsz) ==
		    -1 ? -1 : 0;
	}
	memset(&b[1], 0, sizeof(b[1]));
	b[1].buffer_type = MYSQL_TYPE_LONGLONG;
	b[1].buffer = &off;
	if ((rc = fetch_one(st, STMT_PROGRESS_GET, &b[0], &b[1], "progress",
	    err, errsz)) == -1)
		return -1;
	*a->offset = rc == 1 ? off : 0;
	return 0;
}

int
store_progress(struct store *st, const char *walk, long long *offset,
    int set, int done, char *err, size_t errsz)
{
	struct progress_arg	 a = { walk, offset, set, done };

	return run(st, progress_fn, &a, walk, err, errsz) == -1 ? -1 : 0;
}

int
store_live(struct store *st, int orgs, const char *before,
    int (*fn)(void *, const char *), void *arg, char *err, size_t errsz)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 q[512], *esc;
	int		 rc = 0;
	size_t		 n = strlen(before);

	if (st->db == NULL && connect_db(st, err, errsz) == -1)
		return -1;
	if ((esc = malloc(2 * n + 1)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	mysql_real_escape_string(st->db, esc, before, (unsigned long)n);
	snprintf(q, sizeof(q), "SELECT clerk_id FROM `%s%s` WHERE deleted_at "
	    "IS NULL AND created_at < '%s' ORDER BY clerk_id",
	    st->cf->table_prefix, orgs ? "organizations" : "users", esc);
	free(esc);
	if (mysql_query(st->db, q) != 0 ||
	    (res = mysql_store_result(st->db)) == NULL)
		return fail_db(st, "live rows", err, errsz);
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL)
		if (row[0] != NULL)
			rc = fn(arg, row[0]);
	mysql_free_result(res);
	mysql_rollback(st->db);
	return rc;
}

int
store_now(struct store *st, char *buf, size_t bufsz, char *err,
    size_t errsz)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;

	if (st->db == NULL && connect_db(st, err, errsz) == -1)
		return -1;
	if (mysql_query(st->db, "SELECT UTC_TIMESTAMP(3)") != 0 ||
	    (res = mysql_store_result(st->db)) == NULL)
		return fail_db(st, "clock", err, errsz);
	row = mysql_fetch_row(res);
	snprintf(buf, bufsz, "%s", row != NULL && row[0] != NULL ? row[0] :
	    "");
	mysql_free_result(res);
	mysql_rollback(st->db);
	return buf[0] != '\0' ? 0 : -1;
}

static int
schema_version(struct store *st, int *version, char *err, size_t errsz)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 q[256];
	long long	 v;

	*version = 0;
	snprintf(q, sizeof(q), "SELECT COALESCE(MAX(version), 0) FROM "
	    "`%sclerksync_schema`", st->cf->table_prefix);
	if (mysql_query(st->db, q) != 0) {
		if (mysql_errno(st->db) == ER_NO_SUCH_TABLE)
			return 0;
		return fail_db(st, "schema version", err, errsz);
	}
	if ((res = mysql_store_result(st->db)) == NULL)
		return fail_db(st, "schema version", err, errsz);
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL &&
	    num_parse(row[0], strlen(row[0]), 0, 1000000, &v) == 0)
		*version = (int)v;
	mysql_free_result(res);
	mysql_rollback(st->db);
	return 0;
}

/* Whether the events setting can lead to statement id. */
static int
needed(const struct store *st, enum stmt_id id)
{
	unsigned int	 ev = st->cf->events;

	switch (id) {
	case STMT_ORG_UPSERT:
	case STMT_ORG_DELETE:
		return (ev & (CONFIG_EVENTS_ORGANIZATIONS |
		    CONFIG_EVENTS_MEMBERSHIPS)) != 0;
	case STMT_MEMBER_UPSERT:
	case STMT_MEMBER_DELETE:
	case STMT_MEMBER_END_OLDER:
	case STMT_MEMBERS_END_USER:
	case STMT_MEMBERS_END_ORG:
		return (ev & CONFIG_EVENTS_MEMBERSHIPS) != 0;
	default:
		return 1;
	}
}

int
store_probe(struct store *st, int *version, char *err, size_t errsz)
{
	int	 i;

	if (st->db == NULL && connect_db(st, err, errsz) == -1)
		return -1;
	if (schema_version(st, version, err, errsz) == -1)
		return -1;
	for (i = 0; i < STMT__MAX; i++)
		if (needed(st, (enum stmt_id)i) && prepare(st, (enum stmt_id)i,
		    "tables (run migrate, check table_prefix)", err,
		    errsz) == -1)
			return -1;
	return 0;
}

/* The table names of schema/, to which table_prefix is added. */
static const char *const schema_tables[] = {
	"users", "clerk_webhook_events", "clerksync_schema", "organizations",
	"organization_memberships", "clerksync_backfill"
};

/*
 * Run one schema file: statements end with ';' at the end of a line,
 * lines that start with "--" are comments, and every `table` of
 * schema_tables becomes `<prefix>table`.
 */
static int
run_file(struct store *st, const char *sql, char *err, size_t errsz)
{
	const char	*p = sql, *eol, *q;
	char		*stmt;
	size_t		 n = 0, i, len, tl;
	int		 rc = -1;

	/* A name grows by at most the prefix: a table name is >= 5 long. */
	if ((stmt = malloc(strlen(sql) * (CONFIG_PREFIX_MAX / 5 + 2) + 1)) ==
	    NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (; *p != '\0'; p = *eol ? eol + 1 : eol) {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		for (q = p; q < eol && (*q == ' ' || *q == '\t'); q++)
			continue;
		if (eol - q >= 2 && q[0] == '-' && q[1] == '-')
			continue;
		for (q = p; q < eol; q++) {
			for (i = 0; *q == '`' && i < sizeof(schema_tables) /
			    sizeof(schema_tables[0]); i++) {
				tl = strlen(schema_tables[i]);
				if ((size_t)(eol - q) > tl + 1 &&
				    strncmp(q + 1, schema_tables[i], tl) == 0 &&
				    q[tl + 1] == '`')
					break;
			}
			if (*q == '`' && i < sizeof(schema_tables) /
			    sizeof(schema_tables[0])) {
				n += (size_t)sprintf(stmt + n, "`%s%s`",
				    st->cf->table_prefix, schema_tables[i]);
				q += strlen(schema_tables[i]) + 1;
			} else
				stmt[n++] = *q;
		}
		len = n;
		while (len > 0 && (stmt[len - 1] == ' ' ||
		    stmt[len - 1] == '\t' || stmt[len - 1] == '\r'))
			len--;
		if (len > 0 && stmt[len - 1] == ';') {
			if (mysql_real_query(st->db, stmt, len - 1) != 0) {
				fail_db(st, "migrate", err, errsz);
				goto out;
			}
			n = 0;
		} else
			stmt[n++] = '\n';
	}
	rc = mysql_commit(st->db) == 0 ? 0 : fail_db(st, "commit", err, errsz);
out:
	free(stmt);
	return rc;
}

int
store_migrate(struct store *st, int *from, int *to, char *err, size_t errsz)
{
	size_t	 i;

	if (st->db == NULL && connect_db(st, err, errsz) == -1)
		return -1;
	if (schema_version(st, from, err, errsz) == -1)
		return -1;
	*to = *from;
	for (i = 0; i < schema_count; i++) {
		if (schema_files[i].version <= *from)
			continue;
		if (run_file(st, schema_files[i].sql, err, errsz) == -1)
			return -1;
		*to = schema_files[i].version;
	}
	return 0;
}

long long
store_prune(struct store *st, char *err, size_t errsz)
{
	MYSQL_BIND		 b[1];
	unsigned long long	 rows;
	long long		 days = st->cf->retention_days;

	if (st->db == NULL && connect_db(st, err, errsz) == -1)
		return -1;
	bind_int(&b[0], &days);
	if (exec(st, STMT_PRUNE, b, &rows, err, errsz) == -1)
		goto fail;
	if (mysql_commit(st->db) != 0) {
		fail_db(st, "commit", err, errsz);
		goto fail;
	}
	return (long long)rows;
fail:
	if (conn_lost(st->errcode))
		disconnect(st);
	else
		mysql_rollback(st->db);
	return -1;
}

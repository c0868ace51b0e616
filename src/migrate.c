/*
 * clerksync — migrate: the schema version, `check`'s probe, `status`'s
 * figures, and `migrate`, which runs the compiled-in statements of
 * schema/ (split at build time by scripts/embed-schema.sh) with
 * table_prefix applied.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "schema.h"
#include "store_int.h"

/* The tables of schema/ besides the kinds', to which the prefix goes. */
static const char *const meta_tables[] = {
	"clerk_webhook_events", "clerksync_schema", "clerksync_backfill",
	"clerksync_api_budget"
};
#define NMETA	(sizeof(meta_tables) / sizeof(meta_tables[0]))

int
store_schema_version(struct store *st, int *version, char *err,
    size_t errsz)
{
	MYSQL_BIND	 out[1];
	long long	 v = 0;
	int		 rc;

	*version = 0;
	if (store_prepare(st, SQL_SCHEMA_VERSION, "schema version", err,
	    errsz) == -1)
		return st->errcode == ER_NO_SUCH_TABLE ? 0 : -1;
	memset(out, 0, sizeof(out));
	out[0].buffer_type = MYSQL_TYPE_LONGLONG;
	out[0].buffer = &v;
	rc = store_fetch(st, SQL_SCHEMA_VERSION, NULL, 0, out, err, errsz);
	mysql_rollback(st->db);
	if (rc == -1)
		return -1;
	if (rc == 1 && v > 0 && v <= 1000000)
		*version = (int)v;
	return 0;
}

/* Whether the events setting can lead to kind k's statements. */
static int
needed(const struct store *st, enum kind k)
{
	unsigned int	 ev = st->cf->events;

	switch (k) {
	case KIND_ORG:
		return (ev & (CONFIG_EVENTS_ORGANIZATIONS |
		    CONFIG_EVENTS_MEMBERSHIPS)) != 0;
	case KIND_MEMBER:
		return (ev & CONFIG_EVENTS_MEMBERSHIPS) != 0;
	default:
		return 1;
	}
}

enum store_check
store_probe(struct store *st, int *version, char *err, size_t errsz)
{
	char	 sql[SQLGEN_MAX];
	size_t	 id;
	int	 k;

	*version = 0;
	if (store_connect(st, err, errsz) == -1)
		return STORE_CHECK_CONNECT;
	if (store_schema_version(st, version, err, errsz) == -1)
		return STORE_CHECK_SCHEMA;
	for (id = 0; id < SQL__MAX; id++) {
		k = id < SQL_FIXED__MAX ? -1 : (int)((id - SQL_FIXED__MAX) /
		    SQL_OP__MAX);
		if (k >= 0 && !needed(st, (enum kind)k))
			continue;
		if (sqlgen_write(id, "", 0, sql, sizeof(sql)) == 0)
			continue;
		if (store_prepare(st, id, "tables (run migrate, check "
		    "table_prefix)", err, errsz) == -1)
			return STORE_CHECK_SCHEMA;
	}
	return STORE_CHECK_OK;
}

/* The table that begins at p (after a '`'), or NULL. */
static const char *
table_at(const char *p)
{
	const char	*t;
	size_t		 i, len;

	for (i = 0; i < KIND__MAX + NMETA; i++) {
		t = i < KIND__MAX ? kinds[i].table : meta_tables[i - KIND__MAX];
		len = strlen(t);
		if (strncmp(p, t, len) == 0 && p[len] == '`')
			return t;
	}
	return NULL;
}

/* sql with prefix before every `table` of schema/; NULL: no memory. */
static char *
prefixed(const char *sql, const char *prefix)
{
	const char	*p, *t;
	char		*out, *q;
	size_t		 n = 0;

	for (p = sql; *p != '\0'; p++)
		n += *p == '`' && table_at(p + 1) != NULL ? strlen(prefix) : 0;
	if ((out = malloc(strlen(sql) + n + 1)) == NULL)
		return NULL;
	for (p = sql, q = out; *p != '\0'; p++) {
		*q++ = *p;
		if (*p == '`' && (t = table_at(p + 1)) != NULL) {
			memcpy(q, prefix, strlen(prefix));
			q += strlen(prefix);
			memcpy(q, t, strlen(t));
			q += strlen(t);
			p += strlen(t);
		}
	}
	*q = '\0';
	return out;
}

/* Run one schema file's statements, then commit. 0 or -1. */
static int
run_file(struct store *st, const struct schema_file *f, char *err,
    size_t errsz)
{
	const char *const	*s;
	char			*sql;
	int			 rc;

	for (s = f->stmts; *s != NULL; s++) {
		if ((sql = prefixed(*s, st->cf->table_prefix)) == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		rc = mysql_real_query(st->db, sql, strlen(sql));
		free(sql);
		if (rc != 0)
			return store_fail(st, "migrate", err, errsz);
	}
	return mysql_commit(st->db) == 0 ? 0 : store_fail(st, "commit", err,
	    errsz);
}

int
store_migrate(struct store *st, int *from, int *to, char *err, size_t errsz)
{
	size_t	 i;

	if (store_connect(st, err, errsz) == -1)
		return -1;
	if (store_schema_version(st, from, err, errsz) == -1)
		return -1;
	*to = *from;
	for (i = 0; i < schema_count; i++) {
		if (schema_files[i].version <= *from)
			continue;
		if (run_file(st, &schema_files[i], err, errsz) == -1)
			return -1;
		*to = schema_files[i].version;
	}
	return 0;
}

/* One row of SQL_STATUS: family, last event, age, applied, stale. */
struct status_row {
	MYSQL_BIND	 out[5];
	char		 last[STORE_STATUS_TIME];
	long long	 f, n[3];
	unsigned long	 len;
	my_bool		 null[5];
};

static void
status_bind(struct status_row *r)
{
	size_t	 i;

	memset(r, 0, sizeof(*r));
	r->out[0].buffer_type = MYSQL_TYPE_LONGLONG;
	r->out[0].buffer = &r->f;
	r->out[1].buffer_type = MYSQL_TYPE_STRING;
	r->out[1].buffer = r->last;
	r->out[1].buffer_length = sizeof(r->last);
	r->out[1].length = &r->len;
	for (i = 0; i < 3; i++) {
		r->out[2 + i].buffer_type = MYSQL_TYPE_LONGLONG;
		r->out[2 + i].buffer = &r->n[i];
	}
	for (i = 0; i < 5; i++)
		r->out[i].is_null = &r->null[i];
}

/*
 * The rows of the executed SQL_STATUS s into ss, one per family; a row
 * of another type (family -1) is skipped. Returns 0, or -1 with err set.
 */
static int
status_read(struct store *st, MYSQL_STMT *s, struct store_status *ss,
    char *err, size_t errsz)
{
	struct status_row	 r;
	size_t			 i;
	int			 got;

	status_bind(&r);
	if (mysql_stmt_store_result(s) != 0 ||
	    mysql_stmt_bind_result(s, r.out) != 0) {
		store_fail_stmt(st, s, "events", err, errsz);
		return -1;
	}
	while ((got = mysql_stmt_fetch(s)) == 0) {
		if (r.null[0] || r.f < 0 || r.f >= STORE_FAMILY__MAX)
			continue;	/* -1: another type */
		if (r.null[2] || r.null[3] || r.null[4] || r.n[0] < 0 ||
		    r.n[1] < 0 || r.n[2] < 0) {
			snprintf(err, errsz, "events: unexpected values");
			return -1;
		}
		i = (size_t)r.f;
		snprintf(ss->fam[i].last, sizeof(ss->fam[i].last), "%.*s",
		    r.null[1] ? 0 : (int)r.len, r.last);
		ss->fam[i].age = r.n[0];
		ss->fam[i].applied = r.n[1];
		ss->fam[i].stale = r.n[2];
	}
	if (got != MYSQL_NO_DATA) {
		if (got == MYSQL_DATA_TRUNCATED)
			snprintf(err, errsz, "events: unexpected values");
		else
			store_fail_stmt(st, s, "events", err, errsz);
		return -1;
	}
	return 0;
}

int
store_status(struct store *st, struct store_status *ss, char *err,
    size_t errsz)
{
	MYSQL_STMT	*s = NULL;
	size_t		 i;
	int		 rc = -1;

	memset(ss, 0, sizeof(*ss));
	for (i = 0; i < STORE_FAMILY__MAX; i++)
		ss->fam[i].age = -1;
	if (store_connect(st, err, errsz) == -1)
		return -1;
	if (store_schema_version(st, &ss->version, err, errsz) == -1)
		goto out;
	/* No schema table: nothing more to read. */
	if (st->stmt[SQL_SCHEMA_VERSION] == NULL) {
		rc = 0;
		goto out;
	}
	if (store_exec(st, SQL_STATUS, NULL, 0, NULL, err, errsz) == -1)
		goto out;
	/* After store_exec: a result to free from here on. */
	s = st->stmt[SQL_STATUS];
	if (status_read(st, s, ss, err, errsz) == -1)
		goto out;
	rc = 0;
out:
	if (s != NULL)
		mysql_stmt_free_result(s);
	if (st->db != NULL)
		mysql_rollback(st->db);
	return rc;
}

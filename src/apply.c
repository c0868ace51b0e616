/*
 * clerksync — apply: what one event, one import, one walk's progress
 * and one prune write, each in one transaction (SPEC sections 2 and 3).
 * The SQL is sqlgen's (read sql/statements.sql), the values the kinds'.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "store_int.h"

static void
value_text(struct kind_value *v, const char *s)
{
	v->type = KV_TEXT;
	v->p = s;
	v->len = strlen(s);
}

static void
value_num(struct kind_value *v, enum kind_vtype type, long long n)
{
	v->type = type;
	v->n = n;
}

/*
 * The row of kind k that ev names: its guarded upsert, or with del its
 * delete at ts. *own receives the affected rows (1 inserted, 2 updated,
 * 0 untouched). 0 or -1.
 */
static int
write_row(struct store *st, enum kind k, const struct event *ev, int del,
    long long ts, unsigned long long *own, char *err, size_t errsz)
{
	const struct kind_desc	*d = &kinds[k];
	struct kind_value	 v[STORE_PARAMS_MAX];
	size_t			 n, i;

	d->bind(ev, v);
	if (del) {
		n = d->tomb_cols;
		value_num(&v[n++], KV_TIME, ts);
		return store_exec(st, SQL_OF(k, SQL_DELETE), v, n, own, err,
		    errsz);
	}
	n = d->ncols;
	for (i = 0; i < d->nparents; i++)
		v[n++] = v[d->parent_cols[i]];
	return store_exec(st, SQL_OF(k, SQL_UPSERT), v, n, own, err, errsz);
}

/* Clerk ends the memberships of a user or organization it deletes. */
static int
end_members(struct store *st, enum kind k, const struct event *ev,
    long long ts, unsigned long long *ended, char *err, size_t errsz)
{
	struct kind_value	 v[KIND_COLS_MAX];

	*ended = 0;
	if (!(st->cf->events & CONFIG_EVENTS_MEMBERSHIPS) ||
	    kinds[k].member_col == 0)
		return 0;
	kinds[k].bind(ev, v);	/* v[0], the key */
	v[1] = v[0];
	value_num(&v[0], KV_TIME, ts);
	return store_exec(st, SQL_OF(k, SQL_END_MEMBERS), v, 2, ended, err,
	    errsz);
}

/*
 * Of a pair's memberships only the newest may be live: a write to one
 * ends the older ones at ts.
 */
static int
end_older(struct store *st, const struct event *ev, long long ts, char *err,
    size_t errsz)
{
	struct kind_value	 v[5];

	value_num(&v[0], KV_TIME, ts);
	value_text(&v[1], ev->org.id);
	value_text(&v[2], ev->member.user_id);
	v[3] = v[1];
	v[4] = v[2];
	return store_exec(st, SQL_MEMBER_END_OLDER, v, 5, NULL, err, errsz);
}

/*
 * The rows of ev, in the open transaction. A membership event writes its
 * organization snapshot first, under the same guard: that also locks the
 * organization's row, so that events for the members of one organization
 * are applied one at a time, and the check for several live memberships
 * of a pair sees every committed one. Returns the rows changed (>= 0,
 * *own those of ev's own row) or -1.
 */
static long long
write_event(struct store *st, const struct event *ev, long long ts,
    unsigned long long *own, char *err, size_t errsz)
{
	enum kind		 k = kind_of[ev->type];
	int			 del = kind_deletes[ev->type];
	unsigned long long	 org = 0, ended = 0;

	if (k == KIND__MAX) {
		st->errcode = CR_UNKNOWN_ERROR;
		snprintf(err, errsz, "no statement for %s", ev->type_name);
		return -1;
	}
	if (k == KIND_MEMBER &&
	    write_row(st, KIND_ORG, ev, 0, ts, &org, err, errsz) == -1)
		return -1;
	if (write_row(st, k, ev, del, ts, own, err, errsz) == -1)
		return -1;
	if (k == KIND_MEMBER && *own > 0 &&
	    end_older(st, ev, ts, err, errsz) == -1)
		return -1;
	if (del && end_members(st, k, ev, ts, &ended, err, errsz) == -1)
		return -1;
	return (long long)(org + *own + ended);
}

struct apply_arg {
	const struct event	*ev;
	const char		*svix_id;
	const char		*type;	/* of its events row */
	long long		 ts;
};

/*
 * One try of the whole transaction: the outcome, or -1 with st->errcode
 * and err set.
 */
static int
apply_fn(struct store *st, const void *arg, int *commit, char *err,
    size_t errsz)
{
	const struct apply_arg	*a = arg;
	struct kind_value	 v[4];
	unsigned long long	 own;
	long long		 changed;

	/* Claim the svix-id first: a concurrent duplicate waits on it. */
	value_text(&v[0], a->svix_id);
	value_text(&v[1], a->type);
	value_text(&v[2], a->ev->object_id);
	value_num(&v[3], KV_INT, a->ts);
	if (store_exec(st, SQL_EVENT_INSERT, v, 4, NULL, err, errsz) == -1) {
		if (st->errcode != ER_DUP_ENTRY)
			return -1;
		err[0] = '\0';
		return STORE_DUPLICATE;
	}
	*commit = 1;
	if ((changed = write_event(st, a->ev, a->ts, &own, err, errsz)) == -1)
		return -1;
	if (changed > 0)
		return STORE_APPLIED;
	if (store_exec(st, SQL_EVENT_STALE, v, 1, NULL, err, errsz) == -1)
		return -1;
	return STORE_STALE;
}

enum store_result
store_apply(struct store *st, const struct event *ev, const char *svix_id,
    long long ts, char *err, size_t errsz)
{
	struct apply_arg	 a = { ev, svix_id, ev->type_name, ts };
	int			 rc;

	if ((rc = store_run(st, apply_fn, &a, svix_id, err, errsz)) == -1)
		return store_classify(st->errcode);
	return (enum store_result)rc;
}

/* As store_apply, under the pull's own type (SPEC section 1, "Pull"). */
enum store_result
store_pull_apply(struct store *st, const struct event *ev,
    const char *svix_id, long long ts, char *err, size_t errsz)
{
	struct apply_arg	 a = { ev, svix_id, STORE_PULL_TYPE, ts };
	int			 rc;

	if ((rc = store_run(st, apply_fn, &a, svix_id, err, errsz)) == -1)
		return store_classify(st->errcode);
	return (enum store_result)rc;
}

static int
pull_seen_fn(struct store *st, const void *arg, int *commit, char *err,
    size_t errsz)
{
	struct kind_value	 v[1];
	MYSQL_BIND		 out[1];
	long long		 one = 0;

	*commit = 0;
	value_text(&v[0], arg);
	memset(out, 0, sizeof(out));
	out[0].buffer_type = MYSQL_TYPE_LONGLONG;
	out[0].buffer = &one;
	return store_fetch(st, SQL_PULL_SEEN, v, 1, out, err, errsz);
}

int
store_pull_seen(struct store *st, const char *svix_id, char *err,
    size_t errsz)
{
	return store_run(st, pull_seen_fn, svix_id, svix_id, err, errsz);
}

/*
 * Take one request from the window of clerk_rate_limit that the
 * database's clock is in, in a transaction of its own: the upsert locks
 * the row, so that every process (FastCGI worker or CGI run) counts in
 * turn. Over the limit, nothing is taken (rolled back). XXX fixed
 * windows: a burst across a window's turn may take twice the limit; one
 * row holds no history, and clerk_rate_limit's default is half of
 * Clerk's.
 */
struct budget_arg {
	int	*wait;
};

static int
budget_fn(struct store *st, const void *arg, int *commit, char *err,
    size_t errsz)
{
	const struct budget_arg	*a = arg;
	struct kind_value	 v[3];
	MYSQL_BIND		 out[2];
	long long		 used = 0, left = 0;
	int			 rc;

	*commit = 0;
	value_text(&v[0], STORE_BUDGET_NAME);
	value_num(&v[1], KV_INT, st->cf->rate_seconds);
	value_num(&v[2], KV_INT, st->cf->rate_seconds);
	if (store_exec(st, SQL_BUDGET_TAKE, v, 3, NULL, err, errsz) == -1)
		return -1;
	value_num(&v[0], KV_INT, st->cf->rate_seconds);
	value_text(&v[1], STORE_BUDGET_NAME);
	memset(out, 0, sizeof(out));
	out[0].buffer_type = out[1].buffer_type = MYSQL_TYPE_LONGLONG;
	out[0].buffer = &used;
	out[1].buffer = &left;
	if ((rc = store_fetch(st, SQL_BUDGET_GET, v, 2, out, err,
	    errsz)) != 1) {
		if (rc == 0) {
			snprintf(err, errsz, "budget: the row is missing");
			st->errcode = CR_UNKNOWN_ERROR;
		}
		return -1;
	}
	if (used > st->cf->rate_requests) {
		*a->wait = left < 1 ? 1 : (int)left;
		return 1;
	}
	*commit = 1;
	return 0;
}

int
store_budget(struct store *st, int *wait, char *err, size_t errsz)
{
	struct budget_arg	 a = { wait };

	err[0] = '\0';
	return store_run(st, budget_fn, &a, "budget", err, errsz);
}

struct import_arg {
	const struct event	*ev;
	long long		 ts;
	int			 dry_run;
};

/*
 * After a write that changed nothing: whether the row holds the same
 * version (unchanged) or the guard refused (stale). The guard itself is
 * only in the write: a dry run is the write rolled back.
 */
static int
same_version(struct store *st, const struct event *ev, char *err,
    size_t errsz)
{
	enum kind		 k = kind_of[ev->type];
	struct kind_value	 v[KIND_COLS_MAX], key[2];
	MYSQL_BIND		 out[1];
	long long		 same = 0;
	my_bool			 null = 0;
	int			 rc;

	kinds[k].bind(ev, v);
	key[0] = v[kinds[k].guard];
	key[1] = v[0];
	memset(out, 0, sizeof(out));
	out[0].buffer_type = MYSQL_TYPE_LONGLONG;
	out[0].buffer = &same;
	out[0].is_null = &null;
	if ((rc = store_fetch(st, SQL_OF(k, SQL_SAME), key, 2, out, err,
	    errsz)) == -1)
		return -1;
	return rc == 1 && !null && same == 1;
}

static int
import_fn(struct store *st, const void *arg, int *commit, char *err,
    size_t errsz)
{
	const struct import_arg	*a = arg;
	unsigned long long	 own;
	int			 same;

	*commit = !a->dry_run;
	if (write_event(st, a->ev, a->ts, &own, err, errsz) == -1)
		return -1;
	if (own == 1)
		return IMPORT_INSERTED;
	if (own == 2)
		return IMPORT_UPDATED;
	if ((same = same_version(st, a->ev, err, errsz)) == -1)
		return -1;
	return same ? IMPORT_UNCHANGED : IMPORT_STALE;
}

int
store_import(struct store *st, const struct event *ev, long long ts,
    int dry_run, enum store_import *how, char *err, size_t errsz)
{
	struct import_arg	 a = { ev, ts, dry_run };
	int			 rc;

	if ((rc = store_run(st, import_fn, &a, ev->object_id, err,
	    errsz)) == -1)
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
	struct kind_value	 v[3];
	MYSQL_BIND		 out[2];
	long long		 off = 0, fin = 0;
	int			 rc;

	value_text(&v[0], a->walk);
	if (a->set) {
		*commit = 1;
		value_num(&v[1], *a->offset < 0 ? KV_NULL : KV_INT,
		    *a->offset);
		value_num(&v[2], KV_INT, a->done);
		return store_exec(st, SQL_PROGRESS_SET, v, 3, NULL, err,
		    errsz) == -1 ? -1 : 0;
	}
	memset(out, 0, sizeof(out));
	out[0].buffer_type = out[1].buffer_type = MYSQL_TYPE_LONGLONG;
	out[0].buffer = &off;
	out[1].buffer = &fin;
	if ((rc = store_fetch(st, SQL_PROGRESS_GET, v, 1, out, err,
	    errsz)) == -1)
		return -1;
	*a->offset = rc == 1 ? off : 0;
	return rc == 0 ? PROGRESS_NONE : fin ? PROGRESS_FINISHED :
	    PROGRESS_UNFINISHED;
}

int
store_progress(struct store *st, const char *walk, long long *offset,
    int set, int done, char *err, size_t errsz)
{
	struct progress_arg	 a = { walk, offset, set, done };

	return store_run(st, progress_fn, &a, walk, err, errsz);
}

/* A live row: its key, then its parents' keys (kinds[].parent_cols). */
typedef int (*live_fn)(void *, const char *const *);

/*
 * Call fn with each row of the open query s, of 1 + nparents ids, until
 * it returns non-zero. Rows holding a NULL or too long an id are skipped.
 */
static int
each_row(MYSQL_STMT *s, size_t ncols, live_fn fn, void *arg)
{
	MYSQL_BIND	 out[1 + KIND_PARENTS_MAX];
	char		 id[1 + KIND_PARENTS_MAX][EVENT_ID_MAX + 1];
	const char	*ids[1 + KIND_PARENTS_MAX];
	unsigned long	 len[1 + KIND_PARENTS_MAX];
	my_bool		 null[1 + KIND_PARENTS_MAX];
	size_t		 i;
	int		 rc = 0, f, good;

	memset(out, 0, sizeof(out));
	for (i = 0; i < ncols; i++) {
		out[i].buffer_type = MYSQL_TYPE_STRING;
		out[i].buffer = id[i];
		out[i].buffer_length = sizeof(id[i]);
		out[i].length = &len[i];
		out[i].is_null = &null[i];
		ids[i] = id[i];
	}
	if (mysql_stmt_bind_result(s, out) != 0)
		return -1;
	while (rc == 0 && ((f = mysql_stmt_fetch(s)) == 0 ||
	    f == MYSQL_DATA_TRUNCATED)) {
		for (good = f == 0, i = 0; i < ncols; i++)
			if (null[i] || len[i] >= sizeof(id[i]))
				good = 0;
		if (good)
			rc = fn(arg, ids);
	}
	return rc;
}

/* The live rows of kind k created before `before`, each given to fn. */
static int
live_rows(struct store *st, enum kind k, const char *before, live_fn fn,
    void *arg, char *err, size_t errsz)
{
	size_t			 id = SQL_OF(k, SQL_LIVE);
	struct kind_value	 v[1];
	MYSQL_STMT		*s;
	int			 rc;

	if (store_connect(st, err, errsz) == -1)
		return -1;
	value_text(&v[0], before);
	if (store_exec(st, id, v, 1, NULL, err, errsz) == -1)
		return -1;
	s = st->stmt[id];
	/* Every row first: fn may take its time. */
	if (mysql_stmt_store_result(s) != 0 ||
	    (rc = each_row(s, 1 + kinds[k].nparents, fn, arg)) == -1)
		rc = store_fail_stmt(st, s, "live rows", err, errsz);
	mysql_stmt_free_result(s);
	mysql_rollback(st->db);
	return rc;
}

struct live_arg {
	int	(*one)(void *, const char *);
	int	(*three)(void *, const char *, const char *, const char *);
	void	*arg;
};

static int
live_one(void *arg, const char *const *ids)
{
	const struct live_arg	*a = arg;

	return a->one(a->arg, ids[0]);
}

static int
live_three(void *arg, const char *const *ids)
{
	const struct live_arg	*a = arg;

	return a->three(a->arg, ids[0], ids[1], ids[2]);
}

int
store_live(struct store *st, int orgs, const char *before,
    int (*fn)(void *, const char *), void *arg, char *err, size_t errsz)
{
	struct live_arg	 a = { fn, NULL, arg };

	return live_rows(st, orgs ? KIND_ORG : KIND_USER, before, live_one,
	    &a, err, errsz);
}

int
store_live_members(struct store *st, const char *before,
    int (*fn)(void *, const char *, const char *, const char *), void *arg,
    char *err, size_t errsz)
{
	struct live_arg	 a = { NULL, fn, arg };

	/* The key, then parent_cols: the organization's, the user's. */
	return live_rows(st, KIND_MEMBER, before, live_three, &a, err,
	    errsz);
}

int
store_now(struct store *st, char *buf, size_t bufsz, char *err,
    size_t errsz)
{
	MYSQL_BIND	 out[1];
	unsigned long	 len = 0;
	int		 rc;

	if (store_connect(st, err, errsz) == -1)
		return -1;
	memset(out, 0, sizeof(out));
	out[0].buffer_type = MYSQL_TYPE_STRING;
	out[0].buffer = buf;
	out[0].buffer_length = bufsz;
	out[0].length = &len;
	rc = store_fetch(st, SQL_NOW, NULL, 0, out, err, errsz);
	mysql_rollback(st->db);
	if (rc == 1 && len > 0 && len < bufsz)
		return 0;
	if (rc != -1)
		snprintf(err, errsz, "clock: no time from the database");
	return -1;
}

long long
store_prune(struct store *st, char *err, size_t errsz)
{
	struct kind_value	 v[1];
	unsigned long long	 rows;

	if (store_connect(st, err, errsz) == -1)
		return -1;
	value_num(&v[0], KV_INT, st->cf->retention_days);
	if (store_exec(st, SQL_PRUNE, v, 1, &rows, err, errsz) == -1)
		goto fail;
	if (mysql_commit(st->db) != 0) {
		store_fail(st, "commit", err, errsz);
		goto fail;
	}
	return (long long)rows;
fail:
	if (store_conn_lost(st->errcode))
		store_disconnect(st);
	else
		mysql_rollback(st->db);
	return -1;
}

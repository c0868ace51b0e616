/*
 * clerksync — store: the connection (connect, session, failover), the
 * binding of values, the classification of errors and the retry runner.
 * What runs inside a transaction is in apply.c; the schema in migrate.c.
 * SPDX-License-Identifier: ISC
 */
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
#include "store_int.h"

static void	err_text(struct store *, const char *, const char *,
		    const char *, char *, size_t);

struct store *
store_open(const struct config *cf)
{
	struct store	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->cf = cf;
	return st;
}

void
store_disconnect(struct store *st)
{
	size_t	 i;

	for (i = 0; i < SQL__MAX; i++) {
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
	store_disconnect(st);
	free(st);
}

int
store_fail(struct store *st, const char *what, char *err, size_t errsz)
{
	st->errcode = st->db ? mysql_errno(st->db) : CR_UNKNOWN_ERROR;
	if (st->db != NULL)
		err_text(st, what, mysql_sqlstate(st->db), mysql_error(st->db),
		    err, errsz);
	else
		snprintf(err, errsz, "%s: %u no connection", what,
		    st->errcode);
	return -1;
}

int
store_fail_stmt(struct store *st, MYSQL_STMT *s, const char *what,
    char *err, size_t errsz)
{
	st->errcode = mysql_stmt_errno(s);
	err_text(st, what, mysql_stmt_sqlstate(s), mysql_stmt_error(s), err,
	    errsz);
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
	case CR_SSL_CONNECTION_ERROR:
		return "connect (TLS failed: check db_tls, db_tls_ca and the "
		    "server's certificate)";
	default:
		return "connect";
	}
}

/*
 * db_tls (Connector/C 3.3): ENFORCE refuses a server without TLS; VERIFY
 * checks the chain against db_tls_ca (else the system's CAs) and the host
 * name against the certificate. With `on` no CA is given: one would make
 * the library check the chain after all.
 */
static int
tls_options(MYSQL *db, const struct config *cf)
{
	my_bool	 yes = 1;

	if (cf->db_tls == CONFIG_TLS_OFF)
		return 0;
	if (mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &yes) != 0)
		return -1;
	if (cf->db_tls != CONFIG_TLS_VERIFY)
		return 0;
	if (mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes) != 0)
		return -1;
	if (cf->db_tls_ca != NULL &&
	    mysql_optionsv(db, MYSQL_OPT_SSL_CA, cf->db_tls_ca) != 0)
		return -1;
	return 0;
}

/*
 * The session, in one round trip: a CGI process connects for every
 * request, and each statement sent alone would cost a round trip of its
 * own. Rows' own times are UTC; a stuck lock gives up well inside Svix's
 * 15 s; nothing is silently truncated; transactions are explicit.
 *
 * On a Galera node, a statement first waits until the node has applied
 * what the cluster committed before it: a membership's checks read rows
 * that other nodes write. Write conflicts need no wait: the cluster
 * aborts the later one at commit (a deadlock, retried). Elsewhere the
 * variable is unknown (1193): it comes last, so that everything before
 * it has run when the server stops at that error.
 */
static int
session_setup(struct store *st)
{
	char	 set[512];
	int	 n, rc = 0, failed = 0;

	n = snprintf(set, sizeof(set), "SET SESSION time_zone = '+00:00', "
	    "SESSION innodb_lock_wait_timeout = %d, SESSION sql_mode = "
	    "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', SESSION autocommit = 0;"
	    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;"
	    "SET SESSION wsrep_sync_wait = 6", STORE_LOCK_WAIT);
	if (n < 0 || (size_t)n >= sizeof(set))
		return -1;
	if (mysql_real_query(st->db, set, (unsigned long)n) != 0)
		failed = 1;
	/* Each statement answers; read them all, or the next query fails. */
	while (!failed && (rc = mysql_next_result(st->db)) == 0)
		;
	if (!failed && rc > 0)
		failed = 1;
	if (failed && mysql_errno(st->db) != ER_UNKNOWN_SYSTEM_VARIABLE)
		return -1;
	return 0;
}

/* Connect to one server and set up the session; 0 or -1. */
static int
connect_one(struct store *st, const char *host, unsigned int port)
{
	const struct config	*cf = st->cf;
	unsigned int		 ct = STORE_CONNECT_TIMEOUT, io = STORE_IO_TIMEOUT;

	if ((st->db = mysql_init(NULL)) == NULL)
		return -1;
	mysql_options(st->db, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(st->db, MYSQL_OPT_READ_TIMEOUT, &io);
	mysql_options(st->db, MYSQL_OPT_WRITE_TIMEOUT, &io);
	mysql_options(st->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (tls_options(st->db, cf) == -1)
		return -1;
	/*
	 * Multi-statements only for session_setup's fixed text: every value
	 * from outside goes through a prepared statement.
	 */
	if (mysql_real_connect(st->db, host, cf->db_user, cf->db_password,
	    cf->db_name, port, cf->db_socket, CLIENT_MULTI_STATEMENTS) == NULL)
		return -1;
	return session_setup(st);
}

/*
 * Whether the server just connected to should serve while another host
 * might: a Galera node must be Synced (wsrep_local_state 4: not joining,
 * not a donor, not desynced), ready (in the primary component) and not
 * rejecting queries. A server without wsrep has no wsrep_local_state.
 * SHOW is answered even by a node that is not ready; like the session's
 * SETs, these are fixed text with nothing spliced. Returns 1 yes, 0 no
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
int
store_connect(struct store *st, char *err, size_t errsz)
{
	const struct config	*cf = st->cf;
	size_t			 i, n = cf->ndb_hosts > 0 ? cf->ndb_hosts : 1;
	size_t			 fallback = n;
	const char		*host;
	unsigned int		 port;
	char			 state[128];
	int			 rc;

	if (st->db != NULL)
		return 0;
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
			store_fail(st, connect_hint(mysql_errno(st->db)), err,
			    errsz);
		store_disconnect(st);
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
	store_fail(st, connect_hint(mysql_errno(st->db)), err, errsz);
	store_disconnect(st);
	return -1;
nomem:
	st->errcode = CR_OUT_OF_MEMORY;
	snprintf(err, errsz, "mysql_init failed");
	return -1;
}

const char *
store_cipher(struct store *st)
{
	return st->db != NULL ? mysql_get_ssl_cipher(st->db) : NULL;
}

int
store_prepare(struct store *st, size_t id, const char *what, char *err,
    size_t errsz)
{
	MYSQL_STMT	*s;
	char		 sql[SQLGEN_MAX];
	int		 len;

	if (st->stmt[id] != NULL)
		return 0;
	if ((len = sqlgen_write(id, st->cf->table_prefix,
	    st->cf->keep_deleted_data, sql, sizeof(sql))) <= 0) {
		st->errcode = CR_UNKNOWN_ERROR;
		snprintf(err, errsz, "%s: no statement %s", what,
		    sqlgen_name(id));
		return -1;
	}
	if ((s = mysql_stmt_init(st->db)) == NULL)
		return store_fail(st, "mysql_stmt_init", err, errsz);
	if (mysql_stmt_prepare(s, sql, (unsigned long)len) != 0) {
		st->errcode = mysql_stmt_errno(s);
		err_text(st, what, mysql_stmt_sqlstate(s), mysql_stmt_error(s),
		    err, errsz);
		mysql_stmt_close(s);
		return -1;
	}
	st->stmt[id] = s;
	return 0;
}

/* ms since the epoch as a DATETIME(3) in UTC: 0, or -1 out of range. */
static int
to_datetime(long long ms, MYSQL_TIME *t)
{
	time_t		 sec = (time_t)(ms / 1000);
	struct tm	 tm;

	if (gmtime_r(&sec, &tm) == NULL)
		return -1;
	memset(t, 0, sizeof(*t));
	t->year = (unsigned int)tm.tm_year + 1900;
	t->month = (unsigned int)tm.tm_mon + 1;
	t->day = (unsigned int)tm.tm_mday;
	t->hour = (unsigned int)tm.tm_hour;
	t->minute = (unsigned int)tm.tm_min;
	t->second = (unsigned int)tm.tm_sec;
	t->second_part = (unsigned long)(ms % 1000) * 1000;
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
	return 0;
}

/*
 * The one place where values become parameters. b, tiny and when hold
 * n entries and must outlive the execution. 0, or -1 (a time out of
 * range).
 */
static int
bind_values(const struct kind_value *v, size_t n, MYSQL_BIND *b,
    signed char *tiny, MYSQL_TIME *when)
{
	size_t	 i;

	memset(b, 0, n * sizeof(*b));
	for (i = 0; i < n; i++) {
		switch (v[i].type) {
		case KV_TEXT:
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)(uintptr_t)v[i].p;
			b[i].buffer_length = v[i].len;
			break;
		case KV_INT:
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)(uintptr_t)&v[i].n;
			break;
		case KV_BOOL:
			tiny[i] = (signed char)(v[i].n != 0);
			b[i].buffer_type = MYSQL_TYPE_TINY;
			b[i].buffer = &tiny[i];
			break;
		case KV_TIME:
			if (to_datetime(v[i].n, &when[i]) == -1)
				return -1;
			b[i].buffer_type = MYSQL_TYPE_DATETIME;
			b[i].buffer = &when[i];
			break;
		default:
			b[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		}
	}
	return 0;
}

/* Prepare id and bind v to it: the statement, or NULL with err set. */
static MYSQL_STMT *
ready(struct store *st, size_t id, const struct kind_value *v, size_t n,
    MYSQL_BIND *b, signed char *tiny, MYSQL_TIME *when, char *err,
    size_t errsz)
{
	MYSQL_STMT	*s;

	if (store_prepare(st, id, "prepare (run migrate)", err, errsz) == -1)
		return NULL;
	s = st->stmt[id];
	if (bind_values(v, n, b, tiny, when) == -1) {
		st->errcode = CR_UNKNOWN_ERROR;
		snprintf(err, errsz, "time out of range");
		return NULL;
	}
	if (mysql_stmt_bind_param(s, b) != 0) {
		st->errcode = mysql_stmt_errno(s);
		snprintf(err, errsz, "bind: %u %s", st->errcode,
		    mysql_stmt_error(s));
		return NULL;
	}
	return s;
}

int
store_exec(struct store *st, size_t id, const struct kind_value *v,
    size_t n, unsigned long long *rows, char *err, size_t errsz)
{
	MYSQL_BIND	 b[STORE_PARAMS_MAX];
	MYSQL_TIME	 when[STORE_PARAMS_MAX];
	signed char	 tiny[STORE_PARAMS_MAX];
	MYSQL_STMT	*s;

	if ((s = ready(st, id, v, n, b, tiny, when, err, errsz)) == NULL)
		return -1;
	if (mysql_stmt_execute(s) != 0) {
		st->errcode = mysql_stmt_errno(s);
		err_text(st, "execute", mysql_stmt_sqlstate(s),
		    mysql_stmt_error(s), err, errsz);
		return -1;
	}
	if (rows != NULL)
		*rows = mysql_stmt_affected_rows(s);
	return 0;
}

int
store_fetch(struct store *st, size_t id, const struct kind_value *v,
    size_t n, MYSQL_BIND *out, char *err, size_t errsz)
{
	MYSQL_BIND	 b[STORE_PARAMS_MAX];
	MYSQL_TIME	 when[STORE_PARAMS_MAX];
	signed char	 tiny[STORE_PARAMS_MAX];
	MYSQL_STMT	*s;
	int		 rc;

	if ((s = ready(st, id, v, n, b, tiny, when, err, errsz)) == NULL)
		return -1;
	if (mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, out) != 0)
		goto fail;
	rc = mysql_stmt_fetch(s);
	mysql_stmt_free_result(s);
	if (rc == 0 || rc == MYSQL_NO_DATA)
		return rc == 0;
fail:
	st->errcode = mysql_stmt_errno(s);
	err_text(st, sqlgen_name(id), mysql_stmt_sqlstate(s),
	    mysql_stmt_error(s), err, errsz);
	return -1;
}

/* Errors after which the connection cannot be trusted. */
int
store_conn_lost(unsigned int code)
{
	return dberr_classify(code) == DBERR_LOST;
}

/*
 * SPEC section 1: the database unreachable or not serving (a Galera node
 * that is not ready), a deadlock or lock wait, or a bad configuration
 * (access, missing schema, read-only) is 503, so that Svix retries;
 * anything else is 500. The table is in dberr.c.
 */
enum store_result
store_classify(unsigned int code)
{
	return dberr_classify(code) == DBERR_FAILED ? STORE_FAILED :
	    STORE_UNAVAILABLE;
}

/*
 * Fill err with what and st->errcode, and the server's text only where
 * dberr's table says it cannot quote a row; any other keeps its SQLSTATE
 * and a fixed phrase.
 */
static void
err_text(struct store *st, const char *what, const char *state,
    const char *text, char *err, size_t errsz)
{
	unsigned int		 code = st->errcode;
	enum dberr_text		 t = dberr_text(code);

	if (t == DBERR_TEXT_SERVER)
		snprintf(err, errsz, "%s: %u %s", what, code, text);
	else
		snprintf(err, errsz, "%s: %u (SQLSTATE %s) %s; the server's "
		    "text may quote row data and is not logged", what, code,
		    state, dberr_phrases[t]);
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
 * A connection lost on first use (idle past wait_timeout, a server
 * restarted since) is retried once on a new one; a deadlock, or a
 * cluster's certification conflict at commit, up to STORE_ATTEMPTS
 * times.
 */
int
store_run(struct store *st, store_txn fn, const void *arg, const char *what,
    char *err, size_t errsz)
{
	struct timespec	 pause;
	int		 attempt, fresh, rc, commit;

	for (attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
		/* What failed before is logged; an answer that holds: none. */
		if (attempt > 0 && errsz > 0)
			err[0] = '\0';
		fresh = st->db == NULL;
		if (fresh && store_connect(st, err, errsz) == -1)
			return -1;
		commit = 0;
		if ((rc = fn(st, arg, &commit, err, errsz)) != -1) {
			if (!commit) {
				mysql_rollback(st->db);
				return rc;
			}
			if (mysql_commit(st->db) == 0)
				return rc;
			store_fail(st, "commit", err, errsz);
		}
		/*
		 * A lost connection, or a node that stopped serving (it left
		 * the primary component, rejects queries): a new connection,
		 * which skips a node that is not synced.
		 */
		if (store_conn_lost(st->errcode) || node_failed(st, fresh)) {
			store_disconnect(st);
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

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

#include "log.h"
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
	if (tls_options(st->db, cf) == -1)
		return -1;
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
 * Connect to the first of db_host's servers that answers and accepts the
 * session (a Galera node that is not synced refuses statements).
 */
int
store_connect(struct store *st, char *err, size_t errsz)
{
	const struct config	*cf = st->cf;
	size_t			 i, n = cf->ndb_hosts > 0 ? cf->ndb_hosts : 1;
	const char		*host;
	unsigned int		 port;

	if (st->db != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		host = cf->ndb_hosts > 0 ? cf->db_hosts[i] : cf->db_host;
		port = cf->ndb_hosts > 0 && cf->db_ports[i] ? cf->db_ports[i] :
		    cf->db_port;
		if (connect_one(st, host, port) == 0) {
			if (i > 0)
				log_info("database: %s is down, using %s",
				    cf->db_hosts[0], host);
			return 0;
		}
		if (st->db == NULL) {
			st->errcode = CR_OUT_OF_MEMORY;
			snprintf(err, errsz, "mysql_init failed");
			return -1;
		}
		store_fail(st, connect_hint(mysql_errno(st->db)), err, errsz);
		store_disconnect(st);
	}
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
	return (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR) ||
	    code == ER_SERVER_SHUTDOWN || code == ER_NET_READ_ERROR ||
	    code == ER_NET_READ_INTERRUPTED || code == ER_NET_ERROR_ON_WRITE ||
	    code == ER_NET_WRITE_INTERRUPTED || code == 1927 /* killed */ ||
	    code == 4031 /* MySQL 8: idle client disconnected */;
}

/*
 * SPEC section 1: the database unreachable, a deadlock or lock wait, or
 * a bad configuration (access, missing schema, read-only) is 503, so
 * that Svix retries; anything else is 500.
 */
enum store_result
store_classify(unsigned int code)
{
	if (store_conn_lost(code))
		return STORE_UNAVAILABLE;
	switch (code) {
	case ER_CON_COUNT_ERROR:
	case ER_TOO_MANY_USER_CONNECTIONS:
	case ER_USER_LIMIT_REACHED:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_ERROR:
	case ER_BAD_DB_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_NO_SUCH_TABLE:
	case ER_BAD_FIELD_ERROR:
	case ER_LOCK_WAIT_TIMEOUT:
	case ER_LOCK_DEADLOCK:
	case ER_OPTION_PREVENTS_STATEMENT:
	case ER_CANT_LOCK:
	case ER_LOCK_TABLE_FULL:
	case ER_OUT_OF_RESOURCES:
	case ER_OUTOFMEMORY:
		return STORE_UNAVAILABLE;
	default:
		return STORE_FAILED;
	}
}

/*
 * Fill err with what and st->errcode, and the server's text only where it
 * cannot quote a row: the client's own errors, and the server's that name
 * a setting, a table or a column at most. Any other, raised by a
 * statement's data, keeps its SQLSTATE and a fixed phrase: a duplicate
 * key names the value ("Duplicate entry 'alice@...'"), a bad string
 * shows its bytes, a trigger's SIGNAL says whatever the app wrote.
 */
static void
err_text(struct store *st, const char *what, const char *state,
    const char *text, char *err, size_t errsz)
{
	unsigned int	 code = st->errcode;
	const char	*phrase;

	if (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR) {
		snprintf(err, errsz, "%s: %u %s", what, code, text);
		return;
	}
	switch (code) {
	case ER_CON_COUNT_ERROR:
	case ER_TOO_MANY_USER_CONNECTIONS:
	case ER_USER_LIMIT_REACHED:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_ERROR:
	case ER_BAD_DB_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_NO_SUCH_TABLE:
	case ER_BAD_FIELD_ERROR:
	case ER_BAD_NULL_ERROR:
	case ER_DATA_TOO_LONG:
	case ER_PARSE_ERROR:
	case ER_TABLE_EXISTS_ERROR:
	case ER_DUP_FIELDNAME:
	case ER_DUP_KEYNAME:
	case ER_UNKNOWN_SYSTEM_VARIABLE:
	case ER_LOCK_WAIT_TIMEOUT:
	case ER_LOCK_DEADLOCK:
	case ER_OPTION_PREVENTS_STATEMENT:
	case ER_SERVER_SHUTDOWN:
	case ER_NET_READ_ERROR:
	case ER_NET_READ_INTERRUPTED:
	case ER_NET_ERROR_ON_WRITE:
	case ER_NET_WRITE_INTERRUPTED:
	case ER_CANT_LOCK:
	case ER_LOCK_TABLE_FULL:
	case ER_OUT_OF_RESOURCES:
	case ER_OUTOFMEMORY:
	case 1927:	/* connection killed */
	case 4031:	/* MySQL 8: idle client disconnected */
		snprintf(err, errsz, "%s: %u %s", what, code, text);
		return;
	case ER_DUP_ENTRY:
	case ER_DUP_ENTRY_WITH_KEY_NAME:
		phrase = "duplicate entry for a unique key";
		break;
	case ER_TRUNCATED_WRONG_VALUE:
	case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
		phrase = "incorrect value for a column";
		break;
	case ER_SIGNAL_EXCEPTION:
		phrase = "raised by a trigger or procedure (SIGNAL)";
		break;
	default:
		phrase = "error";
		break;
	}
	snprintf(err, errsz, "%s: %u (SQLSTATE %s) %s; the server's text "
	    "may quote row data and is not logged", what, code, state, phrase);
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
		if (store_conn_lost(st->errcode)) {
			store_disconnect(st);
			/* If the lost one had committed, the retry finds it. */
			if (!fresh)
				continue;
			return -1;
		}
		mysql_rollback(st->db);
		if (st->errcode != ER_LOCK_DEADLOCK)
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

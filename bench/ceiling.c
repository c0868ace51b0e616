/*
 * clerksync bench: the ceiling. clerksync's own per-event SQL, issued
 * straight through MariaDB Connector/C with nothing in front of it: the
 * session clerksync sets up (src/store.c store_connect), the same prepared
 * statements (sql/statements.sql, no table_prefix, keep_deleted_data
 * off), and per event what src/apply.c apply_fn() does: INSERT the events row;
 * the guarded upsert (or, for user.deleted, the tombstone upsert); if no
 * row changed, mark the events row stale; COMMIT. One connection per
 * thread; thread t takes events t, t + T, t + 2T, ... as wrk does.
 *
 *   cc -O2 -o ceiling bench/ceiling.c $(pkg-config --cflags --libs libmariadb) -lpthread
 *   CEILING_DB_PASSWORD=... ceiling SOCKET USER DB THREADS FILE
 *   ceiling --print-sql      the statements, one a line
 *
 * FILE holds one record per event, written by bench/events.mjs: a kind
 * byte (U upsert, D delete), then fields as <len>:<bytes> or -: for NULL:
 * svix_id, type, object_id, event_ts, and for U the 15 user columns after
 * clerk_id in the order of user_columns below.
 * Prints one JSON object: events, seconds, events_per_s, p50_us, p99_us,
 * outcomes, errors, cpu_us (this process).
 * SPDX-License-Identifier: ISC
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <mysql.h>
#include <mysqld_error.h>

#define SQL_MAX		4096
#define LOCK_WAIT	5	/* src/store.h STORE_LOCK_WAIT */
#define ATTEMPTS	3	/* src/store.h STORE_ATTEMPTS */

enum { S_EVENT_INSERT, S_EVENT_STALE, S_USER_UPSERT, S_USER_DELETE, S__MAX };

static const char *const user_columns[] = {
	"clerk_id", "email", "email_verified", "phone", "username",
	"first_name", "last_name", "image_url", "external_id",
	"public_metadata", "banned", "locked", "last_sign_in_at",
	"clerk_created_at", "clerk_data", "clerk_updated_at"
};
#define NCOLS	16
/* Bound as integers (the rest as strings), as src/store.c does. */
static const char col_int[NCOLS] = {
	0, 0, 't', 0, 0, 0, 0, 0, 0, 0, 't', 't', 'l', 'l', 0, 'l'
};

static const char *const personal_columns[] = {
	"email", "email_verified", "phone", "username", "first_name",
	"last_name", "image_url", "external_id", "public_metadata",
	"clerk_data"
};

static char sql[S__MAX][SQL_MAX];

struct field {
	const char	*p;		/* NULL: SQL NULL */
	unsigned long	 len;
};

struct event {
	int		 del;
	struct field	 svix_id, type, object_id;
	long long	 ts;
	struct field	 col[NCOLS];	/* col[0] unused: object_id */
	long long	 ival[NCOLS];
	signed char	 tval[NCOLS];
};

static struct event	*evs;
static size_t		 nev;
static double		*lat_us;
static int		*outcome;	/* 0 applied, 1 stale, 2 duplicate, 3 error */
static const char	*db_socket, *db_user, *db_pass, *db_name;
static int		 nthreads;
static pthread_barrier_t barrier;
static pthread_mutex_t	 errlock = PTHREAD_MUTEX_INITIALIZER;
static char		 first_error[512];
static long		 errors, retries;

static void
cat(char *buf, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 n = strlen(buf);
	int	 rc;

	va_start(ap, fmt);
	rc = vsnprintf(buf + n, SQL_MAX - n, fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= SQL_MAX - n)
		abort();
}

/* Word for word sql/statements.sql, with an empty table_prefix. */
static void
build_sql(void)
{
	const char	*pre = "";
	const char	*guard = "deleted_at IS NULL AND (clerk_updated_at IS "
	    "NULL OR VALUES(clerk_updated_at) > clerk_updated_at)";
	size_t		 i;

	cat(sql[S_EVENT_INSERT], "INSERT INTO `%sclerk_webhook_events`"
	    " (svix_id, event_type, object_id, event_ts, outcome, received_at)"
	    " VALUES (?, ?, ?, ?, 'applied', UTC_TIMESTAMP(3))", pre);
	cat(sql[S_EVENT_STALE], "UPDATE `%sclerk_webhook_events` SET "
	    "outcome = 'stale' WHERE svix_id = ?", pre);
	cat(sql[S_USER_UPSERT], "INSERT INTO `%susers` (", pre);
	for (i = 0; i < NCOLS; i++)
		cat(sql[S_USER_UPSERT], "%s%s", i ? ", " : "", user_columns[i]);
	cat(sql[S_USER_UPSERT], ") VALUES (");
	for (i = 0; i < NCOLS; i++)
		cat(sql[S_USER_UPSERT], "%s?", i ? ", " : "");
	cat(sql[S_USER_UPSERT], ") ON DUPLICATE KEY UPDATE ");
	for (i = 1; i < NCOLS; i++)
		cat(sql[S_USER_UPSERT], "%s%s = IF(%s, VALUES(%s), %s)",
		    i > 1 ? ", " : "", user_columns[i], guard, user_columns[i],
		    user_columns[i]);
	cat(sql[S_USER_DELETE], "INSERT INTO `%susers` (clerk_id, "
	    "deleted_at) VALUES (?, ?) ON DUPLICATE KEY UPDATE ", pre);
	for (i = 0; i < sizeof(personal_columns) / sizeof(personal_columns[0]);
	    i++)
		cat(sql[S_USER_DELETE], "%s = IF(deleted_at IS NULL, NULL, %s), ",
		    personal_columns[i], personal_columns[i]);
	cat(sql[S_USER_DELETE], "deleted_at = IF(deleted_at IS NULL, "
	    "VALUES(deleted_at), deleted_at)");
}

static double
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
die(const char *what)
{
	fprintf(stderr, "ceiling: %s\n", what);
	exit(1);
}

static int
field(char **pp, char *end, struct field *f)
{
	char		*p = *pp, *colon;
	unsigned long	 len;

	if (p + 2 <= end && p[0] == '-' && p[1] == ':') {
		f->p = NULL;
		f->len = 0;
		*pp = p + 2;
		return 0;
	}
	len = strtoul(p, &colon, 10);
	if (colon == p || colon >= end || *colon != ':' ||
	    (unsigned long)(end - colon - 1) < len)
		return -1;
	f->p = colon + 1;
	f->len = len;
	*pp = colon + 1 + len;
	return 0;
}

static long long
num(const struct field *f)
{
	char	 buf[32];

	if (f->p == NULL || f->len >= sizeof(buf))
		die("bad number");
	memcpy(buf, f->p, f->len);
	buf[f->len] = '\0';
	return strtoll(buf, NULL, 10);
}

static void
load(const char *path)
{
	FILE		*fp;
	char		*buf, *p, *end;
	long		 size;
	size_t		 cap = 1024, i;
	struct field	 tsf;

	if ((fp = fopen(path, "rb")) == NULL)
		die("cannot open the events file");
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	if ((buf = malloc((size_t)size + 1)) == NULL ||
	    fread(buf, 1, (size_t)size, fp) != (size_t)size)
		die("cannot read the events file");
	fclose(fp);
	if ((evs = calloc(cap, sizeof(*evs))) == NULL)
		die("out of memory");
	for (p = buf, end = buf + size; p < end; nev++) {
		struct event	*e;

		if (nev == cap && (evs = realloc(evs, (cap *= 2) *
		    sizeof(*evs))) == NULL)
			die("out of memory");
		e = &evs[nev];
		memset(e, 0, sizeof(*e));
		if (*p != 'U' && *p != 'D')
			die("bad record");
		e->del = *p++ == 'D';
		if (field(&p, end, &e->svix_id) || field(&p, end, &e->type) ||
		    field(&p, end, &e->object_id) || field(&p, end, &tsf))
			die("bad record");
		e->ts = num(&tsf);
		if (!e->del)
			for (i = 1; i < NCOLS; i++) {
				if (field(&p, end, &e->col[i]))
					die("bad record");
				if (col_int[i] && e->col[i].p != NULL) {
					e->ival[i] = num(&e->col[i]);
					e->tval[i] = (signed char)e->ival[i];
				}
			}
		if (p >= end || *p++ != '\n')
			die("bad record end");
	}
}

static void
bind_field(MYSQL_BIND *b, const struct field *f)
{
	memset(b, 0, sizeof(*b));
	if (f->p == NULL) {
		b->buffer_type = MYSQL_TYPE_NULL;
		return;
	}
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)(uintptr_t)f->p;
	b->buffer_length = f->len;
}

struct conn {
	MYSQL		*db;
	MYSQL_STMT	*st[S__MAX];
	char		 err[256];	/* of the last failure */
};

static void
note_error(const char *msg)
{
	pthread_mutex_lock(&errlock);
	errors++;
	if (first_error[0] == '\0')
		snprintf(first_error, sizeof(first_error), "%s", msg);
	pthread_mutex_unlock(&errlock);
}

/* src/store.c store_connect(), then every statement prepared up front. */
static void
connect_db(struct conn *c)
{
	unsigned int	 ct = 3, io = 5;
	char		 set[256];
	int		 i;

	if ((c->db = mysql_init(NULL)) == NULL)
		die("mysql_init");
	mysql_options(c->db, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(c->db, MYSQL_OPT_READ_TIMEOUT, &io);
	mysql_options(c->db, MYSQL_OPT_WRITE_TIMEOUT, &io);
	mysql_options(c->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(c->db, NULL, db_user, db_pass, db_name, 0,
	    db_socket, 0) == NULL)
		die(mysql_error(c->db));
	snprintf(set, sizeof(set), "SET SESSION time_zone = '+00:00', "
	    "SESSION innodb_lock_wait_timeout = %d, SESSION sql_mode = "
	    "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'", LOCK_WAIT);
	if (mysql_query(c->db, set) != 0 ||
	    mysql_query(c->db, "SET SESSION TRANSACTION ISOLATION LEVEL "
	    "READ COMMITTED") != 0 || mysql_autocommit(c->db, 0) != 0)
		die(mysql_error(c->db));
	for (i = 0; i < S__MAX; i++)
		if ((c->st[i] = mysql_stmt_init(c->db)) == NULL ||
		    mysql_stmt_prepare(c->st[i], sql[i], strlen(sql[i])) != 0)
			die(mysql_error(c->db));
}

static int
exec(struct conn *c, int id, MYSQL_BIND *b, unsigned long long *rows)
{
	if (mysql_stmt_bind_param(c->st[id], b) != 0 ||
	    mysql_stmt_execute(c->st[id]) != 0) {
		snprintf(c->err, sizeof(c->err), "%u %s",
		    mysql_stmt_errno(c->st[id]), mysql_stmt_error(c->st[id]));
		return (int)mysql_stmt_errno(c->st[id]);
	}
	*rows = mysql_stmt_affected_rows(c->st[id]);
	return 0;
}

/* src/apply.c apply_fn(): 0 applied, 1 stale, 2 duplicate, or -errno. */
static int
txn(struct conn *c, const struct event *e)
{
	MYSQL_BIND		 b[NCOLS];
	MYSQL_TIME		 when;
	unsigned long long	 rows = 0;
	time_t			 sec;
	struct tm		 tm;
	int			 rc, i;

	bind_field(&b[0], &e->svix_id);
	bind_field(&b[1], &e->type);
	bind_field(&b[2], &e->object_id);
	memset(&b[3], 0, sizeof(b[3]));
	b[3].buffer_type = MYSQL_TYPE_LONGLONG;
	b[3].buffer = (void *)(uintptr_t)&e->ts;
	if ((rc = exec(c, S_EVENT_INSERT, b, &rows)) != 0)
		return rc == ER_DUP_ENTRY ? 2 : -rc;
	if (e->del) {
		sec = (time_t)(e->ts / 1000);
		gmtime_r(&sec, &tm);
		memset(&when, 0, sizeof(when));
		when.year = (unsigned int)tm.tm_year + 1900;
		when.month = (unsigned int)tm.tm_mon + 1;
		when.day = (unsigned int)tm.tm_mday;
		when.hour = (unsigned int)tm.tm_hour;
		when.minute = (unsigned int)tm.tm_min;
		when.second = (unsigned int)tm.tm_sec;
		when.second_part = (unsigned long)(e->ts % 1000) * 1000;
		when.time_type = MYSQL_TIMESTAMP_DATETIME;
		bind_field(&b[0], &e->object_id);
		memset(&b[1], 0, sizeof(b[1]));
		b[1].buffer_type = MYSQL_TYPE_DATETIME;
		b[1].buffer = &when;
		if ((rc = exec(c, S_USER_DELETE, b, &rows)) != 0)
			return -rc;
	} else {
		bind_field(&b[0], &e->object_id);
		for (i = 1; i < NCOLS; i++) {
			bind_field(&b[i], &e->col[i]);
			if (col_int[i] == 0 || e->col[i].p == NULL)
				continue;
			b[i].buffer_length = 0;
			if (col_int[i] == 't') {
				b[i].buffer_type = MYSQL_TYPE_TINY;
				b[i].buffer = (void *)(uintptr_t)&e->tval[i];
			} else {
				b[i].buffer_type = MYSQL_TYPE_LONGLONG;
				b[i].buffer = (void *)(uintptr_t)&e->ival[i];
			}
		}
		if ((rc = exec(c, S_USER_UPSERT, b, &rows)) != 0)
			return -rc;
	}
	if (rows > 0)
		return 0;
	bind_field(&b[0], &e->svix_id);
	if ((rc = exec(c, S_EVENT_STALE, b, &rows)) != 0)
		return -rc;
	return 1;
}

static void *
worker(void *arg)
{
	struct conn	 c;
	long		 t = (long)arg;
	size_t		 i;
	int		 rc, attempt, s;
	double		 t0;

	memset(&c, 0, sizeof(c));
	connect_db(&c);
	pthread_barrier_wait(&barrier);
	for (i = (size_t)t; i < nev; i += (size_t)nthreads) {
		t0 = now_us();
		for (attempt = 0; attempt < ATTEMPTS; attempt++) {
			rc = txn(&c, &evs[i]);
			if (rc == 0 || rc == 1) {
				if (mysql_commit(c.db) != 0) {
					rc = -(int)mysql_errno(c.db);
					snprintf(c.err, sizeof(c.err), "commit: "
					    "%u %s", mysql_errno(c.db),
					    mysql_error(c.db));
				}
			} else if (rc == 2)
				mysql_rollback(c.db);
			if (rc >= 0)
				break;
			mysql_rollback(c.db);
			if (-rc != ER_LOCK_DEADLOCK)
				break;
			pthread_mutex_lock(&errlock);
			retries++;
			pthread_mutex_unlock(&errlock);
		}
		lat_us[i] = now_us() - t0;
		outcome[i] = rc >= 0 ? rc : 3;
		if (rc < 0)
			note_error(c.err);
	}
	pthread_barrier_wait(&barrier);
	for (s = 0; s < S__MAX; s++)
		mysql_stmt_close(c.st[s]);
	mysql_close(c.db);
	return NULL;
}

/* Nearest rank, as bench/run.mjs computes it. */
static size_t
rank(double p)
{
	size_t	 k = (size_t)(p * (double)nev + 0.999999);

	return k == 0 ? 0 : k > nev ? nev - 1 : k - 1;
}

static double
cpu_us(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) * 1e6 +
	    (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec);
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	pthread_t	*th;
	struct rusage	 ru0, ru1;
	double		 t0, t1, *sorted;
	long		 counts[4] = { 0, 0, 0, 0 };
	size_t		 i;
	long		 t;

	build_sql();
	if (argc == 2 && strcmp(argv[1], "--print-sql") == 0) {
		for (i = 0; i < S__MAX; i++)
			printf("%s\n", sql[i]);
		return 0;
	}
	if (argc != 6)
		die("usage: ceiling SOCKET USER DB THREADS FILE "
		    "(password in CEILING_DB_PASSWORD)");
	db_socket = argv[1];
	db_user = argv[2];
	db_name = argv[3];
	db_pass = getenv("CEILING_DB_PASSWORD");
	nthreads = atoi(argv[4]);
	if (nthreads < 1 || nthreads > 1024)
		die("bad THREADS");
	load(argv[5]);
	if (nev == 0)
		die("no events");
	if (mysql_library_init(0, NULL, NULL) != 0)
		die("mysql_library_init");
	if ((lat_us = calloc(nev, sizeof(*lat_us))) == NULL ||
	    (outcome = calloc(nev, sizeof(*outcome))) == NULL ||
	    (th = calloc((size_t)nthreads, sizeof(*th))) == NULL)
		die("out of memory");
	pthread_barrier_init(&barrier, NULL, (unsigned)nthreads + 1);
	for (t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)t) != 0)
			die("pthread_create");
	pthread_barrier_wait(&barrier);		/* all connected, prepared */
	t0 = now_us();
	getrusage(RUSAGE_SELF, &ru0);
	pthread_barrier_wait(&barrier);		/* all events done */
	t1 = now_us();
	getrusage(RUSAGE_SELF, &ru1);
	for (t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	mysql_library_end();

	for (i = 0; i < nev; i++)
		counts[outcome[i]]++;
	if ((sorted = malloc(nev * sizeof(*sorted))) == NULL)
		die("out of memory");
	memcpy(sorted, lat_us, nev * sizeof(*sorted));
	qsort(sorted, nev, sizeof(*sorted), cmp);
	printf("{\"events\":%zu,\"threads\":%d,\"seconds\":%.6f,"
	    "\"events_per_s\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
	    "\"max_us\":%.0f,\"outcomes\":{\"applied\":%ld,\"stale\":%ld,"
	    "\"duplicate\":%ld,\"error\":%ld},\"deadlock_retries\":%ld,"
	    "\"cpu_us\":%.0f,\"first_error\":\"",
	    nev, nthreads, (t1 - t0) / 1e6, (double)nev / ((t1 - t0) / 1e6),
	    sorted[rank(0.50)], sorted[rank(0.99)],
	    sorted[nev - 1], counts[0], counts[1], counts[2], counts[3],
	    retries,
	    cpu_us(&ru1) - cpu_us(&ru0));
	for (i = 0; first_error[i] != '\0'; i++)
		if (first_error[i] == '"' || first_error[i] == '\\')
			printf("\\%c", first_error[i]);
		else if ((unsigned char)first_error[i] >= 0x20)
			putchar(first_error[i]);
	printf("\"}\n");
	return counts[3] ? 1 : 0;
}

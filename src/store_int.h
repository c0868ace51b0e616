/*
 * clerksync — store internals, shared by the store's files: store.c
 * (connection, binding, classification, the retry runner), apply.c (what
 * each event and import writes) and migrate.c (schema version, probe,
 * migrate). These three are the only includers of mysql.h.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_STORE_INT_H
#define CLERKSYNC_STORE_INT_H

#include <mysql.h>

#include "kinds.h"
#include "sqlgen.h"
#include "store.h"

#define STORE_PARAMS_MAX	(KIND_COLS_MAX + KIND_PARENTS_MAX + 1)

struct store {
	const struct config	*cf;
	MYSQL			*db;		/* NULL: not connected */
	MYSQL_STMT		*stmt[SQL__MAX];	/* prepared lazily */
	unsigned int		 errcode;	/* of the last failure */
};

/*
 * A transaction's statements: the result (>= 0) with *commit set, or -1
 * with st->errcode and err set.
 */
typedef int (*store_txn)(struct store *, const void *, int *, char *,
    size_t);

/* Connect unless connected: 0, or -1 with st->errcode and err set. */
int	store_connect(struct store *st, char *err, size_t errsz);

/* Close the statements and the connection. */
void	store_disconnect(struct store *st);

/* Set st->errcode and err ("what: code text") from the connection; -1. */
int	store_fail(struct store *st, const char *what, char *err,
	    size_t errsz);

/*
 * The same from statement s: the server's text only where it cannot
 * quote a row (see store.c). -1.
 */
int	store_fail_stmt(struct store *st, MYSQL_STMT *s, const char *what,
	    char *err, size_t errsz);

/* Prepare statement id unless it is; what begins err. 0 or -1. */
int	store_prepare(struct store *st, size_t id, const char *what,
	    char *err, size_t errsz);

/*
 * Execute statement id with the n values of v as its parameters, giving
 * the affected rows (rows may be NULL). 0, or -1 with err set.
 */
int	store_exec(struct store *st, size_t id, const struct kind_value *v,
	    size_t n, unsigned long long *rows, char *err, size_t errsz);

/*
 * The same, for a query: the first row goes into out (bound results).
 * Returns 1 a row, 0 none, -1 with err set.
 */
int	store_fetch(struct store *st, size_t id, const struct kind_value *v,
	    size_t n, MYSQL_BIND *out, char *err, size_t errsz);

/* SPEC section 1: the result that error code gives an event. */
enum store_result store_classify(unsigned int code);

/* Whether the connection is lost after error code. */
int	store_conn_lost(unsigned int code);

/*
 * Run fn as one transaction until it holds (deadlocks retried, a lost
 * idle connection reopened once). fn's result, or -1 with err set.
 */
int	store_run(struct store *st, store_txn fn, const void *arg,
	    const char *what, char *err, size_t errsz);

/* The schema version recorded (0: none). 0 or -1 with err set. */
int	store_schema_version(struct store *st, int *version, char *err,
	    size_t errsz);

#endif

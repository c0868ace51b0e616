/*
 * clerksync — dberr: the table of database error numbers a delivery may
 * meet, and what each means (SPEC section 1: a database failure is 503,
 * so that Svix retries; anything else is 500).
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "dberr.h"

const char *const dberr_class_names[DBERR__MAX] = {
	"failed", "unavailable", "deadlock", "lost", "node"
};

static const struct {
	unsigned int		 code;
	enum dberr_class	 class;
} dberr_table[] = {
	/* The connection is gone, killed, or the server is going down. */
	{ ER_SERVER_SHUTDOWN,		DBERR_LOST },		/* 1053 */
	{ ER_NET_READ_ERROR,		DBERR_LOST },		/* 1158 */
	{ ER_NET_READ_INTERRUPTED,	DBERR_LOST },		/* 1159 */
	{ ER_NET_ERROR_ON_WRITE,	DBERR_LOST },		/* 1160 */
	{ ER_NET_WRITE_INTERRUPTED,	DBERR_LOST },		/* 1161 */
	/* KILL, a node's wsrep_reject_queries = ALL_KILL. */
	{ ER_CONNECTION_KILLED,		DBERR_LOST },		/* 1927 */
	/* MySQL 8: an idle client disconnected. */
	{ 4031,				DBERR_LOST },

	/*
	 * A Galera node that is joining (state transfer), not in the
	 * primary component, or set to wsrep_reject_queries = ALL answers
	 * each statement that touches a table "WSREP has not yet prepared
	 * node for application use".
	 */
	{ ER_UNKNOWN_COM_ERROR,		DBERR_NODE },		/* 1047 */

	/* A row lock cycle, or a cluster's certification conflict. */
	{ ER_LOCK_DEADLOCK,		DBERR_DEADLOCK },	/* 1213 */

	/* The server is there but cannot do it now, or is set up wrong. */
	{ ER_CANT_LOCK,			DBERR_UNAVAILABLE },	/* 1015 */
	{ ER_OUTOFMEMORY,		DBERR_UNAVAILABLE },	/* 1037 */
	{ ER_CON_COUNT_ERROR,		DBERR_UNAVAILABLE },	/* 1040 */
	{ ER_OUT_OF_RESOURCES,		DBERR_UNAVAILABLE },	/* 1041 */
	{ ER_DBACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE },	/* 1044 */
	{ ER_ACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE },	/* 1045 */
	{ ER_BAD_DB_ERROR,		DBERR_UNAVAILABLE },	/* 1049 */
	{ ER_BAD_FIELD_ERROR,		DBERR_UNAVAILABLE },	/* 1054 */
	{ ER_TABLEACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE },	/* 1142 */
	{ ER_COLUMNACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE },	/* 1143 */
	{ ER_NO_SUCH_TABLE,		DBERR_UNAVAILABLE },	/* 1146 */
	/*
	 * Replication failed at commit ("Error while appending streaming
	 * replication fragment": the node left the primary component); the
	 * transaction is rolled back.
	 */
	{ ER_ERROR_DURING_COMMIT,	DBERR_UNAVAILABLE },	/* 1180 */
	{ ER_ERROR_DURING_ROLLBACK,	DBERR_UNAVAILABLE },	/* 1181 */
	{ ER_TOO_MANY_USER_CONNECTIONS,	DBERR_UNAVAILABLE },	/* 1203 */
	/* A row lock held too long, or a wsrep_sync_wait that timed out. */
	{ ER_LOCK_WAIT_TIMEOUT,		DBERR_UNAVAILABLE },	/* 1205 */
	{ ER_LOCK_TABLE_FULL,		DBERR_UNAVAILABLE },	/* 1206 */
	{ ER_USER_LIMIT_REACHED,	DBERR_UNAVAILABLE },	/* 1226 */
	/* read_only, among others. */
	{ ER_OPTION_PREVENTS_STATEMENT,	DBERR_UNAVAILABLE },	/* 1290 */
	/* KILL QUERY, a statement aborted for a replicated one. */
	{ ER_QUERY_INTERRUPTED,		DBERR_UNAVAILABLE },	/* 1317 */
	{ ER_LOCK_ABORTED,		DBERR_UNAVAILABLE },	/* 1689 */
	{ ER_READ_ONLY_MODE,		DBERR_UNAVAILABLE },	/* 1836 */
	/* max_statement_time. */
	{ ER_STATEMENT_TIMEOUT,		DBERR_UNAVAILABLE },	/* 1969 */
};

enum dberr_class
dberr_classify(unsigned int code)
{
	size_t	 i;

	/* Every client-side error: no answer, or none that can be used. */
	if (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR)
		return DBERR_LOST;
	for (i = 0; i < sizeof(dberr_table) / sizeof(dberr_table[0]); i++)
		if (dberr_table[i].code == code)
			return dberr_table[i].class;
	return DBERR_FAILED;
}

/*
 * clerksync — dberr: the table of database error numbers a delivery may
 * meet, what each means (SPEC section 1: a database failure is 503, so
 * that Svix retries; anything else is 500), and whether the server's text
 * for it may be logged.
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "dberr.h"

const char *const dberr_class_names[DBERR__MAX] = {
	"failed", "unavailable", "deadlock", "lost", "node"
};

const char *const dberr_phrases[DBERR_TEXT__MAX] = {
	NULL,
	"duplicate entry for a unique key",
	"incorrect value for a column",
	"raised by a trigger or procedure (SIGNAL)",
	"error"
};

/*
 * The server's text (SERVER) only where it cannot quote a row: it names a
 * setting, a table or a column at most. An error raised by a statement's
 * data gets a fixed phrase: a duplicate key names the value ("Duplicate
 * entry 'alice@...'"), a bad string shows its bytes, a trigger's SIGNAL
 * says whatever the app wrote. A code not here is FAILED and HIDDEN.
 */
#define S	DBERR_TEXT_SERVER
static const struct {
	unsigned int		 code;
	enum dberr_class	 class;
	enum dberr_text		 text;
} dberr_table[] = {
	/* The connection is gone, killed, or the server is going down. */
	{ ER_SERVER_SHUTDOWN,		DBERR_LOST, S },	/* 1053 */
	{ ER_NET_READ_ERROR,		DBERR_LOST, S },	/* 1158 */
	{ ER_NET_READ_INTERRUPTED,	DBERR_LOST, S },	/* 1159 */
	{ ER_NET_ERROR_ON_WRITE,	DBERR_LOST, S },	/* 1160 */
	{ ER_NET_WRITE_INTERRUPTED,	DBERR_LOST, S },	/* 1161 */
	/* KILL, a node's wsrep_reject_queries = ALL_KILL. */
	{ ER_CONNECTION_KILLED,		DBERR_LOST, S },	/* 1927 */
	/* MySQL 8: an idle client disconnected. */
	{ 4031,				DBERR_LOST, S },

	/*
	 * A Galera node that is joining (state transfer), not in the
	 * primary component, or set to wsrep_reject_queries = ALL answers
	 * each statement that touches a table "WSREP has not yet prepared
	 * node for application use".
	 */
	{ ER_UNKNOWN_COM_ERROR,		DBERR_NODE, S },	/* 1047 */

	/* A row lock cycle, or a cluster's certification conflict. */
	{ ER_LOCK_DEADLOCK,		DBERR_DEADLOCK, S },	/* 1213 */

	/* The server is there but cannot do it now, or is set up wrong. */
	{ ER_CANT_LOCK,			DBERR_UNAVAILABLE, S },	/* 1015 */
	{ ER_OUTOFMEMORY,		DBERR_UNAVAILABLE, S },	/* 1037 */
	{ ER_CON_COUNT_ERROR,		DBERR_UNAVAILABLE, S },	/* 1040 */
	{ ER_OUT_OF_RESOURCES,		DBERR_UNAVAILABLE, S },	/* 1041 */
	{ ER_DBACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE, S },	/* 1044 */
	{ ER_ACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE, S },	/* 1045 */
	{ ER_BAD_DB_ERROR,		DBERR_UNAVAILABLE, S },	/* 1049 */
	{ ER_BAD_FIELD_ERROR,		DBERR_UNAVAILABLE, S },	/* 1054 */
	{ ER_TABLEACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE, S },	/* 1142 */
	{ ER_COLUMNACCESS_DENIED_ERROR,	DBERR_UNAVAILABLE, S },	/* 1143 */
	{ ER_NO_SUCH_TABLE,		DBERR_UNAVAILABLE, S },	/* 1146 */
	/*
	 * Replication failed at commit ("Error while appending streaming
	 * replication fragment": the node left the primary component); the
	 * transaction is rolled back.
	 */
	{ ER_ERROR_DURING_COMMIT,	DBERR_UNAVAILABLE, S },	/* 1180 */
	{ ER_ERROR_DURING_ROLLBACK,	DBERR_UNAVAILABLE, S },	/* 1181 */
	{ ER_TOO_MANY_USER_CONNECTIONS,	DBERR_UNAVAILABLE, S },	/* 1203 */
	/* A row lock held too long, or a wsrep_sync_wait that timed out. */
	{ ER_LOCK_WAIT_TIMEOUT,		DBERR_UNAVAILABLE, S },	/* 1205 */
	{ ER_LOCK_TABLE_FULL,		DBERR_UNAVAILABLE, S },	/* 1206 */
	{ ER_USER_LIMIT_REACHED,	DBERR_UNAVAILABLE, S },	/* 1226 */
	/* read_only, among others. */
	{ ER_OPTION_PREVENTS_STATEMENT,	DBERR_UNAVAILABLE, S },	/* 1290 */
	/* KILL QUERY, a statement aborted for a replicated one. */
	{ ER_QUERY_INTERRUPTED,		DBERR_UNAVAILABLE, S },	/* 1317 */
	{ ER_LOCK_ABORTED,		DBERR_UNAVAILABLE, S },	/* 1689 */
	{ ER_READ_ONLY_MODE,		DBERR_UNAVAILABLE, S },	/* 1836 */
	/* max_statement_time. */
	{ ER_STATEMENT_TIMEOUT,		DBERR_UNAVAILABLE, S },	/* 1969 */

	/* Bugs or bad data (500), with text that cannot quote a row. */
	{ ER_TABLE_EXISTS_ERROR,	DBERR_FAILED, S },	/* 1050 */
	{ ER_DUP_FIELDNAME,		DBERR_FAILED, S },	/* 1060 */
	{ ER_DUP_KEYNAME,		DBERR_FAILED, S },	/* 1061 */
	{ ER_PARSE_ERROR,		DBERR_FAILED, S },	/* 1064 */
	{ ER_BAD_NULL_ERROR,		DBERR_FAILED, S },	/* 1048 */
	{ ER_UNKNOWN_SYSTEM_VARIABLE,	DBERR_FAILED, S },	/* 1193 */
	{ ER_DATA_TOO_LONG,		DBERR_FAILED, S },	/* 1406 */
	/* And with text that can. */
	{ ER_DUP_ENTRY,		DBERR_FAILED, DBERR_TEXT_DUPLICATE }, /* 1062 */
	{ ER_DUP_ENTRY_WITH_KEY_NAME,
				DBERR_FAILED, DBERR_TEXT_DUPLICATE }, /* 1586 */
	{ ER_TRUNCATED_WRONG_VALUE,
				DBERR_FAILED, DBERR_TEXT_VALUE }, /* 1292 */
	{ ER_TRUNCATED_WRONG_VALUE_FOR_FIELD,
				DBERR_FAILED, DBERR_TEXT_VALUE }, /* 1366 */
	{ ER_SIGNAL_EXCEPTION,	DBERR_FAILED, DBERR_TEXT_SIGNAL }, /* 1644 */
};

#undef S

/* code's row, or -1. */
static int
dberr_find(unsigned int code)
{
	size_t	 i;

	for (i = 0; i < sizeof(dberr_table) / sizeof(dberr_table[0]); i++)
		if (dberr_table[i].code == code)
			return (int)i;
	return -1;
}

enum dberr_class
dberr_classify(unsigned int code)
{
	int	 i;

	/* Every client-side error: no answer, or none that can be used. */
	if (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR)
		return DBERR_LOST;
	return (i = dberr_find(code)) == -1 ? DBERR_FAILED :
	    dberr_table[i].class;
}

enum dberr_text
dberr_text(unsigned int code)
{
	int	 i;

	/* The client's own text: about the connection, never a row. */
	if (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR)
		return DBERR_TEXT_SERVER;
	return (i = dberr_find(code)) == -1 ? DBERR_TEXT_HIDDEN :
	    dberr_table[i].text;
}

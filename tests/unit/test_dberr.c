/*
 * clerksync — unit tests of dberr: each error a Galera node, a lost
 * connection or a conflict can give, and what it becomes; which errors'
 * text may be logged (never one that can quote a row).
 * SPDX-License-Identifier: ISC
 */
#include "dberr.h"
#include "tap.h"

int
main(void)
{
	static const struct {
		unsigned int		 code;
		enum dberr_class	 class;
		const char		*what;
	} cases[] = {
		/* Seen in the cluster tests (a node joining, killed, cut off). */
		{ 1047, DBERR_NODE, "WSREP has not yet prepared node" },
		{ 2013, DBERR_LOST, "lost connection (handshake, query)" },
		{ 2002, DBERR_LOST, "cannot connect" },
		{ 2006, DBERR_LOST, "server has gone away" },
		{ 2026, DBERR_LOST, "SSL connection error" },
		{ 1927, DBERR_LOST, "connection killed (ALL_KILL)" },
		{ 1053, DBERR_LOST, "server shutdown in progress" },
		{ 1158, DBERR_LOST, "net read error" },
		{ 4031, DBERR_LOST, "MySQL 8 idle disconnect" },
		{ 1213, DBERR_DEADLOCK, "deadlock, certification failure" },
		{ 1205, DBERR_UNAVAILABLE, "lock wait, sync wait timeout" },
		{ 1180, DBERR_UNAVAILABLE, "commit on a node leaving the primary "
		    "component" },
		{ 1317, DBERR_UNAVAILABLE, "query interrupted" },
		{ 1969, DBERR_UNAVAILABLE, "max_statement_time" },
		{ 1290, DBERR_UNAVAILABLE, "read_only" },
		{ 1836, DBERR_UNAVAILABLE, "read-only mode" },
		{ 1040, DBERR_UNAVAILABLE, "too many connections" },
		{ 1045, DBERR_UNAVAILABLE, "access denied" },
		{ 1146, DBERR_UNAVAILABLE, "no such table" },
		{ 1054, DBERR_UNAVAILABLE, "unknown column" },
		/* Bugs or bad data: 500. */
		{ 0, DBERR_FAILED, "no error number" },
		{ 1062, DBERR_FAILED, "duplicate entry" },
		{ 1064, DBERR_FAILED, "syntax error" },
		{ 1406, DBERR_FAILED, "data too long" },
		{ 1366, DBERR_FAILED, "incorrect string value" },
		{ 1999, DBERR_FAILED, "below the client range" },
		{ 3000, DBERR_FAILED, "above the client range" },
	};
	static const struct {
		unsigned int		 code;
		enum dberr_text		 text;
		const char		*what;
	} texts[] = {
		{ 2013, DBERR_TEXT_SERVER, "the client's own text" },
		{ 1047, DBERR_TEXT_SERVER, "WSREP has not yet prepared node" },
		{ 1180, DBERR_TEXT_SERVER, "error during COMMIT" },
		{ 1146, DBERR_TEXT_SERVER, "names a table" },
		{ 1406, DBERR_TEXT_SERVER, "names a column" },
		{ 1193, DBERR_TEXT_SERVER, "names a setting" },
		{ 1062, DBERR_TEXT_DUPLICATE, "Duplicate entry 'value'" },
		{ 1586, DBERR_TEXT_DUPLICATE, "Duplicate entry, key name" },
		{ 1292, DBERR_TEXT_VALUE, "Truncated incorrect value" },
		{ 1366, DBERR_TEXT_VALUE, "Incorrect string value" },
		{ 1644, DBERR_TEXT_SIGNAL, "a trigger's SIGNAL text" },
		{ 1452, DBERR_TEXT_HIDDEN, "a foreign key (not listed)" },
		{ 0, DBERR_TEXT_HIDDEN, "no error number" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(dberr_classify(cases[i].code) == cases[i].class,
		    "%u (%s) is %s", cases[i].code, cases[i].what,
		    dberr_class_names[cases[i].class]);
	for (i = 0; i < DBERR__MAX; i++)
		ok(dberr_class_names[i] != NULL, "class %zu has a name", i);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		ok(dberr_text(texts[i].code) == texts[i].text,
		    "%u (%s): text %d", texts[i].code, texts[i].what,
		    (int)texts[i].text);
	ok(dberr_phrases[DBERR_TEXT_SERVER] == NULL, "the server's text: no "
	    "phrase");
	for (i = DBERR_TEXT_SERVER + 1; i < DBERR_TEXT__MAX; i++)
		ok(dberr_phrases[i] != NULL, "text %zu has a phrase", i);
	return done_testing();
}

/*
 * clerksync — dberr: what a MariaDB/MySQL error number means for a
 * delivery, and whether its text may be logged. Pure: a table of codes,
 * no connection, no mysql.h.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_DBERR_H
#define CLERKSYNC_DBERR_H

enum dberr_class {
	DBERR_FAILED,		/* anything else: a bug or bad data (500) */
	DBERR_UNAVAILABLE,	/* lock wait, schema, grants, resources (503) */
	DBERR_DEADLOCK,		/* deadlock or certification conflict: retry */
	DBERR_LOST,		/* the connection is gone: a new one may do */
	DBERR_NODE,		/* this server does not serve now (a Galera node
				   not ready, not primary, rejecting queries):
				   another host may */
	DBERR__MAX
};

/* Whether the server's text may be logged, or which phrase instead. */
enum dberr_text {
	DBERR_TEXT_SERVER,	/* names a setting, table or column at most */
	DBERR_TEXT_DUPLICATE,	/* a duplicate key: would name the value */
	DBERR_TEXT_VALUE,	/* a bad value: would show its bytes */
	DBERR_TEXT_SIGNAL,	/* a trigger's SIGNAL: the app's own text */
	DBERR_TEXT_HIDDEN,	/* anything else */
	DBERR_TEXT__MAX
};

extern const char *const dberr_class_names[DBERR__MAX];

/* The phrase logged instead of the server's text (NULL for SERVER). */
extern const char *const dberr_phrases[DBERR_TEXT__MAX];

/* The class of a server (ER_*) or client (CR_*) error number. */
enum dberr_class dberr_classify(unsigned int code);

/* Whether the server's text for error code may be logged. */
enum dberr_text dberr_text(unsigned int code);

#endif

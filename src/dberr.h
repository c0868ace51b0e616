/*
 * clerksync — dberr: what a MariaDB/MySQL error number means for a
 * delivery. Pure: a table of codes, no connection, no mysql.h.
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

extern const char *const dberr_class_names[DBERR__MAX];

/* The class of a server (ER_*) or client (CR_*) error number. */
enum dberr_class dberr_classify(unsigned int code);

#endif

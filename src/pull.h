/*
 * clerksync — pull: the app asks for one user or organization (SPEC
 * section 1, "Pull"). A POST of {"type":"clerksync.pull","data":{"id":
 * "user_..."}}, signed with pull_secret, is answered by fetching that
 * object from Clerk's Backend API and writing it as `sync` does, within
 * what the web server allows.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_PULL_H
#define CLERKSYNC_PULL_H

#include <stddef.h>


/*
 * Seconds. A pull must be answered within what the web server allows
 * (PULL_TIME_MAX, well under the usual 30 s or more) and, better, before
 * the caller gives up (the PHP helper's pull_timeout is 5 by default):
 * the API requests of one pull end within PULL_API_TIME of its start,
 * and the database's part has its own short timeouts (store.h).
 */
#define PULL_TIME_MAX		10
#define PULL_API_TIME		4
#define PULL_RETRY_DEFAULT	5	/* Retry-After when none is known */

enum pull_result {
	PULL_APPLIED,		/* fetched, row written, event recorded */
	PULL_STALE,		/* fetched, a newer state or a delete kept */
	PULL_DUPLICATE,		/* the webhook-id was seen before */
	PULL_IGNORED,		/* the events setting leaves the kind out */
	PULL_NOT_FOUND,		/* Clerk has no such object: nothing written */
	PULL_BAD_ID,		/* not a pull body, or not a user_/org_ id */
	PULL_BUSY,		/* 429, 5xx, slow, over budget: retry later */
	PULL_UNAVAILABLE,	/* database or configuration */
	PULL_FAILED,		/* anything else */
	PULL__MAX
};

/*
 * 1 if body[0..len) is a JSON object whose first "type" member is the
 * string "clerksync.pull" as written (no escape), else 0. Pure: decides
 * which secrets verify the body, before anything else is done with it.
 */
int	pull_is(const char *body, size_t len);

/*
 * data.id of a pull body, decoded into id[idsz] (not yet checked as a
 * user_ or org_ id): 0, or -1. Pure.
 */
int	pull_id(const char *body, size_t len, char *id, size_t idsz);

#endif

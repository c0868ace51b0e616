/*
 * clerksync — backfill: the `backfill` and `reconcile` subcommands. They
 * walk Clerk's Backend API (users; organizations and their memberships)
 * and write each object through the same guarded statements as the
 * webhooks, so an import never overwrites a newer state and never brings
 * back a deleted object.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_BACKFILL_H
#define CLERKSYNC_BACKFILL_H

#include "config.h"
#include "store.h"

#define BACKFILL_LIMIT		500	/* objects per page, Clerk's most */
#define BACKFILL_OVERLAP	20	/* objects re-read from the last page */

/*
 * reconcile marks nothing deleted without --force when its walk listed
 * less than half of a table's live rows, or when more than
 * BACKFILL_REFUSE_ROWS rows and more than BACKFILL_REFUSE_PCT percent of
 * them would be marked: a key of another instance, or a wrong
 * clerk_api_url, must not tombstone a table (deletes are terminal).
 */
#define BACKFILL_REFUSE_ROWS	10
#define BACKFILL_REFUSE_PCT	5
#define BACKFILL_REFUSED	3	/* the exit status then */

enum backfill_cmd {
	BACKFILL_CMD_BACKFILL,	/* import everything, resumable */
	BACKFILL_CMD_RECONCILE,	/* the same, then mark what is gone */
	BACKFILL_CMD_SYNC,	/* the objects named, one by one */
	BACKFILL_CMD__MAX
};

extern const char *const backfill_cmd_names[BACKFILL_CMD__MAX];

struct backfill_opts {
	enum backfill_cmd cmd;
	int	 reconcile;	/* mark deleted what Clerk no longer has */
	int	 dry_run;	/* write nothing, report what would be */
	int	 force;		/* reconcile past its refusal */
	int	 restart;	/* ignore where an earlier backfill stopped */
	int	 limit;		/* page size */
	long	 timeout;	/* seconds per request; 0: default */
	char	**ids;		/* sync: user_... and org_... ids */
	int	 nids;
};

/* 1 if id is a user_ or org_ id as Clerk makes them: <prefix><base62>. */
int	backfill_id_valid(const char *id);

/* The subcommand named name, or -1 if it is none of these. */
int	backfill_cmd(const char *name);

/*
 * Parse the arguments after the subcommand's name into o (which keeps
 * pointers into argv). Returns 0, or -1 with err set.
 */
int	backfill_args(int argc, char **argv, enum backfill_cmd cmd,
	    struct backfill_opts *o, char *err, size_t errsz);

/*
 * Run; the summary goes to stdout. Returns the exit status: 0, 1 on a
 * failure, BACKFILL_REFUSED when reconcile refused to mark rows deleted.
 */
int	backfill_run(const struct config *cf, struct store *st,
	    const struct backfill_opts *o);

/* What backfill_pull did. */
enum backfill_pull {
	BACKFILL_PULL_WRITTEN,	/* *res says how */
	BACKFILL_PULL_GONE,	/* Clerk's resource_not_found: no write */
	BACKFILL_PULL_IGNORED,	/* the events setting leaves it out */
	BACKFILL_PULL_BAD_ID,	/* not a user_ or org_ id: no request */
	BACKFILL_PULL_API,	/* the API failed, or was not asked (budget,
				   time): clerkapi_retry_after tells the wait */
	BACKFILL_PULL_FAILED,	/* an answer that is not the object */
	BACKFILL_PULL__MAX
};

struct clerkapi;

/*
 * The pull (SPEC section 1, "Pull"): fetch the user_ or org_ id once
 * through a (set up by the caller, see clerkapi_set_once) and write it as
 * `sync` does, through store_pull_apply under svix_id and ts (ms), with
 * an organization's memberships. Nothing is printed and an id that
 * Clerk does not have writes nothing. err gets the reason of any
 * outcome but WRITTEN (and of WRITTEN with *res a failure).
 */
enum backfill_pull backfill_pull(const struct config *cf, struct store *st,
	    struct clerkapi *a, const char *id, const char *svix_id,
	    long long ts, enum store_result *res, char *err, size_t errsz);

#endif

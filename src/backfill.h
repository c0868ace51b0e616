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

struct backfill_opts {
	int	 reconcile;	/* mark deleted what Clerk no longer has */
	int	 dry_run;	/* write nothing, report what would be */
	int	 restart;	/* ignore where an earlier backfill stopped */
	int	 limit;		/* page size */
	long	 timeout;	/* seconds per request; 0: default */
};

/*
 * Parse the arguments after the subcommand's name into o. Returns 0, or
 * -1 with err set.
 */
int	backfill_args(int argc, char **argv, int reconcile,
	    struct backfill_opts *o, char *err, size_t errsz);

/* Run; the summary goes to stdout. Returns the exit status. */
int	backfill_run(const struct config *cf, struct store *st,
	    const struct backfill_opts *o);

#endif

/*
 * clerksync — status: `clerksync.fcgi status [--quiet-for DURATION]`,
 * when each event family last arrived and what the last 24 hours did, so
 * that a cron line notices when Svix stopped delivering.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_STATUS_H
#define CLERKSYNC_STATUS_H

#include <stddef.h>

#include "config.h"
#include "store.h"

#define STATUS_QUIET_MAX	(366LL * 86400)	/* seconds: --quiet-for */

struct status_opts {
	long long	 quiet_for;	/* seconds; 0: not asked */
};

/*
 * Parse the arguments after `status`: none, or --quiet-for DURATION (a
 * number and one of s, m, h, d: "90m", "6h", "2d"). Returns 0, or -1
 * with err set.
 */
int	status_args(int argc, char *argv[], struct status_opts *so,
	    char *err, size_t errsz);

/*
 * Print the status on stdout. Returns the exit status: 0, or 1 when the
 * database cannot be read, there is no schema, or (with quiet_for)
 * nothing arrived for longer than quiet_for.
 */
int	status_run(const struct config *cf, struct store *st,
	    const struct status_opts *so);

#endif

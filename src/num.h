/*
 * clerksync — num: the one strict decimal parser, and the one
 * monotonic clock.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_NUM_H
#define CLERKSYNC_NUM_H

#include <stddef.h>

/*
 * Parse s[0..len) as a plain decimal (digits only: no sign, space or
 * prefix) within [min, max]. Returns 0 with *out set, or -1.
 */
int	num_parse(const char *s, size_t len, long long min, long long max,
	    long long *out);

/* Seconds on the monotonic clock, for durations and rates. */
double	num_seconds(void);

#endif

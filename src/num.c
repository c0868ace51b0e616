/*
 * clerksync — num: the one strict decimal parser, and the one
 * monotonic clock.
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <time.h>

#include "num.h"

int
num_parse(const char *s, size_t len, long long min, long long max,
    long long *out)
{
	long long	 v = 0;
	size_t		 i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (LLONG_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

double
num_seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

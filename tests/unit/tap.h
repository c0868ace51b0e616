/*
 * clerksync — a tiny TAP producer for the unit suites.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_TAP_H
#define CLERKSYNC_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do {						\
	int ok_ = (cond) ? 1 : 0;					\
	tap_n++;							\
	if (!ok_)							\
		tap_failed++;						\
	printf("%sok %d - ", ok_ ? "" : "not ", tap_n);			\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!ok_)							\
		printf("#   failed at %s:%d\n", __FILE__, __LINE__);	\
} while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif

/*
 * clerksync — unit tests of num_parse.
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "num.h"
#include "tap.h"

int
main(void)
{
	static const struct {
		const char	*s;
		long long	 min, max;
		int		 rc;
		long long	 v;
	} cases[] = {
		{ "0", 0, 10, 0, 0 },
		{ "10", 0, 10, 0, 10 },
		{ "11", 0, 10, -1, 0 },
		{ "007", 0, 10, 0, 7 },
		{ "9223372036854775807", 0, 9223372036854775807LL, 0,
		    9223372036854775807LL },
		{ "9223372036854775808", 0, 9223372036854775807LL, -1, 0 },
		{ "99999999999999999999999", 0, 9223372036854775807LL, -1, 0 },
		{ "", 0, 10, -1, 0 },
		{ "-1", -10, 10, -1, 0 },
		{ "+1", 0, 10, -1, 0 },
		{ " 1", 0, 10, -1, 0 },
		{ "1 ", 0, 10, -1, 0 },
		{ "1e3", 0, 10000, -1, 0 },
		{ "0x10", 0, 100, -1, 0 },
		{ "5", 6, 10, -1, 0 },
	};
	long long	 v;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = -42;
		rc = num_parse(cases[i].s, strlen(cases[i].s), cases[i].min,
		    cases[i].max, &v);
		ok(rc == cases[i].rc && (rc != 0 || v == cases[i].v),
		    "num_parse(\"%s\") = %d", cases[i].s, cases[i].rc);
	}
	ok(num_parse("12", 1, 0, 100, &v) == 0 && v == 1,
	    "the length bounds the parse");
	return done_testing();
}

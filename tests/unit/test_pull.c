/*
 * clerksync — unit tests of pull_is: which bodies are pulls, and so are
 * verified with pull_secret rather than the Svix secret.
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "pull.h"
#include "tap.h"
#include "util.h"

int
main(void)
{
	static const struct {
		const char	*body;
		int		 pull;
	} cases[] = {
		{ "{\"type\":\"clerksync.pull\",\"data\":{\"id\":\"user_2a\"}}",
		    1 },
		{ " \n{ \"data\" : {\"id\":\"org_2a\"}, \"type\" : "
		    "\"clerksync.pull\" }\n", 1 },
		{ "{\"type\":\"clerksync.pull\"}", 1 },
		/* The first "type" counts, as json_member finds it. */
		{ "{\"type\":\"clerksync.pull\",\"type\":\"user.created\"}", 1 },
		{ "{\"type\":\"user.created\",\"type\":\"clerksync.pull\"}", 0 },
		{ "{\"type\":\"user.created\",\"data\":{\"type\":"
		    "\"clerksync.pull\"}}", 0 },
		/* As written only: an escape is not a pull (nor a webhook). */
		{ "{\"type\":\"clerksync\\u002epull\"}", 0 },
		{ "{\"type\":\"clerksync.pull \"}", 0 },
		{ "{\"type\":\"Clerksync.pull\"}", 0 },
		{ "{\"type\":[\"clerksync.pull\"]}", 0 },
		{ "{\"type\":\"clerksync.pull\"", 0 },
		{ "{\"type\":\"clerksync.pull\"}}", 0 },
		{ "[\"clerksync.pull\"]", 0 },
		{ "\"clerksync.pull\"", 0 },
		{ "", 0 },
		{ "{}", 0 },
	};
	struct guarded	 g;
	size_t		 i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].body);
		g = guard(cases[i].body, len);
		ok(pull_is(g.p, len) == cases[i].pull, "case %zu: %s", i,
		    cases[i].pull ? "a pull" : "not a pull");
		unguard(&g);
	}
	return done_testing();
}

/*
 * clerksync — unit tests of the strict JSON scanner.
 * SPDX-License-Identifier: ISC
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"
#include "util.h"

static int
valid(const char *s, size_t n, int *depth)
{
	struct guarded	 g = guard(s, n);
	int		 rc = json_validate(g.p, n, depth);

	unguard(&g);
	return rc == 0;
}

static void
validate(void)
{
	static const struct {
		const char	*s;
		int		 ok;
	} cases[] = {
		{ "{}", 1 }, { "[]", 1 }, { " {\"a\" : [1, -2.5e+3, true, "
		    "false, null, \"x\\u00e9\\n\"]} \r\n", 1 },
		{ "0", 1 }, { "-0", 1 }, { "\"\"", 1 }, { "1E9", 1 },
		{ "\"\\ud83d\\ude80\"", 1 }, { "\"\xc3\xa9\"", 1 },
		{ "", 0 }, { " ", 0 }, { "{", 0 }, { "}", 0 }, { "[1,]", 0 },
		{ "{\"a\":1,}", 0 }, { "{\"a\"}", 0 }, { "{a:1}", 0 },
		{ "{'a':1}", 0 }, { "01", 0 }, { "+1", 0 }, { "1.", 0 },
		{ ".5", 0 }, { "1e", 0 }, { "-", 0 }, { "NaN", 0 },
		{ "Infinity", 0 }, { "tru", 0 }, { "nul", 0 },
		{ "\"a", 0 }, { "\"\\x\"", 0 }, { "\"\\u12\"", 0 },
		{ "\"\\u12g4\"", 0 }, { "\"tab\there\"", 0 },
		{ "{} {}", 0 }, { "{}x", 0 }, { "[1 2]", 0 },
		{ "{\"a\":1 \"b\":2}", 0 }, { "\xef\xbb\xbf{}", 0 },
		{ "{\"a\\u0000b\":1}", 1 }, { "{\"a\":\"\\u0000\"}", 1 },
		{ "\"\\ud800\"", 1 }, { "{\"\\udc00\":1}", 1 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(valid(cases[i].s, strlen(cases[i].s), NULL) == cases[i].ok,
		    "json case %zu is %svalid", i, cases[i].ok ? "" : "in");
	ok(!valid("{\"a\":\"b\0c\"}", 11, NULL), "a raw NUL in a string");
	ok(!valid("{}\0", 3, NULL), "a NUL after the value");
}

static void
depth(void)
{
	char	*s;
	int	 d = 0, n;

	ok(valid("[[{\"a\":[]}]]", 12, &d) && d == 4, "depth 4 (%d)", d);
	ok(valid("1", 1, &d) && d == 0, "a scalar has depth 0");
	/* No limit but the input: past the in-place stack, and far past. */
	for (n = JSON_STACK_DEPTH - 1; n <= JSON_STACK_DEPTH + 1; n++) {
		s = malloc((size_t)n * 2);
		memset(s, '[', (size_t)n);
		memset(s + n, ']', (size_t)n);
		ok(valid(s, (size_t)n * 2, &d) && d == n, "nesting %d (%d)", n,
		    d);
		s[n * 2 - 1] = '}';
		ok(!valid(s, (size_t)n * 2, NULL), "nesting %d, ] closed by }",
		    n);
		free(s);
	}
	s = malloc(600001);
	memset(s, '[', 100000);
	memset(s + 100000, ']', 100000);
	ok(valid(s, 200000, &d) && d == 100000, "nesting 100000 (%d)", d);
	ok(!valid(s, 199999, NULL), "nesting 100000, one ] short");
	ok(!valid(s, 100000, NULL), "nesting 100000, unclosed");
	/* Objects, and a mismatch at the deepest level and at the first. */
	for (n = 0; n < 100000; n++)
		memcpy(s + n * 5, "{\"a\":", 5);
	s[500000] = '1';
	memset(s + 500001, '}', 100000);
	ok(valid(s, 600001, &d) && d == 100000, "objects 100000 deep");
	ok(!valid(s, 600000, NULL), "objects 100000 deep, one } short");
	s[600000] = ']';
	ok(!valid(s, 600001, NULL), "objects 100000 deep, closed by ]");
	s[600000] = '}';
	s[500001] = ']';
	ok(!valid(s, 600001, NULL), "objects 100000 deep, ] at the bottom");
	free(s);
}

static void
stats(void)
{
	struct json_stats	 st;
	static const struct {
		const char	*s;
		unsigned int	 flags;
	} cases[] = {
		{ "\"\\ud83d\\ude80\"", 0 }, { "\"\\ud83d\"", JSON_LONE_SURROGATE },
		{ "\"\\ude80\"", JSON_LONE_SURROGATE },
		{ "\"\\ude80\\ud83d\"", JSON_LONE_SURROGATE },
		{ "\"\\ud83d\\u0041\"", JSON_LONE_SURROGATE },
		{ "\"\\ud83d\\ud83d\\ude80\"", JSON_LONE_SURROGATE },
		{ "{\"\\ud800\":1}", JSON_LONE_SURROGATE },
		{ "\"\\ud7ff\\ue000\"", 0 }, { "\"\\\\ud800\"", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(json_scan(cases[i].s, strlen(cases[i].s), &st) == 0 &&
		    st.flags == cases[i].flags, "surrogate case %zu: flags %u",
		    i, cases[i].flags);
	ok(json_scan("\"\\ud83d\\", 8, &st) == -1,
	    "a high half then a cut escape");
}

static void
member(void)
{
	const char		*obj = "{ \"a\" : 1, \"b\":{\"a\":2},"
	    "\"c\\u0041\":3, \"d\": [ \"x\" ] , \"a\":9}";
	struct json_span	 o = { obj, strlen(obj) }, v;

	ok(json_member(o, "a", &v) && v.len == 1 && v.p[0] == '1',
	    "the first of two equal keys");
	ok(json_member(o, "b", &v) && v.len == 7 &&
	    memcmp(v.p, "{\"a\":2}", 7) == 0, "an object value");
	ok(json_member(o, "d", &v) && v.len == 7 &&
	    memcmp(v.p, "[ \"x\" ]", 7) == 0, "an array value");
	ok(json_member(o, "cA", &v) && v.len == 1 && v.p[0] == '3',
	    "escaped names match as cJSON decodes them");
	ok(!json_member(o, "e", &v), "an absent key");
	{
		const char *const keys[] = { "d", "a", "zz", "b" };
		struct json_span vs[4];

		ok(json_members(o, keys, 4, vs) == 3 && vs[0].len == 7 &&
		    vs[1].len == 1 && vs[1].p[0] == '1' && vs[2].p == NULL &&
		    vs[3].len == 7, "several keys in one pass");
	}
	o.p = "[1]";
	o.len = 3;
	ok(!json_member(o, "a", &v), "not an object");
}

static void
without(void)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "{\"p\":1,\"a\":2}", "{\"a\":2}" },
		{ "{\"a\":2,\"p\":1}", "{\"a\":2}" },
		{ "{\"a\":2,\"p\":{\"x\":[1]},\"b\":3}", "{\"a\":2,\"b\":3}" },
		{ "{\"p\":1}", "{}" },
		{ "{ \"p\" : 1 , \"a\" : 2 }", "{ \"a\" : 2 }" },
		{ "{\n  \"a\": 2,\n  \"p\": null\n}", "{\n  \"a\": 2\n}" },
		{ "{\"a\":2}", "{\"a\":2}" },
		{ "{\"x\\\"p\":1,\"p\":\"\\\"\"}", "{\"x\\\"p\":1}" },
		{ "{\"a\":\"p\",\"p\" :\n [1,{\"p\":2}] ,\"b\":3}",
		    "{\"a\":\"p\" ,\"b\":3}" },
	};
	char			 out[128];
	struct json_span	 o, v;
	size_t			 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.p = cases[i].in;
		o.len = strlen(cases[i].in);
		if (json_member(o, "p", &v))
			n = json_without(o, v, out);
		else {
			n = o.len;
			memcpy(out, o.p, n);
		}
		ok(n == strlen(cases[i].out) &&
		    memcmp(out, cases[i].out, n) == 0 &&
		    json_validate(out, n, NULL) == 0,
		    "without case %zu", i);
	}
}

static void
nul(void)
{
	static const struct {
		const char	*s;
		size_t		 nul;
	} cases[] = {
		{ "\"ab\"", 0 }, { "\"a\\u0000\"", 1 }, { "\"\\u0000\"", 1 },
		{ "\"a\\\\u0000\"", 0 }, { "\"\\u0001\"", 0 },
		{ "\"\\u00000\"", 1 }, { "\"\\u0000\\u0000\"", 2 },
		{ "\"\\u0000a\\\\u0000\\\\\\u0000\"", 2 },
		{ "\"\\\\\\\\\"", 0 },
	};
	struct json_span	 v;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v.p = cases[i].s;
		v.len = strlen(cases[i].s);
		ok(json_string_nuls(v) == cases[i].nul,
		    "nuls case %zu: %zu", i, cases[i].nul);
	}
}

/* json_next walks an array's elements as sent, whitespace and all. */
static void
elements(void)
{
	static const char	 text[] = " [ {\"a\":[1,2]} ,\"x,]\\\"\" ,\n"
	    "-1.5e3,[] , null ]";
	static const char *const want[] = {
		"{\"a\":[1,2]}", "\"x,]\\\"\"", "-1.5e3", "[]", "null"
	};
	struct json_span	 arr = { text + 1, sizeof(text) - 2 }, el;
	size_t			 pos = 0, n = 0;
	int			 good = 1;

	ok(json_validate(text, sizeof(text) - 1, NULL) == 0,
	    "the array is JSON");
	while (json_next(arr, &pos, &el)) {
		if (n >= 5 || el.len != strlen(want[n]) ||
		    memcmp(el.p, want[n], el.len) != 0)
			good = 0;
		n++;
	}
	ok(good && n == 5, "five elements, each exactly as sent (%zu)", n);
	ok(json_next(arr, &pos, &el) == 0 && el.p == NULL,
	    "the end stays the end");
	arr.p = "[ ]";
	arr.len = 3;
	pos = 0;
	ok(json_next(arr, &pos, &el) == 0, "an empty array has none");
	arr.p = "{}";
	arr.len = 2;
	pos = 0;
	ok(json_next(arr, &pos, &el) == 0, "an object is not an array");
}

/* json_start: only JSON's four whitespace bytes are skipped. */
static void
start(void)
{
	static const struct {
		const char	*in;
		size_t		 skip;
	} cases[] = {
		{ "{}", 0 }, { " \t\r\n{\"a\":1}", 4 }, { "  [1]", 2 },
		{ "\f{}", 0 }, { "\v{}", 0 }, { "   ", 3 }, { "", 0 },
		{ "x {}", 0 },
	};
	struct json_span	 s;
	size_t			 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].in);
		s = json_start(cases[i].in, n);
		ok(s.p == cases[i].in + cases[i].skip && s.len == n -
		    cases[i].skip, "json_start case %zu skips %zu", i,
		    cases[i].skip);
	}
}

/* json_next_member walks names and values as sent; names match decoded. */
static void
walk(void)
{
	static const char	 text[] = "{ \"id\\u0000x\" : 1 ,\"i\\u0064\":"
	    "\"u\",\n\"\\ud800\":[{}] , \"id\":2}";
	static const char *const names[] = {
		"id\\u0000x", "i\\u0064", "\\ud800", "id"
	};
	static const char *const vals[] = { "1", "\"u\"", "[{}]", "2" };
	struct json_span	 obj = { text, sizeof(text) - 1 }, k, v;
	size_t			 pos = 0, n = 0;
	int			 good = 1, ids = 0;

	ok(json_validate(text, sizeof(text) - 1, NULL) == 0, "walk: JSON");
	while (json_next_member(obj, &pos, &k, &v)) {
		if (n >= 4 || k.len != strlen(names[n]) ||
		    memcmp(k.p, names[n], k.len) != 0 ||
		    v.len != strlen(vals[n]) || memcmp(v.p, vals[n], v.len) != 0)
			good = 0;
		ids += json_name_is(k, "id");
		n++;
	}
	ok(good && n == 4, "four members, each as sent (%zu)", n);
	ok(ids == 2, "\"id\\u0000x\" is not \"id\"; \"i\\u0064\" is (%d)", ids);
	ok(json_member(obj, "id", &v) && v.len == 3 &&
	    memcmp(v.p, "\"u\"", 3) == 0, "json_member finds the same first");
	obj.p = "[1]";
	obj.len = 3;
	pos = 0;
	ok(json_next_member(obj, &pos, &k, &v) == 0 && v.p == NULL,
	    "an array has no members");
}

int
main(void)
{
	start();
	elements();
	nul();
	validate();
	depth();
	stats();
	member();
	walk();
	without();
	return done_testing();
}

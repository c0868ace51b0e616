/*
 * libFuzzer target for src/json.c.
 *
 * Input: the bytes to scan.
 *
 * Invariants:
 *  - json_validate returns 0 or -1, and on 0 a depth in 0..size (any
 *    depth is valid; json_scan agrees and gives the same depth);
 *  - when it says 0, cJSON (a second, independent parser) parses the same
 *    bytes completely, except where cJSON is known to refuse valid JSON:
 *    a \u escape of an unpaired UTF-16 surrogate (json_scan must then
 *    flag JSON_LONE_SURROGATE) or nesting beyond CJSON_NESTING_LIMIT;
 *  - on an object, json_next_member walks as many members as cJSON holds;
 *  - over each span the scanner finds (the value itself, each member's
 *    value, each element of an array), cJSON reads exactly the span, or
 *    refuses it only for a lone surrogate or nesting beyond
 *    CJSON_NESTING_LIMIT; on a string, the text's length recovered from
 *    cJSON's output with json_string_nuls (one NUL byte per \u0000, as
 *    event.c does) is the length a reference decoding gives;
 *  - when it says 0 and the value is an object: json_member finds spans
 *    inside the object that validate on their own, json_members finds the
 *    same spans in one pass, and json_without's output is a valid object,
 *    shorter by at least the member (and the same when done in place),
 *    for a handful of keys (private_metadata, the first member's key, and
 *    others);
 *  - json_string_nuls agrees with a reference count on lone strings.
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_json: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
hexval(const char *p, unsigned *out)
{
	unsigned v = 0;
	int	 i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* A \uD800-\uDBFF not followed by \uDC00-\uDFFF, or a lone low one. */
static int
lone_surrogate(const char *s, size_t n)
{
	size_t	 i;
	unsigned u, w;

	for (i = 0; i + 6 <= n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] != 'u') {
			i++;		/* skip the escaped character */
			continue;
		}
		if (hexval(s + i + 2, &u) == -1)
			continue;
		if (u >= 0xdc00 && u <= 0xdfff)
			return 1;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (i + 12 > n || s[i + 6] != '\\' || s[i + 7] != 'u' ||
			    hexval(s + i + 8, &w) == -1 || w < 0xdc00 ||
			    w > 0xdfff)
				return 1;
			i += 6;
		}
		i += 5;
	}
	return 0;
}

static void
member_checks(struct json_span obj, const char *key)
{
	static const char *const others[] = { "private_metadata", "id", "a" };
	const char	*keys[4];
	struct json_span v, vals[4];
	char		*out;
	size_t		 n, i;
	int		 found, many;

	found = json_member(obj, key, &v);
	CHECK(found == 0 || found == 1);
	if (!found) {
		CHECK(v.p == NULL);
		return;
	}
	CHECK(v.p >= obj.p && v.p + v.len <= obj.p + obj.len);
	CHECK(v.len > 0);
	CHECK(json_validate(v.p, v.len, NULL) == 0);

	/* One pass for several keys finds the same spans. */
	keys[0] = key;
	for (i = 0; i < 3; i++)
		keys[i + 1] = others[i];
	many = json_members(obj, keys, 4, vals);
	CHECK(many >= 1 && many <= 4);
	CHECK(vals[0].p == v.p && vals[0].len == v.len);
	for (i = 1; i < 4; i++) {
		struct json_span one;

		if (strcmp(keys[i], key) == 0)
			continue;
		if (json_member(obj, keys[i], &one))
			CHECK(vals[i].p == one.p && vals[i].len == one.len);
		else
			CHECK(vals[i].p == NULL);
	}

	out = malloc(obj.len);
	CHECK(out != NULL);
	n = json_without(obj, v, out);
	CHECK(n < obj.len);
	CHECK(n > 0 && out[0] == '{' && out[n - 1] == '}');
	if (json_validate(out, n, NULL) != 0) {
		fprintf(stderr, "json_without(\"%s\") gave invalid JSON: %.*s\n",
		    key, (int)(n > 400 ? 400 : n), out);
		abort();
	}
	/* Exactly the member's bytes (and one comma, and blanks) went. */
	CHECK(obj.len - n >= v.len + 3 + strlen(key));

	/* In place (out may be obj.p): the same bytes. */
	{
		char		*copy = malloc(obj.len);
		struct json_span c, cv;

		CHECK(copy != NULL);
		memcpy(copy, obj.p, obj.len);
		c.p = copy;
		c.len = obj.len;
		CHECK(json_member(c, key, &cv) == 1);
		CHECK(cv.p - c.p == v.p - obj.p && cv.len == v.len);
		CHECK(json_without(c, cv, copy) == n);
		CHECK(memcmp(copy, out, n) == 0);
		free(copy);
	}
	free(out);
}

/* How many \u0000 the JSON string text s holds (escapes walked). */
static size_t
ref_nuls(const char *s, size_t n)
{
	size_t	 i, k = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\')
			continue;
		if (i + 1 < n && s[i + 1] == 'u') {
			if (i + 6 <= n && memcmp(s + i + 2, "0000", 4) == 0)
				k++;
			i += 5;
		} else
			i++;
	}
	return k;
}

/*
 * The length in bytes of the UTF-8 that the JSON string text s decodes
 * to (no lone surrogate in it), written apart from cJSON and event.c.
 */
static size_t
ref_len(const char *s, size_t n)
{
	size_t	 i, len = 0;
	unsigned u, w;

	for (i = 1; i + 1 < n; i++) {
		if (s[i] != '\\') {
			len++;
			continue;
		}
		if (s[i + 1] != 'u') {
			len++;
			i++;
			continue;
		}
		CHECK(hexval(s + i + 2, &u) == 0);
		i += 5;
		if (u >= 0xd800 && u <= 0xdbff && i + 6 < n &&
		    s[i + 1] == '\\' && s[i + 2] == 'u' &&
		    hexval(s + i + 3, &w) == 0 && w >= 0xdc00 && w <= 0xdfff) {
			len += 4;
			i += 6;
		} else
			len += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
	}
	return len;
}

/*
 * cJSON over v, a span the scanner found: it reads exactly v, or refuses
 * only a lone surrogate or nesting it does not take; a string's length
 * comes back whole from its NUL bytes, one per \u0000.
 */
static void
span_checks(struct json_span v)
{
	struct json_stats	 st;
	const char		*end = NULL, *s;
	cJSON			*t;
	size_t			 n, nuls;

	CHECK(json_scan(v.p, v.len, &st) == 0);
	t = cJSON_ParseWithLengthOpts(v.p, v.len, &end, 0);
	if (t == NULL) {
		CHECK((st.flags & JSON_LONE_SURROGATE) != 0 ||
		    st.depth >= CJSON_NESTING_LIMIT);
		CHECK(st.depth >= CJSON_NESTING_LIMIT ||
		    lone_surrogate(v.p, v.len));
		return;
	}
	CHECK(end == v.p + v.len);
	if (cJSON_IsString(t)) {
		s = t->valuestring;
		nuls = json_string_nuls(v);
		CHECK(nuls == ref_nuls(v.p, v.len));
		for (n = strlen(s); nuls > 0; nuls--) {
			CHECK(n < v.len - 2);
			n += 1 + strlen(s + n + 1);
		}
		CHECK(n == ref_len(v.p, v.len));
	}
	cJSON_Delete(t);
}

/* What cJSON read of buf, against the member walk and the spans. */
static void
cjson_checks(const cJSON *t, const char *buf, size_t size)
{
	struct json_span	 v = { buf, size }, k, m;
	size_t			 pos = 0, n = 0;

	while (v.len > 0 && (*v.p == ' ' || *v.p == '\t' || *v.p == '\n' ||
	    *v.p == '\r'))
		v.p++, v.len--;
	while (v.len > 0 && (v.p[v.len - 1] == ' ' ||
	    v.p[v.len - 1] == '\t' || v.p[v.len - 1] == '\n' ||
	    v.p[v.len - 1] == '\r'))
		v.len--;
	span_checks(v);
	if (cJSON_IsObject(t)) {
		while (json_next_member(v, &pos, &k, &m)) {
			CHECK(k.p > v.p && m.p > k.p && m.p + m.len <= v.p + v.len);
			span_checks(m);
			n++;
		}
		CHECK(n == (size_t)cJSON_GetArraySize(t));
	}
	if (cJSON_IsArray(t)) {
		while (json_next(v, &pos, &m)) {
			span_checks(m);
			n++;
		}
		CHECK(n == (size_t)cJSON_GetArraySize(t));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*buf;
	int		 depth = -1, rc;
	struct json_stats st;
	struct json_span obj;
	char		 first[64];

	buf = malloc(size ? size : 1);	/* exact size for ASan */
	CHECK(buf != NULL);
	if (size)
		memcpy(buf, data, size);
	rc = json_validate(buf, size, &depth);
	CHECK(rc == 0 || rc == -1);
	CHECK(json_validate(buf, size, NULL) == rc);
	if (rc == -1)
		goto out;
	CHECK(depth >= 0 && (size_t)depth <= size);
	CHECK(json_scan(buf, size, &st) == 0 && st.depth == depth);
	CHECK((st.flags & ~(unsigned int)JSON_LONE_SURROGATE) == 0);

	{
		const char *end = NULL;
		cJSON	*t = cJSON_ParseWithLengthOpts(buf, size, &end, 0);

		if (t == NULL) {
			if (depth >= CJSON_NESTING_LIMIT)
				;
			else if (!(st.flags & JSON_LONE_SURROGATE) ||
			    !lone_surrogate(buf, size)) {
				fprintf(stderr, "cJSON refused what json_validate "
				    "accepted: %.*s\n", (int)(size > 400 ? 400 :
				    size), buf);
				abort();
			}
		} else {
			/* Only whitespace may follow what cJSON read. */
			CHECK(end != NULL && end >= buf && end <= buf + size);
			for (; end < buf + size; end++)
				CHECK(*end == ' ' || *end == '\t' ||
				    *end == '\n' || *end == '\r');
			cjson_checks(t, buf, size);
			cJSON_Delete(t);
		}
	}

	obj.p = buf;
	obj.len = size;
	while (obj.len > 0 && (*obj.p == ' ' || *obj.p == '\t' ||
	    *obj.p == '\n' || *obj.p == '\r')) {
		obj.p++;
		obj.len--;
	}
	while (obj.len > 0 && (obj.p[obj.len - 1] == ' ' ||
	    obj.p[obj.len - 1] == '\t' || obj.p[obj.len - 1] == '\n' ||
	    obj.p[obj.len - 1] == '\r'))
		obj.len--;
	if (obj.len > 0 && *obj.p == '"') {
		/* A lone string: json_string_nuls against the reference. */
		CHECK(json_string_nuls(obj) == ref_nuls(obj.p, obj.len));
		goto out;
	}
	if (obj.len == 0 || *obj.p != '{')
		goto out;

	member_checks(obj, "private_metadata");
	member_checks(obj, "id");
	member_checks(obj, "a");
	member_checks(obj, "");
	/* The first member's raw key, if short and without escapes. */
	{
		const char *q = obj.p + 1, *e;

		while (q < obj.p + obj.len && (*q == ' ' || *q == '\t' ||
		    *q == '\n' || *q == '\r'))
			q++;
		if (q < obj.p + obj.len && *q == '"') {
			for (e = q + 1; e < obj.p + obj.len && *e != '"' &&
			    *e != '\\'; e++)
				continue;
			if (e < obj.p + obj.len && *e == '"' &&
			    (size_t)(e - q - 1) < sizeof(first)) {
				memcpy(first, q + 1, (size_t)(e - q - 1));
				first[e - q - 1] = '\0';
				if (strlen(first) == (size_t)(e - q - 1))
					member_checks(obj, first);
			}
		}
	}
out:
	free(buf);
	return 0;
}

/*
 * clerksync — json: a strict RFC 8259 scanner over raw bytes.
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/*
 * The end of the run of string bytes that stand as they are (not '"',
 * not '\\', not a control character) from p: eight at a time, then one
 * at a time. (x - 0x20...) & ~x has a high bit set exactly when some
 * byte of x is below 0x20, and (y - 0x01...) & ~y when some byte of y is
 * zero (y = x ^ c: a byte equal to c). Such a word ends the fast loop,
 * and the slow one finds the byte.
 */
static const char *
plain_run(const char *p, const char *end)
{
	uint64_t	 x, q, b;

	while (end - p >= 8) {
		memcpy(&x, p, 8);
		q = x ^ (ONES * '"');
		b = x ^ (ONES * '\\');
		if ((((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) |
		    ((b - ONES) & ~b)) & HIGHS)
			break;
		p += 8;
	}
	while (p < end && (unsigned char)*p >= 0x20 && *p != '"' &&
	    *p != '\\')
		p++;
	return p;
}

struct scan {
	const char	*p;
	const char	*end;
	int		 maxdepth;
	unsigned int	 flags;		/* JSON_LONE_SURROGATE */
};

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hex4(const char *p)
{
	int	 i, v = 0;

	for (i = 0; i < 4; i++)
		v = v * 16 + (p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	return v;
}

/* Whether p[0..6) is \uDC00..\uDFFF, the second half of a pair. */
static int
low_half(const char *p, const char *end)
{
	int	 i;

	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return 0;
	for (i = 2; i < 6; i++)
		if (!is_hex(p[i]))
			return 0;
	return hex4(p + 2) >= 0xdc00 && hex4(p + 2) <= 0xdfff;
}

/*
 * RFC 8259 section 7: control characters must be escaped. The inner loop
 * runs over the bytes that stand as they are, the common case. A \u
 * escape of half a surrogate pair without its other half is valid JSON
 * (RFC 8259 section 8.2) but no character: it sets JSON_LONE_SURROGATE.
 */
static int
scan_string(struct scan *s)
{
	int		 i, c;

	if (s->p >= s->end || *s->p != '"')
		return -1;
	for (s->p++;;) {
		s->p = plain_run(s->p, s->end);
		if (s->p >= s->end || *s->p != '\\')
			break;
		if (++s->p >= s->end)
			return -1;
		switch (*s->p) {
		case '"': case '\\': case '/': case 'b':
		case 'f': case 'n': case 'r': case 't':
			break;
		case 'u':
			for (i = 0; i < 4; i++)
				if (++s->p >= s->end || !is_hex(*s->p))
					return -1;
			c = hex4(s->p - 3);
			if (c < 0xd800 || c > 0xdfff)
				break;
			if (c <= 0xdbff && low_half(s->p + 1, s->end))
				s->p += 6;
			else
				s->flags |= JSON_LONE_SURROGATE;
			break;
		default:
			return -1;
		}
		s->p++;
	}
	if (s->p >= s->end || *s->p != '"')
		return -1;		/* the end, or a control character */
	s->p++;
	return 0;
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end || !is_digit(*s->p))
		return -1;
	if (*s->p == '0')
		s->p++;
	else
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return -1;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return -1;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	return 0;
}

static int
scan_literal(struct scan *s, const char *lit)
{
	size_t	 n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int
scan_scalar(struct scan *s)
{
	switch (*s->p) {
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_number(s);
	}
}

/* A member name and its ':', from the opening quote on. */
static int
scan_name(struct scan *s)
{
	if (scan_string(s) == -1)
		return -1;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return -1;
	s->p++;
	return 0;
}

#define STACK_WORDS	(JSON_STACK_DEPTH / 64)

/*
 * The bit stack is full: move it to the heap, twice as big. Taken only
 * past JSON_STACK_DEPTH levels, so out of the loop of any usual body.
 */
static int
stack_grow(uint64_t **bits, const uint64_t *small, size_t *cap)
{
	uint64_t	*nb;

	if (*cap > SIZE_MAX / 2 || (nb = malloc(*cap / 4)) == NULL)
		return -1;
	memcpy(nb, *bits, *cap / 8);
	if (*bits != small)
		free(*bits);
	*bits = nb;
	*cap *= 2;
	return 0;
}

/*
 * After a value: close what ends here, then a ',' (and, in an object, the
 * next name). Returns 1 when the outermost value has ended, 0 when a
 * value follows, -1 when the body is malformed.
 */
static int
scan_after(struct scan *s, const uint64_t *bits, size_t *depth)
{
	int	 obj;

	for (;;) {
		if (*depth == 0)
			return 1;
		skip_ws(s);
		if (s->p >= s->end)
			return -1;
		obj = (bits[(*depth - 1) / 64] >> ((*depth - 1) % 64)) & 1;
		if (*s->p == ',') {
			s->p++;
			if (obj) {
				skip_ws(s);
				if (scan_name(s) == -1)
					return -1;
			}
			return 0;
		}
		if (*s->p != (obj ? '}' : ']'))
			return -1;
		s->p++;
		(*depth)--;
	}
}

/*
 * One loop, no recursion: whether each open container is an object is a
 * bit on a stack, kept in place up to JSON_STACK_DEPTH levels and on the
 * heap beyond (one bit a level: a body nests at most len levels).
 */
static int
scan_all(struct scan *s)
{
	uint64_t	 small[STACK_WORDS], *bits = small;
	size_t		 depth = 0, cap = JSON_STACK_DEPTH;
	int		 rc = -1, obj;

	for (;;) {
		skip_ws(s);
		if (s->p >= s->end)
			goto out;
		if (*s->p == '{' || *s->p == '[') {
			obj = *s->p++ == '{';
			if (depth == cap && stack_grow(&bits, small, &cap) == -1)
				goto out;
			if (obj)
				bits[depth / 64] |= 1ULL << (depth % 64);
			else
				bits[depth / 64] &= ~(1ULL << (depth % 64));
			if (++depth > (size_t)s->maxdepth)
				s->maxdepth = depth > INT_MAX ? INT_MAX :
				    (int)depth;
			skip_ws(s);
			if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
				s->p++;
				depth--;
			} else {
				if (obj && scan_name(s) == -1)
					goto out;
				continue;	/* the first value */
			}
		} else if (scan_scalar(s) == -1)
			goto out;
		if ((obj = scan_after(s, bits, &depth)) != 0) {
			rc = obj == 1 ? 0 : -1;
			goto out;
		}
	}
out:
	if (bits != small)
		free(bits);
	return rc;
}

int
json_scan(const char *buf, size_t len, struct json_stats *st)
{
	struct scan	 s = { buf, buf + len, 0, 0 };

	if (scan_all(&s) == -1)
		return -1;
	skip_ws(&s);
	if (st != NULL) {
		st->depth = s.maxdepth;
		st->flags = s.flags;
	}
	return s.p == s.end ? 0 : -1;
}

int
json_validate(const char *buf, size_t len, int *depth)
{
	struct json_stats	 st;

	if (json_scan(buf, len, &st) == -1)
		return -1;
	if (depth != NULL)
		*depth = st.depth;
	return 0;
}

/*
 * Skip one value of text already validated: strings by memchr for their
 * closing quote, containers by counting brackets outside strings. Far
 * cheaper than scan_value, and safe only because the text was validated.
 */
static void
skip_string(struct scan *s)
{
	const char	*q, *b;

	for (s->p++;; s->p = q + 1) {
		q = memchr(s->p, '"', (size_t)(s->end - s->p));
		for (b = q; b > s->p && b[-1] == '\\'; b--)
			continue;
		if ((q - b) % 2 == 0) {
			s->p = q + 1;
			return;
		}
	}
}

/*
 * What skip_value stops at inside a container, and what ends a number
 * or a literal.
 */
static const unsigned char structural[256] = {
	['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1
};
static const unsigned char delimiter[256] = {
	[','] = 1, ['}'] = 1, [']'] = 1, [' '] = 1, ['\t'] = 1, ['\n'] = 1,
	['\r'] = 1
};

static void
skip_value(struct scan *s)
{
	int	 depth = 0;

	if (*s->p == '"') {
		skip_string(s);
		return;
	}
	if (*s->p != '{' && *s->p != '[') {
		while (s->p < s->end && !delimiter[(unsigned char)*s->p])
			s->p++;
		return;
	}
	do {
		while (!structural[(unsigned char)*s->p])
			s->p++;
		if (*s->p == '"') {
			skip_string(s);
			continue;
		}
		if (*s->p == '{' || *s->p == '[')
			depth++;
		else
			depth--;
		s->p++;
	} while (depth > 0);
}

/*
 * Walk the members of a validated object. For each one, *key is the raw
 * key without quotes, *val the value and *start the opening quote of the
 * key. Returns 1 per member, 0 at the end.
 */
static int
next_member(struct scan *s, struct json_span *key, struct json_span *val,
    const char **start)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p == '}')
		return 0;
	if (*s->p == '{' || *s->p == ',') {
		s->p++;
		skip_ws(s);
		if (*s->p == '}')
			return 0;
	}
	*start = s->p;
	key->p = s->p + 1;
	skip_string(s);
	key->len = (size_t)(s->p - key->p - 1);
	skip_ws(s);
	s->p++;				/* ':' */
	skip_ws(s);
	val->p = s->p;
	skip_value(s);
	val->len = (size_t)(s->p - val->p);
	return 1;
}

/*
 * Whether the raw name k (a validated string without its quotes) decodes
 * to key. The names sought are ASCII, so an
 * escape for anything else never matches.
 */
static int
key_is(struct json_span k, const char *key)
{
	const char	*p = k.p, *end = k.p + k.len;
	int		 c;

	for (; p < end; key++) {
		if (*key == '\0')
			return 0;
		if (*p != '\\') {
			c = (unsigned char)*p++;
		} else {
			switch (p[1]) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': c = hex4(p + 2); p += 4; break;
			default: c = (unsigned char)p[1]; break;
			}
			p += 2;
		}
		if (c != (unsigned char)*key)
			return 0;
	}
	return *key == '\0';
}

int
json_members(struct json_span obj, const char *const *keys, size_t n,
    struct json_span *vals)
{
	struct scan		 s = { obj.p, obj.p + obj.len, 0, 0 };
	struct json_span	 k, v;
	const char		*start;
	size_t			 i;
	int			 found = 0;

	for (i = 0; i < n; i++)
		vals[i].p = NULL, vals[i].len = 0;
	if (obj.p == NULL || obj.len == 0 || *obj.p != '{')
		return 0;
	while ((size_t)found < n && next_member(&s, &k, &v, &start))
		for (i = 0; i < n; i++)
			if (vals[i].p == NULL && key_is(k, keys[i])) {
				vals[i] = v;
				found++;
				break;
			}
	return found;
}

int
json_member(struct json_span obj, const char *key, struct json_span *val)
{
	return json_members(obj, &key, 1, val);
}

int
json_next_member(struct json_span obj, size_t *pos, struct json_span *key,
    struct json_span *val)
{
	struct scan	 s = { obj.p + *pos, obj.p + obj.len, 0, 0 };
	const char	*start;

	key->p = val->p = NULL;
	key->len = val->len = 0;
	if (obj.p == NULL || obj.len == 0 || *obj.p != '{' || *pos >= obj.len)
		return 0;
	if (!next_member(&s, key, val, &start)) {
		*pos = obj.len;
		key->p = val->p = NULL;
		return 0;
	}
	*pos = (size_t)(s.p - obj.p);
	return 1;
}

int
json_name_is(struct json_span name, const char *key)
{
	return key_is(name, key);
}

int
json_next(struct json_span arr, size_t *pos, struct json_span *el)
{
	struct scan	 s = { arr.p + *pos, arr.p + arr.len, 0, 0 };

	el->p = NULL;
	el->len = 0;
	if (arr.p == NULL || arr.len == 0 || *arr.p != '[' || *pos >= arr.len)
		return 0;
	skip_ws(&s);
	if (*s.p == '[' || *s.p == ',') {
		s.p++;
		skip_ws(&s);
	}
	if (s.p >= s.end || *s.p == ']') {
		*pos = arr.len;
		return 0;
	}
	el->p = s.p;
	skip_value(&s);
	el->len = (size_t)(s.p - el->p);
	*pos = (size_t)(s.p - arr.p);
	return 1;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct json_span
json_start(const char *buf, size_t len)
{
	struct json_span	 s = { buf, len };

	while (s.len > 0 && is_ws(*s.p))
		s.p++, s.len--;
	return s;
}

size_t
json_without(struct json_span obj, struct json_span val, char *out)
{
	const char	*from, *to, *q;

	/* Back from the value over ':' to the key's opening quote. */
	for (q = val.p - 1; is_ws(*q); q--)
		continue;
	for (q--; is_ws(*q); q--)
		continue;
	for (q--; *q != '"' || q[-1] == '\\'; q--)
		continue;
	from = q;
	to = val.p + val.len;
	/* Drop the comma before the member, or else the one after it. */
	for (q = from - 1; is_ws(*q); q--)
		continue;
	if (*q == ',')
		from = q;
	else {
		for (q = to; is_ws(*q); q++)
			continue;
		if (*q == ',')
			for (to = q + 1; is_ws(*to); to++)
				continue;
	}
	memmove(out, obj.p, (size_t)(from - obj.p));
	memmove(out + (from - obj.p), to, (size_t)(obj.p + obj.len - to));
	return obj.len - (size_t)(to - from);
}

size_t
json_string_nuls(struct json_span str)
{
	const char	*p, *end;
	size_t		 n = 0;

	if (str.p == NULL || str.len < 2 || *str.p != '"')
		return 0;
	end = str.p + str.len - 1;
	for (p = str.p + 1; p < end &&
	    (p = memchr(p, '\\', (size_t)(end - p))) != NULL; p += 2)
		if (p[1] == 'u' && hex4(p + 2) == 0)
			n++;
	return n;
}


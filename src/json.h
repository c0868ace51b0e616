/*
 * clerksync — json: a strict RFC 8259 scanner over raw bytes.
 * It validates and finds the byte spans of values, so that JSON columns
 * store exactly what Clerk sent (no round trip through doubles or C
 * strings). It never allocates; spans point into the caller's buffer.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_JSON_H
#define CLERKSYNC_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH	64	/* nesting of arrays and objects */

struct json_span {
	const char	*p;	/* NULL: absent */
	size_t		 len;
};

/*
 * 0 if buf[0..len) is exactly one JSON value with optional whitespace
 * around it, nested at most JSON_MAX_DEPTH deep, no member name holding
 * U+0000; else -1. Bytes >= 0x80
 * are passed through (the caller checks UTF-8). If depth is not NULL it
 * receives the deepest nesting seen.
 */
int	json_validate(const char *buf, size_t len, int *depth);

/*
 * In obj, the span of a validated JSON object, find in one pass the first
 * member named by each of keys[0..n), with escapes in names decoded as
 * cJSON decodes them (json_validate refuses names holding U+0000). vals[i] is the value's span, or p == NULL if absent.
 * Returns how many were found.
 */
int	json_members(struct json_span obj, const char *const *keys, size_t n,
	    struct json_span *vals);

/* buf[0..len) from its first byte that is not JSON whitespace. */
struct json_span json_start(const char *buf, size_t len);

/* json_members for one key: 1 found, 0 not. */
int	json_member(struct json_span obj, const char *key,
	    struct json_span *val);

/*
 * Walk arr, the span of a validated JSON array: *pos is 0 at the start.
 * Returns 1 with el set to the next element, or 0 at the end.
 */
int	json_next(struct json_span arr, size_t *pos, struct json_span *el);

/*
 * Copy obj to out (obj.len bytes available; out may be obj.p) without
 * the member whose value span val came from json_members on obj; the
 * result is still a valid object. Returns the length written.
 */
size_t	json_without(struct json_span obj, struct json_span val, char *out);

/*
 * 0 if validated text buf[0..len) certainly holds no \u0000 escape: a
 * cheap test before the exact one.
 */
int	json_maybe_nul(const char *buf, size_t len);

/* 1 if str, the span of a validated JSON string, holds \u0000. */
int	json_string_has_nul(struct json_span str);

#endif

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
 * around it, nested at most JSON_MAX_DEPTH deep; else -1. Bytes >= 0x80
 * are passed through (the caller checks UTF-8). If depth is not NULL it
 * receives the deepest nesting seen.
 */
int	json_validate(const char *buf, size_t len, int *depth);

/*
 * In obj, the span of a validated JSON object, find the first member
 * whose key is exactly key (compared as raw bytes: escaped keys do not
 * match). Returns 1 with *val set to the value's span, or 0.
 */
int	json_member(struct json_span obj, const char *key,
	    struct json_span *val);

/*
 * Copy obj to out (obj.len bytes available) without the member key, so
 * that the result is still a valid object. Returns the length written.
 */
size_t	json_without(struct json_span obj, const char *key, char *out);

#endif

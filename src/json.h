/*
 * clerksync — json: a strict RFC 8259 scanner over raw bytes.
 * It validates and finds the byte spans of values, so that JSON columns
 * store exactly what Clerk sent (no round trip through doubles or C
 * strings). It allocates only for nesting deeper than JSON_STACK_DEPTH;
 * spans point into the caller's buffer.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_JSON_H
#define CLERKSYNC_JSON_H

#include <stddef.h>

#define JSON_STACK_DEPTH	1024	/* levels tracked without malloc */

#define JSON_LONE_SURROGATE	0x1	/* a \uD800-\uDFFF escape unpaired */

struct json_span {
	const char	*p;	/* NULL: absent */
	size_t		 len;
};

struct json_stats {
	int		 depth;		/* the deepest nesting seen */
	unsigned int	 flags;		/* JSON_LONE_SURROGATE */
};

/*
 * 0 if buf[0..len) is exactly one JSON value with optional whitespace
 * around it, at any depth (no recursion; one bit a level on the heap
 * beyond JSON_STACK_DEPTH); else -1, also when that memory runs out.
 * Bytes >= 0x80 are passed through (the caller checks UTF-8). If st is
 * not NULL it receives the deepest nesting and the flags.
 */
int	json_scan(const char *buf, size_t len, struct json_stats *st);

/* json_scan that gives only the depth, if depth is not NULL. */
int	json_validate(const char *buf, size_t len, int *depth);

/*
 * In obj, the span of a validated JSON object, find in one pass the first
 * member named by each of keys[0..n), with escapes in names decoded (a
 * name holding U+0000 or any other escape is compared in full). vals[i]
 * is the value's span, or p == NULL if absent.
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
 * Walk the members of obj, the span of a validated JSON object: *pos is 0
 * at the start. Returns 1 with name (the raw name, without its quotes)
 * and val set to the next member, or 0 at the end.
 */
int	json_next_member(struct json_span obj, size_t *pos,
	    struct json_span *name, struct json_span *val);

/* 1 if name, a raw name from json_next_member, decodes to key. */
int	json_name_is(struct json_span name, const char *key);

/*
 * Copy obj to out (obj.len bytes available; out may be obj.p) without
 * the member whose value span val came from json_members on obj; the
 * result is still a valid object. Returns the length written.
 */
size_t	json_without(struct json_span obj, struct json_span val, char *out);

/*
 * How many \u0000 escapes str, the span of a validated JSON string,
 * holds: the NUL bytes of its decoded text, since validated text holds
 * no raw control character and no other escape decodes to a NUL.
 */
size_t	json_string_nuls(struct json_span str);

#endif

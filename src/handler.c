/*
 * clerksync — handler: the decision over one request, and the only
 * status map (SPEC section 1). Pure: the I/O is serve.c's.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "num.h"
#include "pull.h"
#include "sig.h"

const struct handler_row handler_rows[HANDLER__MAX] = {
	[HANDLER_APPLIED] = { 200, "applied", NULL, 1 },
	[HANDLER_DUPLICATE] = { 200, "duplicate", NULL, 1 },
	[HANDLER_STALE] = { 200, "stale", NULL, 1 },
	[HANDLER_IGNORED] = { 200, "ignored", NULL, 0 },
	[HANDLER_METHOD] = { 405, "method_not_allowed",
	    "only POST is accepted", 0 },
	[HANDLER_LENGTH_REQUIRED] = { 411, "length_required",
	    "a Content-Length is required", 0 },
	[HANDLER_BAD_REQUEST] = { 400, "bad_request", "malformed request",
	    0 },
	[HANDLER_TOO_LARGE] = { 413, "payload_too_large",
	    "the body is larger than max_body", 0 },
	[HANDLER_MISSING_HEADERS] = { 400, "missing_headers", "svix-id, "
	    "svix-timestamp and svix-signature (or webhook-*) are required",
	    0 },
	[HANDLER_TIMESTAMP] = { 401, "timestamp_out_of_tolerance",
	    "the timestamp is unparsable or outside the tolerance", 0 },
	[HANDLER_SIGNATURE] = { 401, "invalid_signature",
	    "no signature matches", 0 },
	[HANDLER_PAYLOAD] = { 400, "invalid_payload",
	    "the body is not a valid event", 0 },
	[HANDLER_NOT_FOUND] = { 404, "not_found",
	    "Clerk has no such user or organization", 0 },
	[HANDLER_UNAVAILABLE] = { 503, "unavailable",
	    "temporarily unavailable, retry later", 0 },
	[HANDLER_INTERNAL] = { 500, "internal", "internal error", 0 },
};

static const enum handler_reply sig_reply[SIG__MAX] = {
	[SIG_OK] = HANDLER_APPLIED,
	[SIG_MISSING] = HANDLER_MISSING_HEADERS,
	[SIG_BAD_TIMESTAMP] = HANDLER_TIMESTAMP,
	[SIG_MISMATCH] = HANDLER_SIGNATURE,
	[SIG_BAD_BODY] = HANDLER_PAYLOAD,
};

const enum handler_reply handler_store_reply[STORE__MAX] = {
	[STORE_APPLIED] = HANDLER_APPLIED,
	[STORE_DUPLICATE] = HANDLER_DUPLICATE,
	[STORE_STALE] = HANDLER_STALE,
	[STORE_UNAVAILABLE] = HANDLER_UNAVAILABLE,
	[STORE_FAILED] = HANDLER_INTERNAL,
};

/* SPEC section 1, "Pull": answered like an event. */
const enum handler_reply handler_pull_reply[PULL__MAX] = {
	[PULL_APPLIED] = HANDLER_APPLIED,
	[PULL_STALE] = HANDLER_STALE,
	[PULL_DUPLICATE] = HANDLER_DUPLICATE,
	[PULL_IGNORED] = HANDLER_IGNORED,
	[PULL_NOT_FOUND] = HANDLER_NOT_FOUND,
	[PULL_BAD_ID] = HANDLER_PAYLOAD,
	[PULL_BUSY] = HANDLER_UNAVAILABLE,
	[PULL_UNAVAILABLE] = HANDLER_UNAVAILABLE,
	[PULL_FAILED] = HANDLER_INTERNAL,
};

static int
oversized(const char *v)
{
	return strnlen(v, HANDLER_HEADER_MAX + 1) > HANDLER_HEADER_MAX;
}

/* Svix ids are short printable ASCII; the events key is ascii_bin. */
static int
valid_svix_id(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i == STORE_SVIX_ID_MAX || s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return i > 0;
}

int
handler_head(const struct config *cf, struct handler_req *rq,
    enum handler_reply *r)
{
	const char	*v = rq->length;
	long long	 len;

	if (rq->method == NULL || strcmp(rq->method, "POST") != 0) {
		*r = HANDLER_METHOD;
		return -1;
	}
	/* SPEC section 1: the length is decided before the body is read. */
	if (v == NULL || *v == '\0') {
		*r = HANDLER_LENGTH_REQUIRED;
		return -1;
	}
	if (num_parse(v, strlen(v), 0, (long long)cf->max_body, &len) == -1) {
		/* Digits beyond max_body, however many, are too large. */
		if (strspn(v, "0123456789") == strlen(v)) {
			*r = HANDLER_TOO_LARGE;
			return -1;
		}
		rq->detail = "Content-Length is not a decimal number";
		*r = HANDLER_BAD_REQUEST;
		return -1;
	}
	if (rq->id == NULL || rq->ts == NULL || rq->sig == NULL ||
	    *rq->id == '\0' || *rq->ts == '\0' || *rq->sig == '\0') {
		*r = HANDLER_MISSING_HEADERS;
		return -1;
	}
	if (oversized(rq->id) || oversized(rq->ts) || oversized(rq->sig)) {
		rq->detail = "a signature header is too long";
		*r = HANDLER_BAD_REQUEST;
		return -1;
	}
	rq->len = (size_t)len;
	return 0;
}

enum handler_reply
handler_decide(const struct config *cf, struct handler_req *rq,
    struct event *ev)
{
	enum sig_result	 sr;
	long long	 ts;

	/*
	 * SPEC section 1: no database work before this verdict. A pull
	 * ("Pull") is verified with pull_secret only, never with the Svix
	 * secret, and an event with the Svix secret only: neither secret
	 * can stand in for the other.
	 */
	rq->pull = pull_is(rq->body, rq->len);
	if (rq->pull)
		sr = sig_verify(cf->pull_keys, cf->npull_keys, rq->id, rq->ts,
		    rq->sig, rq->body, rq->len, rq->now, cf->tolerance, &ts);
	else
		sr = sig_verify(cf->keys, cf->nkeys, rq->id, rq->ts, rq->sig,
		    rq->body, rq->len, rq->now, cf->tolerance, &ts);
	if (sr == SIG_BAD_BODY)
		rq->detail = "not UTF-8";
	if (sr == SIG_MISMATCH && rq->pull)
		rq->detail = cf->npull_keys == 0 ? "a pull, and pull_secret "
		    "is not set" : "a pull not signed with pull_secret";
	if (sr != SIG_OK)
		return sig_reply[sr];
	if (!valid_svix_id(rq->id)) {
		rq->detail = "svix-id must be 1 to 128 printable ASCII "
		    "characters";
		return HANDLER_PAYLOAD;
	}
	/* Only now is the id Svix's, not a stranger's: it may be logged. */
	rq->svix_id = rq->id;
	if (rq->pull) {
		rq->type = STORE_PULL_TYPE;
		rq->when = ts * 1000;
		if (pull_id(rq->body, rq->len, rq->pulled,
		    sizeof(rq->pulled)) == -1) {
			rq->detail = "a pull's data.id must be a user_ or org_ "
			    "id";
			return HANDLER_PAYLOAD;
		}
		rq->object = rq->pulled;
		return HANDLER_APPLIED;
	}
	if (event_parse(rq->body, rq->len, cf->sync_private_metadata,
	    cf->events, ev, &rq->detail) == -1)
		return HANDLER_PAYLOAD;
	rq->type = ev->type_name;
	rq->object = ev->object_id;
	if (ev->type == EVENT_OTHER)
		return HANDLER_IGNORED;
	/* SPEC section 2: without an envelope time, the svix-timestamp. */
	rq->when = ev->timestamp >= 0 ? ev->timestamp : ts * 1000;
	return HANDLER_APPLIED;
}

size_t
handler_answer(enum handler_reply r, const char *detail, char *buf,
    size_t bufsz)
{
	const struct handler_row *row = &handler_rows[r];
	int			 n;

	if (row->message == NULL)
		n = snprintf(buf, bufsz, "{\"status\":\"%s\"}", row->word);
	else
		n = snprintf(buf, bufsz,
		    "{\"error\":\"%s\",\"message\":\"%s%s%s\"}", row->word,
		    row->message, detail != NULL ? ": " : "",
		    detail != NULL ? detail : "");
	if (n < 0 || (size_t)n >= bufsz)
		n = snprintf(buf, bufsz, "{\"error\":\"%s\"}", row->word);
	return n < 0 || (size_t)n >= bufsz ? 0 : (size_t)n;
}

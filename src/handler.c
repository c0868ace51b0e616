/*
 * clerksync — handler: the request pipeline and the only status map.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "handler.h"
#include "log.h"
#include "num.h"
#include "pull.h"
#include "sig.h"

enum reply {
	R_APPLIED,
	R_DUPLICATE,
	R_STALE,
	R_IGNORED,
	R_METHOD,
	R_LENGTH_REQUIRED,
	R_BAD_REQUEST,
	R_TOO_LARGE,
	R_MISSING_HEADERS,
	R_TIMESTAMP,
	R_SIGNATURE,
	R_PAYLOAD,
	R_NOT_FOUND,
	R_UNAVAILABLE,
	R_INTERNAL,
	R__MAX
};

/* SPEC section 1, row by row: status, code (or status word), phrase. */
static const struct {
	int		 status;
	const char	*word;
	const char	*message;
} replies[R__MAX] = {
	{ 200, "applied", NULL },
	{ 200, "duplicate", NULL },
	{ 200, "stale", NULL },
	{ 200, "ignored", NULL },
	{ 405, "method_not_allowed", "only POST is accepted" },
	{ 411, "length_required", "a Content-Length is required" },
	{ 400, "bad_request", "malformed request" },
	{ 413, "payload_too_large", "the body is larger than max_body" },
	{ 400, "missing_headers", "svix-id, svix-timestamp and "
	    "svix-signature (or webhook-*) are required" },
	{ 401, "timestamp_out_of_tolerance", "the timestamp is unparsable or "
	    "outside the tolerance" },
	{ 401, "invalid_signature", "no signature matches" },
	{ 400, "invalid_payload", "the body is not a valid event" },
	{ 404, "not_found", "Clerk has no such user or organization" },
	{ 503, "unavailable", "temporarily unavailable, retry later" },
	{ 500, "internal", "internal error" },
};

static const enum reply sig_reply[SIG__MAX] = {
	[SIG_OK] = R_APPLIED,
	[SIG_MISSING] = R_MISSING_HEADERS,
	[SIG_BAD_TIMESTAMP] = R_TIMESTAMP,
	[SIG_MISMATCH] = R_SIGNATURE,
	[SIG_BAD_BODY] = R_PAYLOAD,
};

/* SPEC section 1, "Pull": answered like an event. */
static const enum reply pull_reply[PULL__MAX] = {
	[PULL_APPLIED] = R_APPLIED,
	[PULL_STALE] = R_STALE,
	[PULL_DUPLICATE] = R_DUPLICATE,
	[PULL_IGNORED] = R_IGNORED,
	[PULL_NOT_FOUND] = R_NOT_FOUND,
	[PULL_BAD_ID] = R_PAYLOAD,
	[PULL_BUSY] = R_UNAVAILABLE,
	[PULL_UNAVAILABLE] = R_UNAVAILABLE,
	[PULL_FAILED] = R_INTERNAL,
};

static const enum reply store_reply[STORE__MAX] = {
	[STORE_APPLIED] = R_APPLIED,
	[STORE_DUPLICATE] = R_DUPLICATE,
	[STORE_STALE] = R_STALE,
	[STORE_UNAVAILABLE] = R_UNAVAILABLE,
	[STORE_FAILED] = R_INTERNAL,
};

/*
 * What one request leaves for its log line: the svix-id once verified,
 * the type and object id once parsed (all escaped when logged).
 */
struct req {
	const char	*svix_id;
	const char	*type;
	const char	*object;
	const char	*detail;	/* fixed phrase, or NULL */
	int		 wait;		/* a pull's Retry-After; 0: none */
	char		 pulled[EVENT_ID_MAX + 1];	/* a pull's id */
};

/* The message is one of ours: a fixed phrase, never request data. */
static void
answer(struct http *h, enum reply r, const char *detail, int wait)
{
	char		 body[512], retry[64];
	const char	*hdr = r == R_METHOD ? "Allow: POST\r\n" : NULL;
	int		 n;

	if (r == R_UNAVAILABLE && wait > 0) {
		snprintf(retry, sizeof(retry), "Retry-After: %d\r\n", wait);
		hdr = retry;
	}

	if (replies[r].message == NULL)
		n = snprintf(body, sizeof(body), "{\"status\":\"%s\"}",
		    replies[r].word);
	else
		n = snprintf(body, sizeof(body),
		    "{\"error\":\"%s\",\"message\":\"%s%s%s\"}",
		    replies[r].word, replies[r].message,
		    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}",
		    replies[r].word);
	if (http_reply(h, replies[r].status, hdr, body, (size_t)n) == -1)
		log_warnx("could not send the answer");
}

static int
oversized(const char *v)
{
	return v != NULL && strnlen(v, HANDLER_HEADER_MAX + 1) >
	    HANDLER_HEADER_MAX;
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

/*
 * One body buffer for the process, grown as needed and given back after a
 * request larger than HANDLER_BODY_KEEP, so that a persistent process
 * neither allocates per request nor holds on to a rare large body.
 */
static char	*body_buf;
static size_t	 body_cap;

static char *
body_buffer(size_t len)
{
	char	*p;

	/* One extra byte so that an empty body still has a buffer. */
	if (len + 1 > body_cap) {
		if ((p = realloc(body_buf, len + 1)) == NULL)
			return NULL;
		body_buf = p;
		body_cap = len + 1;
	}
	return body_buf;
}

static void
body_release(void)
{
	if (body_cap > HANDLER_BODY_KEEP) {
		free(body_buf);
		body_buf = NULL;
		body_cap = 0;
	}
}

/*
 * The pipeline. The caller owns *body and *ev (zeroed) and frees them
 * after the log line, whose fields point into them.
 */
static enum reply
serve(struct handler *hd, struct http *h, struct req *rq, char **body,
    struct event *ev, char *err, size_t errsz)
{
	const struct config	*cf = hd->cf;
	const char		*v, *id, *tsh, *sigh;
	long long		 len, ts;
	enum sig_result		 sr;
	enum pull_result	 pr;
	int			 pull;

	if (cf == NULL) {
		/* SPEC section 4: keep Svix retrying until it is fixed. */
		snprintf(err, errsz, "configuration: %s", hd->cferr);
		return R_UNAVAILABLE;
	}
	if ((v = http_param(h, "REQUEST_METHOD")) == NULL ||
	    strcmp(v, "POST") != 0)
		return R_METHOD;

	/* SPEC section 1: the length is decided before the body is read. */
	if ((v = http_param(h, "CONTENT_LENGTH")) == NULL || *v == '\0')
		return R_LENGTH_REQUIRED;
	if (num_parse(v, strlen(v), 0, (long long)cf->max_body, &len) == -1) {
		/* Digits beyond max_body, however many, are too large. */
		if (*v != '\0' && strspn(v, "0123456789") == strlen(v))
			return R_TOO_LARGE;
		rq->detail = "Content-Length is not a decimal number";
		return R_BAD_REQUEST;
	}

	id = sig_pick(http_param(h, "HTTP_SVIX_ID"),
	    http_param(h, "HTTP_WEBHOOK_ID"));
	tsh = sig_pick(http_param(h, "HTTP_SVIX_TIMESTAMP"),
	    http_param(h, "HTTP_WEBHOOK_TIMESTAMP"));
	sigh = sig_pick(http_param(h, "HTTP_SVIX_SIGNATURE"),
	    http_param(h, "HTTP_WEBHOOK_SIGNATURE"));
	if (id == NULL || tsh == NULL || sigh == NULL ||
	    *id == '\0' || *tsh == '\0' || *sigh == '\0')
		return R_MISSING_HEADERS;
	if (oversized(id) || oversized(tsh) || oversized(sigh)) {
		rq->detail = "a signature header is too long";
		return R_BAD_REQUEST;
	}

	if ((*body = body_buffer((size_t)len)) == NULL) {
		snprintf(err, errsz, "out of memory for %lld bytes", len);
		return R_INTERNAL;
	}
	if (http_read(h, *body, (size_t)len) == -1) {
		rq->detail = "the body is shorter than Content-Length";
		return R_BAD_REQUEST;
	}

	/*
	 * SPEC section 1: no database work before this verdict. A pull
	 * ("Pull") is verified with pull_secret only, never with the Svix
	 * secret, and an event with the Svix secret only: neither secret
	 * can stand in for the other.
	 */
	pull = pull_is(*body, (size_t)len);
	if (pull)
		sr = sig_verify(cf->pull_keys, cf->npull_keys, id, tsh, sigh,
		    *body, (size_t)len, (long long)time(NULL), cf->tolerance,
		    &ts);
	else
		sr = sig_verify(cf->keys, cf->nkeys, id, tsh, sigh, *body,
		    (size_t)len, (long long)time(NULL), cf->tolerance, &ts);
	if (sr == SIG_BAD_BODY)
		rq->detail = "not UTF-8";
	if (sr == SIG_MISMATCH && pull)
		rq->detail = cf->npull_keys == 0 ? "a pull, and pull_secret "
		    "is not set" : "a pull not signed with pull_secret";
	if (sr != SIG_OK)
		return sig_reply[sr];
	if (!valid_svix_id(id)) {
		rq->detail = "svix-id must be 1 to 128 printable ASCII "
		    "characters";
		return R_PAYLOAD;
	}
	/* Only now is the id Svix's, not a stranger's: it may be logged. */
	rq->svix_id = id;
	if (pull) {
		rq->type = STORE_PULL_TYPE;
		pr = pull_serve(cf, hd->st, *body, (size_t)len, id, ts,
		    rq->pulled, sizeof(rq->pulled), &rq->wait, &rq->detail,
		    err, errsz);
		rq->object = rq->pulled;
		if (pull_reply[pr] != R_UNAVAILABLE)
			rq->wait = 0;
		return pull_reply[pr];
	}
	if (event_parse(*body, (size_t)len, cf->sync_private_metadata,
	    cf->events, ev, &rq->detail) == -1)
		return R_PAYLOAD;
	rq->type = ev->type_name;
	rq->object = ev->object_id;
	if (ev->type == EVENT_OTHER)
		return R_IGNORED;
	/* SPEC section 2: without an envelope time, the svix-timestamp. */
	return store_reply[store_apply(hd->st, ev, id,
	    ev->timestamp >= 0 ? ev->timestamp : ts * 1000, err, errsz)];
}

int
handler_serve(struct handler *hd, struct http *h)
{
	struct req	 rq;
	struct event	 ev;
	struct timespec	 t0, t1;
	char		*body = NULL;
	char		 err[512] = "";
	char		 sid[LOG_VALUE_MAX], type[LOG_VALUE_MAX];
	char		 obj[LOG_VALUE_MAX], words[sizeof(err) * 4];
	enum reply	 r;
	double		 ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&rq, 0, sizeof(rq));
	memset(&ev, 0, sizeof(ev));
	r = serve(hd, h, &rq, &body, &ev, err, sizeof(err));
	answer(h, r, r == R_BAD_REQUEST || r == R_PAYLOAD ? rq.detail : NULL,
	    rq.wait);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;

	/*
	 * Each value that came with the request is escaped into one field
	 * (log_value), each phrase quoted, so that no request can write
	 * "outcome=applied" into the line of another.
	 */
	log_value(sid, sizeof(sid), rq.svix_id);
	if (err[0] != '\0')
		log_errx("svix_id=%s error=%s", sid,
		    log_quoted(words, sizeof(words), err));
	if (ev.warning != NULL)
		log_warnx("svix_id=%s warning=%s", sid,
		    log_quoted(words, sizeof(words), ev.warning));
	log_info("svix_id=%s type=%s object=%s outcome=%s status=%d "
	    "ms=%.1f%s%s", sid, log_value(type, sizeof(type), rq.type),
	    log_value(obj, sizeof(obj), rq.object), replies[r].word,
	    replies[r].status, ms, rq.detail ? " detail=" : "",
	    rq.detail ? log_quoted(words, sizeof(words), rq.detail) : "");
	event_free(&ev);
	body_release();
	return r == R_APPLIED || r == R_DUPLICATE || r == R_STALE;
}

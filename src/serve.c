/*
 * clerksync — serve: one request's I/O around handler.c's decision:
 * read it from http, apply it through the store (or, for a pull, fetch
 * it from the Backend API first), answer, log one line.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backfill.h"
#include "clerkapi.h"
#include "handler.h"
#include "log.h"
#include "num.h"
#include "sig.h"

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
 * The message is one of ours: a fixed phrase, never request data. wait
 * (> 0): a 503's Retry-After.
 */
static void
answer(struct http *h, enum handler_reply r, const char *detail, int wait)
{
	char		 body[HANDLER_ANSWER_MAX], retry[64];
	const char	*hdr = r == HANDLER_METHOD ? "Allow: POST\r\n" : NULL;
	size_t		 n;

	if (r == HANDLER_UNAVAILABLE && wait > 0) {
		snprintf(retry, sizeof(retry), "Retry-After: %d\r\n", wait);
		hdr = retry;
	}

	n = handler_answer(r, detail, body, sizeof(body));
	if (http_reply(h, handler_rows[r].status, hdr, body, n) == -1)
		log_warnx("could not send the answer");
}

/* The gate of every API request of a pull: one from the shared budget. */
static int
gate(void *arg, int *wait, char *err, size_t errsz)
{
	return store_budget(arg, wait, err, errsz);
}

static const enum pull_result pull_written[STORE__MAX] = {
	[STORE_APPLIED] = PULL_APPLIED,
	[STORE_DUPLICATE] = PULL_DUPLICATE,
	[STORE_STALE] = PULL_STALE,
	[STORE_UNAVAILABLE] = PULL_UNAVAILABLE,
	[STORE_FAILED] = PULL_FAILED,
};

/*
 * SPEC section 1, "Pull": fetch rq->pulled from the Backend API within
 * PULL_API_TIME and the shared budget, and write it as sync does. *wait
 * gets the seconds for a Retry-After.
 */
static enum pull_result
serve_pull(struct handler *hd, struct handler_req *rq, int *wait,
    char *err, size_t errsz)
{
	struct clerkapi		*a = NULL;
	enum store_result	 res = STORE_FAILED;
	enum pull_result	 rc = PULL_FAILED;
	int			 seen;

	*wait = PULL_RETRY_DEFAULT;
	if (!backfill_id_valid(rq->pulled)) {
		rq->detail = "a pull's data.id must be a user_ or org_ id";
		return PULL_BAD_ID;
	}
	/* A repeated webhook-id costs no request. */
	if ((seen = store_pull_seen(hd->st, rq->svix_id, err, errsz)) == -1)
		return PULL_UNAVAILABLE;
	if (seen)
		return PULL_DUPLICATE;

	/* SPEC section 4: without a key the pull cannot be done. */
	if ((a = clerkapi_open(hd->cf, PULL_API_TIME, err, errsz)) == NULL)
		return PULL_UNAVAILABLE;
	clerkapi_set_once(a, PULL_API_TIME, gate, hd->st);
	switch (backfill_pull(hd->cf, hd->st, a, rq->pulled, rq->svix_id,
	    rq->when, &res, err, errsz)) {
	case BACKFILL_PULL_WRITTEN:
		rc = pull_written[res];
		break;
	case BACKFILL_PULL_GONE:
		/*
		 * Not marked deleted: a pull comes from the app, and one
		 * 404 must not let it tombstone any id it names
		 * (reconcile and sync weigh such marks; webhooks bring
		 * the deletes).
		 */
		rc = PULL_NOT_FOUND;
		break;
	case BACKFILL_PULL_IGNORED:
		rc = PULL_IGNORED;
		break;
	case BACKFILL_PULL_BAD_ID:
		rq->detail = "a pull's data.id must be a user_ or org_ id";
		rc = PULL_BAD_ID;
		break;
	case BACKFILL_PULL_API:
		if (clerkapi_retry_after(a) > 0)
			*wait = clerkapi_retry_after(a);
		rc = PULL_BUSY;
		break;
	default:
		rc = PULL_BUSY;	/* an answer that was not Clerk's */
		break;
	}
	clerkapi_close(a);
	return rc;
}

/* The pipeline. The caller owns ev (zeroed) and frees it after the log. */
static enum handler_reply
serve(struct handler *hd, struct http *h, struct handler_req *rq,
    struct event *ev, char *err, size_t errsz)
{
	enum handler_reply	 r;
	char			*body;

	if (hd->cf == NULL) {
		/* SPEC section 4: keep Svix retrying until it is fixed. */
		snprintf(err, errsz, "configuration: %s", hd->cferr);
		return HANDLER_UNAVAILABLE;
	}
	rq->method = http_param(h, "REQUEST_METHOD");
	rq->length = http_param(h, "CONTENT_LENGTH");
	rq->id = sig_pick(http_param(h, "HTTP_SVIX_ID"),
	    http_param(h, "HTTP_WEBHOOK_ID"));
	rq->ts = sig_pick(http_param(h, "HTTP_SVIX_TIMESTAMP"),
	    http_param(h, "HTTP_WEBHOOK_TIMESTAMP"));
	rq->sig = sig_pick(http_param(h, "HTTP_SVIX_SIGNATURE"),
	    http_param(h, "HTTP_WEBHOOK_SIGNATURE"));
	if (handler_head(hd->cf, rq, &r) == -1)
		return r;
	if ((body = body_buffer(rq->len)) == NULL) {
		snprintf(err, errsz, "out of memory for %zu bytes", rq->len);
		return HANDLER_INTERNAL;
	}
	if (http_read(h, body, rq->len) == -1) {
		rq->detail = "the body is shorter than Content-Length";
		return HANDLER_BAD_REQUEST;
	}
	rq->body = body;
	rq->now = (long long)time(NULL);
	if ((r = handler_decide(hd->cf, rq, ev)) != HANDLER_APPLIED)
		return r;
	if (rq->pull) {
		r = handler_pull_reply[serve_pull(hd, rq, &rq->wait, err,
		    errsz)];
		if (r != HANDLER_UNAVAILABLE)
			rq->wait = 0;
		return r;
	}
	return handler_store_reply[store_apply(hd->st, ev, rq->svix_id,
	    rq->when, err, errsz)];
}

int
handler_serve(struct handler *hd, struct http *h)
{
	struct handler_req	 rq;
	struct event		 ev;
	char			 err[512] = "";
	char			 sid[LOG_VALUE_MAX], type[LOG_VALUE_MAX];
	char			 obj[LOG_VALUE_MAX], words[sizeof(err) * 4];
	enum handler_reply	 r;
	double			 t0, ms;

	t0 = num_seconds();
	memset(&rq, 0, sizeof(rq));
	memset(&ev, 0, sizeof(ev));
	r = serve(hd, h, &rq, &ev, err, sizeof(err));
	answer(h, r, r == HANDLER_BAD_REQUEST || r == HANDLER_PAYLOAD ?
	    rq.detail : NULL, rq.wait);
	ms = (num_seconds() - t0) * 1e3;

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
	    log_value(obj, sizeof(obj), rq.object), handler_rows[r].word,
	    handler_rows[r].status, ms, rq.detail ? " detail=" : "",
	    rq.detail ? log_quoted(words, sizeof(words), rq.detail) : "");
	event_free(&ev);
	body_release();
	return handler_rows[r].stored;
}

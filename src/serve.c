/*
 * clerksync — serve: one request's I/O around handler.c's decision:
 * read it from http, apply it through the store, answer, log one line.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The message is one of ours: a fixed phrase, never request data. */
static void
answer(struct http *h, enum handler_reply r, const char *detail)
{
	char		 body[HANDLER_ANSWER_MAX];
	const char	*hdr = r == HANDLER_METHOD ? "Allow: POST\r\n" : NULL;
	size_t		 n;

	n = handler_answer(r, detail, body, sizeof(body));
	if (http_reply(h, handler_rows[r].status, hdr, body, n) == -1)
		log_warnx("could not send the answer");
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
	    rq.detail : NULL);
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

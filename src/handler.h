/*
 * clerksync — handler: request -> sig -> event -> store -> answer.
 * The only place that maps outcomes to HTTP status codes (SPEC section 1).
 * handler.c decides (pure, over a struct handler_req); serve.c does the
 * I/O: reads the request, asks the store, answers and logs.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_HANDLER_H
#define CLERKSYNC_HANDLER_H

#include <stddef.h>

#include "config.h"
#include "event.h"
#include "http.h"
#include "pull.h"
#include "store.h"

#define HANDLER_HEADER_MAX	8192	/* bytes of one svix-* header */
#define HANDLER_BODY_KEEP	(64 * 1024)	/* body buffer kept between requests */
#define HANDLER_ANSWER_MAX	512	/* bytes of a JSON answer */

/* SPEC section 1, row by row. */
enum handler_reply {
	HANDLER_APPLIED,
	HANDLER_DUPLICATE,
	HANDLER_STALE,
	HANDLER_IGNORED,
	HANDLER_METHOD,
	HANDLER_LENGTH_REQUIRED,
	HANDLER_BAD_REQUEST,
	HANDLER_TOO_LARGE,
	HANDLER_MISSING_HEADERS,
	HANDLER_TIMESTAMP,
	HANDLER_SIGNATURE,
	HANDLER_PAYLOAD,
	HANDLER_NOT_FOUND,
	HANDLER_UNAVAILABLE,
	HANDLER_INTERNAL,
	HANDLER__MAX
};

/*
 * Each reply's status, word (status or error code), fixed message, and
 * whether it means the store recorded the event (a connection is open).
 */
struct handler_row {
	int		 status;
	const char	*word;
	const char	*message;	/* NULL: a 200 */
	int		 stored;
};

extern const struct handler_row handler_rows[HANDLER__MAX];

/* The answer to each store result, and to each pull's. */
extern const enum handler_reply handler_store_reply[STORE__MAX];
extern const enum handler_reply handler_pull_reply[PULL__MAX];

/*
 * A request as the decision sees it. The caller sets the inputs (views,
 * NULL when absent); the decision sets the rest, views into the inputs
 * or fixed phrases.
 */
struct handler_req {
	const char	*method;	/* REQUEST_METHOD */
	const char	*length;	/* CONTENT_LENGTH */
	const char	*id;		/* svix-id, or else webhook-id */
	const char	*ts;		/* svix-timestamp, or webhook- */
	const char	*sig;		/* svix-signature, or webhook- */
	const char	*body;		/* len bytes, read after handler_head */
	long long	 now;		/* seconds since the epoch */

	size_t		 len;		/* out: of the body, from length */
	const char	*svix_id;	/* out: once verified (may be logged) */
	const char	*type;		/* out: once the event is parsed */
	const char	*object;
	const char	*detail;	/* out: fixed phrase for 400s, or NULL */
	long long	 when;		/* out: the event's time, ms */
	int		 pull;		/* out: a pull (SPEC section 1) */
	char		 pulled[EVENT_ID_MAX + 1];	/* out: its data.id */
	int		 wait;		/* serve's: a 503's Retry-After */
};

/*
 * Before the body is read (SPEC section 1: 405, 411, 413, 400 are
 * decided first): 0 to read rq->len bytes and call handler_decide, or -1
 * with *r the answer.
 */
int	handler_head(const struct config *cf, struct handler_req *rq,
	    enum handler_reply *r);

/*
 * With the body: verify, check and parse it into ev (zeroed; the caller
 * frees it). HANDLER_APPLIED means: apply ev at rq->when, or, with
 * rq->pull set, pull rq->pulled under rq->svix_id at rq->when (ev left
 * empty); anything else is the answer. A pull is verified with
 * pull_secret only, an event with signing_secret only.
 */
enum handler_reply handler_decide(const struct config *cf,
	    struct handler_req *rq, struct event *ev);

/*
 * The JSON answer of r (with detail after the message, for a 400) into
 * buf: its length. Never request data: detail is a fixed phrase.
 */
size_t	handler_answer(enum handler_reply r, const char *detail, char *buf,
	    size_t bufsz);

struct handler {
	const struct config	*cf;	/* NULL: configuration is broken */
	const char		*cferr;	/* then: the line naming the key */
	struct store		*st;
};

/*
 * serve.c: answer the request in hand and log one line about it. Returns
 * 1 when the request was verified and the store recorded it (applied,
 * stale or duplicate: a connection is open), else 0.
 */
int	handler_serve(struct handler *, struct http *);

#endif

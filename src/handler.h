/*
 * clerksync — handler: request -> sig -> event -> store -> answer.
 * The only place that maps outcomes to HTTP status codes (SPEC section 1).
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_HANDLER_H
#define CLERKSYNC_HANDLER_H

#include "config.h"
#include "http.h"
#include "store.h"

#define HANDLER_HEADER_MAX	8192	/* bytes of one svix-* header */
#define HANDLER_BODY_KEEP	(64 * 1024)	/* body buffer kept between requests */

struct handler {
	const struct config	*cf;	/* NULL: configuration is broken */
	const char		*cferr;	/* then: the line naming the key */
	struct store		*st;
};

/*
 * Answer the request in hand and log one line about it. Returns 1 when
 * the request was verified and the store recorded it (applied, stale or
 * duplicate: a connection is open), else 0.
 */
int	handler_serve(struct handler *, struct http *);

#endif

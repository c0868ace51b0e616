/*
 * clerksync — http: the only includer of fcgiapp.h. One request at a
 * time, as FastCGI (a listening socket on fd 0) or as CGI (RFC 3875:
 * environment and stdin, one request).
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_HTTP_H
#define CLERKSYNC_HTTP_H

#include <stddef.h>

struct http;

/* Decide the mode and set up; NULL on failure. */
struct http	*http_open(void);
int		 http_is_fastcgi(const struct http *);

/*
 * Wait for the next request. Returns 1 with a request in hand, or 0 when
 * there is none (CGI: after the first; FastCGI: on shutdown).
 */
int		 http_accept(struct http *);

/* A request variable (REQUEST_METHOD, HTTP_SVIX_ID, ...) or NULL. */
const char	*http_param(struct http *, const char *name);

/* Read exactly len bytes of body into buf: 0, or -1 if short. */
int		 http_read(struct http *, char *buf, size_t len);

/*
 * Send the whole answer: status, extra header lines (each ending in
 * "\r\n", or NULL) and a JSON body. Returns 0 or -1.
 */
int		 http_reply(struct http *, int status, const char *headers,
		    const char *body, size_t len);

/*
 * Flush the answer and end the request. Every view from http_param dies
 * here, so the request's log line is written before.
 */
void		 http_finish(struct http *);

/* Free; safe on NULL. */
void		 http_close(struct http *);

#endif

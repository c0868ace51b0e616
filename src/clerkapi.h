/*
 * clerksync — clerkapi: GET requests to Clerk's Backend API over HTTPS,
 * through libcurl, which is loaded only when a subcommand needs it (the
 * webhook path never pays for it). Paces itself under the rate limit,
 * honours 429 and Retry-After, retries 5xx and timeouts with backoff.
 * Never logs the secret key.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_CLERKAPI_H
#define CLERKSYNC_CLERKAPI_H

#include <stddef.h>

#include "config.h"

#define API_ATTEMPTS	6	/* tries in all on 5xx or timeout */
#define API_LIMITED_MAX	30	/* 429 answers to one request */
#define API_TIMEOUT	30	/* seconds, default per request */
#define API_BODY_MAX	(64 * 1024 * 1024)	/* bytes of one answer */

struct clerkapi;

struct clerkapi_stats {
	unsigned long	 requests;	/* sent, retries included */
	unsigned long	 retried;	/* after a 5xx or a timeout */
	unsigned long	 limited;	/* answered 429 */
};

/*
 * Load libcurl and prepare a connection to cf->clerk_api_url with
 * cf->clerk_secret_key. timeout is seconds per request (0: API_TIMEOUT).
 * Returns NULL with err set.
 */
struct clerkapi	*clerkapi_open(const struct config *cf, long timeout, char *err,
		    size_t errsz);

/*
 * GET path (from "/v1/...", query included). Returns 200 with *body and
 * *len set (valid until the next call), 404, or -1 with err set once the
 * retries are spent or the answer cannot succeed (401, 422, ...).
 */
int		 clerkapi_get(struct clerkapi *a, const char *path, const char **body,
		    size_t *len, char *err, size_t errsz);

/*
 * For a pull, which must be answered within what the web server allows:
 * from now on every request is tried once (a 429, a 5xx, a timeout or
 * any other failure makes clerkapi_get return -1 at once,
 * clerkapi_retry_after telling how long to wait), none starts or runs
 * past deadline seconds from now, and each is first allowed by
 * gate(arg, ...): 0 go, 1 over budget (with *retry_after set), -1
 * failure (err set).
 */
void		 clerkapi_set_once(struct clerkapi *a, double deadline,
		    int (*gate)(void *, int *, char *, size_t), void *arg);

/*
 * After a failed clerkapi_get in that mode: seconds to wait, from Clerk's
 * Retry-After or the gate's (at most API_RETRY_AFTER_MAX), or -1.
 */
int		 clerkapi_retry_after(const struct clerkapi *a);

/*
 * 1 if body[0..len), a 404's, is Clerk's answer for an object that does
 * not exist ({"errors":[{"code":"resource_not_found",...}]}); 0 if it
 * is anything else (a proxy's page, a wrong clerk_api_url).
 */
int		 clerkapi_not_found(const char *body, size_t len);

void		 clerkapi_stats(const struct clerkapi *a,
		    struct clerkapi_stats *out);

/* Safe on NULL. */
void		 clerkapi_close(struct clerkapi *a);

#endif

/*
 * clerksync — sig: Svix / Standard Webhooks signature verification.
 * Pure but for sig_init: no I/O, no clock, no globals.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_SIG_H
#define CLERKSYNC_SIG_H

#include <stddef.h>

#define SIG_KEY_MAX		128	/* bytes of a decoded secret */
#define SIG_KEYS_MAX		8	/* secrets configured at once */
#define SIG_MAX_ENTRIES		32	/* signature entries examined */
#define SIG_TOLERANCE_DEFAULT	300	/* seconds, both directions */
#define SIG_B64_LEN		44	/* base64 of an HMAC-SHA256 */

struct sig_key {
	unsigned char	 key[SIG_KEY_MAX];
	size_t		 len;
};

enum sig_result {
	SIG_OK,
	SIG_MISSING,		/* a header is absent or empty */
	SIG_BAD_TIMESTAMP,	/* unparsable or outside the window */
	SIG_MISMATCH,		/* no v1 entry matches any key */
	SIG_BAD_BODY,		/* signed, but not UTF-8 */
	SIG__MAX
};

extern const char *const sig_result_names[SIG__MAX];

/*
 * Once per process, before anything else starts OpenSSL: start it without
 * reading openssl.cnf or loading error strings. The HMAC needs neither,
 * a host's OpenSSL configuration stays out of the verdict, and
 * libmariadb's own start-up then finds both decided (callgrind: 1.9 M
 * instructions less per CGI request). Returns 0 or -1.
 */
int	sig_init(void);

/*
 * Decode one configured secret: ASCII whitespace around it is ignored, an
 * optional "whsec_" prefix is dropped and the rest must be standard
 * base64 (padding optional) of 1..SIG_KEY_MAX bytes. Returns 0 or -1.
 */
int	sig_key_decode(const char *secret, size_t len, struct sig_key *key);

/* The branded header if present (even empty), else the unbranded one. */
const char *sig_pick(const char *branded, const char *unbranded);

/*
 * Verify body[0..len) against the id, timestamp and signature headers
 * (NUL-terminated, any may be NULL) with each of nkeys keys, at time now
 * (unix seconds), accepting now-tolerance <= ts <= now+tolerance. The
 * first SIG_MAX_ENTRIES space-separated entries are examined; only "v1"
 * ones count. The MAC is compared as base64 text in constant time. A body
 * whose MAC matches but that is not UTF-8 gives SIG_BAD_BODY. On SIG_OK
 * *ts (if not NULL) holds the parsed timestamp.
 */
enum sig_result	sig_verify(const struct sig_key *keys, size_t nkeys,
		    const char *id, const char *tsh, const char *sigh,
		    const char *body, size_t len, long long now,
		    long long tolerance, long long *ts);

/* 1 if buf[0..len) is well-formed UTF-8 (RFC 3629), else 0. */
int	sig_utf8_valid(const char *buf, size_t len);

#endif

/*
 * libFuzzer target for src/sig.c.
 *
 * Input: [8: now, little endian][1: keylen 1..64][key][2: idlen][id]
 *        [1: tslen][ts][2: siglen][sig][body: the rest]
 * (tests/fuzz/seed.mjs writes svix-vectors.json in this shape.)
 *
 * Invariants:
 *  - sig_verify returns a value in range, and never SIG_OK or SIG_BAD_BODY
 *    unless the header carries, as a "v1,<mac>" entry among the first
 *    SIG_MAX_ENTRIES, the real HMAC (computed here with OpenSSL's HMAC(),
 *    not sig.c's code) for a timestamp inside the window;
 *  - SIG_OK only for UTF-8 bodies, SIG_BAD_BODY only for others, and on
 *    SIG_OK *ts is the timestamp;
 *  - a header built here with the real MAC for a derived message (fuzzed
 *    id and body, a timestamp inside the window, junk entries around it)
 *    verifies, with one key and with that key second of two; with another
 *    key it does not, nor one second outside the window on either side;
 *  - sig_utf8_valid agrees with a reference decoder;
 *  - sig_key_decode never accepts more than SIG_KEY_MAX bytes, and what it
 *    accepts survives a base64 round trip.
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sig.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_sig: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

#define TOL	300

struct rd {
	const uint8_t	*p;
	size_t		 n;
};

static int
take(struct rd *r, size_t want, const uint8_t **out)
{
	if (r->n < want)
		return -1;
	*out = r->p;
	r->p += want;
	r->n -= want;
	return 0;
}

static char *
cstr(const uint8_t *p, size_t n)
{
	char	*s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* RFC 3629, written the other way round from sig.c: by code point ranges. */
static int
ref_utf8(const uint8_t *s, size_t n)
{
	size_t	 i = 0;

	while (i < n) {
		uint8_t	 c = s[i];
		size_t	 k;
		uint8_t	 lo = 0x80, hi = 0xbf;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c == 0xe0) {
			k = 2;
			lo = 0xa0;
		} else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
			k = 2;
		else if (c == 0xed) {
			k = 2;
			hi = 0x9f;
		} else if (c == 0xf0) {
			k = 3;
			lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3)
			k = 3;
		else if (c == 0xf4) {
			k = 3;
			hi = 0x8f;
		} else
			return 0;
		if (n - i - 1 < k)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* JavaScript's parseInt(s, 10) on ASCII, as README says sig.c does. */
static int
ref_ts(const char *s, long long *out)
{
	long long	 v = 0;
	int		 neg = 0, nd = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
	    *s == '\v' || *s == '\f')
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	while (*s == '0' && s[1] >= '0' && s[1] <= '9')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++nd > 18)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (nd == 0)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

static void
real_mac(const struct sig_key *k, const char *id, long long ts,
    const uint8_t *body, size_t len, char out[SIG_B64_LEN + 1])
{
	unsigned char	 md[32];
	unsigned int	 mdlen = 0;
	char		 head[256];
	size_t		 idlen = strlen(id), hl;
	unsigned char	*msg;
	int		 n;

	n = snprintf(head, sizeof(head), ".%lld.", ts);
	CHECK(n > 0 && (size_t)n < sizeof(head));
	hl = (size_t)n;
	msg = malloc(idlen + hl + len + 1);
	CHECK(msg != NULL);
	memcpy(msg, id, idlen);
	memcpy(msg + idlen, head, hl);
	if (len)
		memcpy(msg + idlen + hl, body, len);
	CHECK(HMAC(EVP_sha256(), k->key, (int)k->len, msg, idlen + hl + len,
	    md, &mdlen) != NULL && mdlen == 32);
	free(msg);
	CHECK(EVP_EncodeBlock((unsigned char *)out, md, 32) == SIG_B64_LEN);
}

/* Does the header carry "v1,<mac>" among its first SIG_MAX_ENTRIES entries? */
static int
carries(const char *h, const char *mac)
{
	size_t	 entries = 0;
	const char *p = h, *e;

	while (*p != '\0' && entries < SIG_MAX_ENTRIES) {
		if (*p == ' ') {
			p++;
			continue;
		}
		for (e = p; *e != '\0' && *e != ' '; e++)
			continue;
		entries++;
		if (e - p >= 3 + SIG_B64_LEN && memcmp(p, "v1,", 3) == 0 &&
		    memcmp(p + 3, mac, SIG_B64_LEN) == 0 &&
		    (p + 3 + SIG_B64_LEN == e || p[3 + SIG_B64_LEN] == ','))
			return 1;
		p = e;
	}
	return 0;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd	 r = { data, size };
	const uint8_t	*p;
	struct sig_key	 k, k2, two[2], dk;
	long long	 now, ts = -1, rts, t2;
	uint64_t	 nowu = 0;
	char		*id, *tsh, *sigh, *body, mac[SIG_B64_LEN + 1], tsbuf[32];
	char		*hdr, enc[4 * SIG_KEY_MAX];
	size_t		 idlen, tslen, siglen, blen, i, klen;
	enum sig_result	 res;
	int		 ok8;

	if (take(&r, 8, &p) == -1)
		return 0;
	for (i = 0; i < 8; i++)
		nowu |= (uint64_t)p[i] << (8 * i);
	/* Keep now where the window arithmetic cannot overflow. */
	now = (long long)(nowu % 100000000000ULL);
	if (take(&r, 1, &p) == -1)
		return 0;
	klen = 1 + p[0] % 64;
	if (take(&r, klen, &p) == -1)
		return 0;
	memset(&k, 0, sizeof(k));
	memcpy(k.key, p, klen);
	k.len = klen;
	if (take(&r, 2, &p) == -1)
		return 0;
	idlen = (size_t)p[0] | (size_t)p[1] << 8;
	if (take(&r, idlen, &p) == -1)
		return 0;
	id = cstr(p, idlen);
	if (take(&r, 1, &p) == -1 || (tslen = p[0], take(&r, tslen, &p) == -1)) {
		free(id);
		return 0;
	}
	tsh = cstr(p, tslen);
	if (take(&r, 2, &p) == -1 ||
	    (siglen = (size_t)p[0] | (size_t)p[1] << 8,
	    take(&r, siglen, &p) == -1)) {
		free(id);
		free(tsh);
		return 0;
	}
	sigh = cstr(p, siglen);
	blen = r.n;
	body = malloc(blen ? blen : 1);	/* exact size: ASan sees over-reads */
	CHECK(body != NULL);
	if (blen)
		memcpy(body, r.p, blen);
	ok8 = ref_utf8((const uint8_t *)body, blen);

	/* sig_utf8_valid against the reference. */
	CHECK(sig_utf8_valid(body, blen) == ok8);

	/* The fuzzed request as it stands. */
	res = sig_verify(&k, 1, id, tsh, sigh, body, blen, now, TOL, &ts);
	CHECK((int)res >= 0 && res < SIG__MAX);
	if (res == SIG_OK || res == SIG_BAD_BODY) {
		CHECK(*id != '\0' && *tsh != '\0' && *sigh != '\0');
		CHECK(ref_ts(tsh, &rts) == 0);
		CHECK(now - rts <= TOL && rts - now <= TOL);
		real_mac(&k, id, rts, (const uint8_t *)body, blen, mac);
		CHECK(carries(sigh, mac));
		CHECK(res == SIG_OK ? ok8 : !ok8);
		if (res == SIG_OK)
			CHECK(ts == rts);
	}

	/* A derived message with its real MAC must verify. */
	t2 = now + (long long)(blen % (2 * TOL + 1)) - TOL;
	snprintf(tsbuf, sizeof(tsbuf), "%lld", t2);
	if (*id == '\0') {
		free(id);
		id = cstr((const uint8_t *)"msg_fuzz", 8);
	}
	real_mac(&k, id, t2, (const uint8_t *)body, blen, mac);
	hdr = malloc(siglen % 200 + 3 * 64 + SIG_B64_LEN + 16);
	CHECK(hdr != NULL);
	/* Up to 5 junk entries (from the fuzzed header, no spaces) first. */
	{
		size_t	 nj = idlen % 6, o = 0, j;

		for (j = 0; j < nj; j++) {
			size_t	 jl = 1 + (siglen + j) % 30;

			for (i = 0; i < jl; i++) {
				char c = siglen ? sigh[(i + j) % siglen] : 'x';
				hdr[o++] = (c == ' ' || c == '\0') ? 'x' : c;
			}
			hdr[o++] = ' ';
		}
		memcpy(hdr + o, "v1,", 3);
		memcpy(hdr + o + 3, mac, SIG_B64_LEN);
		hdr[o + 3 + SIG_B64_LEN] = '\0';
	}
	res = sig_verify(&k, 1, id, tsbuf, hdr, body, blen, now, TOL, &ts);
	CHECK(res == (ok8 ? SIG_OK : SIG_BAD_BODY));
	if (res == SIG_OK)
		CHECK(ts == t2);

	/* Another key must not verify it; that key first of two must. */
	k2 = k;
	k2.key[blen % klen] ^= 0x01;
	res = sig_verify(&k2, 1, id, tsbuf, hdr, body, blen, now, TOL, NULL);
	CHECK(res == SIG_MISMATCH);
	two[0] = k2;
	two[1] = k;
	res = sig_verify(two, 2, id, tsbuf, hdr, body, blen, now, TOL, NULL);
	CHECK(res == (ok8 ? SIG_OK : SIG_BAD_BODY));

	/* Outside the window by one second, either side: never accepted. */
	for (i = 0; i < 2; i++) {
		long long out = i ? now + TOL + 1 : now - TOL - 1;

		snprintf(tsbuf, sizeof(tsbuf), "%lld", out);
		real_mac(&k, id, out, (const uint8_t *)body, blen, mac);
		memcpy(hdr, "v1,", 3);
		memcpy(hdr + 3, mac, SIG_B64_LEN);
		hdr[3 + SIG_B64_LEN] = '\0';
		CHECK(sig_verify(&k, 1, id, tsbuf, hdr, body, blen, now, TOL,
		    NULL) == SIG_BAD_TIMESTAMP);
	}

	/* The fuzzed header read as a configured secret. */
	if (sig_key_decode(sigh, siglen, &dk) == 0) {
		int	 n;

		CHECK(dk.len >= 1 && dk.len <= SIG_KEY_MAX);
		n = EVP_EncodeBlock((unsigned char *)enc, dk.key, (int)dk.len);
		CHECK(n > 0);
		memset(&k2, 0, sizeof(k2));
		CHECK(sig_key_decode(enc, (size_t)n, &k2) == 0);
		CHECK(k2.len == dk.len && memcmp(k2.key, dk.key, dk.len) == 0);
	}

	free(hdr);
	free(body);
	free(sigh);
	free(tsh);
	free(id);
	return 0;
}

/*
 * clerksync — sig: Svix / Standard Webhooks signature verification.
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED	/* SHA256_Init and friends */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "sig.h"

#define SIG_TS_DIGITS_MAX	18	/* more is out of any window */

const char *const sig_result_names[SIG__MAX] = {
	"ok", "missing_headers", "bad_timestamp", "mismatch", "bad_body"
};

int
sig_init(void)
{
	return OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL) ? 0 : -1;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

int
sig_key_decode(const char *s, size_t len, struct sig_key *key)
{
	unsigned int	 acc = 0;
	size_t		 i, nbits = 0, pad = 0, out = 0;
	int		 v;

	memset(key, 0, sizeof(*key));
	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len >= 6 && memcmp(s, "whsec_", 6) == 0) {
		s += 6;
		len -= 6;
	}
	while (pad < 2 && len > 0 && s[len - 1] == '=') {
		len--;
		pad++;
	}
	if (len == 0 || len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = b64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned int)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (out == SIG_KEY_MAX)
				goto fail;
			key->key[out++] = (unsigned char)(acc >> nbits);
			acc &= (1U << nbits) - 1;
		}
	}
	key->len = out;
	return 0;
fail:
	OPENSSL_cleanse(key, sizeof(*key));
	return -1;
}

const char *
sig_pick(const char *branded, const char *unbranded)
{
	return branded != NULL ? branded : unbranded;
}

/*
 * Parse like JavaScript parseInt(s, 10), as the svix and standardwebhooks
 * libraries do: leading whitespace, an optional sign, at least one digit,
 * and anything after the digits ignored (svix-vectors.json, the "ts/" cases).
 * Returns 0 with *out set, 1 when the value is beyond any window, or -1.
 */
static int
ts_parse(const char *s, long long *out)
{
	long long	 v = 0;
	size_t		 ndig = 0;
	int		 neg = 0;

	while (is_space(*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	while (*s == '0' && s[1] >= '0' && s[1] <= '9')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++ndig > SIG_TS_DIGITS_MAX)
			return 1;
		v = v * 10 + (*s - '0');
	}
	if (ndig == 0)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/*
 * HMAC-SHA-256 (RFC 2104) on OpenSSL's SHA-256, the same assembly (SHA-NI
 * where the CPU has it) that EVP_MAC reaches. EVP_MAC reaches it only
 * after loading OpenSSL 3's provider and name tables, about 4.6 M
 * instructions that every CGI process paid, against about 0.1 M for the
 * HMAC of a 3 KB body (callgrind). The low-level SHA-256 calls are
 * deprecated in OpenSSL 3, not removed; they need no library state.
 */
struct hmac {
	SHA256_CTX	 inner, outer;	/* after the key's block */
};

static void
hmac_init(struct hmac *h, const struct sig_key *key)
{
	unsigned char	 k[SHA256_CBLOCK], pad[SHA256_CBLOCK];
	SHA256_CTX	 c;
	size_t		 i;

	memset(k, 0, sizeof(k));
	if (key->len > sizeof(k)) {
		SHA256_Init(&c);
		SHA256_Update(&c, key->key, key->len);
		SHA256_Final(k, &c);
		OPENSSL_cleanse(&c, sizeof(c));
	} else
		memcpy(k, key->key, key->len);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&h->inner);
	SHA256_Update(&h->inner, pad, sizeof(pad));
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&h->outer);
	SHA256_Update(&h->outer, pad, sizeof(pad));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
}

/* The signature of {id}.{ts}.{body} under key, base64, in out. */
static void
mac_b64(const struct sig_key *key, const char *id, size_t idlen,
    const char *tsbuf, size_t tslen, const char *body, size_t len,
    char out[SIG_B64_LEN + 1])
{
	struct hmac	 h;
	unsigned char	 md[SHA256_DIGEST_LENGTH];

	hmac_init(&h, key);
	SHA256_Update(&h.inner, id, idlen);
	SHA256_Update(&h.inner, ".", 1);
	SHA256_Update(&h.inner, tsbuf, tslen);
	SHA256_Update(&h.inner, ".", 1);
	SHA256_Update(&h.inner, body, len);
	SHA256_Final(md, &h.inner);
	SHA256_Update(&h.outer, md, sizeof(md));
	SHA256_Final(md, &h.outer);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
	OPENSSL_cleanse(md, sizeof(md));
	OPENSSL_cleanse(&h, sizeof(h));
}

enum sig_result
sig_verify(const struct sig_key *keys, size_t nkeys, const char *id,
    const char *tsh, const char *sigh, const char *body, size_t len,
    long long now, long long tolerance, long long *tsout)
{
	char		 expect[SIG_KEYS_MAX][SIG_B64_LEN + 1];
	char		 tsbuf[32];
	const char	*p, *e, *comma, *cand_end;
	long long	 ts;
	size_t		 k, nexp = 0, entries = 0;
	int		 n, match = 0;

	if (id == NULL || tsh == NULL || sigh == NULL ||
	    *id == '\0' || *tsh == '\0' || *sigh == '\0')
		return SIG_MISSING;
	if (ts_parse(tsh, &ts) != 0)
		return SIG_BAD_TIMESTAMP;
	/* Both ends inclusive, as every official library has it. */
	if (now - ts > tolerance || ts - now > tolerance)
		return SIG_BAD_TIMESTAMP;
	/* The canonical decimal is signed, not the header text. */
	n = snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
	if (n < 0 || (size_t)n >= sizeof(tsbuf))
		return SIG_BAD_TIMESTAMP;
	for (k = 0; k < nkeys && nexp < SIG_KEYS_MAX; k++)
		mac_b64(&keys[k], id, strlen(id), tsbuf, (size_t)n, body, len,
		    expect[nexp++]);

	for (p = sigh; *p != '\0' && entries < SIG_MAX_ENTRIES; p = e) {
		if (*p == ' ') {
			e = p + 1;
			continue;
		}
		for (e = p; *e != '\0' && *e != ' '; e++)
			continue;
		entries++;
		comma = memchr(p, ',', (size_t)(e - p));
		if (comma == NULL || comma - p != 2 || memcmp(p, "v1", 2) != 0)
			continue;
		cand_end = memchr(comma + 1, ',', (size_t)(e - comma - 1));
		if (cand_end == NULL)
			cand_end = e;
		if (cand_end - (comma + 1) != SIG_B64_LEN)
			continue;
		for (k = 0; k < nexp; k++)
			match |= CRYPTO_memcmp(comma + 1, expect[k],
			    SIG_B64_LEN) == 0;
	}
	OPENSSL_cleanse(expect, sizeof(expect));
	if (!match)
		return SIG_MISMATCH;
	if (!sig_utf8_valid(body, len))
		return SIG_BAD_BODY;
	if (tsout != NULL)
		*tsout = ts;
	return SIG_OK;
}

int
sig_utf8_valid(const char *buf, size_t len)
{
	const unsigned char	*s = (const unsigned char *)buf;
	size_t			 i = 0, n, j;
	unsigned int		 cp;

	while (i < len) {
		/* Eight ASCII bytes at a time: the common case. */
		if (len - i >= 8) {
			uint64_t	 w;

			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (j = 1; j <= n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n + 1;
	}
	return 1;
}

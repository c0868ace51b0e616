/*
 * clerksync — unit tests of sig: every case of svix-vectors.json, the
 * signed fixtures, and the edges of secrets, timestamps and UTF-8.
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sig.h"
#include "tap.h"
#include "util.h"

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/*
 * A header as a web server hands it over: names are case-insensitive,
 * and a header sent twice arrives joined with ", ".
 */
static char *
header(const cJSON *headers, const char *name)
{
	const cJSON	*h, *el;
	char		*out;
	size_t		 n = 0;

	cJSON_ArrayForEach(h, headers) {
		if (strcasecmp(h->string, name) != 0)
			continue;
		if (cJSON_IsString(h))
			return strdup(h->valuestring);
		cJSON_ArrayForEach(el, h)
			n += strlen(el->valuestring) + 2;
		out = calloc(1, n + 1);
		cJSON_ArrayForEach(el, h) {
			if (*out != '\0')
				strcat(out, ", ");
			strcat(out, el->valuestring);
		}
		return out;
	}
	return NULL;
}

static unsigned char *
b64decode(const char *s, size_t *len)
{
	size_t		 n = strlen(s);
	unsigned char	*out = malloc(n + 1);
	int		 m = EVP_DecodeBlock(out, (const unsigned char *)s,
			    (int)n);

	if (m < 0)
		exit(1);
	while (n > 0 && s[n - 1] == '=') {
		n--;
		m--;
	}
	*len = (size_t)m;
	return out;
}

static void
vectors(void)
{
	cJSON		*all, *v;
	char		*text, *id, *ts, *sg;
	const char	*expect, *body;
	unsigned char	*raw;
	struct sig_key	 key;
	struct guarded	 g;
	size_t		 len;
	int		 accepted, count = 0;

	text = read_file(FIXTURES "/svix-vectors.json", NULL);
	all = cJSON_Parse(text);
	cJSON_ArrayForEach(v, all) {
		const char *secret = str(v, "secret");
		const cJSON *hs = cJSON_GetObjectItem(v, "headers");

		/* Where the C receiver deliberately differs, it is pinned. */
		if ((expect = str(v, "c_receiver")) == NULL &&
		    (expect = str(v, "expect")) == NULL)
			expect = "?";
		if ((body = str(v, "body")) != NULL) {
			raw = (unsigned char *)strdup(body);
			len = strlen(body);
		} else
			raw = b64decode(str(v, "body_base64"), &len);
		id = header(hs, "svix-id");
		if (id == NULL)
			id = header(hs, "webhook-id");
		ts = header(hs, "svix-timestamp");
		if (ts == NULL)
			ts = header(hs, "webhook-timestamp");
		sg = header(hs, "svix-signature");
		if (sg == NULL)
			sg = header(hs, "webhook-signature");
		g = guard(raw, len);
		accepted = sig_key_decode(secret, strlen(secret), &key) == 0 &&
		    sig_verify(&key, 1, id, ts, sg, g.p, len,
		    (long long)cJSON_GetObjectItem(v, "now")->valuedouble,
		    SIG_TOLERANCE_DEFAULT, NULL) == SIG_OK;
		ok(accepted == (strcmp(expect, "accept") == 0),
		    "vector %s: %s", str(v, "name") ? str(v, "name") : "?",
		    expect);
		unguard(&g);
		free(raw);
		free(id);
		free(ts);
		free(sg);
		count++;
	}
	ok(count == 101, "all 101 vectors ran (%d)", count);
	cJSON_Delete(all);
	free(text);
}

/* The signed Clerk fixtures, and rotation with two configured secrets. */
static void
fixture_vectors(void)
{
	cJSON		*all, *v;
	char		*text, *body, path[512];
	struct sig_key	 keys[2];
	const char	*s1, *s2, *expect;
	size_t		 len;
	enum sig_result	 r;

	text = read_file(FIXTURES "/clerk/svix-test-vectors.json", NULL);
	all = cJSON_Parse(text);
	s1 = str(all, "secret");
	s2 = str(all, "rotated_out_secret");
	ok(sig_key_decode(s1, strlen(s1), &keys[0]) == 0 &&
	    sig_key_decode(s2, strlen(s2), &keys[1]) == 0,
	    "fixture secrets decode");
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(all, "vectors")) {
		snprintf(path, sizeof(path), FIXTURES "/clerk/%s",
		    str(v, "file"));
		body = read_file(path, &len);
		r = sig_verify(keys, 2, str(v, "svix_id"),
		    str(v, "svix_timestamp"), str(v, "svix_signature"), body,
		    len, atoll(str(v, "svix_timestamp")), 300, NULL);
		expect = str(v, "expect") ? str(v, "expect") : "?";
		ok((r == SIG_OK) == (strcmp(expect, "valid") == 0),
		    "fixture %s (%s): %s", path, expect, sig_result_names[r]);
		free(body);
	}
	cJSON_Delete(all);
	free(text);
}

/* Vector A of the svix libraries, for cases built by hand. */
#define A_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define A_ID	"msg_p5jXN8AQM9LWM0D4loKWxJek"
#define A_TS	"1614265330"
#define A_SIG	"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define A_BODY	"{\"test\": 2432232314}"

static enum sig_result
verify_a(const char *id, const char *ts, const char *sg, long long now)
{
	struct sig_key	 k;

	if (sig_key_decode(A_SECRET, strlen(A_SECRET), &k) != 0)
		return SIG__MAX;
	return sig_verify(&k, 1, id, ts, sg, A_BODY, strlen(A_BODY), now,
	    300, NULL);
}

static void
results(void)
{
	struct sig_key	 k[3];
	long long	 ts = 0;

	ok(verify_a(A_ID, A_TS, A_SIG, 1614265330) == SIG_OK, "A verifies");
	ok(verify_a(NULL, A_TS, A_SIG, 1614265330) == SIG_MISSING, "no id");
	ok(verify_a(A_ID, "", A_SIG, 1614265330) == SIG_MISSING, "empty ts");
	ok(verify_a(A_ID, A_TS, "", 1614265330) == SIG_MISSING, "empty sig");
	ok(verify_a(A_ID, "abc", A_SIG, 1614265330) == SIG_BAD_TIMESTAMP,
	    "unparsable timestamp is a timestamp error");
	ok(verify_a(A_ID, A_TS, A_SIG, 1614265330 + 301) == SIG_BAD_TIMESTAMP,
	    "301 s old is a timestamp error");
	ok(verify_a(A_ID, A_TS, A_SIG, 1614265330 - 301) == SIG_BAD_TIMESTAMP,
	    "301 s ahead is a timestamp error");
	ok(verify_a(A_ID, "99999999999999999999999999", A_SIG, 1614265330) ==
	    SIG_BAD_TIMESTAMP, "an overflowing timestamp is rejected");
	ok(verify_a(A_ID, A_TS, "v1,AAAA", 1614265330) == SIG_MISMATCH,
	    "short candidate is a mismatch");
	ok(verify_a("msg_other", A_TS, A_SIG, 1614265330) == SIG_MISMATCH,
	    "another id is a mismatch");

	/* Rotation: the second configured secret signs. */
	ok(sig_key_decode("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 38,
	    &k[0]) == 0 && sig_key_decode(A_SECRET, strlen(A_SECRET),
	    &k[1]) == 0, "two secrets decode");
	ok(sig_verify(k, 2, A_ID, A_TS, A_SIG, A_BODY, strlen(A_BODY),
	    1614265330, 300, &ts) == SIG_OK && ts == 1614265330,
	    "the second of two secrets matches, ts returned");
	ok(sig_verify(k, 1, A_ID, A_TS, A_SIG, A_BODY, strlen(A_BODY),
	    1614265330, 300, NULL) == SIG_MISMATCH,
	    "the first alone does not");
	ok(sig_verify(k, 0, A_ID, A_TS, A_SIG, A_BODY, strlen(A_BODY),
	    1614265330, 300, NULL) == SIG_MISMATCH, "no keys: mismatch");
}

/* SIG_MAX_ENTRIES bounds the work an attacker can ask for. */
static void
entries(void)
{
	char	 hdr[64 * 50];
	int	 i;

	hdr[0] = '\0';
	for (i = 0; i < SIG_MAX_ENTRIES - 1; i++)
		strcat(hdr, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ");
	strcat(hdr, A_SIG);
	ok(verify_a(A_ID, A_TS, hdr, 1614265330) == SIG_OK,
	    "a match in entry %d is found", SIG_MAX_ENTRIES);
	hdr[0] = '\0';
	for (i = 0; i < SIG_MAX_ENTRIES; i++)
		strcat(hdr, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ");
	strcat(hdr, A_SIG);
	ok(verify_a(A_ID, A_TS, hdr, 1614265330) == SIG_MISMATCH,
	    "a match in entry %d is not examined", SIG_MAX_ENTRIES + 1);
}

static void
secrets(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		size_t		 len;
	} cases[] = {
		{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0, 24 },
		{ "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0, 24 },
		{ "  whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\r\n", 0, 24 },
		{ "whsec_lRCWu87emn6rYIo6rQraJ2+dzijEBvBF1iuZ6pYqlYA", 0, 32 },
		{ "whsec_YQ==", 0, 1 },
		{ "whsec_YQ", 0, 1 },
		{ "whsec_YWI=", 0, 2 },
		{ "", -1, 0 },
		{ "whsec_", -1, 0 },
		{ "whsec_Y", -1, 0 },
		{ "whsec_YQ=", -1, 0 },
		{ "whsec_YQ===", -1, 0 },
		{ "whsec_Y=Q=", -1, 0 },
		{ "whsec_ab-_", -1, 0 },
		{ "whsec_ab cd", -1, 0 },
		{ "whsec_\xc3\xa9\xc3\xa9", -1, 0 },
	};
	char		 big[400];
	struct sig_key	 k;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = sig_key_decode(cases[i].s, strlen(cases[i].s), &k);

		ok(rc == cases[i].rc && (rc != 0 || k.len == cases[i].len),
		    "secret %zu decodes to %d (%zu bytes)", i, cases[i].rc,
		    cases[i].len);
	}
	memset(big, 'A', sizeof(big));
	ok(sig_key_decode(big, 171, &k) == 0 && k.len == SIG_KEY_MAX,
	    "a %d-byte key fits", SIG_KEY_MAX);
	ok(sig_key_decode(big, 172, &k) == -1, "one more byte does not fit");
}

static void
utf8(void)
{
	static const struct {
		const char	*s;
		int		 valid;
	} cases[] = {
		{ "plain", 1 },
		{ "Z\xc3\xb6\xc3\xab \xf0\x9f\x9a\x80", 1 },
		{ "\xef\xbb\xbf{}", 1 },			/* BOM */
		{ "\xe2\x80\xa8", 1 },				/* U+2028 */
		{ "\xf4\x8f\xbf\xbf", 1 },			/* U+10FFFF */
		{ "\xc0\x80", 0 },				/* overlong */
		{ "\xe0\x80\xaf", 0 },
		{ "\xf0\x80\x80\xaf", 0 },
		{ "\xed\xa0\x80", 0 },				/* surrogate */
		{ "\xf4\x90\x80\x80", 0 },			/* > U+10FFFF */
		{ "\xc3", 0 },					/* cut */
		{ "\xe2\x80", 0 },
		{ "\x80", 0 },
		{ "\xff", 0 },
		{ "a\xc3(", 0 },
	};
	struct guarded	 g;
	size_t		 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].s);
		g = guard(cases[i].s, n);
		ok(sig_utf8_valid(g.p, n) == cases[i].valid,
		    "utf8 case %zu is %svalid", i, cases[i].valid ? "" : "in");
		unguard(&g);
	}
	ok(sig_utf8_valid("a\0b", 3) == 1, "a NUL byte is UTF-8");
}

/*
 * The HMAC against OpenSSL's own (EVP) for keys shorter than, as long as
 * and longer than SHA-256's 64-byte block, and bodies around the block
 * and padding edges: the svix vectors all use 24-byte keys.
 */
static void
reference(void)
{
	static const size_t klens[] = { 1, 24, 32, 63, 64, 65, 100,
	    SIG_KEY_MAX };
	static const size_t blens[] = { 0, 1, 38, 39, 55, 56, 63, 64, 65,
	    119, 120, 3000 };
	struct sig_key	 k;
	unsigned char	 md[32], *msg;
	unsigned int	 mdlen;
	char		 hdr[64], body[3000];
	size_t		 i, j, n, pre = strlen(A_ID "." A_TS ".");
	int		 good = 0, total = 0, flipped = 0;

	msg = malloc(pre + sizeof(body));
	for (i = 0; i < sizeof(body); i++)
		body[i] = (char)('a' + i % 26);
	for (i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
		memset(&k, 0, sizeof(k));
		for (k.len = 0; k.len < klens[i]; k.len++)
			k.key[k.len] = (unsigned char)(k.len * 7 + i);
		for (j = 0; j < sizeof(blens) / sizeof(blens[0]); j++) {
			n = blens[j];
			memcpy(msg, A_ID "." A_TS ".", pre);
			memcpy(msg + pre, body, n);
			HMAC(EVP_sha256(), k.key, (int)k.len, msg, pre + n, md,
			    &mdlen);
			memcpy(hdr, "v1,", 3);
			EVP_EncodeBlock((unsigned char *)hdr + 3, md, 32);
			total++;
			good += sig_verify(&k, 1, A_ID, A_TS, hdr, body, n,
			    1614265330, 300, NULL) == SIG_OK;
			hdr[10] = hdr[10] == 'A' ? 'B' : 'A';
			flipped += sig_verify(&k, 1, A_ID, A_TS, hdr, body, n,
			    1614265330, 300, NULL) == SIG_MISMATCH;
		}
	}
	ok(good == total, "%d of %d key and body lengths match OpenSSL's "
	    "HMAC", good, total);
	ok(flipped == total, "%d of %d altered signatures are refused",
	    flipped, total);
	free(msg);
}

int
main(void)
{
	vectors();
	fixture_vectors();
	results();
	reference();
	entries();
	secrets();
	utf8();
	return done_testing();
}

/*
 * clerksync — unit tests of the request decision (handler.c), case by
 * case against SPEC section 1's status table: each request struct, the
 * reply, its status and word, and what the decision leaves for the log.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "handler.h"
#include "sig.h"
#include "tap.h"
#include "util.h"

#define SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define PULL_SECRET "whsec_cHVsbHB1bGxwdWxscHVsbHB1bGxwdWxs"
#define NOW	1773480414LL	/* user.created.json's, in seconds */
#define MAX_BODY 65536

static struct config	 cf;

/* "v1,<base64 HMAC-SHA256 of id.ts.body>" with key into out. */
static void
sign_with(const struct sig_key *key, const char *id, const char *ts,
    const char *body, size_t len, char *out, size_t outsz)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		*msg;
	size_t		 n = strlen(id) + strlen(ts) + len + 2;

	if ((msg = malloc(n + 1)) == NULL || outsz < 3 + SIG_B64_LEN + 1)
		exit(1);
	snprintf(msg, n + 1, "%s.%s.", id, ts);
	memcpy(msg + strlen(id) + strlen(ts) + 2, body, len);
	if (HMAC(EVP_sha256(), key->key, (int)key->len,
	    (unsigned char *)msg, n, mac, &maclen) == NULL || maclen != 32)
		exit(1);
	free(msg);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
}

static void
sign(const char *id, const char *ts, const char *body, size_t len,
    char *out, size_t outsz)
{
	sign_with(&cf.keys[0], id, ts, body, len, out, outsz);
}

struct head_case {
	const char	*name;
	const char	*method, *length, *id, *ts, *sig;
	enum handler_reply want;	/* HANDLER__MAX: read the body */
	int		 status;
	const char	*detail;
};

static const struct head_case heads[] = {
	{ "no method", NULL, "2", "m", "1", "v1,x", HANDLER_METHOD, 405,
	    NULL },
	{ "GET", "GET", "2", "m", "1", "v1,x", HANDLER_METHOD, 405, NULL },
	{ "post in lower case", "post", "2", "m", "1", "v1,x",
	    HANDLER_METHOD, 405, NULL },
	{ "no Content-Length", "POST", NULL, "m", "1", "v1,x",
	    HANDLER_LENGTH_REQUIRED, 411, NULL },
	{ "an empty Content-Length", "POST", "", "m", "1", "v1,x",
	    HANDLER_LENGTH_REQUIRED, 411, NULL },
	{ "Content-Length 12a", "POST", "12a", "m", "1", "v1,x",
	    HANDLER_BAD_REQUEST, 400, "Content-Length is not a decimal number" },
	{ "Content-Length -1", "POST", "-1", "m", "1", "v1,x",
	    HANDLER_BAD_REQUEST, 400, "Content-Length is not a decimal number" },
	{ "Content-Length +2", "POST", "+2", "m", "1", "v1,x",
	    HANDLER_BAD_REQUEST, 400, "Content-Length is not a decimal number" },
	{ "Content-Length max_body + 1", "POST", "65537", "m", "1", "v1,x",
	    HANDLER_TOO_LARGE, 413, NULL },
	{ "Content-Length of 30 digits", "POST",
	    "123456789012345678901234567890", NULL, NULL, NULL,
	    HANDLER_TOO_LARGE, 413, NULL },
	{ "413 before the headers", "POST", "99999999", NULL, NULL, NULL,
	    HANDLER_TOO_LARGE, 413, NULL },
	{ "no svix-id", "POST", "2", NULL, "1", "v1,x",
	    HANDLER_MISSING_HEADERS, 400, NULL },
	{ "an empty svix-timestamp", "POST", "2", "m", "", "v1,x",
	    HANDLER_MISSING_HEADERS, 400, NULL },
	{ "no svix-signature", "POST", "2", "m", "1", NULL,
	    HANDLER_MISSING_HEADERS, 400, NULL },
	{ "Content-Length max_body", "POST", "65536", "m", "1", "v1,x",
	    HANDLER__MAX, 0, NULL },
	{ "Content-Length 0", "POST", "0", "m", "1", "v1,x", HANDLER__MAX, 0,
	    NULL },
};

static void
test_head(void)
{
	struct handler_req	 rq;
	enum handler_reply	 r;
	char			*big;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		memset(&rq, 0, sizeof(rq));
		rq.method = heads[i].method;
		rq.length = heads[i].length;
		rq.id = heads[i].id;
		rq.ts = heads[i].ts;
		rq.sig = heads[i].sig;
		r = HANDLER__MAX;
		rc = handler_head(&cf, &rq, &r);
		if (heads[i].want == HANDLER__MAX) {
			/* Not verified yet: the svix-id is not to be logged. */
			ok(rc == 0 && rq.svix_id == NULL && rq.len ==
			    strtoul(heads[i].length, NULL, 10),
			    "%s: read the body", heads[i].name);
			continue;
		}
		ok(rc == -1 && r == heads[i].want &&
		    handler_rows[r].status == heads[i].status &&
		    (heads[i].detail == NULL ? rq.detail == NULL :
		    rq.detail != NULL && strcmp(rq.detail, heads[i].detail) ==
		    0), "%s: %d %s", heads[i].name, heads[i].status,
		    heads[i].want < HANDLER__MAX ?
		    handler_rows[heads[i].want].word : "?");
	}

	/* A header one byte over HANDLER_HEADER_MAX. */
	if ((big = malloc(HANDLER_HEADER_MAX + 2)) == NULL)
		exit(1);
	memset(big, 'a', HANDLER_HEADER_MAX + 1);
	big[HANDLER_HEADER_MAX + 1] = '\0';
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.length = "2";
	rq.id = "m";
	rq.ts = "1";
	rq.sig = big;
	ok(handler_head(&cf, &rq, &r) == -1 && r == HANDLER_BAD_REQUEST &&
	    rq.detail != NULL && strstr(rq.detail, "too long") != NULL &&
	    rq.svix_id == NULL, "an oversized signature header: 400");
	big[HANDLER_HEADER_MAX] = '\0';
	ok(handler_head(&cf, &rq, &r) == 0, "one of HANDLER_HEADER_MAX "
	    "bytes passes");
	free(big);
}

struct body_case {
	const char	*name;
	const char	*file;		/* a fixture, or NULL: body */
	const char	*body;
	const char	*id;
	long long	 skew;		/* seconds between ts and now */
	int		 badsig;
	enum handler_reply want;
	int		 status;
	const char	*detail;	/* expected, or NULL */
};

static const struct body_case bodies[] = {
	{ "user.created, signed", "user.created.json", NULL, "msg_1", 0, 0,
	    HANDLER_APPLIED, 200, NULL },
	{ "organization.created, signed", "organization.created.json", NULL,
	    "msg_2", 0, 0, HANDLER_APPLIED, 200, NULL },
	{ "session.created: not handled", "session.created.json", NULL,
	    "msg_3", 0, 0, HANDLER_IGNORED, 200, NULL },
	{ "a wrong signature", "user.created.json", NULL, "msg_4", 0, 1,
	    HANDLER_SIGNATURE, 401, NULL },
	{ "the timestamp 301 s ahead", "user.created.json", NULL, "msg_5",
	    -301, 0, HANDLER_TIMESTAMP, 401, NULL },
	{ "the timestamp 301 s behind", "user.created.json", NULL, "msg_6",
	    301, 0, HANDLER_TIMESTAMP, 401, NULL },
	{ "300 s behind is inside", "user.created.json", NULL, "msg_7", 300,
	    0, HANDLER_APPLIED, 200, NULL },
	{ "not UTF-8, signed", NULL, "{\"data\":\"\xff\"}", "msg_8", 0, 0,
	    HANDLER_PAYLOAD, 400, "not UTF-8" },
	{ "a svix-id with a space", "user.created.json", NULL, "msg 9", 0,
	    0, HANDLER_PAYLOAD, 400, "svix-id must be 1 to 128 printable "
	    "ASCII characters" },
	{ "a signed body that is no event", NULL, "{}", "msg_10", 0, 0,
	    HANDLER_PAYLOAD, 400, NULL },
	{ "a signed body that is no JSON", NULL, "hello", "msg_11", 0, 0,
	    HANDLER_PAYLOAD, 400, NULL },
};

static void
test_decide(void)
{
	const struct body_case	*c;
	struct handler_req	 rq;
	struct event		 ev;
	enum handler_reply	 r;
	char			 path[256], ts[32], sig[64], len[32];
	char			*body;
	size_t			 i, n;
	int			 verified;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		c = &bodies[i];
		if (c->file != NULL) {
			snprintf(path, sizeof(path), FIXTURES "/clerk/%s",
			    c->file);
			body = read_file(path, &n);
		} else {
			n = strlen(c->body);
			if ((body = strdup(c->body)) == NULL)
				exit(1);
		}
		snprintf(ts, sizeof(ts), "%lld", NOW - c->skew);
		snprintf(len, sizeof(len), "%zu", n);
		sign(c->id, ts, body, n, sig, sizeof(sig));
		if (c->badsig)
			sig[5] = sig[5] == 'A' ? 'B' : 'A';
		memset(&rq, 0, sizeof(rq));
		memset(&ev, 0, sizeof(ev));
		rq.method = "POST";
		rq.length = len;
		rq.id = c->id;
		rq.ts = ts;
		rq.sig = sig;
		rq.now = NOW;
		if (handler_head(&cf, &rq, &r) == -1) {
			ok(0, "%s: the head passes", c->name);
			free(body);
			continue;
		}
		rq.body = body;
		r = handler_decide(&cf, &rq, &ev);
		ok(r == c->want && handler_rows[r].status == c->status &&
		    (c->detail == NULL || (rq.detail != NULL &&
		    strcmp(rq.detail, c->detail) == 0)), "%s: %d %s", c->name,
		    c->status, handler_rows[c->want].word);
		/*
		 * The svix-id is there to be logged only once the signature
		 * holds and the id is well formed (the cases with a detail
		 * fail at either).
		 */
		verified = c->want != HANDLER_SIGNATURE &&
		    c->want != HANDLER_TIMESTAMP && c->detail == NULL;
		ok(verified ? rq.svix_id == rq.id : rq.svix_id == NULL,
		    "%s: the svix-id %s", c->name, verified ? "may be logged" :
		    "is not logged");
		if (r == HANDLER_APPLIED)
			ok(rq.when == ev.timestamp && rq.when > 0 &&
			    rq.type != NULL && rq.object != NULL,
			    "%s: applied at the envelope's time", c->name);
		event_free(&ev);
		free(body);
	}
}

/*
 * SPEC section 1, "Pull": which secret verifies which body. A pull is
 * verified with pull_secret only, an event with signing_secret only.
 */
struct pull_case {
	const char	*name;
	const char	*body;		/* NULL: user.created.json */
	int		 pull_key;	/* signed with pull_secret */
	int		 pull_on;	/* pull_secret is set */
	enum handler_reply want;
	const char	*detail;	/* expected, or NULL */
	const char	*pulled;	/* expected, or NULL: not a pull */
};

#define PULL_BODY(id) "{\"type\":\"clerksync.pull\",\"data\":{\"id\":\"" id \
			"\"}}"

static const struct pull_case pulls[] = {
	{ "a pull signed with pull_secret", PULL_BODY("user_2a"), 1, 1,
	    HANDLER_APPLIED, NULL, "user_2a" },
	{ "an organization's pull", " " PULL_BODY("org_2b") "\n", 1, 1,
	    HANDLER_APPLIED, NULL, "org_2b" },
	{ "a pull signed with signing_secret", PULL_BODY("user_2a"), 0, 1,
	    HANDLER_SIGNATURE, "a pull not signed with pull_secret", NULL },
	{ "a pull, pull_secret unset", PULL_BODY("user_2a"), 0, 0,
	    HANDLER_SIGNATURE, "a pull, and pull_secret is not set", NULL },
	{ "an event signed with pull_secret", NULL, 1, 1, HANDLER_SIGNATURE,
	    NULL, NULL },
	{ "an event, signing_secret, the pull on", NULL, 0, 1,
	    HANDLER_APPLIED, NULL, NULL },
	{ "a pull without data.id", "{\"type\":\"clerksync.pull\"}", 1, 1,
	    HANDLER_PAYLOAD, "a pull's data.id must be a user_ or org_ id",
	    NULL },
	{ "a pull whose data.id is a number",
	    "{\"type\":\"clerksync.pull\",\"data\":{\"id\":7}}", 1, 1,
	    HANDLER_PAYLOAD, "a pull's data.id must be a user_ or org_ id",
	    NULL },
	{ "a pull whose data.id holds an escape", PULL_BODY("user_\\u0032a"),
	    1, 1, HANDLER_PAYLOAD, "a pull's data.id must be a user_ or org_ "
	    "id", NULL },
};

static void
test_pull(void)
{
	const struct pull_case	*c;
	struct config		 pcf = cf;
	struct handler_req	 rq;
	struct event		 ev;
	enum handler_reply	 r;
	char			 ts[32], sig[64], len[32];
	char			*body;
	size_t			 i, n;
	const char		*p = PULL_SECRET;

	if (sig_key_decode(p, strlen(p), &pcf.pull_keys[0]) == -1)
		exit(1);
	for (i = 0; i < sizeof(pulls) / sizeof(pulls[0]); i++) {
		c = &pulls[i];
		if (c->body == NULL)
			body = read_file(FIXTURES "/clerk/user.created.json",
			    &n);
		else if ((body = strdup(c->body)) == NULL)
			exit(1);
		else
			n = strlen(body);
		pcf.npull_keys = c->pull_on ? 1 : 0;
		snprintf(ts, sizeof(ts), "%lld", NOW);
		snprintf(len, sizeof(len), "%zu", n);
		sign_with(c->pull_key ? &pcf.pull_keys[0] : &cf.keys[0],
		    "msg_p", ts, body, n, sig, sizeof(sig));
		memset(&rq, 0, sizeof(rq));
		memset(&ev, 0, sizeof(ev));
		rq.method = "POST";
		rq.length = len;
		rq.id = "msg_p";
		rq.ts = ts;
		rq.sig = sig;
		rq.now = NOW;
		if (handler_head(&pcf, &rq, &r) == -1) {
			ok(0, "%s: the head passes", c->name);
			free(body);
			continue;
		}
		rq.body = body;
		r = handler_decide(&pcf, &rq, &ev);
		ok(r == c->want && (c->detail == NULL ? rq.detail == NULL :
		    rq.detail != NULL && strcmp(rq.detail, c->detail) == 0),
		    "%s: %d %s", c->name, handler_rows[c->want].status,
		    handler_rows[c->want].word);
		if (c->pulled != NULL)
			ok(rq.pull && strcmp(rq.pulled, c->pulled) == 0 &&
			    rq.object == rq.pulled && rq.svix_id == rq.id &&
			    strcmp(rq.type, STORE_PULL_TYPE) == 0 &&
			    rq.when == NOW * 1000 && ev.type_name == NULL,
			    "%s: pull %s at the webhook-timestamp, no event",
			    c->name, c->pulled);
		else if (r == HANDLER_APPLIED)
			ok(!rq.pull && rq.type != NULL &&
			    strcmp(rq.type, STORE_PULL_TYPE) != 0,
			    "%s: an event, not a pull", c->name);
		event_free(&ev);
		free(body);
	}
}

/* Each row of SPEC section 1, and each store result's answer. */
static void
test_table(void)
{
	static const int want[HANDLER__MAX] = {
		200, 200, 200, 200, 405, 411, 400, 413, 400, 401, 401, 400,
		404, 503, 500
	};
	char	 buf[HANDLER_ANSWER_MAX];
	size_t	 i, n;

	for (i = 0; i < HANDLER__MAX; i++)
		ok(handler_rows[i].status == want[i] && handler_rows[i].word !=
		    NULL && (handler_rows[i].message == NULL) == (want[i] ==
		    200), "row %zu: %d %s", i, want[i], handler_rows[i].word);
	for (i = 0; i < HANDLER__MAX; i++)
		ok(handler_rows[i].stored == (i == HANDLER_APPLIED ||
		    i == HANDLER_DUPLICATE || i == HANDLER_STALE),
		    "row %zu: stored %d (pruning runs only after a 1)", i,
		    handler_rows[i].stored);
	ok(handler_store_reply[STORE_APPLIED] == HANDLER_APPLIED &&
	    handler_store_reply[STORE_DUPLICATE] == HANDLER_DUPLICATE &&
	    handler_store_reply[STORE_STALE] == HANDLER_STALE,
	    "the store's 200s");
	ok(handler_rows[handler_store_reply[STORE_UNAVAILABLE]].status ==
	    503 && handler_rows[handler_store_reply[STORE_FAILED]].status ==
	    500, "a database down is 503, anything else 500");
	ok(handler_pull_reply[PULL_APPLIED] == HANDLER_APPLIED &&
	    handler_pull_reply[PULL_STALE] == HANDLER_STALE &&
	    handler_pull_reply[PULL_DUPLICATE] == HANDLER_DUPLICATE &&
	    handler_pull_reply[PULL_IGNORED] == HANDLER_IGNORED,
	    "a pull's 200s, as an event's");
	ok(handler_rows[handler_pull_reply[PULL_NOT_FOUND]].status == 404 &&
	    handler_rows[handler_pull_reply[PULL_BAD_ID]].status == 400 &&
	    handler_rows[handler_pull_reply[PULL_BUSY]].status == 503 &&
	    handler_rows[handler_pull_reply[PULL_UNAVAILABLE]].status ==
	    503 && handler_rows[handler_pull_reply[PULL_FAILED]].status ==
	    500, "a pull: 404 not found, 400 bad id, 503 busy or down, "
	    "500 else");

	n = handler_answer(HANDLER_STALE, NULL, buf, sizeof(buf));
	ok(n == strlen(buf) && strcmp(buf, "{\"status\":\"stale\"}") == 0,
	    "a 200's body: %s", buf);
	n = handler_answer(HANDLER_BAD_REQUEST, "x y", buf, sizeof(buf));
	ok(n == strlen(buf) && strcmp(buf, "{\"error\":\"bad_request\","
	    "\"message\":\"malformed request: x y\"}") == 0,
	    "a 400's body with its detail: %s", buf);
	n = handler_answer(HANDLER_SIGNATURE, NULL, buf, 40);
	ok(n == strlen(buf) && strcmp(buf,
	    "{\"error\":\"invalid_signature\"}") == 0,
	    "too long for the buffer: the error word only");
	ok(handler_answer(HANDLER_SIGNATURE, NULL, buf, 8) == 0,
	    "too small even for that: 0");
}

int
main(void)
{
	const char	*s = SECRET;

	cf.nkeys = 1;
	if (sig_key_decode(s, strlen(s), &cf.keys[0]) == -1)
		return 1;
	cf.tolerance = SIG_TOLERANCE_DEFAULT;
	cf.max_body = MAX_BODY;
	cf.events = CONFIG_EVENTS_ALL;
	test_head();
	test_decide();
	test_pull();
	test_table();
	return done_testing();
}

/*
 * libFuzzer target for src/event.c (with src/json.c).
 *
 * Input: [1: flags, bit 0 = private_too][body: the rest]. Bodies that are
 * not UTF-8 are skipped: event_parse's contract is that sig_verify has
 * checked that already.
 *
 * Invariants, after event_parse:
 *  - failure: why is a non-empty phrase; on a body that is JSON, it names
 *    a field the event is keyed on (SPEC section 1: nothing else an end
 *    user can write refuses an event);
 *  - success: type in range and type_name set; the envelope timestamp is
 *    -1 or within 0..EVENT_TS_MAX;
 *  - handled events: object_id is a Clerk id (1..64 of [A-Za-z0-9_-]), and it
 *    is the whole of data.id as sent (no \u0000 cut); the type as sent is
 *    exactly the handled name (no \u0000 cut);
 *  - user.created/updated: updated_at in 0..2^53-1; the text views are
 *    UTF-8 of their stated length (a NUL byte where \u0000 was sent),
 *    within their column sizes, inside the body or decoded; a name, the
 *    username, image_url and external_id, when stored, are the whole
 *    text sent: the length and the NUL bytes a reference decoding of
 *    their span gives (cJSON decodes them, event.c counts \u0000);
 *    email_verified in -1..1, banned/locked 0/1;
 *  - organization and membership events: the organization's id, its
 *    created_by and the member's user_id are Clerk ids; the texts as
 *    above; permissions is an array;
 *  - the JSON views (metadata, clerk_data, permissions) lie inside the
 *    input or inside ev->buf, are valid JSON nested at most
 *    EVENT_JSON_DEPTH_MAX without a lone surrogate; clerk_data is an
 *    object whose "id" member is
 *    the object's id (the data the columns came from), and without
 *    private_too none of its members is named private_metadata, escaped
 *    or not.
 *
 * CLERKSYNC_FUZZ_SKIP=name,... turns named checks off, so that a known
 * finding does not stop the search for new ones: nul_cut, private,
 * coherent.
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "json.h"
#include "sig.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_event: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

static int	skip_nul_cut, skip_private, skip_coherent;

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*s = getenv("CLERKSYNC_FUZZ_SKIP");

	(void)argc;
	(void)argv;
	if (s != NULL) {
		skip_nul_cut = strstr(s, "nul_cut") != NULL;
		skip_private = strstr(s, "private") != NULL;
		skip_coherent = strstr(s, "coherent") != NULL;
	}
	return 0;
}

static size_t
chars(const char *s, size_t n)
{
	size_t	 i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

static void
text(const struct event_text *t, size_t max, int bytes)
{
	if (t->p == NULL) {
		CHECK(t->len == 0);
		return;
	}
	CHECK(sig_utf8_valid(t->p, t->len));
	CHECK((bytes ? t->len : chars(t->p, t->len)) <= max);
}

static int
inside(const char *p, size_t n, const char *lo, size_t lolen)
{
	return lo != NULL && p >= lo && p + n <= lo + lolen;
}

static void
json_view(const struct event_text *t, const char *body, size_t len,
    const struct event *ev)
{
	struct json_stats	 st;
	int			 depth = -1;

	if (t->p == NULL)
		return;
	CHECK(t->len > 0);
	CHECK(json_scan(t->p, t->len, &st) == 0 &&
	    (st.flags & JSON_LONE_SURROGATE) == 0);
	/* ev->buf holds data without a member: never longer than the body. */
	CHECK(inside(t->p, t->len, body, len) ||
	    (ev->buf != NULL && t->p == ev->buf && t->len <= len));
	CHECK(json_validate(t->p, t->len, &depth) == 0);
	CHECK(depth <= EVENT_JSON_DEPTH_MAX);
}

/* The raw JSON text of member key of the top-level object, or NULL. */
static int
raw_member(const char *body, size_t len, const char *key,
    struct json_span *v)
{
	struct json_span	 whole = { body, len };

	while (whole.len > 0 && *whole.p != '{') {
		whole.p++;
		whole.len--;
	}
	return json_member(whole, key, v);
}

/*
 * The length in bytes of the UTF-8 that the JSON string text v decodes
 * to, and how many NUL bytes (one per \u0000) it holds; -1 if it holds a
 * lone surrogate. Written apart from cJSON and event.c.
 */
static long
ref_decoded(struct json_span v, size_t *nuls)
{
	size_t	 i, len = 0;
	unsigned u, w;
	char	 h[5];

	*nuls = 0;
	for (i = 1; i + 1 < v.len; i++) {
		if (v.p[i] != '\\') {
			len++;
			continue;
		}
		if (v.p[i + 1] != 'u') {
			len++;
			i++;
			continue;
		}
		memcpy(h, v.p + i + 2, 4);
		h[4] = '\0';
		u = (unsigned)strtoul(h, NULL, 16);
		i += 5;
		if (u >= 0xdc00 && u <= 0xdfff)
			return -1;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (i + 6 >= v.len || v.p[i + 1] != '\\' ||
			    v.p[i + 2] != 'u')
				return -1;
			memcpy(h, v.p + i + 3, 4);
			w = (unsigned)strtoul(h, NULL, 16);
			if (w < 0xdc00 || w > 0xdfff)
				return -1;
			len += 4;
			i += 6;
			continue;
		}
		if (u == 0)
			(*nuls)++;
		len += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
	}
	return (long)len;
}

/*
 * A text column read from data's member key: when stored, it is the
 * whole text sent, every \u0000 a NUL byte in it (never cut).
 */
static void
whole_text(const struct event_text *t, struct json_span data, const char *key)
{
	struct json_span	 v;
	size_t			 nuls, i, k = 0;

	if (t->p == NULL)
		return;
	CHECK(json_member(data, key, &v) && *v.p == '"');
	CHECK(ref_decoded(v, &nuls) == (long)t->len);
	for (i = 0; i < t->len; i++)
		k += t->p[i] == '\0';
	CHECK(k == nuls);
}

/* Does the JSON string text v hold \u0000 (escapes walked properly)? */
static int
has_nul_escape(struct json_span v)
{
	size_t	 i;

	for (i = 0; i < v.len; i++) {
		if (v.p[i] != '\\')
			continue;
		if (i + 1 < v.len && v.p[i + 1] == 'u') {
			if (i + 6 <= v.len && memcmp(v.p + i + 2, "0000", 4) == 0)
				return 1;
			i += 5;
		} else
			i++;
	}
	return 0;
}

/*
 * A tiny reader over validated JSON (json_validate said yes): the next
 * member name of the object at p, decoded (\uXXXX below 0x80 and simple
 * escapes; others make it "?"), with p left after the ':'. NULL at '}'.
 */
static const char *
next_key(const char *p, const char *e, char *key, size_t ksz, size_t *kl)
{
	size_t	 n = 0;

	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r' || *p == ','))
		p++;
	if (p >= e || *p != '"')
		return NULL;
	for (p++; p < e && *p != '"'; p++) {
		char c = *p;

		if (c == '\\') {
			p++;
			if (*p == 'u') {
				unsigned v = 0;
				int	 i;

				for (i = 1; i <= 4; i++) {
					char h = p[i];

					v = v * 16 + (unsigned)(h <= '9' ? h - '0' :
					    (h | 0x20) - 'a' + 10);
				}
				c = v < 0x80 ? (char)v : '?';
				p += 4;
			} else
				c = *p == 'n' ? '\n' : *p == 't' ? '\t' :
				    *p == 'b' ? '\b' : *p == 'f' ? '\f' :
				    *p == 'r' ? '\r' : *p;
		}
		if (n < ksz)
			key[n] = c;
		n++;
	}
	*kl = n <= ksz ? n : ksz + 1;	/* too long never matches */
	for (p++; p < e && *p != ':'; p++)
		continue;
	for (p++; p < e && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'); p++)
		continue;
	return p;
}

/* Past the value at p (validated JSON). */
static const char *
skip_value(const char *p, const char *e)
{
	int	 depth = 0;

	for (; p < e; p++) {
		if (*p == '"') {
			for (p++; p < e && *p != '"'; p++)
				if (*p == '\\')
					p++;
			if (depth == 0)
				return p + 1;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return p;
			if (--depth == 0)
				return p + 1;
		} else if (depth == 0 && (*p == ',' || *p == ' ' ||
		    *p == '\t' || *p == '\n' || *p == '\r'))
			return p;
	}
	return p;
}

/* A Clerk id: 1..64 of [A-Za-z0-9_-]. */
static void
clerk_id(const char *id)
{
	size_t	 i;

	CHECK(id != NULL);
	CHECK(strlen(id) >= 1 && strlen(id) <= EVENT_ID_MAX);
	for (i = 0; id[i] != '\0'; i++)
		CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-", id[i]) != NULL);
}

/*
 * A clerk_data view: an object; without private_too no member named
 * private_metadata; its first plainly written "id" is id.
 */
static void
clerk_data(const struct event_text *cd, const char *id, int private_too)
{
	const char	*p, *e;
	char		 key[64];
	size_t		 kl;
	int		 ids = 0;

	if (cd->p == NULL)
		return;
	p = cd->p;
	e = p + cd->len;
	CHECK(*p == '{');
	/* Each top-level member, its name decoded. */
	for (p++; (p = next_key(p, e, key, sizeof(key), &kl)) != NULL;) {
		const char *val = p;

		p = skip_value(p, e);
		if (!private_too && !skip_private && kl == 16 &&
		    memcmp(key, "private_metadata", 16) == 0) {
			fprintf(stderr, "fuzz_event: private_metadata member in "
			    "clerk_data: %.*s\n", (int)(p - val > 200 ? 200 :
			    p - val), val);
			abort();
		}
		if (!skip_coherent && kl == 2 && memcmp(key, "id", 2) == 0 &&
		    ids++ == 0 && *val == '"' && memchr(val, '\\',
		    (size_t)(p - val)) == NULL) {
			/* The first "id", if written plainly. */
			if ((size_t)(p - val) != strlen(id) + 2 ||
			    memcmp(val + 1, id, strlen(id)) != 0) {
				fprintf(stderr, "fuzz_event: clerk_data id %.*s "
				    "is not %s\n", (int)(p - val > 80 ? 80 :
				    p - val), val, id);
				abort();
			}
		}
	}
}

/* Whether a refusal names what the event is keyed on (or the body). */
static int
keyed(const char *why)
{
	static const char *const words[] = {
		"type", "data.id", "data is", "updated_at", "banned", "locked",
		"timestamp", "organization.id", "organization must",
		"user_id", "object", "memory"
	};
	size_t	 i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(why, words[i]) != NULL)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event		 ev;
	struct json_span	 v, dspan;
	const char		*why = "unset";
	char			*body;
	size_t			 len;
	int			 rc, private_too;

	if (size < 1)
		return 0;
	private_too = data[0] & 1;
	len = size - 1;
	if (!sig_utf8_valid((const char *)data + 1, len))
		return 0;
	body = malloc(len ? len : 1);	/* exact size for ASan */
	CHECK(body != NULL);
	if (len)
		memcpy(body, data + 1, len);

	rc = event_parse(body, len, private_too, CONFIG_EVENTS_ALL, &ev, &why);
	CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		CHECK(why != NULL && *why != '\0');
		if (json_validate(body, len, NULL) == 0 && !keyed(why)) {
			fprintf(stderr, "fuzz_event: refused for a field not "
			    "keyed on: %s\n", why);
			abort();
		}
		goto out;
	}
	CHECK((int)ev.type >= 0 && ev.type < EVENT__MAX);
	CHECK(ev.type_name != NULL && *ev.type_name != '\0');
	CHECK(ev.timestamp == -1 ||
	    (ev.timestamp >= 0 && ev.timestamp <= EVENT_TS_MAX));
	if (ev.type == EVENT_OTHER)
		goto out;

	CHECK(strcmp(ev.type_name, event_type_names[ev.type]) == 0);
	clerk_id(ev.object_id);
	if (!skip_nul_cut) {
		/* What the scanner sees as the type and data.id, as sent. */
		if (raw_member(body, len, "type", &v))
			CHECK(!has_nul_escape(v));
		if (raw_member(body, len, "data", &dspan) &&
		    json_member(dspan, "id", &v))
			CHECK(!has_nul_escape(v));
	}
	switch (ev.type) {
	case EVENT_USER_CREATED:
	case EVENT_USER_UPDATED:
		CHECK(ev.user.updated_at >= 0 &&
		    ev.user.updated_at <= 9007199254740991LL);
		CHECK(ev.user.created_at >= -1 && ev.user.last_sign_in_at >= -1);
		CHECK(ev.user.email_verified >= -1 &&
		    ev.user.email_verified <= 1);
		CHECK(ev.user.banned == 0 || ev.user.banned == 1);
		CHECK(ev.user.locked == 0 || ev.user.locked == 1);
		text(&ev.user.email, EVENT_EMAIL_MAX, 0);
		text(&ev.user.phone, EVENT_PHONE_MAX, 0);
		text(&ev.user.username, EVENT_USERNAME_MAX, 0);
		text(&ev.user.first_name, EVENT_NAME_MAX, 0);
		text(&ev.user.last_name, EVENT_NAME_MAX, 0);
		text(&ev.user.image_url, EVENT_URL_MAX, 1);
		text(&ev.user.external_id, EVENT_EXTERNAL_ID_MAX, 0);
		if (raw_member(body, len, "data", &dspan)) {
			whole_text(&ev.user.username, dspan, "username");
			whole_text(&ev.user.first_name, dspan, "first_name");
			whole_text(&ev.user.last_name, dspan, "last_name");
			whole_text(&ev.user.image_url, dspan, "image_url");
			whole_text(&ev.user.external_id, dspan, "external_id");
		}
		json_view(&ev.user.public_metadata, body, len, &ev);
		json_view(&ev.user.clerk_data, body, len, &ev);
		clerk_data(&ev.user.clerk_data, ev.object_id, private_too);
		break;
	case EVENT_ORG_CREATED:
	case EVENT_ORG_UPDATED:
	case EVENT_MEMBER_CREATED:
	case EVENT_MEMBER_UPDATED:
	case EVENT_MEMBER_DELETED:
		clerk_id(ev.org.id);
		CHECK(ev.org.updated_at >= 0 &&
		    ev.org.updated_at <= 9007199254740991LL);
		CHECK(ev.org.created_at >= -1);
		text(&ev.org.name, EVENT_NAME_MAX, 0);
		text(&ev.org.slug, EVENT_SLUG_MAX, 0);
		text(&ev.org.image_url, EVENT_URL_MAX, 1);
		text(&ev.org.created_by, EVENT_ID_MAX, 1);
		if (ev.org.created_by.p != NULL)
			clerk_id(ev.org.created_by.p);
		json_view(&ev.org.public_metadata, body, len, &ev);
		json_view(&ev.org.clerk_data, body, len, &ev);
		clerk_data(&ev.org.clerk_data, ev.org.id, private_too);
		if (ev.type == EVENT_ORG_CREATED || ev.type == EVENT_ORG_UPDATED) {
			CHECK(strcmp(ev.org.id, ev.object_id) == 0);
			break;
		}
		clerk_id(ev.member.user_id);
		CHECK(ev.member.updated_at >= -1 && ev.member.created_at >= -1);
		CHECK(ev.member.updated_at >= 0 ||
		    ev.type == EVENT_MEMBER_DELETED);
		text(&ev.member.role, EVENT_ROLE_MAX, 0);
		json_view(&ev.member.permissions, body, len, &ev);
		CHECK(ev.member.permissions.p == NULL ||
		    ev.member.permissions.p[0] == '[');
		json_view(&ev.member.public_metadata, body, len, &ev);
		break;
	case EVENT_ORG_DELETED:
		CHECK(strcmp(ev.org.id, ev.object_id) == 0);
		break;
	default:
		break;
	}
out:
	event_free(&ev);
	event_free(&ev);	/* documented as safe */
	free(body);
	return 0;
}

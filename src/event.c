/*
 * clerksync — event: verified bytes -> struct event.
 * SPDX-License-Identifier: ISC
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "config.h"
#include "event.h"
#include "json.h"

/* Integers above this are not exact as doubles. */
#define EVENT_INT_MAX	9007199254740991.0	/* 2^53 - 1 */
/* SPEC section 2: an envelope timestamp below this is in seconds. */
#define EVENT_SECONDS_BELOW	100000000000LL

const char *const event_type_names[EVENT__MAX] = {
	"user.created", "user.updated", "user.deleted",
	"organization.created", "organization.updated", "organization.deleted",
	"organizationMembership.created", "organizationMembership.updated",
	"organizationMembership.deleted", "other"
};

const unsigned int event_families[EVENT__MAX] = {
	CONFIG_EVENTS_USERS, CONFIG_EVENTS_USERS, CONFIG_EVENTS_USERS,
	CONFIG_EVENTS_ORGANIZATIONS, CONFIG_EVENTS_ORGANIZATIONS,
	CONFIG_EVENTS_ORGANIZATIONS,
	CONFIG_EVENTS_MEMBERSHIPS, CONFIG_EVENTS_MEMBERSHIPS,
	CONFIG_EVENTS_MEMBERSHIPS, 0
};

#define BAD(phrase) do { *why = (phrase); goto fail; } while (0)

/*
 * Decoded strings and the copy of data without a member live exactly as
 * long as the event, so they come from an arena: a bump allocator reset
 * as a whole by event_free. What does not fit spills into malloc'd
 * chunks, and the next arena is made big enough to hold it (up to
 * EVENT_ARENA_KEEP).
 */
#define ARENA_ALIGN	16

struct arena {
	char		*base;
	size_t		 size, used, spill;
	void		*chunks;	/* spilled: each starts with the next */
};

static struct arena	*arena_spare;	/* kept between events */

static void *
arena_alloc(struct arena *a, size_t n)
{
	char		*p;

	if (a == NULL || n > SIZE_MAX / 2)
		return NULL;
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (a->size - a->used >= n) {
		p = a->base + a->used;
		a->used += n;
		return p;
	}
	if ((p = malloc(ARENA_ALIGN + n)) == NULL)
		return NULL;
	*(void **)(void *)p = a->chunks;
	a->chunks = p;
	a->spill += n;
	return p + ARENA_ALIGN;
}

static struct arena *
arena_get(void)
{
	struct arena	*a;

	if ((a = arena_spare) != NULL) {
		arena_spare = NULL;
		return a;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((a->base = malloc(EVENT_ARENA_MIN)) != NULL)
		a->size = EVENT_ARENA_MIN;
	return a;
}

static void
arena_put(struct arena *a)
{
	size_t	 want = a->used + a->spill;
	void	*c, *next;
	char	*nb;

	for (c = a->chunks; c != NULL; c = next) {
		next = *(void **)c;
		free(c);
	}
	a->chunks = NULL;
	if (a->spill > 0 && want <= EVENT_ARENA_KEEP &&
	    (nb = malloc(want)) != NULL) {
		free(a->base);
		a->base = nb;
		a->size = want;
	}
	a->used = a->spill = 0;
	if (arena_spare == NULL)
		arena_spare = a;
	else {
		free(a->base);
		free(a);
	}
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* An event logs one warning: the first. */
static void
warn(struct event *ev, const char *phrase)
{
	if (ev->warning == NULL)
		ev->warning = phrase;
}

static int
is_null(struct json_span v)
{
	return v.p == NULL || (v.len == 4 && memcmp(v.p, "null", 4) == 0);
}

/*
 * cJSON decodes each value clerksync reads, from the span the scanner
 * found, never the whole body. While it parses, its hooks allocate in the
 * event's arena and free nothing, so the item and its string live as
 * long as the event, with no copy and no cJSON_Delete (which must never
 * see them: they are not malloc's). decode_oom says an allocation failed.
 */
static struct arena	*decode_arena;
static int		 decode_oom;

static void *
decode_alloc(size_t n)
{
	void	*p;

	if ((p = arena_alloc(decode_arena, n)) == NULL)
		decode_oom = 1;
	return p;
}

static void
decode_keep(void *p)
{
	(void)p;		/* freed with the arena */
}

/*
 * The value in v, decoded by cJSON, or NULL if cJSON does not read
 * exactly v as one value (a lone surrogate: no character) or memory runs
 * out (decode_oom).
 */
static const cJSON *
decode(struct event *ev, struct json_span v)
{
	cJSON_Hooks	 hooks = { decode_alloc, decode_keep };
	const char	*end = NULL;
	cJSON		*item;

	decode_arena = ev->arena;
	cJSON_InitHooks(&hooks);
	item = cJSON_ParseWithLengthOpts(v.p, v.len, &end, 0);
	cJSON_InitHooks(NULL);
	decode_arena = NULL;
	return item != NULL && end == v.p + v.len ? item : NULL;
}

/*
 * The text of v, a JSON string as sent: a view into the body where it
 * holds no escape and cstr is not set (its bytes are the text), else
 * cJSON's decoding of it in the arena, ended by a NUL. A \u0000 stays a
 * NUL byte inside: cJSON writes one for each, and they are the only NULs
 * of the text (json_string_nuls), so the length is found segment by
 * segment. -1 if v is not a string or holds a lone surrogate, -2 if
 * memory runs out.
 */
static int
text_of(struct event *ev, struct json_span v, int cstr, const char **p,
    size_t *len)
{
	const cJSON	*item;
	const char	*s;
	size_t		 n, nuls;

	*p = NULL;
	*len = 0;
	if (v.p == NULL || v.len < 2 || *v.p != '"')
		return -1;
	if (!cstr && memchr(v.p + 1, '\\', v.len - 2) == NULL) {
		*p = v.p + 1;
		*len = v.len - 2;
		return 0;
	}
	if ((item = decode(ev, v)) == NULL)
		return decode_oom ? -2 : -1;
	if (!cJSON_IsString(item))
		return -1;
	s = item->valuestring;
	n = strlen(s);
	for (nuls = json_string_nuls(v); nuls > 0 && n < v.len - 2; nuls--)
		n += 1 + strlen(s + n + 1);
	if (nuls > 0 || n > v.len - 2)
		return -1;		/* not as validated: never cut */
	*p = s;
	*len = n;
	return 0;
}

/* Whether v, a JSON string as sent, decodes to lit. */
static int
str_is(struct event *ev, struct json_span v, const char *lit)
{
	const char	*p;
	size_t		 n;

	return text_of(ev, v, 0, &p, &n) == 0 && n == strlen(lit) &&
	    memcmp(p, lit, n) == 0;
}

/*
 * A nullable text column from v: absent or null gives SQL NULL, a string
 * of at most max characters (bytes if bytes is set) its decoded bytes,
 * \u0000 included. Anything else is no reason to refuse the event: the
 * column is NULL and warning is logged. -1 only if memory runs out.
 */
static int
get_text(struct event *ev, struct json_span v, size_t max, int bytes,
    struct event_text *out, const char *warning)
{
	const char	*p;
	size_t		 n;
	int		 rc;

	out->p = NULL;
	out->len = 0;
	if (is_null(v))
		return 0;
	if ((rc = text_of(ev, v, 0, &p, &n)) == -2)
		return -1;
	if (rc == -1 || (bytes ? n : utf8_chars(p, n)) > max) {
		warn(ev, warning);
		return 0;
	}
	out->p = p;
	out->len = n;
	return 0;
}

/*
 * A nullable integer: -1 for absent or null; -1 returned if not one (or
 * memory runs out: decode_oom). No integer clerksync keeps needs 64
 * characters: a longer number (5.000...01, which a double rounds to 5)
 * is refused before cJSON reads it.
 */
static int
get_int(struct event *ev, struct json_span v, long long *out)
{
	const cJSON	*item;
	double		 d;

	*out = -1;
	if (is_null(v))
		return 0;
	if (v.len >= 64 || (item = decode(ev, v)) == NULL ||
	    !cJSON_IsNumber(item))
		return -1;
	d = item->valuedouble;
	if (!isfinite(d) || d < 0 || d > EVENT_INT_MAX || d != floor(d))
		return -1;
	*out = (long long)d;
	return 0;
}

/* A nullable integer column: what is not one is NULL, with warning. */
static void
get_when(struct event *ev, struct json_span v, long long *out,
    const char *warning)
{
	if (get_int(ev, v, out) == -1) {
		*out = -1;
		warn(ev, warning);
	}
}

/* A boolean: absent or null is 0; -1 returned if not one. */
static int
get_bool(struct event *ev, struct json_span v, int *out)
{
	const cJSON	*item;

	*out = 0;
	if (is_null(v))
		return 0;
	if ((item = decode(ev, v)) == NULL || !cJSON_IsBool(item))
		return -1;
	*out = cJSON_IsTrue(item);
	return 0;
}

/* Clerk ids are <prefix>_<base62>: case matters, no other characters. */
static int
valid_id(const char *s, size_t n)
{
	return n > 0 && n <= EVENT_ID_MAX && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") == n;
}

/*
 * A Clerk id from v, as a C string: -1 unless a valid id. A \u0000 in it
 * is a byte strspn stops at, so an id holding one is refused, never read
 * as a shorter one.
 */
static int
get_id(struct event *ev, struct json_span v, const char **out)
{
	const char	*p;
	size_t		 n;

	*out = NULL;
	if (v.p == NULL || v.len > 6 * EVENT_ID_MAX + 2 ||
	    text_of(ev, v, 1, &p, &n) != 0 || !valid_id(p, n))
		return -1;
	*out = p;
	return 0;
}

/*
 * SPEC section 3: the primary email (or phone) is the element of list
 * whose id is the primary id, never the first one. What has the wrong
 * type leaves it NULL, with warning. -1 only if memory runs out.
 */
static int
get_primary(struct event *ev, struct json_span pid, struct json_span list,
    const char *valkey, size_t max, struct event_text *out, int *verified,
    const char *warning)
{
	const char		*keys[3] = { "id", valkey, "verification" };
	struct json_span	 el, f[3], st;
	const char		*want, *id;
	size_t			 wn, idn, pos = 0;
	int			 rc;

	out->p = NULL;
	out->len = 0;
	if (verified != NULL)
		*verified = -1;
	if (is_null(pid) || is_null(list))
		return 0;
	if ((rc = text_of(ev, pid, 0, &want, &wn)) == -2)
		return -1;
	if (rc == -1 || *list.p != '[') {
		warn(ev, warning);
		return 0;
	}
	while (json_next(list, &pos, &el)) {
		if (*el.p != '{') {
			warn(ev, warning);
			return 0;
		}
		json_members(el, keys, 3, f);
		if ((rc = text_of(ev, f[0], 0, &id, &idn)) == -2)
			return -1;
		if (rc == -1 || idn != wn || memcmp(id, want, wn) != 0)
			continue;
		if (get_text(ev, f[1], max, 0, out, warning) == -1)
			return -1;
		if (verified == NULL || out->p == NULL)
			return 0;
		*verified = f[2].p != NULL && *f[2].p == '{' &&
		    json_member(f[2], "status", &st) &&
		    str_is(ev, st, "verified");
		return 0;
	}
	return 0;
}

/*
 * Whether a JSON value can be stored as sent: MariaDB's JSON_VALID
 * refuses nesting of 32 or more, and a lone surrogate is no character.
 * Only looked at when the body showed either (trouble): no second pass
 * over an ordinary event.
 */
static int
storable(struct json_span v, int maxdepth)
{
	struct json_stats	 st;

	return json_scan(v.p, v.len, &st) == 0 && st.depth <= maxdepth &&
	    (st.flags & JSON_LONE_SURROGATE) == 0;
}

/* A JSON column: v as sent; null is NULL; not storable: NULL, warning. */
static void
get_json(struct event *ev, struct json_span v, int trouble,
    struct event_text *out, const char *warning)
{
	out->p = NULL;
	out->len = 0;
	if (is_null(v))
		return;
	if (trouble && !storable(v, EVENT_JSON_DEPTH_MAX)) {
		warn(ev, warning);
		return;
	}
	out->p = v.p;
	out->len = v.len;
}

/*
 * Whether clerk_data leaves out the member name: val: private_metadata
 * unless private_too (SPEC section 3), and, when the body is in trouble,
 * a member whose name or value cannot be stored as sent.
 */
static int
left_out(struct json_span name, struct json_span val, int private_too,
    int trouble)
{
	struct json_span	 quoted = { name.p - 1, name.len + 2 };

	if (!private_too && json_name_is(name, "private_metadata"))
		return 1;
	return trouble && (!storable(quoted, 0) ||
	    !storable(val, EVENT_JSON_DEPTH_MAX - 1));
}

/*
 * clerk_data: obj as sent, or a copy without the members left_out names
 * (one such copy an event, in ev->buf). priv is obj's first
 * private_metadata: without it or trouble, obj is taken as it is, with no
 * walk. Leaving out anything but private_metadata logs warning. -1 only
 * if memory runs out.
 */
static int
get_clerk_data(struct event *ev, struct json_span obj, struct json_span priv,
    int private_too, int trouble, struct event_text *out, const char *warning)
{
	struct json_span	 cut = obj, name, val;
	size_t			 pos = 0, prev;

	out->p = obj.p;
	out->len = obj.len;
	if (!trouble && (private_too || priv.p == NULL))
		return 0;
	/* One walk: after a removal, on from where that member began. */
	for (;;) {
		prev = pos;
		if (!json_next_member(cut, &pos, &name, &val))
			break;
		if (!left_out(name, val, private_too, trouble))
			continue;
		if (ev->buf == NULL &&
		    (ev->buf = arena_alloc(ev->arena, obj.len)) == NULL)
			return -1;
		if (!json_name_is(name, "private_metadata"))
			warn(ev, warning);
		cut.len = json_without(cut, val, ev->buf);
		cut.p = ev->buf;
		pos = prev;
	}
	out->p = cut.p;
	out->len = cut.len;
	return 0;
}

enum user_key {
	USER_ID, USER_UPDATED_AT, USER_CREATED_AT, USER_LAST_SIGN_IN_AT,
	USER_USERNAME, USER_FIRST_NAME, USER_LAST_NAME, USER_IMAGE_URL,
	USER_EXTERNAL_ID, USER_BANNED, USER_LOCKED, USER_EMAIL_ID,
	USER_EMAILS, USER_PHONE_ID, USER_PHONES, USER_PUBLIC_METADATA,
	USER_PRIVATE_METADATA, USER__MAX
};

static const char *const user_keys[USER__MAX] = {
	"id", "updated_at", "created_at", "last_sign_in_at", "username",
	"first_name", "last_name", "image_url", "external_id", "banned",
	"locked", "primary_email_address_id", "email_addresses",
	"primary_phone_number_id", "phone_numbers", "public_metadata",
	"private_metadata"
};

/*
 * The user's text columns and primary email and phone: a value that
 * cannot be stored as sent is NULL, with a warning. -1 when out of memory.
 */
static int
user_texts(struct event *ev, const struct json_span *f)
{
	struct event_user	*u = &ev->user;

	if (get_text(ev, f[USER_USERNAME], EVENT_USERNAME_MAX, 0,
	    &u->username, "data.username is not a string of at most 255 "
	    "characters: stored as NULL") == -1 ||
	    get_text(ev, f[USER_FIRST_NAME], EVENT_NAME_MAX, 0,
	    &u->first_name, "data.first_name is not a string of at most 256 "
	    "characters: stored as NULL") == -1 ||
	    get_text(ev, f[USER_LAST_NAME], EVENT_NAME_MAX, 0,
	    &u->last_name, "data.last_name is not a string of at most 256 "
	    "characters: stored as NULL") == -1 ||
	    get_text(ev, f[USER_IMAGE_URL], EVENT_URL_MAX, 1,
	    &u->image_url, "data.image_url is not a string of at most 65535 "
	    "bytes: stored as NULL") == -1 ||
	    get_text(ev, f[USER_EXTERNAL_ID], EVENT_EXTERNAL_ID_MAX, 0,
	    &u->external_id, "data.external_id is not a string of at most "
	    "255 characters: stored as NULL") == -1 ||
	    get_primary(ev, f[USER_EMAIL_ID], f[USER_EMAILS], "email_address",
	    EVENT_EMAIL_MAX, &u->email, &u->email_verified,
	    "data.email_addresses: wrong type, or an address that is not a "
	    "string of at most 320 characters: email stored as NULL") == -1 ||
	    get_primary(ev, f[USER_PHONE_ID], f[USER_PHONES], "phone_number",
	    EVENT_PHONE_MAX, &u->phone, NULL, "data.phone_numbers: wrong "
	    "type, or a number that is not a string of at most 64 characters: "
	    "phone stored as NULL") == -1)
		return -1;
	return 0;
}

/*
 * A user: only id and updated_at are keyed on, and banned and locked,
 * which apps trust for access and no end user writes, are never guessed;
 * any other field that cannot be stored as sent is NULL, with a warning.
 */
static int
parse_user(struct event *ev, struct json_span data, int private_too,
    int trouble, const char **why)
{
	struct event_user	*u = &ev->user;
	struct json_span	 f[USER__MAX];

	json_members(data, user_keys, USER__MAX, f);
	if (get_id(ev, f[USER_ID], &ev->object_id) == -1)
		BAD("data.id must be a Clerk id of at most 64 characters "
		    "[A-Za-z0-9_-]");
	if (ev->type == EVENT_USER_DELETED)
		return 0;
	if (get_int(ev, f[USER_UPDATED_AT], &u->updated_at) == -1 ||
	    u->updated_at < 0)
		BAD("data.updated_at must be an integer (ms)");
	if (get_bool(ev, f[USER_BANNED], &u->banned) == -1)
		BAD("data.banned must be a boolean");
	if (get_bool(ev, f[USER_LOCKED], &u->locked) == -1)
		BAD("data.locked must be a boolean");
	get_when(ev, f[USER_CREATED_AT], &u->created_at, "data.created_at "
	    "is not an integer (ms): stored as NULL");
	get_when(ev, f[USER_LAST_SIGN_IN_AT], &u->last_sign_in_at,
	    "data.last_sign_in_at is not an integer (ms): stored as NULL");
	if (user_texts(ev, f) == -1)
		BAD("out of memory");
	get_json(ev, f[USER_PUBLIC_METADATA], trouble, &u->public_metadata,
	    "public_metadata nested deeper than 31 or holding a lone "
	    "surrogate: stored as NULL");
	if (get_clerk_data(ev, data, f[USER_PRIVATE_METADATA], private_too,
	    trouble, &u->clerk_data,
	    "data nested deeper than 31 or holding a lone surrogate: "
	    "clerk_data stored without those members") == -1)
		BAD("out of memory");
	return 0;
fail:
	return -1;
}

enum org_key {
	ORG_ID, ORG_UPDATED_AT, ORG_CREATED_AT, ORG_NAME, ORG_SLUG,
	ORG_IMAGE_URL, ORG_CREATED_BY, ORG_PUBLIC_METADATA,
	ORG_PRIVATE_METADATA, ORG__MAX
};

static const char *const org_keys[ORG__MAX] = {
	"id", "updated_at", "created_at", "name", "slug", "image_url",
	"created_by", "public_metadata", "private_metadata"
};

/*
 * An organization object: of organization.* (data) or a membership's
 * (data.organization). Keyed on its id and updated_at.
 */
static int
parse_org(struct event *ev, struct json_span obj, int private_too,
    int trouble, const char **why)
{
	struct event_org	*o = &ev->org;
	struct json_span	 f[ORG__MAX];
	const char		*id;

	json_members(obj, org_keys, ORG__MAX, f);
	if (get_id(ev, f[ORG_ID], &o->id) == -1)
		BAD(ev->type < EVENT_MEMBER_CREATED ? "data.id must be a Clerk "
		    "id of at most 64 characters [A-Za-z0-9_-]" :
		    "data.organization.id must be a Clerk id");
	if (ev->type == EVENT_ORG_DELETED)
		return 0;
	if (get_int(ev, f[ORG_UPDATED_AT], &o->updated_at) == -1 ||
	    o->updated_at < 0)
		BAD("organization updated_at must be an integer (ms)");
	get_when(ev, f[ORG_CREATED_AT], &o->created_at, "organization "
	    "created_at is not an integer (ms): stored as NULL");
	if (get_text(ev, f[ORG_NAME], EVENT_NAME_MAX, 0, &o->name,
	    "organization name is not a string of at most 256 characters: "
	    "stored as NULL") == -1 ||
	    get_text(ev, f[ORG_SLUG], EVENT_SLUG_MAX, 0, &o->slug,
	    "organization slug is not a string of at most 255 characters: "
	    "stored as NULL") == -1 ||
	    get_text(ev, f[ORG_IMAGE_URL], EVENT_URL_MAX, 1, &o->image_url,
	    "organization image_url is not a string of at most 65535 bytes: "
	    "stored as NULL") == -1)
		BAD("out of memory");
	/* Optional and informative: what is not a user id is not kept. */
	if (get_id(ev, f[ORG_CREATED_BY], &id) == 0) {
		o->created_by.p = id;
		o->created_by.len = strlen(id);
	} else if (!is_null(f[ORG_CREATED_BY]) &&
	    !(f[ORG_CREATED_BY].len == 2 && *f[ORG_CREATED_BY].p == '"'))
		warn(ev, "organization created_by is not a Clerk id: stored "
		    "as NULL");
	get_json(ev, f[ORG_PUBLIC_METADATA], trouble, &o->public_metadata,
	    "organization public_metadata nested deeper than 31 or holding a "
	    "lone surrogate: stored as NULL");
	if (get_clerk_data(ev, obj, f[ORG_PRIVATE_METADATA], private_too,
	    trouble, &o->clerk_data,
	    "organization nested deeper than 31 or holding a lone surrogate: "
	    "clerk_data stored without those members") == -1)
		BAD("out of memory");
	return 0;
fail:
	return -1;
}

enum member_key {
	MEMBER_ID, MEMBER_ORG, MEMBER_USER_DATA, MEMBER_UPDATED_AT,
	MEMBER_CREATED_AT, MEMBER_ROLE, MEMBER_PERMISSIONS,
	MEMBER_PUBLIC_METADATA, MEMBER__MAX
};

static const char *const member_keys[MEMBER__MAX] = {
	"id", "organization", "public_user_data", "updated_at", "created_at",
	"role", "permissions", "public_metadata"
};

/* Whether v is an array of strings only. */
static int
string_array(struct json_span v)
{
	struct json_span	 el;
	size_t			 pos = 0;

	if (*v.p != '[')
		return 0;
	while (json_next(v, &pos, &el))
		if (*el.p != '"')
			return 0;
	return 1;
}

/*
 * A membership: keyed on its id, the organization's id and updated_at,
 * the user's id and its own updated_at (absent in a deleted one).
 */
static int
parse_member(struct event *ev, struct json_span data, int private_too,
    int trouble, const char **why)
{
	struct event_member	*m = &ev->member;
	struct json_span	 f[MEMBER__MAX], uid;

	json_members(data, member_keys, MEMBER__MAX, f);
	if (get_id(ev, f[MEMBER_ID], &ev->object_id) == -1)
		BAD("data.id must be a Clerk id of at most 64 characters "
		    "[A-Za-z0-9_-]");
	if (f[MEMBER_ORG].p == NULL || *f[MEMBER_ORG].p != '{')
		BAD("data.organization must be an object");
	if (parse_org(ev, f[MEMBER_ORG], private_too, trouble, why) == -1)
		return -1;
	if (f[MEMBER_USER_DATA].p == NULL || *f[MEMBER_USER_DATA].p != '{' ||
	    !json_member(f[MEMBER_USER_DATA], "user_id", &uid) ||
	    get_id(ev, uid, &m->user_id) == -1)
		BAD("data.public_user_data.user_id must be a Clerk id");
	if (get_int(ev, f[MEMBER_UPDATED_AT], &m->updated_at) == -1 ||
	    (m->updated_at < 0 && ev->type != EVENT_MEMBER_DELETED))
		BAD("data.updated_at must be an integer (ms)");
	get_when(ev, f[MEMBER_CREATED_AT], &m->created_at, "data.created_at "
	    "is not an integer (ms): stored as NULL");
	if (get_text(ev, f[MEMBER_ROLE], EVENT_ROLE_MAX, 0, &m->role,
	    "data.role is not a string of at most 255 characters: stored as "
	    "NULL") == -1)
		BAD("out of memory");
	if (!is_null(f[MEMBER_PERMISSIONS]) &&
	    !string_array(f[MEMBER_PERMISSIONS]))
		warn(ev, "data.permissions is not an array of strings: stored "
		    "as NULL");
	else
		get_json(ev, f[MEMBER_PERMISSIONS], trouble, &m->permissions,
		    "data.permissions holds a lone surrogate: stored as NULL");
	get_json(ev, f[MEMBER_PUBLIC_METADATA], trouble, &m->public_metadata,
	    "membership public_metadata nested deeper than 31 or holding a "
	    "lone surrogate: stored as NULL");
	return 0;
fail:
	return -1;
}

enum envelope_key {
	ENV_TYPE, ENV_DATA, ENV_TIMESTAMP, ENV__MAX
};

static const char *const envelope_keys[ENV__MAX] = {
	"type", "data", "timestamp"
};

/* Nothing read yet: NULL, and -1 (absent) where 0 is a value. */
static void
event_reset(struct event *ev, const char **why)
{
	memset(ev, 0, sizeof(*ev));
	decode_oom = 0;
	ev->timestamp = -1;
	ev->user.email_verified = -1;
	ev->org.created_at = ev->org.updated_at = -1;
	ev->member.created_at = ev->member.updated_at = -1;
	*why = NULL;
}

/*
 * The members of the envelope: type and timestamp into ev, data checked
 * to be an object. Returns 0, or -1 with *why set.
 */
static int
parse_envelope(struct event *ev, const struct json_span *env,
    const char **why)
{
	long long	 ts;
	size_t		 n;

	if (text_of(ev, env[ENV_TYPE], 1, &ev->type_name, &n) != 0 ||
	    n == 0)
		BAD("type is missing or not a string");
	if (strlen(ev->type_name) != n)
		BAD("type must not contain U+0000");
	if (env[ENV_DATA].p == NULL || *env[ENV_DATA].p != '{')
		BAD("data is missing or not an object");
	if (get_int(ev, env[ENV_TIMESTAMP], &ts) == -1)
		BAD("timestamp must be an integer");
	if (ts >= 0)
		ev->timestamp = ts < EVENT_SECONDS_BELOW ? ts * 1000 : ts;
	if (ev->timestamp > EVENT_TS_MAX)
		BAD("timestamp is after the year 9999");
	return 0;
fail:
	return -1;
}

/*
 * A type not named in event_type_names, or of a family the
 * configuration does not store, is EVENT_OTHER: verified, valid, not
 * handled.
 */
static void
event_classify(struct event *ev, unsigned int families)
{
	int	 t;

	ev->type = EVENT_OTHER;
	for (t = 0; t < EVENT_OTHER; t++)
		if (strcmp(ev->type_name, event_type_names[t]) == 0)
			ev->type = (enum event_type)t;
	if ((event_families[ev->type] & families) == 0)
		ev->type = EVENT_OTHER;
}

/* The data object, by the family of the event; EVENT_OTHER reads none. */
static int
parse_data(struct event *ev, struct json_span data, int private_too,
    int trouble, const char **why)
{
	int	 rc;

	switch (ev->type) {
	case EVENT_USER_CREATED:
	case EVENT_USER_UPDATED:
	case EVENT_USER_DELETED:
		rc = parse_user(ev, data, private_too, trouble, why);
		break;
	case EVENT_ORG_CREATED:
	case EVENT_ORG_UPDATED:
	case EVENT_ORG_DELETED:
		if ((rc = parse_org(ev, data, private_too, trouble,
		    why)) == 0)
			ev->object_id = ev->org.id;
		break;
	case EVENT_MEMBER_CREATED:
	case EVENT_MEMBER_UPDATED:
	case EVENT_MEMBER_DELETED:
		rc = parse_member(ev, data, private_too, trouble, why);
		break;
	default:
		rc = 0;
		break;
	}
	return rc;
}

int
event_parse(const char *body, size_t len, int private_too,
    unsigned int families, struct event *ev, const char **why)
{
	struct json_span	 whole, env[ENV__MAX];
	struct json_stats	 st;
	int			 trouble;

	event_reset(ev, why);
	/*
	 * One strict pass over the body, at any depth; then the members
	 * are found by skipping values, so an end user's deep or odd
	 * metadata costs no more than its bytes and refuses nothing.
	 */
	if (json_scan(body, len, &st) == -1)
		BAD("body is not JSON");
	/* Values too deep or with a lone surrogate are stored as NULL. */
	trouble = st.depth - 1 > EVENT_JSON_DEPTH_MAX ||
	    (st.flags & JSON_LONE_SURROGATE) != 0;
	if ((ev->arena = arena_get()) == NULL)
		BAD("out of memory");
	whole = json_start(body, len);
	if (whole.len == 0 || *whole.p != '{')
		BAD("body is not a JSON object");
	json_members(whole, envelope_keys, ENV__MAX, env);
	if (parse_envelope(ev, env, why) == -1)
		goto fail;
	event_classify(ev, families);
	if (parse_data(ev, env[ENV_DATA], private_too, trouble,
	    why) == 0 && !decode_oom)
		return 0;
fail:
	/* A value not decoded for want of memory: not the field's fault. */
	if (decode_oom)
		*why = "out of memory";
	return -1;
}

void
event_free(struct event *ev)
{
	/* Decoded strings and buf live in the arena: no free of their own. */
	if (ev->arena != NULL)
		arena_put(ev->arena);
	ev->arena = NULL;
	ev->buf = NULL;
}

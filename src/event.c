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

/* Integers above this are not exact as doubles (cJSON's numbers). */
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
 * cJSON allocates every node and string on its own. An event's tree
 * lives exactly as long as the event, so it comes from an arena: a bump
 * allocator whose frees do nothing, reset as a whole by event_free.
 * What does not fit spills into malloc'd chunks, and the next arena is
 * made big enough to hold it (up to EVENT_ARENA_KEEP).
 */
#define ARENA_ALIGN	16

struct arena {
	char		*base;
	size_t		 size, used, spill;
	void		*chunks;	/* spilled: each starts with the next */
};

static struct arena	*arena_spare;	/* kept between events */
static struct arena	*arena_now;	/* what cJSON allocates from */

static void *
arena_alloc(size_t n)
{
	struct arena	*a = arena_now;
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

static void
arena_nofree(void *p)
{
	(void)p;
}

static struct arena *
arena_get(void)
{
	static int	 hooked;
	struct arena	*a;

	if (!hooked) {
		cJSON_Hooks h = { arena_alloc, arena_nofree };

		cJSON_InitHooks(&h);
		hooked = 1;
	}
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

/*
 * A nullable string member: absent or null gives SQL NULL, a string of
 * at most max characters (bytes if bytes is set) a view, anything else
 * -1. cJSON ends strings at U+0000, so a name holding one is cut there.
 */
static int
get_text(const cJSON *obj, const char *key, size_t max, int bytes,
    struct event_text *out)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(obj, key);

	out->p = NULL;
	out->len = 0;
	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return -1;
	out->len = strlen(it->valuestring);
	if ((bytes ? out->len : utf8_chars(it->valuestring, out->len)) > max)
		return -1;
	out->p = it->valuestring;
	return 0;
}

/* A nullable integer member: -1 for absent or null. */
static int
get_int(const cJSON *obj, const char *key, long long *out)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(obj, key);
	double		 d;

	*out = -1;
	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it))
		return -1;
	d = it->valuedouble;
	if (!isfinite(d) || d < 0 || d > EVENT_INT_MAX || d != floor(d))
		return -1;
	*out = (long long)d;
	return 0;
}

static int
get_bool(const cJSON *obj, const char *key, int *out)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = 0;
	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsBool(it))
		return -1;
	*out = cJSON_IsTrue(it) ? 1 : 0;
	return 0;
}

/*
 * SPEC section 3: the primary email (or phone) is the element of list
 * whose id is the primary id, never the first one. Returns -1 if a
 * present member has the wrong type.
 */
static int
get_primary(const cJSON *data, const char *idkey, const char *listkey,
    const char *valkey, size_t max, struct event_text *out, int *verified)
{
	const cJSON	*pid, *list, *el, *id, *ver, *st;

	out->p = NULL;
	out->len = 0;
	if (verified != NULL)
		*verified = -1;
	pid = cJSON_GetObjectItemCaseSensitive(data, idkey);
	if (pid == NULL || cJSON_IsNull(pid))
		return 0;
	if (!cJSON_IsString(pid))
		return -1;
	list = cJSON_GetObjectItemCaseSensitive(data, listkey);
	if (list == NULL || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return -1;
	cJSON_ArrayForEach(el, list) {
		if (!cJSON_IsObject(el))
			return -1;
		id = cJSON_GetObjectItemCaseSensitive(el, "id");
		if (!cJSON_IsString(id) ||
		    strcmp(id->valuestring, pid->valuestring) != 0)
			continue;
		if (get_text(el, valkey, max, 0, out) == -1)
			return -1;
		if (verified == NULL || out->p == NULL)
			return 0;
		ver = cJSON_GetObjectItemCaseSensitive(el, "verification");
		st = cJSON_IsObject(ver) ?
		    cJSON_GetObjectItemCaseSensitive(ver, "status") : NULL;
		*verified = cJSON_IsString(st) &&
		    strcmp(st->valuestring, "verified") == 0;
		return 0;
	}
	return 0;
}

/* Clerk ids are <prefix>_<base62>: case matters, no other characters. */
static int
valid_id(const char *s)
{
	size_t	 n = strlen(s);

	return n > 0 && n <= EVENT_ID_MAX && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") == n;
}

/*
 * MariaDB checks JSON columns with JSON_VALID, which refuses nesting of
 * 32 or more; unsafe_metadata is written by users themselves, so a deep
 * one must not wedge their sync: such a column is stored as NULL.
 */
static void
cap_depth(struct event *ev, struct event_text *t, const char *warning)
{
	int	 depth;

	if (t->p == NULL || json_validate(t->p, t->len, &depth) == -1 ||
	    depth <= EVENT_JSON_DEPTH_MAX)
		return;
	t->p = NULL;
	t->len = 0;
	ev->warning = warning;
}

/*
 * A JSON column: v, the raw bytes of member key as sent; null is NULL.
 * cJSON decodes escaped keys and the scanner does not: where only cJSON
 * sees the member, -1.
 */
static int
get_raw(struct json_span v, const cJSON *tree, const char *key,
    struct event_text *out)
{
	out->p = NULL;
	out->len = 0;
	if (v.p == NULL)
		return cJSON_GetObjectItemCaseSensitive(tree, key) ? -1 : 0;
	if (v.len == 4 && memcmp(v.p, "null", 4) == 0)
		return 0;
	out->p = v.p;
	out->len = v.len;
	return 0;
}

/*
 * obj's public_metadata, as sent, and clerk_data: obj without any
 * private_metadata member unless private_too (SPEC section 3). clerk_data
 * may be NULL. An event makes at most one such copy.
 */
static int
get_meta(struct event *ev, const cJSON *tree, struct json_span obj,
    int private_too, struct event_text *pub, struct event_text *clerk_data,
    const char **why)
{
	static const char *const keys[] = {
		"public_metadata", "private_metadata"
	};
	struct json_span	 raw[2], cut;

	json_members(obj, keys, 2, raw);
	if (get_raw(raw[0], tree, keys[0], pub) == -1)
		BAD("public_metadata: escaped member names are not supported");
	if (clerk_data == NULL)
		return 0;
	clerk_data->p = obj.p;
	clerk_data->len = obj.len;
	if (private_too || raw[1].p == NULL)
		return 0;
	arena_now = ev->arena;
	ev->buf = arena_alloc(obj.len);
	arena_now = NULL;
	if (ev->buf == NULL)
		BAD("out of memory");
	/* Every member of that name goes, not only the first. */
	cut.p = ev->buf;
	cut.len = json_without(obj, raw[1], ev->buf);
	while (json_member(cut, keys[1], &raw[1]))
		cut.len = json_without(cut, raw[1], ev->buf);
	clerk_data->p = cut.p;
	clerk_data->len = cut.len;
	return 0;
fail:
	return -1;
}

/*
 * A Clerk id member of obj (tree and span): -1 unless a valid id. cJSON
 * ends strings at U+0000, so where the body may hold one (nul), the raw
 * string is checked too: an id holding one would be read as another.
 */
static int
get_id(const cJSON *tree, struct json_span obj, const char *key, int nul,
    const char **out)
{
	const cJSON		*id = cJSON_GetObjectItemCaseSensitive(tree, key);
	struct json_span	 raw;

	*out = NULL;
	if (!cJSON_IsString(id) || !valid_id(id->valuestring))
		return -1;
	if (nul && (!json_member(obj, key, &raw) ||
	    json_string_has_nul(raw)))
		return -1;
	*out = id->valuestring;
	return 0;
}

static int
parse_user(struct event *ev, const cJSON *data, struct json_span dspan,
    int private_too, const char **why)
{
	struct event_user	*u = &ev->user;

	if (get_int(data, "updated_at", &u->updated_at) == -1 ||
	    u->updated_at < 0)
		BAD("data.updated_at must be an integer (ms)");
	if (get_int(data, "created_at", &u->created_at) == -1)
		BAD("data.created_at must be an integer (ms) or null");
	if (get_int(data, "last_sign_in_at", &u->last_sign_in_at) == -1)
		BAD("data.last_sign_in_at must be an integer (ms) or null");
	if (get_text(data, "username", EVENT_USERNAME_MAX, 0,
	    &u->username) == -1)
		BAD("data.username must be a string of at most 255 characters");
	if (get_text(data, "first_name", EVENT_NAME_MAX, 0,
	    &u->first_name) == -1)
		BAD("data.first_name must be a string of at most 256 "
		    "characters");
	if (get_text(data, "last_name", EVENT_NAME_MAX, 0,
	    &u->last_name) == -1)
		BAD("data.last_name must be a string of at most 256 characters");
	if (get_text(data, "image_url", EVENT_URL_MAX, 1, &u->image_url) == -1)
		BAD("data.image_url must be a string of at most 65535 bytes");
	if (get_text(data, "external_id", EVENT_EXTERNAL_ID_MAX, 0,
	    &u->external_id) == -1)
		BAD("data.external_id must be a string of at most 255 "
		    "characters");
	if (get_bool(data, "banned", &u->banned) == -1)
		BAD("data.banned must be a boolean");
	if (get_bool(data, "locked", &u->locked) == -1)
		BAD("data.locked must be a boolean");
	if (get_primary(data, "primary_email_address_id", "email_addresses",
	    "email_address", EVENT_EMAIL_MAX, &u->email,
	    &u->email_verified) == -1)
		BAD("data.email_addresses: wrong type, or an address longer "
		    "than 320 characters");
	if (get_primary(data, "primary_phone_number_id", "phone_numbers",
	    "phone_number", EVENT_PHONE_MAX, &u->phone, NULL) == -1)
		BAD("data.phone_numbers: wrong type, or a number longer than "
		    "64 characters");
	return get_meta(ev, data, dspan, private_too, &u->public_metadata,
	    &u->clerk_data, why);
fail:
	return -1;
}

/* An organization object: of organization.* or a membership's. */
static int
parse_org(struct event *ev, const cJSON *obj, struct json_span span,
    int private_too, int nul, const char **why)
{
	struct event_org	*o = &ev->org;
	const cJSON		*by;
	const char		*id;

	if (get_int(obj, "updated_at", &o->updated_at) == -1 ||
	    o->updated_at < 0)
		BAD("organization updated_at must be an integer (ms)");
	if (get_int(obj, "created_at", &o->created_at) == -1)
		BAD("organization created_at must be an integer (ms) or null");
	if (get_text(obj, "name", EVENT_NAME_MAX, 0, &o->name) == -1)
		BAD("organization name must be a string of at most 256 "
		    "characters");
	if (get_text(obj, "slug", EVENT_SLUG_MAX, 0, &o->slug) == -1)
		BAD("organization slug must be a string of at most 255 "
		    "characters");
	if (get_text(obj, "image_url", EVENT_URL_MAX, 1, &o->image_url) == -1)
		BAD("organization image_url must be a string of at most 65535 "
		    "bytes");
	/* Optional and informative: what is not a user id is not kept. */
	by = cJSON_GetObjectItemCaseSensitive(obj, "created_by");
	if (get_id(obj, span, "created_by", nul, &id) == 0) {
		o->created_by.p = id;
		o->created_by.len = strlen(id);
	} else if (by != NULL && !cJSON_IsNull(by) &&
	    !(cJSON_IsString(by) && by->valuestring[0] == '\0'))
		ev->warning = "organization created_by is not a Clerk id: "
		    "stored as NULL";
	return get_meta(ev, obj, span, private_too, &o->public_metadata,
	    &o->clerk_data, why);
fail:
	return -1;
}

static int
parse_member(struct event *ev, const cJSON *data, struct json_span dspan,
    int private_too, int nul, const char **why)
{
	struct event_member	*m = &ev->member;
	const cJSON		*org, *pud, *perm, *it;
	struct json_span	 ospan, pspan;

	org = cJSON_GetObjectItemCaseSensitive(data, "organization");
	if (!cJSON_IsObject(org) || !json_member(dspan, "organization",
	    &ospan) || ospan.p[0] != '{')
		BAD("data.organization must be an object");
	if (get_id(org, ospan, "id", nul, &ev->org.id) == -1)
		BAD("data.organization.id must be a Clerk id");
	if (parse_org(ev, org, ospan, private_too, nul, why) == -1)
		return -1;
	pud = cJSON_GetObjectItemCaseSensitive(data, "public_user_data");
	if (!cJSON_IsObject(pud) || !json_member(dspan, "public_user_data",
	    &pspan) || pspan.p[0] != '{' ||
	    get_id(pud, pspan, "user_id", nul, &m->user_id) == -1)
		BAD("data.public_user_data.user_id must be a Clerk id");
	if (get_int(data, "updated_at", &m->updated_at) == -1 ||
	    (m->updated_at < 0 && ev->type != EVENT_MEMBER_DELETED))
		BAD("data.updated_at must be an integer (ms)");
	if (get_int(data, "created_at", &m->created_at) == -1)
		BAD("data.created_at must be an integer (ms) or null");
	if (get_text(data, "role", EVENT_ROLE_MAX, 0, &m->role) == -1)
		BAD("data.role must be a string of at most 255 characters");
	perm = cJSON_GetObjectItemCaseSensitive(data, "permissions");
	if (perm != NULL && !cJSON_IsNull(perm)) {
		if (!cJSON_IsArray(perm))
			BAD("data.permissions must be an array of strings");
		cJSON_ArrayForEach(it, perm)
			if (!cJSON_IsString(it))
				BAD("data.permissions must be an array of "
				    "strings");
		if (!json_member(dspan, "permissions", &pspan))
			BAD("data.permissions: escaped member names are not "
			    "supported");
		m->permissions.p = pspan.p;
		m->permissions.len = pspan.len;
	}
	return get_meta(ev, data, dspan, private_too, &m->public_metadata,
	    NULL, why);
fail:
	return -1;
}

int
event_parse(const char *body, size_t len, int private_too,
    unsigned int families, struct event *ev, const char **why)
{
	const cJSON		*root, *type, *data;
	static const char *const envelope_keys[] = { "type", "data" };
	struct json_span	 whole, dspan, env[2];
	long long		 ts;
	int			 t, depth, nul;

	memset(ev, 0, sizeof(*ev));
	ev->timestamp = -1;
	ev->user.email_verified = -1;
	ev->org.created_at = ev->org.updated_at = -1;
	ev->member.created_at = ev->member.updated_at = -1;
	*why = NULL;

	/*
	 * The strict scanner decides what is JSON (cJSON accepts a few
	 * things RFC 8259 does not); cJSON then builds the tree.
	 */
	if (json_validate(body, len, &depth) == -1)
		BAD("body is not JSON (or nested deeper than 64)");
	if ((ev->arena = arena_get()) == NULL)
		BAD("out of memory");
	arena_now = ev->arena;
	ev->root = cJSON_ParseWithLength(body, len);
	arena_now = NULL;
	if (ev->root == NULL)
		BAD("body is not JSON");
	root = ev->root;
	if (!cJSON_IsObject(root))
		BAD("body is not a JSON object");
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(type) || type->valuestring[0] == '\0')
		BAD("type is missing or not a string");
	/*
	 * The scanner finds the same members as cJSON (escapes decoded, the
	 * first of equal names). cJSON's strings end at U+0000, so a type or
	 * an id holding one would be read as a shorter, different one.
	 */
	whole = json_start(body, len);
	nul = json_maybe_nul(body, len);
	json_members(whole, envelope_keys + !nul, 2 - !nul, env + !nul);
	if (nul && json_string_has_nul(env[0]))
		BAD("type must not contain U+0000");
	ev->type_name = type->valuestring;
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	if (!cJSON_IsObject(data))
		BAD("data is missing or not an object");
	if (get_int(root, "timestamp", &ts) == -1)
		BAD("timestamp must be an integer");
	if (ts >= 0)
		ev->timestamp = ts < EVENT_SECONDS_BELOW ? ts * 1000 : ts;
	if (ev->timestamp > EVENT_TS_MAX)
		BAD("timestamp is after the year 9999");

	ev->type = EVENT_OTHER;
	for (t = 0; t < EVENT_OTHER; t++)
		if (strcmp(ev->type_name, event_type_names[t]) == 0)
			ev->type = (enum event_type)t;
	if ((event_families[ev->type] & families) == 0)
		ev->type = EVENT_OTHER;
	if (ev->type == EVENT_OTHER)
		return 0;

	dspan = env[1];
	if (get_id(data, dspan, "id", nul, &ev->object_id) == -1)
		BAD("data.id must be a Clerk id of at most 64 characters "
		    "[A-Za-z0-9_-]");
	switch (ev->type) {
	case EVENT_USER_CREATED:
	case EVENT_USER_UPDATED:
		if (parse_user(ev, data, dspan, private_too, why) == -1)
			return -1;
		break;
	case EVENT_ORG_CREATED:
	case EVENT_ORG_UPDATED:
		ev->org.id = ev->object_id;
		if (parse_org(ev, data, dspan, private_too, nul, why) == -1)
			return -1;
		break;
	case EVENT_MEMBER_CREATED:
	case EVENT_MEMBER_UPDATED:
	case EVENT_MEMBER_DELETED:
		if (parse_member(ev, data, dspan, private_too, nul, why) == -1)
			return -1;
		break;
	case EVENT_ORG_DELETED:
		ev->org.id = ev->object_id;
		return 0;
	default:		/* user.deleted: the id is all */
		return 0;
	}
	/* Every JSON column sits at least one level inside the envelope. */
	if (depth - 1 > EVENT_JSON_DEPTH_MAX) {
		cap_depth(ev, &ev->user.public_metadata, "public_metadata "
		    "nested deeper than 31: stored as NULL");
		cap_depth(ev, &ev->user.clerk_data, "data nested deeper than "
		    "31: clerk_data stored as NULL");
		cap_depth(ev, &ev->org.public_metadata, "organization "
		    "public_metadata nested deeper than 31: stored as NULL");
		cap_depth(ev, &ev->org.clerk_data, "organization nested deeper "
		    "than 31: clerk_data stored as NULL");
		cap_depth(ev, &ev->member.public_metadata, "membership "
		    "public_metadata nested deeper than 31: stored as NULL");
	}
	return 0;
fail:
	return -1;
}

void
event_free(struct event *ev)
{
	/* The tree and buf live in the arena: no cJSON_Delete, no free. */
	if (ev->arena != NULL)
		arena_put(ev->arena);
	ev->arena = NULL;
	ev->root = NULL;
	ev->buf = NULL;
}

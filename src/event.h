/*
 * clerksync — event: verified bytes -> struct event, read from the
 * spans the json scanner finds, each value decoded by cJSON over its
 * span (the only user of cJSON). Knows Clerk's payloads (SPEC section 2),
 * nothing of HTTP or SQL.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_EVENT_H
#define CLERKSYNC_EVENT_H

#include <stddef.h>

/* Column sizes in characters, as in schema/ (SPEC section 3). */
#define EVENT_ID_MAX		64
#define EVENT_EMAIL_MAX		320
#define EVENT_PHONE_MAX		64
#define EVENT_USERNAME_MAX	255
#define EVENT_NAME_MAX		256
#define EVENT_EXTERNAL_ID_MAX	255
#define EVENT_SLUG_MAX		255
#define EVENT_ROLE_MAX		255
#define EVENT_URL_MAX		65535	/* bytes: a TEXT column */
#define EVENT_JSON_DEPTH_MAX	31	/* MariaDB's JSON_VALID refuses 32 */
#define EVENT_ARENA_MIN		(64 * 1024)	/* bytes, first arena */
#define EVENT_ARENA_KEEP	(1024 * 1024)	/* bytes kept between events */
#define EVENT_TS_MAX		253402300799999LL /* ms: 9999-12-31, DATETIME */

enum event_type {
	EVENT_USER_CREATED,
	EVENT_USER_UPDATED,
	EVENT_USER_DELETED,
	EVENT_ORG_CREATED,
	EVENT_ORG_UPDATED,
	EVENT_ORG_DELETED,
	EVENT_MEMBER_CREATED,
	EVENT_MEMBER_UPDATED,
	EVENT_MEMBER_DELETED,
	EVENT_OTHER,		/* verified, valid, not handled */
	EVENT__MAX
};

extern const char *const event_type_names[EVENT__MAX];

/* Each type's family, a CONFIG_EVENTS_* bit (0 for EVENT_OTHER). */
extern const unsigned int event_families[EVENT__MAX];

/*
 * A view of text, len bytes (not a C string: \u0000 is a NUL byte in
 * it); p == NULL stands for SQL NULL.
 */
struct event_text {
	const char	*p;
	size_t		 len;
};

struct event_user {
	struct event_text email;
	struct event_text phone;
	struct event_text username;
	struct event_text first_name;
	struct event_text last_name;
	struct event_text image_url;
	struct event_text external_id;
	struct event_text public_metadata;	/* raw JSON as sent */
	struct event_text clerk_data;		/* raw JSON of data */
	int		 email_verified;	/* -1: NULL */
	int		 banned;
	int		 locked;
	long long	 last_sign_in_at;	/* -1: NULL */
	long long	 created_at;		/* -1: NULL */
	long long	 updated_at;		/* ms, the ordering key */
};

/* An organization: of organization.* events, or a membership's snapshot. */
struct event_org {
	const char	*id;
	struct event_text name;
	struct event_text slug;
	struct event_text image_url;
	struct event_text created_by;
	struct event_text public_metadata;	/* raw JSON as sent */
	struct event_text clerk_data;		/* raw JSON of the object */
	long long	 created_at;		/* -1: NULL */
	long long	 updated_at;		/* ms, the ordering key */
};

struct event_member {
	const char	*user_id;		/* public_user_data.user_id */
	struct event_text role;
	struct event_text permissions;		/* raw JSON array */
	struct event_text public_metadata;	/* raw JSON as sent */
	long long	 created_at;		/* -1: NULL */
	long long	 updated_at;		/* -1: NULL (deleted only) */
};

struct event {
	enum event_type	 type;
	const char	*type_name;	/* as sent */
	const char	*object_id;	/* data.id; NULL for EVENT_OTHER */
	long long	 timestamp;	/* envelope, in ms; -1: absent */
	struct event_user user;		/* user.created, user.updated */
	struct event_org org;		/* organization.*, membership's */
	struct event_member member;	/* organizationMembership.* */
	const char	*warning;	/* fixed phrase for the log, or NULL */

	char		*buf;		/* private: data without a member */
	void		*arena;		/* private: where it and decoded
					   strings live */
};

/*
 * Parse body[0..len) (valid UTF-8, see sig_verify) into ev. Every view
 * points into body or into ev, and lives until event_free. private_too
 * keeps private_metadata in clerk_data. A type whose family is not in
 * families (CONFIG_EVENTS_* bits) is EVENT_OTHER. Returns 0, or -1 with
 * *why set to a fixed phrase that names the field: only for what the
 * event is keyed on (type, the ids, updated_at, banned and locked) or a
 * body that is not JSON. Any other field that cannot be stored as sent
 * is NULL (clerk_data: without the offending members) and ev->warning
 * says so.
 */
int	event_parse(const char *body, size_t len, int private_too,
	    unsigned int families, struct event *ev, const char **why);

/*
 * Free what event_parse made; safe on a zeroed or half-built event. The
 * memory is kept for the next event (up to EVENT_ARENA_KEEP bytes), so a
 * persistent process does not allocate per request.
 */
void	event_free(struct event *ev);

#endif

/*
 * clerksync — kinds: the descriptors of users, organizations and
 * memberships (SPEC sections 2 and 3). A new kind of object is one
 * column enum, one descriptor here, and its tests.
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "kinds.h"

static const char *const user_cols[UC__MAX] = {
	[UC_CLERK_ID] = "clerk_id",
	[UC_EMAIL] = "email",
	[UC_EMAIL_VERIFIED] = "email_verified",
	[UC_PHONE] = "phone",
	[UC_USERNAME] = "username",
	[UC_FIRST_NAME] = "first_name",
	[UC_LAST_NAME] = "last_name",
	[UC_IMAGE_URL] = "image_url",
	[UC_EXTERNAL_ID] = "external_id",
	[UC_PUBLIC_METADATA] = "public_metadata",
	[UC_BANNED] = "banned",
	[UC_LOCKED] = "locked",
	[UC_LAST_SIGN_IN_AT] = "last_sign_in_at",
	[UC_CLERK_CREATED_AT] = "clerk_created_at",
	[UC_CLERK_DATA] = "clerk_data",
	[UC_CLERK_UPDATED_AT] = "clerk_updated_at",
};

/* SPEC section 3: what user.deleted clears unless keep_deleted_data. */
static const unsigned char user_clears[UC__MAX] = {
	[UC_EMAIL] = 1, [UC_EMAIL_VERIFIED] = 1, [UC_PHONE] = 1,
	[UC_USERNAME] = 1, [UC_FIRST_NAME] = 1, [UC_LAST_NAME] = 1,
	[UC_IMAGE_URL] = 1, [UC_EXTERNAL_ID] = 1, [UC_PUBLIC_METADATA] = 1,
	[UC_CLERK_DATA] = 1,
};

static const char *const org_cols[OC__MAX] = {
	[OC_CLERK_ID] = "clerk_id",
	[OC_NAME] = "name",
	[OC_SLUG] = "slug",
	[OC_IMAGE_URL] = "image_url",
	[OC_CREATED_BY] = "created_by",
	[OC_PUBLIC_METADATA] = "public_metadata",
	[OC_CLERK_CREATED_AT] = "clerk_created_at",
	[OC_CLERK_DATA] = "clerk_data",
	[OC_CLERK_UPDATED_AT] = "clerk_updated_at",
};

static const unsigned char org_clears[OC__MAX] = {
	[OC_NAME] = 1, [OC_SLUG] = 1, [OC_IMAGE_URL] = 1, [OC_CREATED_BY] = 1,
	[OC_PUBLIC_METADATA] = 1, [OC_CLERK_DATA] = 1,
};

static const char *const member_cols[MC__MAX] = {
	[MC_CLERK_ID] = "clerk_id",
	[MC_ORG_CLERK_ID] = "org_clerk_id",
	[MC_USER_CLERK_ID] = "user_clerk_id",
	[MC_ROLE] = "role",
	[MC_PERMISSIONS] = "permissions",
	[MC_PUBLIC_METADATA] = "public_metadata",
	[MC_CLERK_CREATED_AT] = "clerk_created_at",
	[MC_CLERK_UPDATED_AT] = "clerk_updated_at",
};

/* Memberships keep their columns when they end: they are history. */
static const unsigned char member_clears[MC__MAX];

/* Each sets the fields its type uses; store reads no other. */
static void
text(struct kind_value *v, const struct event_text *t)
{
	v->type = t->p != NULL ? KV_TEXT : KV_NULL;
	v->p = t->p;
	v->len = t->len;
}

static void
id(struct kind_value *v, const char *s)
{
	v->type = s != NULL ? KV_TEXT : KV_NULL;
	v->p = s;
	v->len = s != NULL ? strlen(s) : 0;
}

/* n < 0 is NULL. */
static void
num(struct kind_value *v, long long n, enum kind_vtype type)
{
	v->type = n < 0 ? KV_NULL : type;
	v->n = n;
}

static void
bind_user(const struct event *ev, struct kind_value *v)
{
	const struct event_user	*u = &ev->user;

	id(&v[UC_CLERK_ID], ev->object_id);
	if (ev->type == EVENT_USER_DELETED) {
		memset(&v[1], 0, (UC__MAX - 1) * sizeof(*v));	/* NULLs */
		return;
	}
	text(&v[UC_EMAIL], &u->email);
	num(&v[UC_EMAIL_VERIFIED], u->email_verified, KV_BOOL);
	text(&v[UC_PHONE], &u->phone);
	text(&v[UC_USERNAME], &u->username);
	text(&v[UC_FIRST_NAME], &u->first_name);
	text(&v[UC_LAST_NAME], &u->last_name);
	text(&v[UC_IMAGE_URL], &u->image_url);
	text(&v[UC_EXTERNAL_ID], &u->external_id);
	text(&v[UC_PUBLIC_METADATA], &u->public_metadata);
	num(&v[UC_BANNED], u->banned, KV_BOOL);
	num(&v[UC_LOCKED], u->locked, KV_BOOL);
	num(&v[UC_LAST_SIGN_IN_AT], u->last_sign_in_at, KV_INT);
	num(&v[UC_CLERK_CREATED_AT], u->created_at, KV_INT);
	text(&v[UC_CLERK_DATA], &u->clerk_data);
	num(&v[UC_CLERK_UPDATED_AT], u->updated_at, KV_INT);
}

/* Of organization.* events, and of a membership's snapshot. */
static void
bind_org(const struct event *ev, struct kind_value *v)
{
	const struct event_org	*o = &ev->org;

	id(&v[OC_CLERK_ID], o->id);
	if (ev->type == EVENT_ORG_DELETED) {
		memset(&v[1], 0, (OC__MAX - 1) * sizeof(*v));	/* NULLs */
		return;
	}
	text(&v[OC_NAME], &o->name);
	text(&v[OC_SLUG], &o->slug);
	text(&v[OC_IMAGE_URL], &o->image_url);
	text(&v[OC_CREATED_BY], &o->created_by);
	text(&v[OC_PUBLIC_METADATA], &o->public_metadata);
	num(&v[OC_CLERK_CREATED_AT], o->created_at, KV_INT);
	text(&v[OC_CLERK_DATA], &o->clerk_data);
	num(&v[OC_CLERK_UPDATED_AT], o->updated_at, KV_INT);
}

static void
bind_member(const struct event *ev, struct kind_value *v)
{
	const struct event_member *m = &ev->member;

	id(&v[MC_CLERK_ID], ev->object_id);
	id(&v[MC_ORG_CLERK_ID], ev->org.id);
	id(&v[MC_USER_CLERK_ID], m->user_id);
	text(&v[MC_ROLE], &m->role);
	text(&v[MC_PERMISSIONS], &m->permissions);
	text(&v[MC_PUBLIC_METADATA], &m->public_metadata);
	num(&v[MC_CLERK_CREATED_AT], m->created_at, KV_INT);
	num(&v[MC_CLERK_UPDATED_AT], m->updated_at, KV_INT);
}

const struct kind_desc kinds[KIND__MAX] = {
	[KIND_USER] = {
		.table = "users",
		.cols = user_cols,
		.ncols = UC__MAX,
		.clears = user_clears,
		.guard = UC_CLERK_UPDATED_AT,
		.tomb_cols = 1,
		.member_col = MC_USER_CLERK_ID,
		.reconciled = 1,
		.bind = bind_user,
	},
	[KIND_ORG] = {
		.table = "organizations",
		.cols = org_cols,
		.ncols = OC__MAX,
		.clears = org_clears,
		.guard = OC_CLERK_UPDATED_AT,
		.tomb_cols = 1,
		.member_col = MC_ORG_CLERK_ID,
		.reconciled = 1,
		.bind = bind_org,
	},
	/*
	 * A membership of an organization or a user already deleted is
	 * born ended: their tombstones say when. Its delete is a full
	 * tombstone, since the row is history.
	 */
	[KIND_MEMBER] = {
		.table = "organization_memberships",
		.cols = member_cols,
		.ncols = MC__MAX,
		.clears = member_clears,
		.guard = MC_CLERK_UPDATED_AT,
		.tomb_cols = MC__MAX,
		.nparents = 2,
		.parents = { KIND_ORG, KIND_USER },
		.parent_cols = { MC_ORG_CLERK_ID, MC_USER_CLERK_ID },
		.reconciled = 1,
		.bind = bind_member,
	},
};

const enum kind kind_of[EVENT__MAX] = {
	[EVENT_USER_CREATED] = KIND_USER,
	[EVENT_USER_UPDATED] = KIND_USER,
	[EVENT_USER_DELETED] = KIND_USER,
	[EVENT_ORG_CREATED] = KIND_ORG,
	[EVENT_ORG_UPDATED] = KIND_ORG,
	[EVENT_ORG_DELETED] = KIND_ORG,
	[EVENT_MEMBER_CREATED] = KIND_MEMBER,
	[EVENT_MEMBER_UPDATED] = KIND_MEMBER,
	[EVENT_MEMBER_DELETED] = KIND_MEMBER,
	[EVENT_OTHER] = KIND__MAX,
};

const unsigned char kind_deletes[EVENT__MAX] = {
	[EVENT_USER_DELETED] = 1,
	[EVENT_ORG_DELETED] = 1,
	[EVENT_MEMBER_DELETED] = 1,
};

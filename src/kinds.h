/*
 * clerksync — kinds: each kind of object (users, organizations,
 * memberships) described once: its table, its columns indexed by an
 * enum, what a delete clears, the guard column, and how an event's fields
 * bind to the columns. sqlgen writes the SQL from these, store binds
 * through them. Pure: no SQL library, no I/O.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_KINDS_H
#define CLERKSYNC_KINDS_H

#include <stddef.h>

#include "event.h"

enum kind {
	KIND_USER,
	KIND_ORG,
	KIND_MEMBER,
	KIND__MAX
};

/*
 * Columns in bind order. The guard column, clerk_updated_at, stays last:
 * MySQL assigns ON DUPLICATE KEY UPDATE columns left to right, so the
 * guard must read the old value until the last assignment.
 */
enum user_col {
	UC_CLERK_ID,
	UC_EMAIL,
	UC_EMAIL_VERIFIED,
	UC_PHONE,
	UC_USERNAME,
	UC_FIRST_NAME,
	UC_LAST_NAME,
	UC_IMAGE_URL,
	UC_EXTERNAL_ID,
	UC_PUBLIC_METADATA,
	UC_BANNED,
	UC_LOCKED,
	UC_LAST_SIGN_IN_AT,
	UC_CLERK_CREATED_AT,
	UC_CLERK_DATA,
	UC_CLERK_UPDATED_AT,
	UC__MAX
};

enum org_col {
	OC_CLERK_ID,
	OC_NAME,
	OC_SLUG,
	OC_IMAGE_URL,
	OC_CREATED_BY,
	OC_PUBLIC_METADATA,
	OC_CLERK_CREATED_AT,
	OC_CLERK_DATA,
	OC_CLERK_UPDATED_AT,
	OC__MAX
};

enum member_col {
	MC_CLERK_ID,
	MC_ORG_CLERK_ID,
	MC_USER_CLERK_ID,
	MC_ROLE,
	MC_PERMISSIONS,
	MC_PUBLIC_METADATA,
	MC_CLERK_CREATED_AT,
	MC_CLERK_UPDATED_AT,
	MC__MAX
};

#define KIND_COLS_MAX	UC__MAX		/* the widest kind */
#define KIND_PARENTS_MAX 2

/* One value to bind, free of any SQL library's types (store binds). */
enum kind_vtype {
	KV_NULL,
	KV_TEXT,	/* p, len */
	KV_INT,		/* n */
	KV_BOOL,	/* n, 0 or 1, bound as a TINYINT */
	KV_TIME,	/* n, ms since the epoch, bound as a UTC DATETIME(3) */
	KV__MAX
};

struct kind_value {
	enum kind_vtype	 type;
	const char	*p;
	size_t		 len;
	long long	 n;
};

struct kind_desc {
	const char	*table;
	const char *const *cols;	/* [ncols], indexed by the kind's enum */
	size_t		 ncols;
	const unsigned char *clears;	/* [ncols]: a delete clears it */
	size_t		 guard;		/* the ordering key, the last column */
	/* How many leading columns a delete's tombstone carries. */
	size_t		 tomb_cols;
	/*
	 * Born ended: a new row takes deleted_at from the first parent row
	 * (of these kinds, keyed by these columns) that is deleted.
	 */
	size_t		 nparents;
	enum kind	 parents[KIND_PARENTS_MAX];
	size_t		 parent_cols[KIND_PARENTS_MAX];
	/* The memberships column that names this kind's rows, or 0: none. */
	size_t		 member_col;
	int		 reconciled;	/* reconcile lists its live rows */
	/* Fill v[0..ncols) from ev, a create, update or delete of the kind. */
	void		(*bind)(const struct event *ev, struct kind_value *v);
};

extern const struct kind_desc	kinds[KIND__MAX];

/* Each event type's kind (KIND__MAX for EVENT_OTHER). */
extern const enum kind		kind_of[EVENT__MAX];

/* Whether an event type deletes its object. */
extern const unsigned char	kind_deletes[EVENT__MAX];

#endif

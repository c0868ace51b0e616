/*
 * clerksync — pull: one object fetched for the app, within a deadline
 * and a budget that every process shares.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "backfill.h"
#include "clerkapi.h"
#include "event.h"
#include "json.h"
#include "pull.h"

int
pull_is(const char *body, size_t len)
{
	struct json_span	 obj = { body, len }, type;
	static const char	 want[] = "\"clerksync.pull\"";

	while (obj.len > 0 && (*obj.p == ' ' || *obj.p == '\t' ||
	    *obj.p == '\r' || *obj.p == '\n'))
		obj.p++, obj.len--;
	if (obj.len == 0 || *obj.p != '{' ||
	    json_validate(body, len, NULL) == -1)
		return 0;
	return json_member(obj, "type", &type) &&
	    type.len == sizeof(want) - 1 &&
	    memcmp(type.p, want, type.len) == 0;
}

/* The gate of every API request: one from the shared budget. */
static int
gate(void *arg, int *wait, char *err, size_t errsz)
{
	return store_budget(arg, wait, err, errsz);
}

/* data.id of a pull body, decoded into id[idsz]: 0, or -1. */
static int
pull_id(const char *body, size_t len, char *id, size_t idsz)
{
	struct json_span	 obj = { body, len }, data, v;
	char			 buf[EVENT_ID_MAX + 1];
	size_t			 n;

	while (obj.len > 0 && *obj.p != '{')
		obj.p++, obj.len--;
	if (!json_member(obj, "data", &data) || *data.p != '{' ||
	    !json_member(data, "id", &v) || *v.p != '"' ||
	    v.len > sizeof(buf) || json_string(v, buf, &n) == -1 ||
	    n >= idsz || memchr(buf, '\0', n) != NULL)
		return -1;
	memcpy(id, buf, n);
	id[n] = '\0';
	return 0;
}

static const enum pull_result written[STORE__MAX] = {
	[STORE_APPLIED] = PULL_APPLIED,
	[STORE_DUPLICATE] = PULL_DUPLICATE,
	[STORE_STALE] = PULL_STALE,
	[STORE_UNAVAILABLE] = PULL_UNAVAILABLE,
	[STORE_FAILED] = PULL_FAILED,
};

enum pull_result
pull_serve(const struct config *cf, struct store *st, const char *body,
    size_t len, const char *svix_id, long long ts, char *object,
    size_t objsz, int *wait, const char **detail, char *err, size_t errsz)
{
	struct api		*a = NULL;
	enum store_result	 res = STORE_FAILED;
	enum pull_result	 rc = PULL_FAILED;
	char			 id[EVENT_ID_MAX + 1];
	int			 seen;

	object[0] = '\0';
	*wait = PULL_RETRY_DEFAULT;
	if (pull_id(body, len, id, sizeof(id)) == -1 ||
	    !backfill_id_valid(id)) {
		*detail = "a pull's data.id must be a user_ or org_ id";
		return PULL_BAD_ID;
	}
	snprintf(object, objsz, "%s", id);

	/* A repeated webhook-id costs no request. */
	if ((seen = store_pull_seen(st, svix_id, err, errsz)) == -1)
		return PULL_UNAVAILABLE;
	if (seen)
		return PULL_DUPLICATE;

	/* SPEC section 4: without a key the pull cannot be done. */
	if ((a = api_open(cf, PULL_API_TIME, err, errsz)) == NULL)
		return PULL_UNAVAILABLE;
	api_set_once(a, PULL_API_TIME, gate, st);
	switch (backfill_pull(cf, st, a, id, svix_id, ts * 1000, &res, err,
	    errsz)) {
	case BACKFILL_PULL_WRITTEN:
		rc = written[res];
		break;
	case BACKFILL_PULL_GONE:
		/*
		 * Not marked deleted: a pull comes from the app, and one
		 * 404 must not let it tombstone any id it names
		 * (reconcile and sync weigh such marks; webhooks bring
		 * the deletes).
		 */
		rc = PULL_NOT_FOUND;
		break;
	case BACKFILL_PULL_IGNORED:
		rc = PULL_IGNORED;
		break;
	case BACKFILL_PULL_BAD_ID:
		*detail = "a pull's data.id must be a user_ or org_ id";
		rc = PULL_BAD_ID;
		break;
	case BACKFILL_PULL_API:
		if (api_retry_after(a) > 0)
			*wait = api_retry_after(a);
		rc = PULL_BUSY;
		break;
	default:
		rc = PULL_BUSY;	/* an answer that was not Clerk's */
		break;
	}
	api_close(a);
	return rc;
}

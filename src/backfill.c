/*
 * clerksync — backfill and reconcile: Clerk's Backend API, walked page
 * by page, written through the webhooks' guarded statements.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backfill.h"
#include "clerkapi.h"
#include "event.h"
#include "json.h"
#include "log.h"
#include "num.h"
#include "sig.h"

enum walk {
	WALK_USERS,
	WALK_ORGS,
	WALK_MEMBERS,
	WALK__MAX
};

static const char *const walk_names[WALK__MAX] = {
	"users", "organizations", "memberships"
};

/* As what each walk's objects are written: their newest state. */
static const char *const walk_types[WALK__MAX] = {
	"user.updated", "organization.updated",
	"organizationMembership.updated"
};

struct tally {
	unsigned long	 seen;
	unsigned long	 how[IMPORT__MAX];
	unsigned long	 failed;	/* objects that did not parse */
	unsigned long	 gone;		/* reconcile: deleted in Clerk */
	unsigned long	 missed;	/* reconcile: found, not listed */
};

/* Ids, kept to tell what Clerk no longer lists. */
struct idset {
	char		(*ids)[EVENT_ID_MAX + 1];
	size_t		 n, cap;
	int		 sorted;
};

/* A live membership row, as reconcile reads it. */
struct member_row {
	char		 id[EVENT_ID_MAX + 1];
	char		 org[EVENT_ID_MAX + 1];
	char		 user[EVENT_ID_MAX + 1];
};

struct member_rows {
	struct member_row *rows;
	size_t		 n, cap;
};

struct backfill {
	const struct config	*cf;
	struct store		*st;
	const struct backfill_opts *o;
	struct clerkapi		*api;
	struct tally		 t[WALK__MAX];
	struct idset		 seen[WALK__MAX];	/* listed */
	struct idset		 gone[WALK__MAX];	/* to mark */
	struct member_rows	 gone_members;	/* reconcile: to end */
	unsigned long		 lookups_failed;	/* reconcile */
	long long		 from[WALK__MAX];	/* backfill: start */
	int			 walked[WALK__MAX];	/* in this run */
	int			 instance_members; /* listed at once */
	int			 no_instance_list; /* 404 for that */
	char			*env;		/* an object in an envelope */
	size_t			 envcap;
	char			 err[512];
	int			 tty;
	double			 t0;		/* of the run */
	double			 started;	/* of the walk shown */
	unsigned long		 total;		/* of the walk shown */
};

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
idset_add(struct idset *s, const char *id)
{
	void	*n;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		if ((n = realloc(s->ids, s->cap * sizeof(*s->ids))) == NULL)
			return -1;
		s->ids = n;
	}
	snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
	s->sorted = 0;
	return 0;
}

static int
idcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
idset_has(struct idset *s, const char *id)
{
	if (s->n == 0)
		return 0;
	if (!s->sorted) {
		qsort(s->ids, s->n, sizeof(*s->ids), idcmp);
		s->sorted = 1;
	}
	return s->n > 0 && bsearch(id, s->ids, s->n, sizeof(*s->ids),
	    idcmp) != NULL;
}

const char *const backfill_cmd_names[BACKFILL_CMD__MAX] = {
	"backfill", "reconcile", "sync"
};

int
backfill_cmd(const char *name)
{
	int	 c;

	for (c = 0; c < BACKFILL_CMD__MAX; c++)
		if (strcmp(name, backfill_cmd_names[c]) == 0)
			return c;
	return -1;
}

int
backfill_id_valid(const char *id)
{
	size_t	 n = strlen(id), pre;

	if (strncmp(id, "user_", 5) == 0)
		pre = 5;
	else if (strncmp(id, "org_", 4) == 0)
		pre = 4;
	else
		return 0;
	return n > pre && n <= EVENT_ID_MAX && strspn(id + pre,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789") == n - pre;
}

int
backfill_args(int argc, char **argv, enum backfill_cmd cmd,
    struct backfill_opts *o, char *err, size_t errsz)
{
	const char	*name = backfill_cmd_names[cmd];
	long long	 v;
	int		 i, checks = cmd != BACKFILL_CMD_BACKFILL;

	memset(o, 0, sizeof(o[0]));
	o->cmd = cmd;
	o->reconcile = cmd == BACKFILL_CMD_RECONCILE;
	o->limit = BACKFILL_LIMIT;
	for (i = 0; i < argc; i++) {
		if (checks && strcmp(argv[i], "--dry-run") == 0)
			o->dry_run = 1;
		else if (checks && strcmp(argv[i], "--force") == 0)
			o->force = 1;
		else if (!checks && strcmp(argv[i], "--restart") == 0)
			o->restart = 1;
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
		    num_parse(argv[i + 1], strlen(argv[i + 1]), 1,
		    BACKFILL_LIMIT, &v) == 0)
			o->limit = (int)v, i++;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc &&
		    num_parse(argv[i + 1], strlen(argv[i + 1]), 1, 600,
		    &v) == 0)
			o->timeout = (long)v, i++;
		else if (cmd == BACKFILL_CMD_SYNC && argv[i][0] != '-' &&
		    backfill_id_valid(argv[i])) {
			if (o->ids == NULL)
				o->ids = argv + i;
			/* The ids come last, together. */
			if (o->ids + o->nids != argv + i) {
				snprintf(err, errsz, "sync: the options come "
				    "before the ids");
				return -1;
			}
			o->nids++;
		} else
			goto bad;
	}
	if (cmd == BACKFILL_CMD_SYNC && o->nids == 0) {
		snprintf(err, errsz, "sync: name at least one user_... or "
		    "org_... id");
		return -1;
	}
	return 0;
bad:
	if (cmd == BACKFILL_CMD_SYNC && argv[i][0] != '-')
		snprintf(err, errsz, "sync: '%.64s' is not a user_... or "
		    "org_... id", argv[i]);
	else
		snprintf(err, errsz, "%s: unknown or bad argument '%.64s'",
		    name, argv[i]);
	return -1;
}

static void
progress(struct backfill *b, enum walk w, int last)
{
	const struct tally	*t = &b->t[w];
	double			 dt = num_seconds() - b->started;
	double			 rate = dt > 0 ? (double)t->seen / dt : 0;

	if (!b->tty)
		return;
	fprintf(stderr, "\r%s: %lu", walk_names[w], t->seen);
	if (b->total > 0)
		fprintf(stderr, " of %lu", b->total);
	fprintf(stderr, ", %.0f/s", rate);
	if (b->total > t->seen && rate > 0)
		fprintf(stderr, ", about %.0f s left",
		    (double)(b->total - t->seen) / rate);
	fprintf(stderr, "   %s", last ? "\n" : "");
	fflush(stderr);
}

/* A number member of a JSON object, or -1. */
static long long
json_count(const char *body, size_t len, const char *key)
{
	struct json_span	 obj = json_start(body, len), v;
	long long		 n;

	if (!json_member(obj, key, &v) || num_parse(v.p, v.len, 0,
	    (long long)1 << 53, &n) == -1)
		return -1;
	return n;
}

/*
 * Parse one object of walk w, as its newest state, into ev. Returns 0,
 * or -1 with the reason logged and counted.
 */
static int
parse_object(struct backfill *b, enum walk w, struct json_span el,
    struct event *ev)
{
	const char	*why;
	size_t		 need = el.len + 64;
	int		 n;
	char		*nb;

	if (need > b->envcap) {
		if ((nb = realloc(b->env, need)) == NULL) {
			b->t[w].failed++;
			log_warnx("%s: out of memory", walk_names[w]);
			return -1;
		}
		b->env = nb;
		b->envcap = need;
	}
	n = snprintf(b->env, b->envcap, "{\"type\":\"%s\",\"data\":",
	    walk_types[w]);
	memcpy(b->env + n, el.p, el.len);
	b->env[n + el.len] = '}';
	if (event_parse(b->env, (size_t)n + el.len + 1,
	    b->cf->sync_private_metadata, CONFIG_EVENTS_ALL, ev, &why) == -1) {
		b->t[w].failed++;
		log_warnx("%s: an object was not imported: %s", walk_names[w],
		    why);
		event_free(ev);
		return -1;
	}
	return 0;
}

static int	walk(struct backfill *, enum walk, const char *);

/* Write one object of a page; for an organization, its members too. */
static int
import_one(struct backfill *b, enum walk w, struct json_span el)
{
	struct event		 ev;
	enum store_import	 how;
	char			 org[EVENT_ID_MAX + 1];

	if (parse_object(b, w, el, &ev) == -1)
		return 0;
	if (store_import(b->st, &ev, now_ms(), b->o->dry_run, &how, b->err,
	    sizeof(b->err)) == -1) {
		event_free(&ev);
		return -1;
	}
	b->t[w].seen++;
	b->t[w].how[how]++;
	if (b->o->reconcile && idset_add(&b->seen[w], ev.object_id) == -1) {
		event_free(&ev);
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -1;
	}
	snprintf(org, sizeof(org), "%s", ev.object_id);
	event_free(&ev);
	if (w == WALK_ORGS && (b->cf->events & CONFIG_EVENTS_MEMBERSHIPS) &&
	    !b->instance_members)
		return walk(b, WALK_MEMBERS, org);
	return 0;
}

/* An id as a page writes it, quotes and all, with its NUL. */
#define TAIL_ID_SZ	(EVENT_ID_MAX + 3)

/* The list a page of walk w comes from, from offset from on. */
static void
walk_path(char *path, size_t pathsz, enum walk w, const char *org,
    int limit, long long from)
{
	if (w == WALK_USERS)
		snprintf(path, pathsz, "/v1/users?limit=%d&"
		    "offset=%lld&order_by=%%2Bcreated_at", limit, from);
	else if (w == WALK_ORGS)
		snprintf(path, pathsz, "/v1/organizations?"
		    "limit=%d&offset=%lld&order_by=%%2Bcreated_at",
		    limit, from);
	else if (org == NULL)
		snprintf(path, pathsz, "/v1/organization_"
		    "memberships?limit=%d&offset=%lld&order_by="
		    "%%2Bcreated_at", limit, from);
	else
		snprintf(path, pathsz, "/v1/organizations/%s/"
		    "memberships?limit=%d&offset=%lld&order_by="
		    "%%2Bcreated_at", org, limit, from);
}

/*
 * GET one page of walk w. Returns 0 with the page in body and len, 1 when
 * there is nothing to walk (an organization deleted meanwhile, or no
 * instance-wide list of memberships), -1 with b->err set.
 */
static int
walk_get(struct backfill *b, enum walk w, const char *org, const char *path,
    const char **body, size_t *len, char **copy)
{
	int	 rc;

	if ((rc = clerkapi_get(b->api, path, body, len, b->err,
	    sizeof(b->err))) == -1)
		return -1;
	if (rc != 200 || !sig_utf8_valid(*body, *len) ||
	    json_validate(*body, *len, NULL) == -1) {
		/* Deleted meanwhile; or no instance-wide list. */
		if (w == WALK_MEMBERS && rc == 404 &&
		    clerkapi_not_found(*body, *len)) {
			b->no_instance_list = org == NULL;
			return 1;
		}
		snprintf(b->err, sizeof(b->err), "GET %s: not a JSON "
		    "answer", path);
		return -1;
	}
	/* An organization's members are read into the same buffer. */
	if (w == WALK_ORGS) {
		free(*copy);
		if ((*copy = malloc(*len + 1)) == NULL) {
			snprintf(b->err, sizeof(b->err), "out of memory");
			return -1;
		}
		memcpy(*copy, *body, *len);
		*body = *copy;
	}
	return 0;
}

/* Whether idv, an id as written, is among the n of tail. */
static int
tail_has(char tail[][TAIL_ID_SZ], int n, struct json_span idv)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strlen(tail[i]) == idv.len &&
		    memcmp(tail[i], idv.p, idv.len) == 0)
			return 1;
	return 0;
}

/*
 * Write the objects of one page, but those the last page ended with
 * (tail, ntail of them: compared as written, not decoded). The ids
 * written go first in newtail, *nnew of them. Returns how many objects
 * the page held, or -1.
 */
static int
walk_items(struct backfill *b, enum walk w, struct json_span arr,
    char tail[][TAIL_ID_SZ], int ntail, char newtail[][TAIL_ID_SZ],
    int *nnew)
{
	struct json_span	 el, idv;
	size_t			 pos;
	int			 count = 0;

	*nnew = 0;
	for (pos = 0; json_next(arr, &pos, &el); count++) {
		idv.p = NULL;
		if (*el.p == '{')
			json_member(el, "id", &idv);
		if (idv.p != NULL && idv.len < TAIL_ID_SZ &&
		    tail_has(tail, ntail, idv))
			continue;
		if (import_one(b, w, el) == -1)
			return -1;
		if (idv.p != NULL && idv.len < TAIL_ID_SZ) {
			memmove(newtail[1], newtail[0],
			    TAIL_ID_SZ * (BACKFILL_OVERLAP - 1));
			memcpy(newtail[0], idv.p, idv.len);
			newtail[0][idv.len] = '\0';
			if (*nnew < BACKFILL_OVERLAP)
				(*nnew)++;
		}
		if (w != WALK_MEMBERS)
			progress(b, w, 0);
	}
	return count;
}

/*
 * Page through walk w (of organization org for memberships; with org
 * NULL, the memberships of the whole instance), ordered by creation so
 * that new objects come last. Each page starts a few objects
 * before where the last one ended: a delete in Clerk between two pages
 * moves later objects forward, and this way none is skipped. Objects
 * already written from the last page are left out. A resumed walk starts
 * BACKFILL_OVERLAP objects before the recorded offset, for the deletes
 * made while it was stopped; what it reads again was written already,
 * and the guarded writes leave it unchanged.
 */
static int
walk(struct backfill *b, enum walk w, const char *org)
{
	struct json_span	 page, arr;
	char			 path[256], tail[BACKFILL_OVERLAP][TAIL_ID_SZ];
	char			 newtail[BACKFILL_OVERLAP][TAIL_ID_SZ];
	const char		*body;
	char			*copy = NULL;
	size_t			 len;
	long long		 next = 0, from, total, back = 0;
	int			 ntail = 0, nnew, count, got, rc = -1, resume;
	int			 limit = b->o->limit;

	resume = w != WALK_MEMBERS && !b->o->reconcile && !b->o->dry_run;
	if (resume && (next = b->from[w]) > 0) {
		back = next < BACKFILL_OVERLAP ? next : BACKFILL_OVERLAP;
		printf("%s: resuming at offset %lld\n", walk_names[w], next);
		printf("%s: reading again from offset %lld, for objects "
		    "deleted in Clerk meanwhile\n", walk_names[w], next - back);
	}
	for (;;) {
		from = next - back - ntail > 0 ? next - back - ntail : 0;
		back = 0;
		walk_path(path, sizeof(path), w, org, limit, from);
		if ((got = walk_get(b, w, org, path, &body, &len,
		    &copy)) != 0) {
			rc = got == 1 ? 0 : -1;
			goto out;
		}
		page = json_start(body, len);
		arr = page;
		if (w != WALK_USERS && !json_member(page, "data", &arr)) {
			snprintf(b->err, sizeof(b->err), "GET %s: no data",
			    path);
			goto out;
		}
		if (w == WALK_ORGS && b->total == 0 &&
		    (total = json_count(body, len, "total_count")) > 0)
			b->total = (unsigned long)total;
		if ((count = walk_items(b, w, arr, tail, ntail, newtail,
		    &nnew)) == -1)
			goto out;
		next = from + count;
		/* The next page repeats what it may, of this one's end. */
		ntail = nnew < count ? nnew : count;
		if (ntail > BACKFILL_OVERLAP)
			ntail = BACKFILL_OVERLAP;
		memcpy(tail, newtail, sizeof(tail));
		if (resume && store_progress(b->st, walk_names[w], &next, 1,
		    count < limit, b->err, sizeof(b->err)) == -1)
			goto out;
		if (count < limit)
			break;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

enum lookup {
	LOOKUP_FOUND,		/* ev holds it */
	LOOKUP_GONE,		/* Clerk says there is no such object */
	LOOKUP_FAILED,		/* neither: the reason is printed */
	LOOKUP__MAX
};

static const char *const walk_paths[WALK__MAX] = {
	"users", "organizations", "organization_memberships"
};

/*
 * GET the user or organization id on its own. Returns an enum lookup,
 * with ev to be freed on LOOKUP_FOUND, or with why[] (after "GET path: ")
 * on LOOKUP_FAILED; or -1 with b->err set when the API cannot be used. A
 * 404 counts only with Clerk's own error body, and an answer only if it
 * is the object asked for: anything else (a proxy's page, a wrong
 * clerk_api_url) must not mark or write a row. Prints nothing: a pull
 * runs it inside a CGI answer.
 */
static int
fetch(struct backfill *b, enum walk w, const char *id, struct event *ev,
    char *path, size_t pathsz, char *why, size_t whysz)
{
	struct json_span	 el;
	const char		*body;
	size_t			 len;
	int			 status;

	snprintf(path, pathsz, "/v1/%s/%s", walk_paths[w], id);
	if ((status = clerkapi_get(b->api, path, &body, &len, b->err,
	    sizeof(b->err))) == -1)
		return -1;
	if (status == 404) {
		if (clerkapi_not_found(body, len))
			return LOOKUP_GONE;
		snprintf(why, whysz, "a 404 that is not Clerk's "
		    "resource_not_found: not marked");
		return LOOKUP_FAILED;
	}
	el = json_start(body, len);
	if (el.len == 0 || *el.p != '{' || !sig_utf8_valid(body, len) ||
	    json_validate(el.p, el.len, NULL) == -1) {
		snprintf(why, whysz, "not a JSON object: not written");
		return LOOKUP_FAILED;
	}
	if (parse_object(b, w, el, ev) == -1) {
		snprintf(why, whysz, "not an object clerksync reads: not "
		    "written");
		return LOOKUP_FAILED;
	}
	if (strcmp(ev->object_id, id) != 0) {
		snprintf(why, whysz, "answered with %.64s: not written",
		    ev->object_id);
		event_free(ev);
		return LOOKUP_FAILED;
	}
	return LOOKUP_FOUND;
}

/* fetch, for the subcommands: a failure is printed. */
static int
lookup(struct backfill *b, enum walk w, const char *id, struct event *ev)
{
	char		 path[128], why[160];
	int		 rc;

	if ((rc = fetch(b, w, id, ev, path, sizeof(path), why,
	    sizeof(why))) == LOOKUP_FAILED)
		printf("%s: GET %s: %s\n", walk_names[w], path, why);
	return rc;
}

/* Write (or with dry_run, weigh) the delete of id, as kind w's webhook. */
static int
mark_deleted(struct backfill *b, enum walk w, const char *id,
    enum store_import *how)
{
	struct event		 ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = w == WALK_ORGS ? EVENT_ORG_DELETED : EVENT_USER_DELETED;
	ev.type_name = event_type_names[ev.type];
	ev.object_id = ev.org.id = id;
	return store_import(b->st, &ev, now_ms(), b->o->dry_run, how,
	    b->err, sizeof(b->err));
}

struct candidates {
	struct idset	*seen;
	struct idset	 out;
	unsigned long	 live;
};

static int
collect(void *arg, const char *id)
{
	struct candidates	*c = arg;

	c->live++;
	if (idset_has(c->seen, id))
		return 0;
	return idset_add(&c->out, id);
}

/*
 * Whether marking gone of the live rows of kind w deleted (memberships:
 * ended) needs --force: more than BACKFILL_REFUSE_ROWS and
 * BACKFILL_REFUSE_PCT percent. Returns 1 (said, with the numbers) if it
 * does and is not forced, else 0.
 */
static int
too_many(struct backfill *b, enum walk w, unsigned long gone,
    unsigned long live)
{
	if (gone <= BACKFILL_REFUSE_ROWS ||
	    gone * 100 <= live * BACKFILL_REFUSE_PCT)
		return 0;
	printf("%s: %s: %lu of the %lu live rows would be marked %s, more "
	    "than %d and more than %d %%: %s\n",
	    backfill_cmd_names[b->o->cmd], walk_names[w], gone, live,
	    w == WALK_MEMBERS ? "ended" : "deleted", BACKFILL_REFUSE_ROWS,
	    BACKFILL_REFUSE_PCT, b->o->force ? "forced" : "refused");
	return !b->o->force;
}

/* Write ev as the walk writes it (with dry_run, weigh it), and free it. */
static int
import_event(struct backfill *b, struct event *ev, enum store_import *how)
{
	int	 rc;

	rc = store_import(b->st, ev, now_ms(), b->o->dry_run, how, b->err,
	    sizeof(b->err));
	event_free(ev);
	return rc;
}

/* Keep id of kind w to be marked deleted. */
static int
gone_add(struct backfill *b, enum walk w, const char *id)
{
	if (idset_add(&b->gone[w], id) == -1) {
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Whether the walk of what listed too few of the live rows to reconcile:
 * less than half. Said, with hint; returns 1 if it did and there is no
 * --force, else 0.
 */
static int
few_listed(const struct backfill *b, const char *what, unsigned long listed,
    unsigned long live, const char *hint)
{
	if (listed * 2 >= live)
		return 0;
	printf("reconcile: %s: the walk listed %lu of the %lu live rows, "
	    "less than half: %s%s\n", what, listed, live,
	    b->o->force ? "forced" : "refused", hint);
	return !b->o->force;
}

/*
 * One live row of kind w that the walk did not list, looked up on its
 * own: written if Clerk has it (a guarded upsert, as the walk's, before
 * the check), kept in b->gone[w] if Clerk does not.
 */
static int
recheck(struct backfill *b, enum walk w, const char *id)
{
	struct event		 ev;
	enum store_import	 how;
	int			 found;

	if ((found = lookup(b, w, id, &ev)) == -1)
		return -1;
	if (found == LOOKUP_FAILED) {
		b->lookups_failed++;
		return 0;
	}
	if (found == LOOKUP_GONE)
		return gone_add(b, w, id);
	if (import_event(b, &ev, &how) == -1)
		return -1;
	b->t[w].missed++;
	if (b->o->dry_run)
		printf("would mark %s: missing from the listing, imported\n",
		    id);
	return 0;
}

/*
 * Reconcile walk w, up to the deletes: each live row that existed before
 * the walk and that the walk did not list is looked up on its own. One
 * that is there after all (listed on a page that moved) is written as it
 * is; one that Clerk does not have goes into b->gone[w]. Returns 1 if
 * the numbers call for --force (printed), 0 if not, -1 on failure. When
 * the walk listed less than half of the rows, nothing is looked up: the
 * key is likely another instance's, and each lookup costs a request.
 */
static int
reconcile_check(struct backfill *b, enum walk w, const char *before)
{
	struct candidates	 c;
	size_t			 i;
	unsigned long		 listed, gone;
	int			 rc = -1;

	memset(&c, 0, sizeof(c));
	c.seen = &b->seen[w];
	if (store_live(b->st, w == WALK_ORGS, before, collect, &c, b->err,
	    sizeof(b->err)) != 0) {
		if (b->err[0] == '\0')
			snprintf(b->err, sizeof(b->err), "out of memory");
		goto out;
	}
	listed = c.live - (unsigned long)c.out.n;
	if (few_listed(b, walk_names[w], listed, c.live, " (is "
	    "clerk_secret_key this database's instance?)")) {
		rc = 1;
		goto out;
	}
	for (i = 0; i < c.out.n; i++)
		if (recheck(b, w, c.out.ids[i]) == -1)
			goto out;
	gone = (unsigned long)b->gone[w].n;
	printf("reconcile: %s: the walk listed %lu of the %lu live rows; "
	    "%lu deleted in Clerk\n", walk_names[w], listed, c.live, gone);
	rc = too_many(b, w, gone, c.live);
out:
	free(c.out.ids);
	return rc;
}

struct member_candidates {
	struct backfill		*b;
	struct member_rows	 out;
	unsigned long		 live;
	unsigned long		 ended;	/* by their organization or user */
};

static int
rows_add(struct member_rows *r, const char *id, const char *org,
    const char *user)
{
	void	*n;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		if ((n = realloc(r->rows, r->cap * sizeof(*r->rows))) == NULL)
			return -1;
		r->rows = n;
	}
	snprintf(r->rows[r->n].id, sizeof(r->rows[0].id), "%s", id);
	snprintf(r->rows[r->n].org, sizeof(r->rows[0].org), "%s", org);
	snprintf(r->rows[r->n].user, sizeof(r->rows[0].user), "%s", user);
	r->n++;
	return 0;
}

static int
collect_member(void *arg, const char *id, const char *org, const char *user)
{
	struct member_candidates *c = arg;
	struct backfill		*b = c->b;

	c->live++;
	if (idset_has(&b->seen[WALK_MEMBERS], id))
		return 0;
	if (idset_has(&b->gone[WALK_ORGS], org) ||
	    idset_has(&b->gone[WALK_USERS], user)) {
		c->ended++;
		return 0;
	}
	return rows_add(&c->out, id, org, user);
}

/*
 * The memberships not listed, looked for again in their organizations'
 * own lists, each organization walked once; then each one still not
 * listed goes into b->gone_members.
 */
static int
members_relist(struct backfill *b, const struct member_rows *out)
{
	struct idset		 orgs;
	size_t			 i;
	int			 rc = -1;

	memset(&orgs, 0, sizeof(orgs));
	for (i = 0; i < out->n; i++) {
		if (idset_has(&orgs, out->rows[i].org))
			continue;
		if (idset_add(&orgs, out->rows[i].org) == -1) {
			snprintf(b->err, sizeof(b->err), "out of memory");
			goto out;
		}
		if (walk(b, WALK_MEMBERS, out->rows[i].org) == -1)
			goto out;
	}
	for (i = 0; i < out->n; i++) {
		if (idset_has(&b->seen[WALK_MEMBERS], out->rows[i].id)) {
			b->t[WALK_MEMBERS].missed++;
			continue;
		}
		if (rows_add(&b->gone_members, out->rows[i].id,
		    out->rows[i].org, out->rows[i].user) == -1) {
			snprintf(b->err, sizeof(b->err), "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	free(orgs.ids);
	return rc;
}

/*
 * Reconcile memberships, up to the deletes, after users and
 * organizations: each live row that existed before the walk, that the
 * walk did not list and that no delete of its organization or user ends
 * is looked for again in its organization's own list (the page it was
 * on may have moved); one listed there is written, one that is not (or
 * whose organization Clerk does not have) goes into b->gone_members.
 * Returns as reconcile_check.
 */
static int
reconcile_members(struct backfill *b, const char *before)
{
	struct member_candidates c;
	unsigned long		 live, listed, gone;
	int			 rc = -1;

	memset(&c, 0, sizeof(c));
	c.b = b;
	if (store_live_members(b->st, before, collect_member, &c, b->err,
	    sizeof(b->err)) != 0) {
		if (b->err[0] == '\0')
			snprintf(b->err, sizeof(b->err), "out of memory");
		goto out;
	}
	live = c.live - c.ended;
	listed = live - (unsigned long)c.out.n;
	if (few_listed(b, "memberships", listed, live, "")) {
		rc = 1;
		goto out;
	}
	if (members_relist(b, &c.out) == -1)
		goto out;
	gone = (unsigned long)b->gone_members.n;
	printf("reconcile: memberships: the walk listed %lu of the %lu live "
	    "rows (%lu more end with their organization or user); %lu "
	    "ended in Clerk\n", listed, live, c.ended, gone);
	rc = too_many(b, WALK_MEMBERS, gone, live);
out:
	free(c.out.rows);
	return rc;
}

/* Write (or with dry_run, weigh) the end of membership r. */
static int
end_member(struct backfill *b, const struct member_row *r)
{
	struct event		 ev;
	enum store_import	 how;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_MEMBER_DELETED;
	ev.type_name = event_type_names[ev.type];
	ev.object_id = r->id;
	ev.org.id = r->org;
	ev.org.created_at = ev.org.updated_at = -1;
	ev.member.user_id = r->user;
	ev.member.created_at = ev.member.updated_at = -1;
	return store_import(b->st, &ev, now_ms(), b->o->dry_run, &how,
	    b->err, sizeof(b->err));
}

/*
 * Reconcile every walk done, then write the deletes: all of them or,
 * when a check refuses and there is no --force, none. Returns 0, 1 when
 * some lookups failed (their rows left as they are), BACKFILL_REFUSED,
 * or -1 with b->err set.
 */
static int
reconcile(struct backfill *b, const char *before)
{
	enum store_import how;
	enum walk	 w;
	size_t		 i;
	int		 refused = 0, rc;

	for (w = WALK_USERS; w <= WALK_ORGS; w++) {
		if (!b->walked[w])
			continue;
		if ((rc = reconcile_check(b, w, before)) == -1)
			return -1;
		refused |= rc;
	}
	if (b->walked[WALK_MEMBERS]) {
		if ((rc = reconcile_members(b, before)) == -1)
			return -1;
		refused |= rc;
	}
	if (refused)
		printf("reconcile: %s: nothing marked deleted; if the numbers "
		    "are right, run it again with --force\n", b->o->dry_run ?
		    "would be refused" : "refused");
	for (w = WALK_USERS; w <= WALK_ORGS; w++) {
		for (i = 0; i < b->gone[w].n; i++) {
			if (!b->o->dry_run && refused)
				break;
			if (mark_deleted(b, w, b->gone[w].ids[i], &how) == -1)
				return -1;
			b->t[w].gone++;
			printf("%s %s: deleted in Clerk\n", b->o->dry_run ?
			    "would mark" : "marked", b->gone[w].ids[i]);
		}
	}
	for (i = 0; i < b->gone_members.n; i++) {
		if (!b->o->dry_run && refused)
			break;
		if (end_member(b, &b->gone_members.rows[i]) == -1)
			return -1;
		b->t[WALK_MEMBERS].gone++;
		printf("%s %s: ended in Clerk\n", b->o->dry_run ?
		    "would mark" : "marked", b->gone_members.rows[i].id);
	}
	if (refused)
		return BACKFILL_REFUSED;
	return b->lookups_failed > 0 ? 1 : 0;
}

static void
summary(const struct backfill *b, enum walk w)
{
	const struct tally	*t = &b->t[w];
	const char		*verb = b->o->dry_run ? "would be " : "";

	printf("%s: %lu read: %s%lu inserted, %s%lu updated, %lu unchanged, "
	    "%lu stale (a newer state or a delete is stored), %lu failed\n",
	    walk_names[w], t->seen, verb, t->how[IMPORT_INSERTED], verb,
	    t->how[IMPORT_UPDATED], t->how[IMPORT_UNCHANGED],
	    t->how[IMPORT_STALE], t->failed);
	if (b->o->reconcile && w == WALK_MEMBERS)
		printf("%s: %lu ended in Clerk %s, %lu found that the "
		    "listing missed\n", walk_names[w], t->gone,
		    b->o->dry_run ? "(would be marked)" : "marked ended",
		    t->missed);
	else if (b->o->reconcile)
		printf("%s: %lu deleted in Clerk %s, %lu found that the "
		    "listing missed\n", walk_names[w], t->gone,
		    b->o->dry_run ? "(would be marked)" : "marked deleted",
		    t->missed);
}

/* Whether walk w (users or organizations) is configured at all. */
static int
wanted(const struct backfill *b, enum walk w)
{
	if (w == WALK_USERS)
		return (b->cf->events & CONFIG_EVENTS_USERS) != 0;
	return (b->cf->events & (CONFIG_EVENTS_ORGANIZATIONS |
	    CONFIG_EVENTS_MEMBERSHIPS)) != 0;
}

static int
count_live(void *arg, const char *id)
{
	(void)id;
	(*(unsigned long *)arg)++;
	return 0;
}

/* What store_import did to the row of an object synced, in words. */
static const char *const sync_found[IMPORT__MAX] = {
	"inserted", "updated", "unchanged",
	"stale: a newer state or a delete is stored, left as it is"
};

/* The same for an object Clerk does not have: its delete. */
static const char *const sync_gone[IMPORT__MAX] = {
	"deleted in Clerk: tombstone written",
	"deleted in Clerk: marked deleted",
	"deleted in Clerk: already marked deleted",
	"deleted in Clerk: already marked deleted"
};

/*
 * sync of an organization found, after its row: its memberships walked,
 * and what became of them put on its line. Returns 1 if some could not
 * be read, 0, or -1 with b->err set.
 */
static int
sync_members(struct backfill *b, const char *id, enum store_import how)
{
	const struct tally	*t = &b->t[WALK_MEMBERS];
	struct tally		 m0 = *t;
	const char		*would = b->o->dry_run ? "would be " : "";

	if (walk(b, WALK_MEMBERS, id) == -1)
		return -1;
	printf("%s: %s%s; memberships: %lu read, %s%lu inserted, "
	    "%s%lu updated, %lu unchanged, %lu stale, %lu failed\n",
	    id, would, sync_found[how], t->seen - m0.seen, would,
	    t->how[IMPORT_INSERTED] - m0.how[IMPORT_INSERTED], would,
	    t->how[IMPORT_UPDATED] - m0.how[IMPORT_UPDATED],
	    t->how[IMPORT_UNCHANGED] - m0.how[IMPORT_UNCHANGED],
	    t->how[IMPORT_STALE] - m0.how[IMPORT_STALE],
	    t->failed - m0.failed);
	return t->failed > m0.failed;
}

/*
 * sync of one id: written, or kept in b->gone to be marked deleted.
 * Returns 1 if it failed (said), 0, or -1 with b->err set.
 */
static int
sync_one(struct backfill *b, const char *id)
{
	struct event		 ev;
	enum store_import	 how;
	enum walk		 w;
	int			 found;

	w = strncmp(id, "org_", 4) == 0 ? WALK_ORGS : WALK_USERS;
	if (!wanted(b, w)) {
		printf("%s: not synced: the events setting leaves %s out\n",
		    id, walk_names[w]);
		return 1;
	}
	if ((found = lookup(b, w, id, &ev)) == -1)
		return -1;
	if (found == LOOKUP_FAILED) {
		printf("%s: failed\n", id);
		return 1;
	}
	if (found == LOOKUP_GONE) {
		/* Named twice, marked once. */
		if (!idset_has(&b->gone[w], id) && gone_add(b, w, id) == -1)
			return -1;
		return 0;
	}
	if (import_event(b, &ev, &how) == -1)
		return -1;
	if (w == WALK_USERS || !(b->cf->events & CONFIG_EVENTS_MEMBERSHIPS)) {
		printf("%s: %s%s\n", id, b->o->dry_run ? "would be " : "",
		    sync_found[how]);
		return 0;
	}
	return sync_members(b, id, how);
}

/*
 * sync's deletes, under reconcile's rule (too_many): all of them or,
 * when it refuses and there is no --force, none. Returns 0,
 * BACKFILL_REFUSED, or -1 with b->err set.
 */
static int
sync_deletes(struct backfill *b, const char *before)
{
	enum store_import	 how;
	enum walk		 w;
	unsigned long		 live;
	const char		*id;
	size_t			 i;
	int			 refused = 0, dry = b->o->dry_run;

	for (w = WALK_USERS; w <= WALK_ORGS; w++) {
		if (b->gone[w].n == 0)
			continue;
		live = 0;
		if (store_live(b->st, w == WALK_ORGS, before, count_live,
		    &live, b->err, sizeof(b->err)) != 0)
			return -1;
		refused |= too_many(b, w, (unsigned long)b->gone[w].n, live);
	}
	if (refused)
		printf("sync: %s: nothing marked deleted; if the numbers are "
		    "right, run it again with --force\n", dry ?
		    "would be refused" : "refused");
	for (w = WALK_USERS; w <= WALK_ORGS; w++) {
		for (i = 0; i < b->gone[w].n; i++) {
			id = b->gone[w].ids[i];
			if (refused && !dry) {
				printf("%s: deleted in Clerk: not marked "
				    "(refused)\n", id);
				continue;
			}
			if (mark_deleted(b, w, id, &how) == -1)
				return -1;
			printf("%s: %s\n", id, dry ? "deleted in Clerk: "
			    "would be marked deleted" : sync_gone[how]);
		}
	}
	return refused ? BACKFILL_REFUSED : 0;
}

/*
 * sync: each id asked for on its own, and written through the guarded
 * statements (an organization with its memberships); one that Clerk
 * does not have is marked deleted as reconcile marks it, under the same
 * rules. Prints a line per id. Returns the exit status, or -1 with
 * b->err set.
 */
static int
sync_ids(struct backfill *b, const char *before)
{
	int	 k, rc, failed = 0;

	for (k = 0; k < b->o->nids; k++) {
		if ((rc = sync_one(b, b->o->ids[k])) == -1)
			return -1;
		failed += rc;
	}
	if ((rc = sync_deletes(b, before)) != 0)
		return rc;
	return failed > 0;
}

/*
 * Backfill: resume the run that stopped, or start one. A run stopped if
 * one of its walks is unfinished: then the walks it finished are not
 * walked again, and the others go on from where they stand. A new run
 * first records each of its walks at offset 0, unfinished, so that a
 * kill at any point leaves that rule true (and a walk it does not do as
 * finished, so that it never counts as stopped). Sets b->from and
 * b->walked.
 */
static int
plan(struct backfill *b)
{
	enum walk	 w;
	int		 state[2] = { PROGRESS_NONE, PROGRESS_NONE };
	int		 resuming = 0;
	long long	 zero = 0;

	for (w = WALK_USERS; w <= WALK_ORGS; w++) {
		b->walked[w] = wanted(b, w);
		if (!b->walked[w] || b->o->restart)
			continue;
		if ((state[w] = store_progress(b->st, walk_names[w],
		    &b->from[w], 0, 0, b->err, sizeof(b->err))) == -1)
			return -1;
		resuming |= state[w] == PROGRESS_UNFINISHED;
	}
	for (w = WALK_USERS; w <= WALK_ORGS; w++) {
		if (resuming) {
			if (state[w] == PROGRESS_FINISHED && b->walked[w]) {
				b->walked[w] = 0;
				printf("%s: finished by the run that stopped, "
				    "not walked again\n", walk_names[w]);
			}
			if (state[w] == PROGRESS_NONE)
				b->from[w] = 0;
			continue;
		}
		b->from[w] = 0;
		if (store_progress(b->st, walk_names[w], &zero, 1,
		    !b->walked[w], b->err, sizeof(b->err)) == -1)
			return -1;
	}
	return 0;
}

static void
backfill_init(struct backfill *b, const struct config *cf, struct store *st,
    const struct backfill_opts *o)
{
	memset(b, 0, sizeof(*b));
	b->cf = cf;
	b->st = st;
	b->o = o;
}

/* The walks planned: users, then organizations with their members. */
static int
backfill_walks(struct backfill *b)
{
	const char	*body;
	size_t		 len;
	long long	 n;

	if (b->walked[WALK_USERS]) {
		if (b->tty && clerkapi_get(b->api, "/v1/users/count", &body,
		    &len, b->err, sizeof(b->err)) == 200 &&
		    (n = json_count(body, len, "total_count")) > 0)
			b->total = (unsigned long)n;
		if (walk(b, WALK_USERS, NULL) == -1)
			return -1;
		progress(b, WALK_USERS, 1);
	}
	/*
	 * reconcile lists the instance's memberships at once: fewer
	 * requests than one list per organization, and what it lacks of
	 * an organization still there was removed.
	 */
	if (b->o->reconcile && b->walked[WALK_MEMBERS]) {
		if (walk(b, WALK_MEMBERS, NULL) == -1)
			return -1;
		b->instance_members = !b->no_instance_list;
		if (b->no_instance_list)
			printf("memberships: GET /v1/organization_memberships "
			    "answered 404: each organization's are read\n");
	}
	if (b->walked[WALK_ORGS]) {
		b->total = 0;
		b->started = num_seconds();
		if (walk(b, WALK_ORGS, NULL) == -1)
			return -1;
		progress(b, WALK_ORGS, 1);
	}
	return 0;
}

/*
 * After the walks: 1 if some objects could not be read (then reconcile
 * is skipped: a row missing from the listing may be one of them), else
 * reconcile's answer; a failure is 1 with b->err set.
 */
static int
backfill_after(struct backfill *b, const char *before)
{
	int	 w, failed = 0, rc;

	for (w = 0; w < WALK__MAX; w++)
		failed += b->t[w].failed > 0;
	rc = failed ? 1 : 0;
	if (b->o->reconcile && failed) {
		printf("reconcile: skipped, some objects could not be read\n");
	} else if (b->o->reconcile) {
		if ((rc = reconcile(b, before)) == -1)
			rc = 1;
		else if (rc == 1)
			snprintf(b->err, sizeof(b->err), "%lu lookups failed, "
			    "their rows are left as they are",
			    b->lookups_failed);
	}
	return rc;
}

/* The closing lines of a run, ending with exit status rc; returns it. */
static int
backfill_report(const struct backfill *b, int rc)
{
	const struct backfill_opts *o = b->o;
	struct clerkapi_stats	 as;
	int			 w;

	if (b->tty)
		fputc('\n', stderr);
	for (w = 0; w < WALK__MAX && o->cmd != BACKFILL_CMD_SYNC; w++)
		if (b->t[w].seen > 0 || b->t[w].failed > 0 ||
		    (w == WALK_USERS && b->walked[WALK_USERS]))
			summary(b, (enum walk)w);
	if (b->api != NULL) {
		clerkapi_stats(b->api, &as);
		printf("api: %lu requests, %lu retried, %lu answered 429, in "
		    "%.1f s\n", as.requests, as.retried, as.limited,
		    num_seconds() - b->t0);
	}
	if (rc == -1)
		rc = 1;
	if (rc != 0 && rc != BACKFILL_REFUSED && b->err[0] != '\0')
		printf("%s: stopped: %s%s\n", backfill_cmd_names[o->cmd],
		    b->err, o->cmd != BACKFILL_CMD_BACKFILL ? "" :
		    " (run it again to resume)");
	return rc;
}

int
backfill_run(const struct config *cf, struct store *st,
    const struct backfill_opts *o)
{
	struct backfill		 b;
	char			 before[64];
	int			 rc = 1, w;

	backfill_init(&b, cf, st, o);
	b.tty = isatty(STDERR_FILENO);
	b.t0 = b.started = num_seconds();
	if ((b.api = clerkapi_open(cf, o->timeout, b.err, sizeof(b.err))) == NULL)
		goto out;
	/* Rows created from here on may be missing from the walk. */
	if (store_now(st, before, sizeof(before), b.err, sizeof(b.err)) == -1)
		goto out;
	if (o->cmd == BACKFILL_CMD_SYNC) {
		rc = sync_ids(&b, before);
		goto out;
	}
	if (o->reconcile || o->dry_run) {
		b.walked[WALK_USERS] = wanted(&b, WALK_USERS);
		b.walked[WALK_ORGS] = wanted(&b, WALK_ORGS);
		b.walked[WALK_MEMBERS] = (cf->events &
		    CONFIG_EVENTS_MEMBERSHIPS) != 0;
	} else if (plan(&b) == -1)
		goto out;
	if (backfill_walks(&b) == -1)
		goto out;
	rc = backfill_after(&b, before);
out:
	rc = backfill_report(&b, rc);
	clerkapi_close(b.api);
	for (w = 0; w < WALK__MAX; w++) {
		free(b.seen[w].ids);
		free(b.gone[w].ids);
	}
	free(b.gone_members.rows);
	free(b.env);
	return rc;
}

/*
 * The pull of an organization written: its memberships, as sync reads
 * them. Returns BACKFILL_PULL_API with err set if they could not all be
 * read, else BACKFILL_PULL_WRITTEN.
 */
static enum backfill_pull
pull_members(struct backfill *b, const char *id, char *err, size_t errsz)
{
	if (walk(b, WALK_MEMBERS, id) == -1 ||
	    b->t[WALK_MEMBERS].failed > 0) {
		snprintf(err, errsz, "memberships: %s", b->err[0] != '\0' ?
		    b->err : "some could not be read");
		return BACKFILL_PULL_API;
	}
	return BACKFILL_PULL_WRITTEN;
}

/*
 * The pull: as sync for one id, through a (in clerkapi_set_once's mode),
 * but with an events row, and nothing printed. A GONE id writes nothing.
 */
enum backfill_pull
backfill_pull(const struct config *cf, struct store *st,
    struct clerkapi *a, const char *id, const char *svix_id, long long ts,
    enum store_result *res, char *err, size_t errsz)
{
	struct backfill		 b;
	struct backfill_opts	 o;
	struct event		 ev;
	enum walk		 w;
	enum backfill_pull	 rc = BACKFILL_PULL_FAILED;
	char			 path[128], why[160];
	int			 found;

	memset(&o, 0, sizeof(o));
	o.cmd = BACKFILL_CMD_SYNC;
	o.limit = BACKFILL_LIMIT;
	backfill_init(&b, cf, st, &o);
	b.api = a;
	w = strncmp(id, "org_", 4) == 0 ? WALK_ORGS : WALK_USERS;
	if (!backfill_id_valid(id)) {
		snprintf(err, errsz, "not a user_ or org_ id");
		return BACKFILL_PULL_BAD_ID;
	}
	if (!wanted(&b, w))
		return BACKFILL_PULL_IGNORED;
	if ((found = fetch(&b, w, id, &ev, path, sizeof(path), why,
	    sizeof(why))) == -1) {
		snprintf(err, errsz, "%s", b.err);
		rc = BACKFILL_PULL_API;
		goto out;
	}
	if (found == LOOKUP_GONE) {
		rc = BACKFILL_PULL_GONE;
		goto out;
	}
	if (found == LOOKUP_FAILED) {
		snprintf(err, errsz, "GET %s: %s", path, why);
		goto out;
	}
	*res = store_pull_apply(st, &ev, svix_id, ts, err, errsz);
	event_free(&ev);
	rc = BACKFILL_PULL_WRITTEN;
	if (w == WALK_ORGS && (*res == STORE_APPLIED || *res == STORE_STALE) &&
	    (cf->events & CONFIG_EVENTS_MEMBERSHIPS))
		rc = pull_members(&b, id, err, errsz);
out:
	free(b.env);
	return rc;
}

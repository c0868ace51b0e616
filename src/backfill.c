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

struct backfill {
	const struct config	*cf;
	struct store		*st;
	const struct backfill_opts *o;
	struct clerkapi		*api;
	struct tally		 t[WALK__MAX];
	struct idset		 seen[2];	/* users, organizations */
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
	if (!s->sorted) {
		qsort(s->ids, s->n, sizeof(*s->ids), idcmp);
		s->sorted = 1;
	}
	return s->n > 0 && bsearch(id, s->ids, s->n, sizeof(*s->ids),
	    idcmp) != NULL;
}

int
backfill_args(int argc, char **argv, int reconcile, struct backfill_opts *o,
    char *err, size_t errsz)
{
	long long	 v;
	int		 i;

	memset(o, 0, sizeof(*o));
	o->reconcile = reconcile;
	o->limit = BACKFILL_LIMIT;
	for (i = 0; i < argc; i++) {
		if (reconcile && strcmp(argv[i], "--dry-run") == 0)
			o->dry_run = 1;
		else if (!reconcile && strcmp(argv[i], "--restart") == 0)
			o->restart = 1;
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
		    num_parse(argv[i + 1], strlen(argv[i + 1]), 1,
		    BACKFILL_LIMIT, &v) == 0)
			o->limit = (int)v, i++;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc &&
		    num_parse(argv[i + 1], strlen(argv[i + 1]), 1, 600,
		    &v) == 0)
			o->timeout = (long)v, i++;
		else {
			snprintf(err, errsz, "%s: unknown or bad argument "
			    "'%.64s'", reconcile ? "reconcile" : "backfill",
			    argv[i]);
			return -1;
		}
	}
	return 0;
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
	if (w != WALK_MEMBERS && b->o->reconcile &&
	    idset_add(&b->seen[w], ev.object_id) == -1) {
		event_free(&ev);
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -1;
	}
	snprintf(org, sizeof(org), "%s", ev.object_id);
	event_free(&ev);
	if (w == WALK_ORGS && (b->cf->events & CONFIG_EVENTS_MEMBERSHIPS))
		return walk(b, WALK_MEMBERS, org);
	return 0;
}

/*
 * Page through walk w (of organization org for memberships), ordered by
 * creation so that new objects come last. Each page starts a few objects
 * before where the last one ended: a delete in Clerk between two pages
 * moves later objects forward, and this way none is skipped. Objects
 * already written from the last page are left out.
 */
static int
walk(struct backfill *b, enum walk w, const char *org)
{
	struct json_span	 page, arr, el, idv;
	char			 path[256], tail[BACKFILL_OVERLAP][EVENT_ID_MAX + 3];
	char			 newtail[BACKFILL_OVERLAP][EVENT_ID_MAX + 3];
	const char		*body;
	char			*copy = NULL;
	size_t			 len, pos;
	long long		 next = 0, from, total;
	int			 ntail = 0, nnew, count, i, rc, resume;
	int			 limit = b->o->limit;

	resume = w != WALK_MEMBERS && !b->o->reconcile && !b->o->dry_run;
	if (resume && !b->o->restart) {
		if (store_progress(b->st, walk_names[w], &next, 0, 0, b->err,
		    sizeof(b->err)) == -1)
			goto fail;
		if (next > 0)
			printf("%s: resuming at offset %lld\n", walk_names[w],
			    next);
	}
	for (;;) {
		from = next - ntail > 0 ? next - ntail : 0;
		if (w == WALK_USERS)
			snprintf(path, sizeof(path), "/v1/users?limit=%d&"
			    "offset=%lld&order_by=%%2Bcreated_at", limit, from);
		else if (w == WALK_ORGS)
			snprintf(path, sizeof(path), "/v1/organizations?"
			    "limit=%d&offset=%lld&order_by=%%2Bcreated_at",
			    limit, from);
		else
			snprintf(path, sizeof(path), "/v1/organizations/%s/"
			    "memberships?limit=%d&offset=%lld&order_by="
			    "%%2Bcreated_at", org, limit, from);
		if ((rc = clerkapi_get(b->api, path, &body, &len, b->err,
		    sizeof(b->err))) == -1)
			goto fail;
		if (rc != 200 || !sig_utf8_valid(body, len) ||
		    json_validate(body, len, NULL) == -1) {
			if (w == WALK_MEMBERS && rc == 404)
				goto done;	/* deleted meanwhile */
			snprintf(b->err, sizeof(b->err), "GET %s: not a JSON "
			    "answer", path);
			goto fail;
		}
		/* An organization's members are read into the same buffer. */
		if (w == WALK_ORGS) {
			free(copy);
			if ((copy = malloc(len + 1)) == NULL) {
				snprintf(b->err, sizeof(b->err), "out of memory");
				goto fail;
			}
			memcpy(copy, body, len);
			body = copy;
		}
		page = json_start(body, len);
		arr = page;
		if (w != WALK_USERS && !json_member(page, "data", &arr)) {
			snprintf(b->err, sizeof(b->err), "GET %s: no data",
			    path);
			goto fail;
		}
		if (w == WALK_ORGS && b->total == 0 &&
		    (total = json_count(body, len, "total_count")) > 0)
			b->total = (unsigned long)total;
		count = nnew = 0;
		for (pos = 0; json_next(arr, &pos, &el); count++) {
			/* The id as written: compared, not decoded. */
			idv.p = NULL;
			if (*el.p == '{')
				json_member(el, "id", &idv);
			if (idv.p != NULL && idv.len < sizeof(tail[0])) {
				for (i = 0; i < ntail; i++)
					if (strlen(tail[i]) == idv.len &&
					    memcmp(tail[i], idv.p, idv.len) == 0)
						break;
				if (i < ntail)
					continue;
			}
			if (import_one(b, w, el) == -1)
				goto fail;
			if (idv.p != NULL && idv.len < sizeof(tail[0])) {
				memmove(newtail[1], newtail[0],
				    sizeof(newtail[0]) * (BACKFILL_OVERLAP - 1));
				memcpy(newtail[0], idv.p, idv.len);
				newtail[0][idv.len] = '\0';
				nnew = nnew < BACKFILL_OVERLAP ? nnew + 1 : nnew;
			}
			if (w != WALK_MEMBERS)
				progress(b, w, 0);
		}
		next = from + count;
		/* The next page repeats what it may, of this one's end. */
		ntail = nnew < count ? nnew : count;
		if (ntail > BACKFILL_OVERLAP)
			ntail = BACKFILL_OVERLAP;
		memcpy(tail, newtail, sizeof(tail));
		if (resume && store_progress(b->st, walk_names[w], &next, 1,
		    count < limit, b->err, sizeof(b->err)) == -1)
			goto fail;
		if (count < limit)
			goto done;
	}
done:
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

struct candidates {
	struct idset	*seen;
	struct idset	 out;
};

static int
collect(void *arg, const char *id)
{
	struct candidates	*c = arg;

	if (idset_has(c->seen, id))
		return 0;
	return idset_add(&c->out, id);
}

/*
 * Reconcile walk w: each live row that the walk did not list is looked
 * up on its own. Only a 404 marks it deleted; an object that is there
 * after all (listed on a page that moved) is written as it is.
 */
static int
reconcile(struct backfill *b, enum walk w, const char *before)
{
	struct candidates	 c;
	struct event		 ev;
	enum store_import	 how;
	struct json_span	 el;
	const char		*body;
	char			 path[128];
	size_t			 i, len;
	int			 rc = -1, status;

	memset(&c, 0, sizeof(c));
	c.seen = &b->seen[w];
	if (store_live(b->st, w == WALK_ORGS, before, collect, &c, b->err,
	    sizeof(b->err)) != 0) {
		if (b->err[0] == '\0')
			snprintf(b->err, sizeof(b->err), "out of memory");
		goto out;
	}
	for (i = 0; i < c.out.n; i++) {
		snprintf(path, sizeof(path), "/v1/%s/%s", w == WALK_ORGS ?
		    "organizations" : "users", c.out.ids[i]);
		if ((status = clerkapi_get(b->api, path, &body, &len, b->err,
		    sizeof(b->err))) == -1)
			goto out;
		if (status == 200) {
			el = json_start(body, len);
			if (!sig_utf8_valid(body, len) ||
			    json_validate(el.p, el.len, NULL) == -1)
				continue;
			if (parse_object(b, w, el, &ev) == -1)
				continue;
			b->t[w].missed++;
		} else {
			memset(&ev, 0, sizeof(ev));
			ev.type = w == WALK_ORGS ? EVENT_ORG_DELETED :
			    EVENT_USER_DELETED;
			ev.type_name = event_type_names[ev.type];
			ev.object_id = ev.org.id = c.out.ids[i];
			b->t[w].gone++;
		}
		if (store_import(b->st, &ev, now_ms(), b->o->dry_run, &how,
		    b->err, sizeof(b->err)) == -1) {
			event_free(&ev);
			goto out;
		}
		if (b->o->dry_run || status != 200)
			printf("%s %s: %s\n", b->o->dry_run ? "would mark" :
			    "marked", c.out.ids[i], status == 200 ?
			    "missing from the listing, imported" :
			    "deleted in Clerk");
		event_free(&ev);
	}
	rc = 0;
out:
	free(c.out.ids);
	return rc;
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
	if (b->o->reconcile && w != WALK_MEMBERS)
		printf("%s: %lu deleted in Clerk %s, %lu found that the "
		    "listing missed\n", walk_names[w], t->gone,
		    b->o->dry_run ? "(would be marked)" : "marked deleted",
		    t->missed);
}

int
backfill_run(const struct config *cf, struct store *st,
    const struct backfill_opts *o)
{
	struct backfill		 b;
	struct clerkapi_stats	 as;
	const char		*body;
	char			 before[64];
	size_t			 len;
	long long		 n;
	int			 rc = 1, w, failed = 0;

	memset(&b, 0, sizeof(b));
	b.cf = cf;
	b.st = st;
	b.o = o;
	b.tty = isatty(STDERR_FILENO);
	b.t0 = b.started = num_seconds();
	if ((b.api = clerkapi_open(cf, o->timeout, b.err, sizeof(b.err))) == NULL)
		goto out;
	/* Rows created from here on may be missing from the walk. */
	if (store_now(st, before, sizeof(before), b.err, sizeof(b.err)) == -1)
		goto out;

	if (cf->events & CONFIG_EVENTS_USERS) {
		if (b.tty && clerkapi_get(b.api, "/v1/users/count", &body, &len,
		    b.err, sizeof(b.err)) == 200 &&
		    (n = json_count(body, len, "total_count")) > 0)
			b.total = (unsigned long)n;
		if (walk(&b, WALK_USERS, NULL) == -1)
			goto out;
		progress(&b, WALK_USERS, 1);
	}
	if (cf->events & (CONFIG_EVENTS_ORGANIZATIONS |
	    CONFIG_EVENTS_MEMBERSHIPS)) {
		b.total = 0;
		b.started = num_seconds();
		if (walk(&b, WALK_ORGS, NULL) == -1)
			goto out;
		progress(&b, WALK_ORGS, 1);
	}
	for (w = 0; w < WALK__MAX; w++)
		failed += b.t[w].failed > 0;
	if (o->reconcile && failed) {
		printf("reconcile: skipped, some objects could not be read\n");
	} else if (o->reconcile) {
		if ((cf->events & CONFIG_EVENTS_USERS) &&
		    reconcile(&b, WALK_USERS, before) == -1)
			goto out;
		if ((cf->events & (CONFIG_EVENTS_ORGANIZATIONS |
		    CONFIG_EVENTS_MEMBERSHIPS)) &&
		    reconcile(&b, WALK_ORGS, before) == -1)
			goto out;
	}
	rc = failed ? 1 : 0;
out:
	if (b.tty)
		fputc('\n', stderr);
	for (w = 0; w < WALK__MAX; w++)
		if (b.t[w].seen > 0 || b.t[w].failed > 0 ||
		    (w == WALK_USERS && (cf->events & CONFIG_EVENTS_USERS)))
			summary(&b, (enum walk)w);
	if (b.api != NULL) {
		clerkapi_stats(b.api, &as);
		printf("api: %lu requests, %lu retried, %lu answered 429, in "
		    "%.1f s\n", as.requests, as.retried, as.limited,
		    num_seconds() - b.t0);
	}
	if (rc != 0 && b.err[0] != '\0')
		printf("%s: stopped: %s%s\n", o->reconcile ? "reconcile" :
		    "backfill", b.err, o->reconcile || o->dry_run ? "" :
		    " (run it again to resume)");
	clerkapi_close(b.api);
	free(b.seen[0].ids);
	free(b.seen[1].ids);
	free(b.env);
	return rc;
}

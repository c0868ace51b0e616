/*
 * clerksync — status: when deliveries last arrived, from the events
 * table; exit 1 when they stopped.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "num.h"
#include "schema.h"
#include "status.h"

static const char *const family_names[STORE_FAMILY__MAX] = {
	[STORE_FAMILY_USERS] = "users",
	[STORE_FAMILY_ORGS] = "organizations",
	[STORE_FAMILY_MEMBERS] = "memberships",
};

static const struct {
	char		 unit;
	long long	 seconds;
} units[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }
};

int
status_args(int argc, char *argv[], struct status_opts *so, char *err,
    size_t errsz)
{
	const char	*d;
	size_t		 len, i;
	long long	 v;

	so->quiet_for = 0;
	if (argc == 0)
		return 0;
	if (argc != 2 || strcmp(argv[0], "--quiet-for") != 0) {
		snprintf(err, errsz, "status: the only option is --quiet-for "
		    "DURATION");
		return -1;
	}
	d = argv[1];
	len = strlen(d);
	for (i = 0; len > 1 && i < sizeof(units) / sizeof(units[0]); i++)
		if (d[len - 1] == units[i].unit)
			break;
	if (len < 2 || i == sizeof(units) / sizeof(units[0]) ||
	    num_parse(d, len - 1, 1, STATUS_QUIET_MAX / units[i].seconds,
	    &v) == -1) {
		snprintf(err, errsz, "--quiet-for: a number and s, m, h or d "
		    "(e.g. 90m, 6h, 2d), at most 366d");
		return -1;
	}
	so->quiet_for = v * units[i].seconds;
	return 0;
}

/* "48s", "17m", "6h 3m", "3d 2h": two units at most. */
static void
status_age(char *buf, size_t bufsz, long long s)
{
	if (s < 60)
		snprintf(buf, bufsz, "%llds", s);
	else if (s < 3600)
		snprintf(buf, bufsz, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, bufsz, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, bufsz, "%lldd %lldh", s / 86400,
		    s % 86400 / 3600);
}

int
status_run(const struct config *cf, struct store *st,
    const struct status_opts *so)
{
	const int		 want = schema_files[schema_count - 1].version;
	struct store_status	 ss;
	char			 err[512], age[64];
	long long		 newest = -1;
	int			 i;

	if (store_status(st, &ss, err, sizeof(err)) == -1) {
		printf("database: %s\n", err);
		return 1;
	}
	if (ss.version == 0) {
		printf("schema: none: run `clerksync.fcgi migrate`\n");
		return 1;
	}
	if (ss.version < want)
		printf("schema: version %d, expected %d: run `clerksync.fcgi "
		    "migrate`\n", ss.version, want);
	else
		printf("schema: version %d\n", ss.version);
	for (i = 0; i < STORE_FAMILY__MAX; i++) {
		if (ss.fam[i].age < 0)
			printf("%s: nothing recorded", family_names[i]);
		else {
			status_age(age, sizeof(age), ss.fam[i].age);
			printf("%s: last %s UTC (%s ago)", family_names[i],
			    ss.fam[i].last, age);
			if (newest < 0 || ss.fam[i].age < newest)
				newest = ss.fam[i].age;
		}
		printf("; last 24 h: %lld applied, %lld stale\n",
		    ss.fam[i].applied, ss.fam[i].stale);
	}
	printf("duplicates: not counted (a replayed delivery writes no row)\n");
	if (so->quiet_for == 0)
		return 0;
	status_age(age, sizeof(age), so->quiet_for);
	if (newest < 0) {
		printf("quiet: nothing recorded in %d days (the events kept): "
		    "see the endpoint in Clerk's dashboard, Webhooks\n",
		    cf->retention_days);
		return 1;
	}
	if (newest > so->quiet_for) {
		status_age(err, sizeof(err), newest);
		printf("quiet: nothing arrived for %s, more than %s: see the "
		    "endpoint in Clerk's dashboard, Webhooks\n", err, age);
		return 1;
	}
	printf("quiet-for %s: ok\n", age);
	return 0;
}

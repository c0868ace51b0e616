/*
 * libFuzzer target for src/config.c (config_parse + config_finish).
 *
 * Input: the text of a config file, optionally followed by one NUL byte
 * and an environment block of NAME=value lines that config_finish sees
 * through its env function.
 *
 * Invariants:
 *  - neither call crashes, leaks (LeakSanitizer) or returns other than
 *    0 / -1; on -1 the error is one non-empty line;
 *  - no error text contains a secret value: signing_secret (each secret,
 *    and the whole value), db_password, database_url or its password part,
 *    from the file or the environment. Values shorter than 10 bytes are
 *    not checked (they could be words of the message), the echoed name in
 *    "unknown key '...'" is not a value, and a hit is confirmed by running
 *    the input again with that value replaced by QQQ...: the message must
 *    carry the replacement too for it to count as an echo;
 *  - on success the checked fields are in their documented ranges
 *    (the limits of config.h), database hosts non-empty.
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_config: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

#define SECRET_MIN	10
#define NSECRETS	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	*env_block;
static size_t		 env_len;
static char		 env_val[4096];

static const char *
fenv(const char *name)
{
	size_t	 nl = strlen(name);
	const char *p = env_block, *end, *e;

	if (p == NULL)
		return NULL;
	end = env_block + env_len;
	while (p != NULL && p < end) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			size_t	 vl = (size_t)(e - p) - nl - 1;

			if (vl >= sizeof(env_val))
				vl = sizeof(env_val) - 1;
			memcpy(env_val, p + nl + 1, vl);
			env_val[vl] = '\0';
			/* A value with a NUL reads as its C string. */
			return env_val;
		}
		p = e + 1;
	}
	return NULL;
}

struct secrets {
	char	*v[NSECRETS];
	size_t	 n;
};

static void
add(struct secrets *s, const char *p, size_t n)
{
	if (n < SECRET_MIN || s->n == NSECRETS)
		return;
	if ((s->v[s->n] = malloc(n + 1)) == NULL)
		abort();
	memcpy(s->v[s->n], p, n);
	s->v[s->n][n] = '\0';
	s->n++;
}

/* The value, and each space/tab-separated word of it. */
static void
add_value(struct secrets *s, const char *v)
{
	const char *p = v, *e;

	if (v == NULL)
		return;
	add(s, v, strlen(v));
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			continue;
		if (e - p != (long)strlen(v))
			add(s, p, (size_t)(e - p));
		p = e;
	}
}

static void
add_url_password(struct secrets *s, const char *url)
{
	const char *p, *at, *colon;

	if (url == NULL || (p = strstr(url, "://")) == NULL)
		return;
	p += 3;
	if ((at = strchr(p, '@')) == NULL)
		return;
	if ((colon = memchr(p, ':', (size_t)(at - p))) != NULL)
		add(s, colon + 1, (size_t)(at - colon - 1));
}

static void
collect(struct secrets *s, const struct config *cf)
{
	static const char *const envs[] = { "CLERK_WEBHOOK_SIGNING_SECRET",
	    "CLERKSYNC_SIGNING_SECRET", "CLERKSYNC_DB_PASSWORD",
	    "CLERKSYNC_DATABASE_URL" };
	size_t	 i;

	add_value(s, cf->raw[CONFIG_SIGNING_SECRET]);
	add_value(s, cf->raw[CONFIG_DB_PASSWORD]);
	add_value(s, cf->raw[CONFIG_DATABASE_URL]);
	add_url_password(s, cf->raw[CONFIG_DATABASE_URL]);
	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		const char *v = fenv(envs[i]);

		add_value(s, v);
		if (i == 3)
			add_url_password(s, v);
	}
}

/* The error without the echoed key of "unknown key '...'". */
static void
strip_key(const char *err, char *out, size_t outsz)
{
	const char *k = strstr(err, "unknown key '");

	snprintf(out, outsz, "%s", err);
	if (k != NULL)
		out[k - err] = '\0';
}

/* Run the two calls; returns -1 with err, or 0. */
static int
run(const char *file, size_t flen, char *err, size_t errsz, struct config *cf,
    int *stage)
{
	memset(cf, 0, sizeof(*cf));
	memset(err, 0, errsz);
	*stage = 0;
	if (config_parse(cf, file, flen, "F", err, errsz) == -1)
		return -1;
	*stage = 1;
	return config_finish(cf, fenv, err, errsz);
}

static void
replace_all(char *buf, size_t len, const char *needle)
{
	size_t	 n = strlen(needle), i;

	for (i = 0; n > 0 && i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			memset(buf + i, 'Q', n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config	 cf;
	struct secrets		 s = { { NULL }, 0 };
	char			 err[512], scan[512], *copy, *nul;
	size_t			 flen, i;
	int			 rc, stage;

	copy = malloc(size + 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	nul = memchr(copy, '\0', size);
	flen = nul ? (size_t)(nul - copy) : size;
	env_block = nul ? nul + 1 : NULL;
	env_len = nul ? size - flen - 1 : 0;

	rc = run(copy, flen, err, sizeof(err), &cf, &stage);
	CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		CHECK(err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		collect(&s, &cf);
		strip_key(err, scan, sizeof(scan));
		for (i = 0; i < s.n; i++) {
			char	*again, err2[512], scan2[512], q[4096];
			size_t	 ql;
			int	 stage2;

			if (strstr(scan, s.v[i]) == NULL)
				continue;
			/* Confirm: the same input with the value as QQQ... */
			again = malloc(size + 1);
			CHECK(again != NULL);
			memcpy(again, copy, size + 1);
			replace_all(again, size, s.v[i]);
			env_block = nul ? again + flen + 1 : NULL;
			config_free(&cf);
			run(again, flen, err2, sizeof(err2), &cf, &stage2);
			strip_key(err2, scan2, sizeof(scan2));
			ql = strlen(s.v[i]) < sizeof(q) - 1 ? strlen(s.v[i]) :
			    sizeof(q) - 1;
			memset(q, 'Q', ql);
			q[ql] = '\0';
			if (strstr(scan2, q) != NULL) {
				fprintf(stderr, "fuzz_config: secret value "
				    "echoed in the error: %s\n", err);
				abort();
			}
			free(again);
			env_block = nul ? nul + 1 : NULL;
			config_free(&cf);
			run(copy, flen, err, sizeof(err), &cf, &stage);
		}
	} else {
		CHECK(cf.nkeys >= 1 && cf.nkeys <= SIG_KEYS_MAX);
		for (i = 0; i < cf.nkeys; i++)
			CHECK(cf.keys[i].len >= 1 &&
			    cf.keys[i].len <= SIG_KEY_MAX);
		CHECK(cf.db_user != NULL && *cf.db_user != '\0');
		CHECK(cf.db_name != NULL && *cf.db_name != '\0');
		CHECK(strlen(cf.table_prefix) <= CONFIG_PREFIX_MAX);
		CHECK(strspn(cf.table_prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_") ==
		    strlen(cf.table_prefix));
		CHECK(cf.tolerance >= 1 && cf.tolerance <= 86400);
		CHECK(cf.max_body >= 1 && cf.max_body <= CONFIG_MAX_BODY_LIMIT);
		CHECK(cf.retention_days >= 1 && cf.retention_days <= 36500);
		CHECK((int)cf.log_level >= 0 && cf.log_level < LOG__MAX);
		CHECK(cf.db_port <= CONFIG_PORT_MAX);
		CHECK(cf.ndb_hosts <= CONFIG_HOSTS_MAX);
		for (i = 0; i < cf.ndb_hosts; i++)
			CHECK(cf.db_hosts[i] != NULL &&
			    *cf.db_hosts[i] != '\0' &&
			    cf.db_ports[i] <= CONFIG_PORT_MAX);
		CHECK(cf.events != 0 && (cf.events & ~CONFIG_EVENTS_ALL) == 0);
		CHECK(cf.rate_requests >= 1 &&
		    cf.rate_requests <= CONFIG_RATE_MAX);
		CHECK(cf.rate_seconds >= 1 &&
		    cf.rate_seconds <= CONFIG_RATE_WINDOW_MAX);
		CHECK(strncmp(cf.clerk_api_url, "https://", 8) == 0);
	}
	config_free(&cf);
	for (i = 0; i < s.n; i++)
		free(s.v[i]);
	free(copy);
	return 0;
}

/*
 * clerksync — config: the KEY = value file and its environment overrides.
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "num.h"

const char *const config_key_names[CONFIG__MAX] = {
	"signing_secret", "db_host", "db_port", "db_socket", "db_user",
	"db_password", "db_name", "database_url", "table_prefix",
	"timestamp_tolerance", "max_body", "log_file", "log_level",
	"sync_private_metadata", "keep_deleted_data", "event_retention_days",
	"events", "clerk_secret_key", "clerk_api_url", "clerk_ca_file",
	"clerk_rate_limit", "db_tls", "db_tls_ca"
};

const char *const config_tls_names[CONFIG_TLS__MAX] = {
	"off", "on", "verify"
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
raw_set(struct config *cf, enum config_key k, const char *v, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, v, n);
	s[n] = '\0';
	if (cf->raw[k] != NULL) {
		OPENSSL_cleanse(cf->raw[k], strlen(cf->raw[k]));
		free(cf->raw[k]);
	}
	cf->raw[k] = s;
}

int
config_parse(struct config *cf, const char *buf, size_t len,
    const char *name, char *err, size_t errsz)
{
	const char	*line, *eol, *end = buf + len, *eq, *ks, *ke, *vs, *ve;
	size_t		 lineno = 0;
	int		 k;

	for (line = buf; line < end; line = eol + 1) {
		lineno++;
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		for (ks = line; ks < eol && is_blank(*ks); ks++)
			continue;
		if (ks == eol || *ks == '#' || *ks == ';')
			continue;
		if ((eq = memchr(ks, '=', (size_t)(eol - ks))) == NULL) {
			snprintf(err, errsz, "%s:%zu: expected KEY = value",
			    name, lineno);
			return -1;
		}
		for (ke = eq; ke > ks && is_blank(ke[-1]); ke--)
			continue;
		for (vs = eq + 1; vs < eol && is_blank(*vs); vs++)
			continue;
		for (ve = eol; ve > vs && is_blank(ve[-1]); ve--)
			continue;
		for (k = 0; k < CONFIG__MAX; k++)
			if (strlen(config_key_names[k]) == (size_t)(ke - ks) &&
			    memcmp(config_key_names[k], ks,
			    (size_t)(ke - ks)) == 0)
				break;
		if (k == CONFIG__MAX) {
			snprintf(err, errsz, "%s:%zu: unknown key '%.*s'",
			    name, lineno, (int)(ke - ks > 64 ? 64 : ke - ks),
			    ks);
			return -1;
		}
		raw_set(cf, (enum config_key)k, vs, (size_t)(ve - vs));
	}
	return 0;
}

/*
 * Read path into a fresh buffer. Returns 0 with the file parsed, 1 if it
 * does not exist and missing_ok, or -1 with err set.
 */
static int
config_read(struct config *cf, const char *path, int missing_ok,
    const char *what, char *err, size_t errsz)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 n;
	int	 rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		if (missing_ok && errno == ENOENT)
			return 1;
		snprintf(err, errsz, "%s: cannot read %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if ((buf = malloc(CONFIG_FILE_MAX + 1)) == NULL)
		abort();
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f))
		snprintf(err, errsz, "%s: cannot read %s: %s", what, path,
		    strerror(errno));
	else if (n > CONFIG_FILE_MAX)
		snprintf(err, errsz, "%s: %s is larger than %d bytes", what,
		    path, CONFIG_FILE_MAX);
	else if (config_parse(cf, buf, n, path, err, errsz) == 0) {
		snprintf(cf->path, sizeof(cf->path), "%s", path);
		rc = 0;
	}
	OPENSSL_cleanse(buf, CONFIG_FILE_MAX + 1);
	free(buf);
	fclose(f);
	return rc;
}

int
config_load(struct config *cf, const char *exedir, config_env_fn env,
    char *err, size_t errsz)
{
	struct passwd	*pw;
	const char	*v;
	char		 path[4096];
	int		 rc, n;

	/* SPEC section 4: the search order. */
	if ((v = env("CLERKSYNC_CONFIG")) != NULL && *v != '\0') {
		if (config_read(cf, v, 0, "CLERKSYNC_CONFIG", err, errsz) != 0)
			return -1;
		return config_finish(cf, env, err, errsz);
	}
	rc = 1;
	if ((pw = getpwuid(geteuid())) != NULL && pw->pw_dir != NULL) {
		n = snprintf(path, sizeof(path), "%s/%s", pw->pw_dir,
		    CONFIG_FILE_NAME);
		if (n > 0 && (size_t)n < sizeof(path) &&
		    (rc = config_read(cf, path, 1, "config", err, errsz)) == -1)
			return -1;
	}
	if (rc == 1 && exedir != NULL) {
		n = snprintf(path, sizeof(path), "%s/%s", exedir,
		    CONFIG_FILE_NAME);
		if (n > 0 && (size_t)n < sizeof(path) &&
		    config_read(cf, path, 1, "config", err, errsz) == -1)
			return -1;
	}
	return config_finish(cf, env, err, errsz);
}

static int
pct_decode(char *s)
{
	char	*w = s, hex[3] = { 0 };
	long	 c;

	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*w++ = *s;
			continue;
		}
		if (s[1] == '\0' || s[2] == '\0')
			return -1;
		hex[0] = s[1];
		hex[1] = s[2];
		if (strspn(hex, "0123456789abcdefABCDEF") != 2)
			return -1;
		c = strtol(hex, NULL, 16);
		if (c == 0)
			return -1;
		*w++ = (char)c;
		s += 2;
	}
	*w = '\0';
	return 0;
}

static char *
xstrndup(const char *s, size_t n)
{
	char	*d;

	if ((d = malloc(n + 1)) == NULL)
		abort();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/*
 * mysql://[user[:password]@]host[:port]/dbname: fills the db_* raw values
 * that are not set on their own (those win).
 */
static int
parse_url(struct config *cf, const char *url)
{
	const char	*p, *at, *slash, *colon, *hostend;
	char		*user = NULL, *pass = NULL;
	int		 rc = -1;

	if (strncmp(url, "mysql://", 8) != 0 &&
	    strncmp(url, "mariadb://", 10) != 0)
		return -1;
	p = strstr(url, "://") + 3;
	if ((slash = strchr(p, '/')) == NULL || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL || strchr(slash + 1, '?') != NULL)
		return -1;
	at = memchr(p, '@', (size_t)(slash - p));
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		user = xstrndup(p, (size_t)((colon ? colon : at) - p));
		if (colon != NULL)
			pass = xstrndup(colon + 1, (size_t)(at - colon - 1));
		if (pct_decode(user) == -1 ||
		    (pass != NULL && pct_decode(pass) == -1))
			goto out;
		p = at + 1;
	}
	hostend = slash;
	if ((colon = memchr(p, ':', (size_t)(slash - p))) != NULL) {
		hostend = colon;
		if (cf->raw[CONFIG_DB_PORT] == NULL)
			raw_set(cf, CONFIG_DB_PORT, colon + 1,
			    (size_t)(slash - colon - 1));
	}
	if (hostend == p)
		goto out;
	if (cf->raw[CONFIG_DB_HOST] == NULL)
		raw_set(cf, CONFIG_DB_HOST, p, (size_t)(hostend - p));
	if (cf->raw[CONFIG_DB_NAME] == NULL)
		raw_set(cf, CONFIG_DB_NAME, slash + 1, strlen(slash + 1));
	if (user != NULL && cf->raw[CONFIG_DB_USER] == NULL)
		raw_set(cf, CONFIG_DB_USER, user, strlen(user));
	if (pass != NULL && cf->raw[CONFIG_DB_PASSWORD] == NULL)
		raw_set(cf, CONFIG_DB_PASSWORD, pass, strlen(pass));
	rc = 0;
out:
	if (pass != NULL) {
		OPENSSL_cleanse(pass, strlen(pass));
		free(pass);
	}
	free(user);
	return rc;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
parse_secrets(struct config *cf, const char *v)
{
	const char	*p = v, *e;

	cf->nkeys = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			continue;
		if (cf->nkeys == SIG_KEYS_MAX ||
		    sig_key_decode(p, (size_t)(e - p),
		    &cf->keys[cf->nkeys]) == -1)
			return -1;
		cf->nkeys++;
		p = e;
	}
	return cf->nkeys > 0 ? 0 : -1;
}

/* db_host: host or host:port words, separated by blanks or commas. */
static int
parse_hosts(struct config *cf)
{
	char		*p = cf->db_host, *e, *colon;
	long long	 port;

	cf->ndb_hosts = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			*p++ = '\0';
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t' && *e != ',';
		    e++)
			continue;
		if (cf->ndb_hosts == CONFIG_HOSTS_MAX)
			return -1;
		cf->db_ports[cf->ndb_hosts] = 0;
		/* One colon: host:port; none or several: a name or IPv6. */
		colon = memchr(p, ':', (size_t)(e - p));
		if (colon != NULL && memchr(colon + 1, ':',
		    (size_t)(e - colon - 1)) == NULL) {
			if (num_parse(colon + 1, (size_t)(e - colon - 1), 1,
			    65535, &port) == -1 || colon == p)
				return -1;
			cf->db_ports[cf->ndb_hosts] = (unsigned int)port;
			*colon = '\0';
		}
		cf->db_hosts[cf->ndb_hosts++] = p;
		if (*e == '\0')
			break;
		*e = '\0';
		p = e + 1;
	}
	cf->db_host = cf->ndb_hosts > 0 ? cf->db_hosts[0] : NULL;
	return 0;
}

/* REQUESTS/SECONDS. */
static int
parse_rate(const char *v, int *requests, int *seconds)
{
	const char	*slash = strchr(v, '/');
	long long	 r, s;

	if (slash == NULL ||
	    num_parse(v, (size_t)(slash - v), 1, 1000, &r) == -1 ||
	    num_parse(slash + 1, strlen(slash + 1), 1, 3600, &s) == -1)
		return -1;
	*requests = (int)r;
	*seconds = (int)s;
	return 0;
}

/* Words of the events setting, separated by blanks or commas. */
static int
parse_events(const char *v, unsigned int *out)
{
	static const char *const words[] = {
		"users", "organizations", "memberships"
	};
	const char	*p = v, *e;
	size_t		 i;

	*out = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t' && *e != ',';
		    e++)
			continue;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i]) == (size_t)(e - p) &&
			    memcmp(words[i], p, (size_t)(e - p)) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return -1;
		*out |= 1u << i;
		p = e;
	}
	return *out != 0 ? 0 : -1;
}

#define FAIL(key, ...) do {						\
	int n_ = snprintf(err, errsz, "%s: ", config_key_names[key]);	\
	if (n_ > 0 && (size_t)n_ < errsz)				\
		snprintf(err + n_, errsz - (size_t)n_, __VA_ARGS__);	\
	return -1;							\
} while (0)

int
config_finish(struct config *cf, config_env_fn env, char *err, size_t errsz)
{
	char		 name[64];
	const char	*v;
	long long	 n;
	size_t		 i;
	int		 k;

	/* Environment overrides: CLERKSYNC_<KEY>, and Clerk's own name. */
	if ((v = env("CLERK_WEBHOOK_SIGNING_SECRET")) != NULL && *v != '\0')
		raw_set(cf, CONFIG_SIGNING_SECRET, v, strlen(v));
	if ((v = env("CLERK_SECRET_KEY")) != NULL && *v != '\0')
		raw_set(cf, CONFIG_CLERK_SECRET_KEY, v, strlen(v));
	for (k = 0; k < CONFIG__MAX; k++) {
		snprintf(name, sizeof(name), "CLERKSYNC_%s",
		    config_key_names[k]);
		for (i = 10; name[i] != '\0'; i++)
			if (name[i] >= 'a' && name[i] <= 'z')
				name[i] = (char)(name[i] - 'a' + 'A');
		if ((v = env(name)) != NULL)
			raw_set(cf, (enum config_key)k, v, strlen(v));
	}

	if ((v = cf->raw[CONFIG_DATABASE_URL]) != NULL && *v != '\0' &&
	    parse_url(cf, v) == -1)
		FAIL(CONFIG_DATABASE_URL,
		    "expected mysql://user:password@host:port/dbname");
	if ((v = cf->raw[CONFIG_SIGNING_SECRET]) == NULL || *v == '\0')
		FAIL(CONFIG_SIGNING_SECRET, "not set (the whsec_... secret "
		    "of the endpoint in Clerk's dashboard)");
	if (parse_secrets(cf, v) == -1)
		FAIL(CONFIG_SIGNING_SECRET, "expected 1 to %d space-separated "
		    "whsec_ secrets, each base64 after the prefix",
		    SIG_KEYS_MAX);

	cf->db_host = cf->raw[CONFIG_DB_HOST];
	cf->db_socket = cf->raw[CONFIG_DB_SOCKET];
	cf->db_user = cf->raw[CONFIG_DB_USER];
	cf->db_password = cf->raw[CONFIG_DB_PASSWORD];
	cf->db_name = cf->raw[CONFIG_DB_NAME];
	if (cf->db_host != NULL && *cf->db_host == '\0')
		cf->db_host = NULL;
	if (cf->db_socket != NULL && *cf->db_socket == '\0')
		cf->db_socket = NULL;
	if (cf->db_user == NULL || *cf->db_user == '\0')
		FAIL(CONFIG_DB_USER, "not set");
	if (cf->db_name == NULL || *cf->db_name == '\0')
		FAIL(CONFIG_DB_NAME, "not set");
	cf->db_port = 0;
	if ((v = cf->raw[CONFIG_DB_PORT]) != NULL && *v != '\0') {
		if (num_parse(v, strlen(v), 1, 65535, &n) == -1)
			FAIL(CONFIG_DB_PORT, "expected a number in 1..65535");
		cf->db_port = (unsigned int)n;
	}

	cf->db_tls = CONFIG_TLS_OFF;
	if ((v = cf->raw[CONFIG_DB_TLS]) != NULL && *v != '\0') {
		for (k = 0; k < CONFIG_TLS__MAX; k++)
			if (strcmp(v, config_tls_names[k]) == 0)
				break;
		if (k == CONFIG_TLS__MAX)
			FAIL(CONFIG_DB_TLS, "expected off, on or verify");
		cf->db_tls = (enum config_tls)k;
	}
	cf->db_tls_ca = cf->raw[CONFIG_DB_TLS_CA];
	if (cf->db_tls_ca != NULL && *cf->db_tls_ca == '\0')
		cf->db_tls_ca = NULL;
	/* A CA that is not used would let one believe the server checked. */
	if (cf->db_tls_ca != NULL && cf->db_tls != CONFIG_TLS_VERIFY)
		FAIL(CONFIG_DB_TLS_CA, "is used only with db_tls = verify");
	if (cf->db_tls_ca != NULL && access(cf->db_tls_ca, R_OK) == -1)
		FAIL(CONFIG_DB_TLS_CA, "cannot read the file: %s",
		    strerror(errno));

	if (cf->db_host != NULL && parse_hosts(cf) == -1)
		FAIL(CONFIG_DB_HOST, "expected up to %d hosts, each host or "
		    "host:port, separated by blanks or commas",
		    CONFIG_HOSTS_MAX);

	cf->table_prefix[0] = '\0';
	if ((v = cf->raw[CONFIG_TABLE_PREFIX]) != NULL) {
		if (strlen(v) > CONFIG_PREFIX_MAX || strspn(v,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_") != strlen(v))
			FAIL(CONFIG_TABLE_PREFIX, "only A-Z, a-z, 0-9 and _ "
			    "are allowed, at most %d", CONFIG_PREFIX_MAX);
		snprintf(cf->table_prefix, sizeof(cf->table_prefix), "%s", v);
	}

	cf->tolerance = SIG_TOLERANCE_DEFAULT;
	if ((v = cf->raw[CONFIG_TIMESTAMP_TOLERANCE]) != NULL &&
	    num_parse(v, strlen(v), 1, 86400, &cf->tolerance) == -1)
		FAIL(CONFIG_TIMESTAMP_TOLERANCE, "expected seconds in 1..86400");
	cf->max_body = CONFIG_MAX_BODY_DEFAULT;
	if ((v = cf->raw[CONFIG_MAX_BODY]) != NULL) {
		if (num_parse(v, strlen(v), 1, CONFIG_MAX_BODY_LIMIT, &n) == -1)
			FAIL(CONFIG_MAX_BODY, "expected bytes in 1..%d",
			    CONFIG_MAX_BODY_LIMIT);
		cf->max_body = (size_t)n;
	}
	cf->retention_days = CONFIG_RETENTION_DEFAULT;
	if ((v = cf->raw[CONFIG_EVENT_RETENTION_DAYS]) != NULL) {
		if (num_parse(v, strlen(v), 1, 36500, &n) == -1)
			FAIL(CONFIG_EVENT_RETENTION_DAYS,
			    "expected days in 1..36500");
		cf->retention_days = (int)n;
	}

	cf->log_file = cf->raw[CONFIG_LOG_FILE];
	if (cf->log_file != NULL && *cf->log_file == '\0')
		cf->log_file = NULL;
	cf->log_level = LOG_INFO;
	if ((v = cf->raw[CONFIG_LOG_LEVEL]) != NULL) {
		for (k = 0; k < LOG__MAX; k++)
			if (strcmp(v, log_level_names[k]) == 0)
				break;
		if (k == LOG__MAX)
			FAIL(CONFIG_LOG_LEVEL,
			    "expected error, warn, info or debug");
		cf->log_level = (enum log_level)k;
	}

	cf->sync_private_metadata = 0;
	if ((v = cf->raw[CONFIG_SYNC_PRIVATE_METADATA]) != NULL &&
	    parse_bool(v, &cf->sync_private_metadata) == -1)
		FAIL(CONFIG_SYNC_PRIVATE_METADATA, "expected on or off");
	cf->keep_deleted_data = 0;
	if ((v = cf->raw[CONFIG_KEEP_DELETED_DATA]) != NULL &&
	    parse_bool(v, &cf->keep_deleted_data) == -1)
		FAIL(CONFIG_KEEP_DELETED_DATA, "expected on or off");
	cf->events = CONFIG_EVENTS_ALL;
	if ((v = cf->raw[CONFIG_EVENTS]) != NULL &&
	    parse_events(v, &cf->events) == -1)
		FAIL(CONFIG_EVENTS, "expected one or more of users, "
		    "organizations, memberships");

	cf->clerk_secret_key = cf->raw[CONFIG_CLERK_SECRET_KEY];
	if (cf->clerk_secret_key != NULL && (*cf->clerk_secret_key == '\0' ||
	    strpbrk(cf->clerk_secret_key, " \t\r\n") != NULL))
		FAIL(CONFIG_CLERK_SECRET_KEY, "expected one sk_... key");
	cf->clerk_api_url = CONFIG_API_URL_DEFAULT;
	if ((v = cf->raw[CONFIG_CLERK_API_URL]) != NULL && *v != '\0') {
		if (strncmp(v, "https://", 8) != 0 || v[8] == '\0' ||
		    strpbrk(v, " \t\r\n?#") != NULL)
			FAIL(CONFIG_CLERK_API_URL, "expected an https:// URL");
		cf->clerk_api_url = v;
	}
	cf->clerk_ca_file = cf->raw[CONFIG_CLERK_CA_FILE];
	if (cf->clerk_ca_file != NULL && *cf->clerk_ca_file == '\0')
		cf->clerk_ca_file = NULL;
	cf->rate_requests = CONFIG_RATE_DEFAULT;
	cf->rate_seconds = CONFIG_RATE_WINDOW_DEFAULT;
	if ((v = cf->raw[CONFIG_CLERK_RATE_LIMIT]) != NULL &&
	    parse_rate(v, &cf->rate_requests, &cf->rate_seconds) == -1)
		FAIL(CONFIG_CLERK_RATE_LIMIT, "expected REQUESTS/SECONDS, e.g. "
		    "50/10 (1..1000 requests in 1..3600 seconds)");
	return 0;
}

void
config_free(struct config *cf)
{
	int	 k;

	for (k = 0; k < CONFIG__MAX; k++) {
		if (cf->raw[k] != NULL) {
			OPENSSL_cleanse(cf->raw[k], strlen(cf->raw[k]));
			free(cf->raw[k]);
		}
	}
	OPENSSL_cleanse(cf, sizeof(*cf));
}

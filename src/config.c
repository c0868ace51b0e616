/*
 * clerksync — config: the KEY = value file and its environment overrides.
 * Every key is one row of config_valid[] (its kind, limits, default and
 * the field it fills), checked by the function of its kind, as kcgi's
 * struct kvalid rows are checked by the kvalid_* functions.
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "num.h"

enum config_kind {
	CONFIG_KIND_TEXT,	/* any text, or the default text */
	CONFIG_KIND_WORD,	/* one word, no blank in it */
	CONFIG_KIND_NUM,	/* a decimal in min..max, or def */
	CONFIG_KIND_BOOL,	/* on/off, yes/no, true/false, 1/0 */
	CONFIG_KIND_CHOICE,	/* one of words[0..max): its index */
	CONFIG_KIND_SET,	/* some of words[0..max): bit i for each */
	CONFIG_KIND_IDENT,	/* [A-Za-z0-9_]{0,max}, copied into an array */
	CONFIG_KIND_SECRETS,	/* min..max secrets: keys and nkeys, or
				   pull_keys and npull_keys */
	CONFIG_KIND_HOSTS,	/* up to max host[:port]: db_host(s), ports */
	CONFIG_KIND_HTTPS,	/* an https:// URL, or the default text */
	CONFIG_KIND_RATE,	/* REQUESTS/SECONDS: rate_requests, _seconds */
	CONFIG_KIND_DBURL,	/* mysql://...: sets the db_* left unset */
	CONFIG_KIND__MAX
};

#define CONFIG_REQUIRED	0x1	/* unset (or empty) is an error */

struct config_valid {
	const char		*key;
	enum config_kind	 kind;
	long long		 min, max;	/* range, length or count */
	long long		 def;		/* numbers: when unset */
	const char		*text;		/* text: when unset */
	const char		*unit;		/* for the message */
	const char *const	*words;		/* CHOICE and SET */
	size_t			 offset, size;	/* the field of struct config */
	unsigned int		 flags;
	const char		*help;		/* after "not set" */
};

#define FIELD(f)	.offset = offsetof(struct config, f),		\
			.size = sizeof(((struct config *)NULL)->f)

const char *const config_tls_names[CONFIG_TLS__MAX] = {
	"off", "on", "verify"
};

static const char *const event_words[] = {
	"users", "organizations", "memberships"
};

/*
 * SPEC section 4: every key, once. A new key is its enum name in
 * config.h, its field in struct config and one row here.
 */
static const struct config_valid config_valid[CONFIG__MAX] = {
	[CONFIG_SIGNING_SECRET] = { .key = "signing_secret",
	    .kind = CONFIG_KIND_SECRETS, .min = 1, .max = SIG_KEYS_MAX,
	    FIELD(keys), .flags = CONFIG_REQUIRED,
	    .help = "the signing secret of the endpoint in Clerk's dashboard" },
	[CONFIG_DB_HOST] = { .key = "db_host", .kind = CONFIG_KIND_HOSTS,
	    .max = CONFIG_HOSTS_MAX, FIELD(db_host) },
	[CONFIG_DB_PORT] = { .key = "db_port", .kind = CONFIG_KIND_NUM,
	    .min = 1, .max = CONFIG_PORT_MAX, .unit = "a port",
	    FIELD(db_port) },
	[CONFIG_DB_SOCKET] = { .key = "db_socket", .kind = CONFIG_KIND_TEXT,
	    FIELD(db_socket) },
	[CONFIG_DB_USER] = { .key = "db_user", .kind = CONFIG_KIND_TEXT,
	    FIELD(db_user), .flags = CONFIG_REQUIRED },
	[CONFIG_DB_PASSWORD] = { .key = "db_password",
	    .kind = CONFIG_KIND_TEXT, FIELD(db_password) },
	[CONFIG_DB_NAME] = { .key = "db_name", .kind = CONFIG_KIND_TEXT,
	    FIELD(db_name), .flags = CONFIG_REQUIRED },
	[CONFIG_DATABASE_URL] = { .key = "database_url",
	    .kind = CONFIG_KIND_DBURL },
	[CONFIG_TABLE_PREFIX] = { .key = "table_prefix",
	    .kind = CONFIG_KIND_IDENT, .max = CONFIG_PREFIX_MAX,
	    FIELD(table_prefix) },
	[CONFIG_TIMESTAMP_TOLERANCE] = { .key = "timestamp_tolerance",
	    .kind = CONFIG_KIND_NUM, .min = 1, .max = CONFIG_TOLERANCE_MAX,
	    .def = SIG_TOLERANCE_DEFAULT, .unit = "seconds", FIELD(tolerance) },
	[CONFIG_MAX_BODY] = { .key = "max_body", .kind = CONFIG_KIND_NUM,
	    .min = 1, .max = CONFIG_MAX_BODY_LIMIT,
	    .def = CONFIG_MAX_BODY_DEFAULT, .unit = "bytes", FIELD(max_body) },
	[CONFIG_LOG_FILE] = { .key = "log_file", .kind = CONFIG_KIND_TEXT,
	    FIELD(log_file) },
	[CONFIG_LOG_LEVEL] = { .key = "log_level", .kind = CONFIG_KIND_CHOICE,
	    .max = LOG__MAX, .def = LOG_INFO, .words = log_level_names,
	    FIELD(log_level) },
	[CONFIG_SYNC_PRIVATE_METADATA] = { .key = "sync_private_metadata",
	    .kind = CONFIG_KIND_BOOL, FIELD(sync_private_metadata) },
	[CONFIG_KEEP_DELETED_DATA] = { .key = "keep_deleted_data",
	    .kind = CONFIG_KIND_BOOL, FIELD(keep_deleted_data) },
	[CONFIG_EVENT_RETENTION_DAYS] = { .key = "event_retention_days",
	    .kind = CONFIG_KIND_NUM, .min = 1, .max = CONFIG_RETENTION_MAX,
	    .def = CONFIG_RETENTION_DEFAULT, .unit = "days",
	    FIELD(retention_days) },
	[CONFIG_EVENTS] = { .key = "events", .kind = CONFIG_KIND_SET,
	    .max = sizeof(event_words) / sizeof(event_words[0]),
	    .def = CONFIG_EVENTS_ALL, .words = event_words, FIELD(events) },
	[CONFIG_CLERK_SECRET_KEY] = { .key = "clerk_secret_key",
	    .kind = CONFIG_KIND_WORD, .unit = "sk_... key",
	    FIELD(clerk_secret_key) },
	[CONFIG_CLERK_API_URL] = { .key = "clerk_api_url",
	    .kind = CONFIG_KIND_HTTPS, .text = CONFIG_API_URL_DEFAULT,
	    FIELD(clerk_api_url) },
	[CONFIG_CLERK_CA_FILE] = { .key = "clerk_ca_file",
	    .kind = CONFIG_KIND_TEXT, FIELD(clerk_ca_file) },
	[CONFIG_CLERK_RATE_LIMIT] = { .key = "clerk_rate_limit",
	    .kind = CONFIG_KIND_RATE },
	[CONFIG_DB_TLS] = { .key = "db_tls", .kind = CONFIG_KIND_CHOICE,
	    .max = CONFIG_TLS__MAX, .def = CONFIG_TLS_OFF,
	    .words = config_tls_names, FIELD(db_tls) },
	[CONFIG_DB_TLS_CA] = { .key = "db_tls_ca", .kind = CONFIG_KIND_TEXT,
	    FIELD(db_tls_ca) },
	/* SPEC section 1, "Pull": never the Svix secret; unset, no pull. */
	[CONFIG_PULL_SECRET] = { .key = "pull_secret",
	    .kind = CONFIG_KIND_SECRETS, .min = 0, .max = SIG_KEYS_MAX,
	    FIELD(pull_keys) },
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* Replace the raw value of k by v[0..n). Returns 0, or -1 out of memory. */
static int
raw_set(struct config *cf, enum config_key k, const char *v, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		return -1;
	memcpy(s, v, n);
	s[n] = '\0';
	wipe_free(cf->raw[k]);
	cf->raw[k] = s;
	return 0;
}

static int
key_find(const char *s, size_t n)
{
	int	 k;

	for (k = 0; k < CONFIG__MAX; k++)
		if (strlen(config_valid[k].key) == n &&
		    memcmp(config_valid[k].key, s, n) == 0)
			return k;
	return -1;
}

/*
 * The one word splitter: the next word of *pp, separated by blanks or
 * commas (no secret, host name or event word holds a comma). Returns its
 * start with *len set and *pp after it, or NULL at the end.
 */
static const char *
word_next(const char **pp, size_t *len)
{
	const char	*p = *pp, *e;

	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (*p == '\0')
		return NULL;
	for (e = p; *e != '\0' && *e != ' ' && *e != '\t' && *e != ','; e++)
		continue;
	*len = (size_t)(e - p);
	*pp = e;
	return p;
}

/*
 * The value after '=', from p to eol, decoded into out (room for eol - p
 * bytes). Blanks around it are dropped, and a '#' after a blank starts a
 * comment. A value that starts with '"' is quoted: it ends at the next
 * '"', inside which \" is a quote and \\ a backslash (any other backslash
 * is an error), and only blanks and a comment may follow it. Returns 0
 * with *outlen set, or -1 with *why (words that hold no byte of the value).
 */
static int
value_parse(const char *p, const char *eol, char *out, size_t *outlen,
    const char **why)
{
	const char	*e;
	size_t		 n = 0;

	while (p < eol && is_blank(*p))
		p++;
	if (p < eol && *p == '"') {
		for (p++; p < eol && *p != '"'; p++) {
			if (*p == '\\') {
				if (p + 1 == eol || (p[1] != '"' &&
				    p[1] != '\\')) {
					*why = "in quotes, a backslash must "
					    "come before \" or \\";
					return -1;
				}
				p++;
			}
			out[n++] = *p;
		}
		if (p == eol) {
			*why = "the quoted value has no closing quote";
			return -1;
		}
		for (p++; p < eol && is_blank(*p); p++)
			continue;
		if (p < eol && *p != '#') {
			*why = "text after the closing quote (a comment "
			    "starts with #)";
			return -1;
		}
		*outlen = n;
		return 0;
	}
	/* p[-1] is '=' or a blank, so e[-1] is always inside the line. */
	for (e = p; e < eol && !(*e == '#' && is_blank(e[-1])); e++)
		continue;
	while (e > p && is_blank(e[-1]))
		e--;
	memcpy(out, p, (size_t)(e - p));
	*outlen = (size_t)(e - p);
	return 0;
}

/* Says why the key ks of klen bytes, known to be no key, is refused. */
static void
key_unknown(const char *ks, size_t klen, const char *name, size_t lineno,
    char *err, size_t errsz)
{
	size_t	 i;
	int	 lower;

	for (i = 0, lower = 1; i < klen; i++)
		if (ks[i] >= 'A' && ks[i] <= 'Z')
			lower = 0;
	if (klen == 0)
		snprintf(err, errsz, "%s:%zu: expected KEY = value", name,
		    lineno);
	else if (klen > CONFIG_KEY_MAX || !lower)
		snprintf(err, errsz, "%s:%zu: unknown key (keys are "
		    "lowercase, at most %d characters)", name, lineno,
		    CONFIG_KEY_MAX);
	else
		snprintf(err, errsz, "%s:%zu: unknown key '%.*s'", name,
		    lineno, (int)klen, ks);
}

/*
 * The key that starts at *pp (past leading blanks) and ends before eol,
 * leaving *pp on its '='. Returns the key, or -1 with err set.
 */
static int
line_key(const char **pp, const char *eol, const char *name,
    size_t lineno, char *err, size_t errsz)
{
	const char	*p = *pp, *ks;
	size_t		 klen;
	int		 k;

	for (ks = p; p < eol && is_keychar(*p); p++)
		continue;
	klen = (size_t)(p - ks);
	while (p < eol && is_blank(*p))
		p++;
	k = key_find(ks, klen);
	/* Name a key only when it is a key: never a value. */
	if (p == eol || *p != '=') {
		if (k == -1)
			snprintf(err, errsz, "%s:%zu: expected KEY = value",
			    name, lineno);
		else
			snprintf(err, errsz, "%s:%zu: %s: expected '=' after "
			    "the key", name, lineno, config_valid[k].key);
		return -1;
	}
	if (k == -1) {
		key_unknown(ks, klen, name, lineno, err, errsz);
		return -1;
	}
	*pp = p;
	return k;
}

/*
 * Sets key k from the value after the '=' at p, up to eol. The decoded
 * copy may be a secret: it is wiped before it is freed. Returns 0, or -1
 * with err set.
 */
static int
line_value(struct config *cf, int k, const char *p, const char *eol,
    const char *name, size_t lineno, char *err, size_t errsz)
{
	const char	*why;
	char		*val = NULL;
	size_t		 vlen;
	int		 rc = -1;

	if ((val = malloc((size_t)(eol - p))) == NULL) {
		snprintf(err, errsz, "%s: out of memory", name);
		goto out;
	}
	if (value_parse(p + 1, eol, val, &vlen, &why) == -1) {
		snprintf(err, errsz, "%s:%zu: %s: %s", name, lineno,
		    config_valid[k].key, why);
		goto out;
	}
	if (raw_set(cf, (enum config_key)k, val, vlen) == -1) {
		snprintf(err, errsz, "%s: out of memory", name);
		goto out;
	}
	rc = 0;
out:
	if (val != NULL) {
		OPENSSL_cleanse(val, (size_t)(eol - p));
		free(val);
	}
	return rc;
}

int
config_parse(struct config *cf, const char *buf, size_t len,
    const char *name, char *err, size_t errsz)
{
	const char	*line, *eol, *end = buf + len, *p;
	size_t		 lineno = 0;
	int		 k;

	for (line = buf; line < end; line = eol + 1) {
		lineno++;
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		for (p = line; p < eol && is_blank(*p); p++)
			continue;
		if (p == eol || *p == '#' || *p == ';')
			continue;
		if ((k = line_key(&p, eol, name, lineno, err, errsz)) == -1)
			return -1;
		if (line_value(cf, k, p, eol, name, lineno, err, errsz) == -1)
			return -1;
	}
	return 0;
}

/*
 * Read path into a fresh buffer. Returns 0 with the file parsed, 1 if it
 * does not exist and missing_ok, or -1 with err set: every message about
 * the file names it, the system's reason and the user reading it.
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
		snprintf(err, errsz, "%s: cannot read %s: %s (as %s)", what,
		    path, strerror(errno), cf->who);
		return -1;
	}
	if ((buf = malloc(CONFIG_FILE_MAX + 1)) == NULL) {
		snprintf(err, errsz, "%s: %s: out of memory", what, path);
		goto out;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f))
		snprintf(err, errsz, "%s: cannot read %s: %s (as %s)", what,
		    path, strerror(errno), cf->who);
	else if (n > CONFIG_FILE_MAX)
		snprintf(err, errsz, "%s: %s is larger than %d bytes", what,
		    path, CONFIG_FILE_MAX);
	else if (config_parse(cf, buf, n, path, err, errsz) == 0) {
		snprintf(cf->path, sizeof(cf->path), "%s", path);
		rc = 0;
	}
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, CONFIG_FILE_MAX + 1);
		free(buf);
	}
	fclose(f);
	return rc;
}

/* Append to the list of places looked, as far as it fits. */
static void
looked_add(struct config *cf, const char *sep, const char *s)
{
	size_t	 n = strlen(cf->looked);

	snprintf(cf->looked + n, sizeof(cf->looked) - n, "%s%s", sep, s);
}

/*
 * The endpoint's name: the last part of exedir, when it is a plain file
 * name ([A-Za-z0-9._-], not starting with a dot). Returns NULL otherwise.
 */
static const char *
endpoint_name(const char *exedir)
{
	const char	*s;

	if (exedir == NULL)
		return NULL;
	s = strrchr(exedir, '/');
	s = s != NULL ? s + 1 : exedir;
	if (*s == '\0' || *s == '.' || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(s))
		return NULL;
	return s;
}

/*
 * The places after CLERKSYNC_CONFIG. Returns 0 with the first file found
 * read, or with cf->looked listing them all when none is there; or -1.
 */
static int
config_search(struct config *cf, const char *exedir, const struct passwd *pw,
    char *err, size_t errsz)
{
	const char	*ep;
	char		 path[CONFIG_PLACES_MAX][4096];
	size_t		 i, np = 0;
	int		 rc = 1;

	/*
	 * In the home directory, the endpoint's own file comes before the
	 * account's: two folders under one account can each have theirs.
	 */
	if (pw != NULL && pw->pw_dir != NULL && *pw->pw_dir != '\0') {
		if ((ep = endpoint_name(exedir)) != NULL &&
		    (size_t)snprintf(path[np], sizeof(path[np]), "%s/%s%s%s",
		    pw->pw_dir, CONFIG_FILE_PREFIX, ep, CONFIG_FILE_SUFFIX) <
		    sizeof(path[np]))
			np++;
		if ((size_t)snprintf(path[np], sizeof(path[np]), "%s/%s",
		    pw->pw_dir, CONFIG_FILE_NAME) < sizeof(path[np]))
			np++;
	}
	if (exedir != NULL && (size_t)snprintf(path[np], sizeof(path[np]),
	    "%s/%s", exedir, CONFIG_FILE_NAME) < sizeof(path[np]))
		np++;
	for (i = 0; i < np && rc == 1; i++)
		if ((rc = config_read(cf, path[i], 1, "config", err,
		    errsz)) == -1)
			return -1;
	if (rc == 0)
		return 0;
	snprintf(cf->looked, sizeof(cf->looked), "no config file "
	    "(CLERKSYNC_CONFIG is not set; looked for");
	for (i = 0; i < np; i++)
		looked_add(cf, i == 0 ? " " : ", ", path[i]);
	if (pw == NULL)
		looked_add(cf, np > 0 ? "; " : " ", "no home directory");
	looked_add(cf, " as ", cf->who);
	looked_add(cf, ")", "");
	return 0;
}

int
config_load(struct config *cf, const char *exedir, config_env_fn env,
    char *err, size_t errsz)
{
	struct passwd	*pw;
	const char	*v;
	size_t		 n;
	uid_t		 uid = geteuid();

	pw = getpwuid(uid);
	if (pw != NULL && pw->pw_name != NULL)
		snprintf(cf->who, sizeof(cf->who), "user %s, uid %lu",
		    pw->pw_name, (unsigned long)uid);
	else
		snprintf(cf->who, sizeof(cf->who), "uid %lu",
		    (unsigned long)uid);

	/* SPEC section 4: the search order. */
	if ((v = env("CLERKSYNC_CONFIG")) != NULL && *v != '\0') {
		if (config_read(cf, v, 0, "CLERKSYNC_CONFIG", err, errsz) != 0)
			return -1;
	} else if (config_search(cf, exedir, pw, err, errsz) == -1)
		return -1;
	if (config_finish(cf, env, err, errsz) == -1) {
		/* Say where the setting was looked for. */
		n = strlen(err);
		if (cf->looked[0] != '\0')
			snprintf(err + n, errsz - n, "; %s", cf->looked);
		else
			snprintf(err + n, errsz - n, " (in %s, read as %s)",
			    cf->path, cf->who);
		return -1;
	}
	return 0;
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

/* Set k from s[0..n) unless it is set on its own (that wins). */
static int
raw_default(struct config *cf, enum config_key k, const char *s, size_t n)
{
	if (cf->raw[k] != NULL && cf->raw[k][0] != '\0')
		return 0;
	return raw_set(cf, k, s, n);
}

/* The field of vd in cf. */
static void *
field_of(struct config *cf, const struct config_valid *vd)
{
	return (char *)cf + vd->offset;
}

/*
 * Store n in an integer field: int, unsigned int or enum (the size of an
 * int), or long long or size_t (the size of a long long). Every range is
 * within 0..INT_MAX, so both have the same bytes as the signed value.
 */
static void
put_num(struct config *cf, const struct config_valid *vd, long long n)
{
	int	 i = (int)n;

	if (vd->size == sizeof(long long))
		memcpy(field_of(cf, vd), &n, sizeof(n));
	else
		memcpy(field_of(cf, vd), &i, sizeof(i));
}

static void
put_text(struct config *cf, const struct config_valid *vd, const char *s)
{
	memcpy(field_of(cf, vd), &s, sizeof(s));
}

/*
 * The kinds. Each gets v (NULL when unset or empty) and either fills its
 * field (the default when v is NULL) and returns 0, or returns -1 with
 * what it expected in err: words of its own, never the value.
 */
typedef int (*kind_fn)(struct config *, const struct config_valid *,
    char *, char *, size_t);

static int
kind_text(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	(void)err;
	(void)errsz;
	put_text(cf, vd, v != NULL ? v : vd->text);
	return 0;
}

static int
kind_word(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	if (v != NULL && strpbrk(v, " \t\r\n") != NULL) {
		snprintf(err, errsz, "expected one %s, without blanks",
		    vd->unit);
		return -1;
	}
	put_text(cf, vd, v);
	return 0;
}

static int
kind_num(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	long long	 n = vd->def;

	if (v != NULL && num_parse(v, strlen(v), vd->min, vd->max, &n) == -1) {
		snprintf(err, errsz, "expected %s in %lld..%lld", vd->unit,
		    vd->min, vd->max);
		return -1;
	}
	put_num(cf, vd, n);
	return 0;
}

static int
kind_bool(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	size_t	 i;

	if (v == NULL) {
		put_num(cf, vd, vd->def);
		return 0;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			put_num(cf, vd, strcmp(v, yes[i]) == 0);
			return 0;
		}
	}
	snprintf(err, errsz, "expected on or off");
	return -1;
}

/* "expected WORD, WORD or WORD" (first) or "... one or more of ...". */
static void
words_expected(const struct config_valid *vd, const char *first, char *err,
    size_t errsz)
{
	size_t	 n;
	int	 i;

	snprintf(err, errsz, "%s", first);
	for (i = 0; i < vd->max; i++) {
		n = strlen(err);
		snprintf(err + n, errsz - n, "%s%s", i == 0 ? "" :
		    i == vd->max - 1 ? " or " : ", ", vd->words[i]);
	}
}

static int
kind_choice(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	int	 i;

	if (v == NULL) {
		put_num(cf, vd, vd->def);
		return 0;
	}
	for (i = 0; i < vd->max; i++)
		if (strcmp(v, vd->words[i]) == 0) {
			put_num(cf, vd, i);
			return 0;
		}
	words_expected(vd, "expected ", err, errsz);
	return -1;
}

static int
kind_set(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	const char	*p = v, *w;
	size_t		 n;
	long long	 bits = 0;
	int		 i;

	if (v == NULL) {
		put_num(cf, vd, vd->def);
		return 0;
	}
	while ((w = word_next(&p, &n)) != NULL) {
		for (i = 0; i < vd->max; i++)
			if (strlen(vd->words[i]) == n &&
			    memcmp(vd->words[i], w, n) == 0)
				break;
		if (i == vd->max)
			break;
		bits |= 1LL << i;
	}
	if (w != NULL || bits == 0) {
		words_expected(vd, "expected one or more of ", err, errsz);
		return -1;
	}
	put_num(cf, vd, bits);
	return 0;
}

static int
kind_ident(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	char	*dst = field_of(cf, vd);

	if (v == NULL)
		v = "";
	if ((long long)strlen(v) > vd->max || strlen(v) >= vd->size ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_") != strlen(v)) {
		snprintf(err, errsz, "only A-Z, a-z, 0-9 and _ are allowed, "
		    "at most %lld", vd->max);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
kind_secrets(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	struct sig_key	*keys = (struct sig_key *)((char *)cf + vd->offset);
	size_t		*nkeys = keys == cf->keys ? &cf->nkeys :
			    &cf->npull_keys;
	const char	*p = v, *w = NULL;
	size_t		 n;

	*nkeys = 0;
	/* An optional key (pull_secret) unset: no secret. */
	if (v == NULL && vd->min == 0)
		return 0;
	while (v != NULL && (w = word_next(&p, &n)) != NULL) {
		if ((long long)*nkeys == vd->max ||
		    sig_key_decode(w, n, &keys[*nkeys]) == -1)
			break;
		(*nkeys)++;
	}
	if (v == NULL || w != NULL || (long long)*nkeys < vd->min ||
	    *nkeys == 0) {
		if (keys != cf->keys)
			snprintf(err, errsz, "expected 1 to %lld whsec_ "
			    "secrets of your own, separated by blanks, each "
			    "base64 after its prefix", vd->max);
		else
			snprintf(err, errsz, "expected %lld to %lld secrets "
			    "from Clerk's dashboard, separated by blanks, "
			    "each base64 after its prefix", vd->min, vd->max);
		return -1;
	}
	return 0;
}

/* db_host: host or host:port words. */
static int
kind_hosts(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	const char	*p = v, *w;
	char		*h, *colon;
	size_t		 n;
	long long	 port;

	cf->ndb_hosts = 0;
	cf->db_host = NULL;
	while (v != NULL && (w = word_next(&p, &n)) != NULL) {
		if ((long long)cf->ndb_hosts == vd->max)
			goto bad;
		/* The word is cut in place: v is this config's own copy. */
		h = v + (w - v);
		if (h[n] != '\0') {
			h[n] = '\0';
			p++;
		}
		cf->db_ports[cf->ndb_hosts] = 0;
		/* One colon: host:port; none or several: a name or IPv6. */
		colon = strchr(h, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			if (colon == h || num_parse(colon + 1,
			    strlen(colon + 1), 1, CONFIG_PORT_MAX,
			    &port) == -1)
				goto bad;
			cf->db_ports[cf->ndb_hosts] = (unsigned int)port;
			*colon = '\0';
		}
		cf->db_hosts[cf->ndb_hosts++] = h;
	}
	if (cf->ndb_hosts > 0)
		cf->db_host = cf->db_hosts[0];
	return 0;
bad:
	snprintf(err, errsz, "expected up to %lld hosts, each host or "
	    "host:port, separated by blanks or commas", vd->max);
	return -1;
}

static int
kind_https(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	if (v != NULL && (strncmp(v, "https://", 8) != 0 || v[8] == '\0' ||
	    strpbrk(v, " \t\r\n?#") != NULL)) {
		snprintf(err, errsz, "expected an https:// URL");
		return -1;
	}
	put_text(cf, vd, v != NULL ? v : vd->text);
	return 0;
}

/* REQUESTS/SECONDS. */
static int
kind_rate(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	const char	*slash;
	long long	 r = CONFIG_RATE_DEFAULT;
	long long	 s = CONFIG_RATE_WINDOW_DEFAULT;

	(void)vd;
	if (v != NULL && ((slash = strchr(v, '/')) == NULL ||
	    num_parse(v, (size_t)(slash - v), 1, CONFIG_RATE_MAX, &r) == -1 ||
	    num_parse(slash + 1, strlen(slash + 1), 1, CONFIG_RATE_WINDOW_MAX,
	    &s) == -1)) {
		snprintf(err, errsz, "expected REQUESTS/SECONDS, e.g. %d/%d "
		    "(1..%d requests in 1..%d seconds)", CONFIG_RATE_DEFAULT,
		    CONFIG_RATE_WINDOW_DEFAULT, CONFIG_RATE_MAX,
		    CONFIG_RATE_WINDOW_MAX);
		return -1;
	}
	cf->rate_requests = (int)r;
	cf->rate_seconds = (int)s;
	return 0;
}

/*
 * The user[:password] of a database_url: s up to at, the '@', each part
 * percent-decoded in place, set unless set on its own. Returns 0, -1 when
 * malformed, -2 when out of memory.
 */
static int
dburl_user(struct config *cf, char *s, char *at)
{
	char	*colon;

	*at = '\0';
	if ((colon = strchr(s, ':')) != NULL)
		*colon = '\0';
	if (pct_decode(s) == -1 || (colon != NULL &&
	    pct_decode(colon + 1) == -1))
		return -1;
	if (raw_default(cf, CONFIG_DB_USER, s, strlen(s)) == -1 ||
	    (colon != NULL && raw_default(cf, CONFIG_DB_PASSWORD,
	    colon + 1, strlen(colon + 1)) == -1))
		return -2;
	return 0;
}

/*
 * The host[:port]/dbname of a database_url: p up to slash, the '/', and
 * the name after it. Returns as dburl_user does.
 */
static int
dburl_host(struct config *cf, const char *p, const char *slash)
{
	const char	*colon, *hostend = slash;

	if ((colon = memchr(p, ':', (size_t)(slash - p))) != NULL) {
		hostend = colon;
		if (raw_default(cf, CONFIG_DB_PORT, colon + 1,
		    (size_t)(slash - colon - 1)) == -1)
			return -2;
	}
	if (hostend == p)
		return -1;
	if (raw_default(cf, CONFIG_DB_HOST, p, (size_t)(hostend - p)) == -1 ||
	    raw_default(cf, CONFIG_DB_NAME, slash + 1,
	    strlen(slash + 1)) == -1)
		return -2;
	return 0;
}

/*
 * mysql://[user[:password]@]host[:port]/dbname: sets the db_* raw values
 * that are not set on their own (those win). Out of memory is -1 too.
 */
static int
kind_dburl(struct config *cf, const struct config_valid *vd, char *v,
    char *err, size_t errsz)
{
	const char	*p, *slash;
	char		*s = NULL, *at;
	int		 r = -1;

	(void)vd;
	if (v == NULL)
		return 0;
	if ((strncmp(v, "mysql://", 8) != 0 &&
	    strncmp(v, "mariadb://", 10) != 0) ||
	    (s = strdup(strstr(v, "://") + 3)) == NULL)
		goto out;
	p = s;
	if ((slash = strchr(p, '/')) == NULL || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL || strchr(slash + 1, '?') != NULL)
		goto out;
	r = 0;
	if ((at = memchr(p, '@', (size_t)(slash - p))) != NULL &&
	    (r = dburl_user(cf, s, at)) == 0)
		p = at + 1;
	if (r == 0)
		r = dburl_host(cf, p, slash);
out:
	if (r == -2)
		snprintf(err, errsz, "out of memory");
	else if (r == -1)
		snprintf(err, errsz,
		    "expected mysql://user:password@host:port/dbname");
	wipe_free(s);
	return r == 0 ? 0 : -1;
}

static const kind_fn kind_check[CONFIG_KIND__MAX] = {
	[CONFIG_KIND_TEXT] = kind_text,
	[CONFIG_KIND_WORD] = kind_word,
	[CONFIG_KIND_NUM] = kind_num,
	[CONFIG_KIND_BOOL] = kind_bool,
	[CONFIG_KIND_CHOICE] = kind_choice,
	[CONFIG_KIND_SET] = kind_set,
	[CONFIG_KIND_IDENT] = kind_ident,
	[CONFIG_KIND_SECRETS] = kind_secrets,
	[CONFIG_KIND_HOSTS] = kind_hosts,
	[CONFIG_KIND_HTTPS] = kind_https,
	[CONFIG_KIND_RATE] = kind_rate,
	[CONFIG_KIND_DBURL] = kind_dburl,
};

/* Check key k: "KEY: why" in err on failure. */
static int
config_check(struct config *cf, int k, char *err, size_t errsz)
{
	const struct config_valid *vd = &config_valid[k];
	char		*v = cf->raw[k];
	int		 n;

	if (v != NULL && *v == '\0')
		v = NULL;
	n = snprintf(err, errsz, "%s: ", vd->key);
	if (n < 0 || (size_t)n >= errsz)
		return -1;
	if (v == NULL && (vd->flags & CONFIG_REQUIRED)) {
		snprintf(err + n, errsz - (size_t)n, "not set%s%s%s",
		    vd->help ? " (" : "", vd->help ? vd->help : "",
		    vd->help ? ")" : "");
		return -1;
	}
	return kind_check[vd->kind](cf, vd, v, err + n, errsz - (size_t)n);
}

/*
 * Environment overrides: CLERKSYNC_<KEY>, and Clerk's own names (the
 * CLERKSYNC_ ones, set later, win). -1 when out of memory.
 */
static int
config_env(struct config *cf, config_env_fn env)
{
	char		 name[sizeof("CLERKSYNC_") + CONFIG_KEY_MAX];
	const char	*v;
	size_t		 i;
	int		 k;

	if ((v = env("CLERK_WEBHOOK_SIGNING_SECRET")) != NULL && *v != '\0' &&
	    raw_set(cf, CONFIG_SIGNING_SECRET, v, strlen(v)) == -1)
		return -1;
	if ((v = env("CLERK_SECRET_KEY")) != NULL && *v != '\0' &&
	    raw_set(cf, CONFIG_CLERK_SECRET_KEY, v, strlen(v)) == -1)
		return -1;
	for (k = 0; k < CONFIG__MAX; k++) {
		snprintf(name, sizeof(name), "CLERKSYNC_%s",
		    config_valid[k].key);
		for (i = 0; name[i] != '\0'; i++)
			if (name[i] >= 'a' && name[i] <= 'z')
				name[i] = (char)(name[i] - 'a' + 'A');
		if ((v = env(name)) != NULL &&
		    raw_set(cf, (enum config_key)k, v, strlen(v)) == -1)
			return -1;
	}
	return 0;
}

/* The checks that span keys, once each key is valid on its own. */
static int
config_cross(const struct config *cf, char *err, size_t errsz)
{
	size_t		 i, k;

	/* SPEC section 1, "Pull": the Svix secret never signs a pull. */
	for (i = 0; i < cf->npull_keys; i++)
		for (k = 0; k < cf->nkeys; k++)
			if (cf->pull_keys[i].len == cf->keys[k].len &&
			    CRYPTO_memcmp(cf->pull_keys[i].key,
			    cf->keys[k].key, cf->keys[k].len) == 0) {
				snprintf(err, errsz, "pull_secret: must not be "
				    "a signing_secret (make one of your own)");
				return -1;
			}
	/* A CA that is not used would let one believe the server checked. */
	if (cf->db_tls_ca != NULL && cf->db_tls != CONFIG_TLS_VERIFY) {
		snprintf(err, errsz, "db_tls_ca: is used only with "
		    "db_tls = verify");
		return -1;
	}
	if (cf->db_tls_ca != NULL && access(cf->db_tls_ca, R_OK) == -1) {
		snprintf(err, errsz, "db_tls_ca: cannot read the file: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
config_finish(struct config *cf, config_env_fn env, char *err, size_t errsz)
{
	int	 k, first;

	if (config_env(cf, env) == -1) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	/* database_url first: it fills the db_* keys left unset. */
	for (first = 1; first >= 0; first--)
		for (k = 0; k < CONFIG__MAX; k++)
			if ((config_valid[k].kind == CONFIG_KIND_DBURL) ==
			    first && config_check(cf, k, err, errsz) == -1)
				return -1;
	err[0] = '\0';
	return config_cross(cf, err, errsz);
}

void
config_free(struct config *cf)
{
	int	 k;

	for (k = 0; k < CONFIG__MAX; k++)
		wipe_free(cf->raw[k]);
	OPENSSL_cleanse(cf, sizeof(*cf));
}

/*
 * clerksync — unit tests of config: the file, the environment, and the
 * one line that names a bad key without showing a secret.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

#define SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET2	"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
#define BASE	"signing_secret = " SECRET "\ndb_user = app\n" \
		"db_password = s3cr3t-pw\ndb_name = appdb\n"

/* A fake environment: NAME=value pairs. */
static const char *const *fake_env;

static const char *
env(const char *name)
{
	size_t	 n = strlen(name), i;

	for (i = 0; fake_env != NULL && fake_env[i] != NULL; i++)
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return fake_env[i] + n + 1;
	return NULL;
}

static int
load(const char *text, const char *const *e, struct config *cf, char *err,
    size_t errsz)
{
	memset(cf, 0, sizeof(*cf));
	err[0] = '\0';
	fake_env = e;
	if (config_parse(cf, text, strlen(text), "test.conf", err, errsz) ==
	    -1)
		return -1;
	return config_finish(cf, env, err, errsz);
}

static void
good(void)
{
	struct config	 cf;
	char		 err[256];

	ok(load(BASE, NULL, &cf, err, sizeof(err)) == 0, "minimal file");
	ok(cf.nkeys == 1 && cf.keys[0].len == 24, "one 24-byte key");
	ok(strcmp(cf.db_user, "app") == 0 && strcmp(cf.db_name, "appdb") == 0
	    && cf.db_host == NULL && cf.db_port == 0 && cf.db_socket == NULL,
	    "db settings and defaults");
	ok(cf.tolerance == 300 && cf.max_body == 1048576 &&
	    cf.retention_days == 30 && cf.log_level == LOG_INFO &&
	    cf.table_prefix[0] == '\0' && !cf.sync_private_metadata &&
	    !cf.keep_deleted_data && cf.log_file == NULL &&
	    cf.events == CONFIG_EVENTS_ALL, "defaults");
	config_free(&cf);

	ok(load("# comment\n; another\n\n  " BASE "table_prefix = cs_\r\n"
	    "timestamp_tolerance=60\nmax_body = 2048\nlog_level = debug\n"
	    "sync_private_metadata = on\nkeep_deleted_data = yes\n"
	    "event_retention_days = 7\ndb_host = 127.0.0.1\ndb_port = 3307\n"
	    "log_file = /tmp/x.log\nevents = users, memberships\n", NULL, &cf,
	    err, sizeof(err)) == 0, "every key");
	ok(strcmp(cf.table_prefix, "cs_") == 0 && cf.tolerance == 60 &&
	    cf.max_body == 2048 && cf.log_level == LOG_DEBUG &&
	    cf.sync_private_metadata && cf.keep_deleted_data &&
	    cf.retention_days == 7 && cf.db_port == 3307 &&
	    strcmp(cf.db_host, "127.0.0.1") == 0 &&
	    strcmp(cf.log_file, "/tmp/x.log") == 0 &&
	    cf.events == (CONFIG_EVENTS_USERS | CONFIG_EVENTS_MEMBERSHIPS),
	    "every value");
	config_free(&cf);

	ok(load(BASE "db_host = db1.example, 10.0.0.2:3307  db3:3308\n"
	    "db_port = 3309\n", NULL, &cf, err, sizeof(err)) == 0 &&
	    cf.ndb_hosts == 3 && strcmp(cf.db_hosts[0], "db1.example") == 0 &&
	    cf.db_ports[0] == 0 && strcmp(cf.db_hosts[1], "10.0.0.2") == 0 &&
	    cf.db_ports[1] == 3307 && strcmp(cf.db_hosts[2], "db3") == 0 &&
	    cf.db_ports[2] == 3308 && cf.db_port == 3309 &&
	    strcmp(cf.db_host, "db1.example") == 0,
	    "db_host: several hosts, tried in order, each with a port or not");
	config_free(&cf);
	ok(load(BASE "db_host = ::1\n", NULL, &cf, err, sizeof(err)) == 0 &&
	    cf.ndb_hosts == 1 && strcmp(cf.db_hosts[0], "::1") == 0 &&
	    cf.db_ports[0] == 0, "db_host: an IPv6 address is a host");
	config_free(&cf);
	ok(load(BASE "clerk_secret_key = sk_test_abc\nclerk_api_url = "
	    "https://127.0.0.1:8443\nclerk_ca_file = /tmp/ca.pem\n"
	    "clerk_rate_limit = 40/2\n", NULL, &cf, err, sizeof(err)) == 0 &&
	    strcmp(cf.clerk_secret_key, "sk_test_abc") == 0 &&
	    strcmp(cf.clerk_api_url, "https://127.0.0.1:8443") == 0 &&
	    strcmp(cf.clerk_ca_file, "/tmp/ca.pem") == 0 &&
	    cf.rate_requests == 40 && cf.rate_seconds == 2,
	    "Backend API settings");
	config_free(&cf);
	ok(load(BASE, NULL, &cf, err, sizeof(err)) == 0 &&
	    cf.db_tls == CONFIG_TLS_OFF && cf.db_tls_ca == NULL,
	    "db_tls: off by default");
	config_free(&cf);
	ok(load(BASE "db_tls = on\n", NULL, &cf, err, sizeof(err)) == 0 &&
	    cf.db_tls == CONFIG_TLS_ON && cf.db_tls_ca == NULL, "db_tls = on");
	config_free(&cf);
	ok(load(BASE "db_tls = verify\ndb_tls_ca = /etc/passwd\n", NULL, &cf,
	    err, sizeof(err)) == 0 && cf.db_tls == CONFIG_TLS_VERIFY &&
	    strcmp(cf.db_tls_ca, "/etc/passwd") == 0,
	    "db_tls = verify with db_tls_ca");
	config_free(&cf);
	ok(load(BASE, NULL, &cf, err, sizeof(err)) == 0 &&
	    cf.clerk_secret_key == NULL && strcmp(cf.clerk_api_url,
	    "https://api.clerk.com") == 0 && cf.clerk_ca_file == NULL &&
	    cf.rate_requests == 50 && cf.rate_seconds == 10,
	    "Backend API defaults: half of Clerk's 100 per 10 s");
	config_free(&cf);

	ok(load("signing_secret = " SECRET "  " SECRET2 "\ndb_user=a\n"
	    "db_name=b\n", NULL, &cf, err, sizeof(err)) == 0 && cf.nkeys == 2,
	    "two secrets (rotation)");
	config_free(&cf);
	ok(load(BASE, NULL, &cf, err, sizeof(err)) == 0 &&
	    cf.npull_keys == 0, "pull_secret: unset by default, no pull");
	config_free(&cf);
	ok(load(BASE "pull_secret = " SECRET2 "\n", NULL, &cf, err,
	    sizeof(err)) == 0 && cf.npull_keys == 1 && cf.nkeys == 1 &&
	    cf.pull_keys[0].len == cf.keys[0].len &&
	    memcmp(cf.pull_keys[0].key, cf.keys[0].key, cf.keys[0].len) != 0,
	    "pull_secret: its own keys, apart from signing_secret's");
	config_free(&cf);

	{
		const char *const e[] = { "CLERKSYNC_DB_USER=envuser",
		    "CLERK_WEBHOOK_SIGNING_SECRET=" SECRET2,
		    "CLERKSYNC_MAX_BODY=10", NULL };

		ok(load(BASE, e, &cf, err, sizeof(err)) == 0 &&
		    strcmp(cf.db_user, "envuser") == 0 && cf.max_body == 10 &&
		    cf.keys[0].key[0] == 0x0b, "the environment overrides");
		config_free(&cf);
	}
	{
		const char *const e[] = { "CLERK_WEBHOOK_SIGNING_SECRET=" SECRET2,
		    "CLERKSYNC_SIGNING_SECRET=" SECRET, NULL };

		ok(load("db_user=a\ndb_name=b\n", e, &cf, err, sizeof(err)) ==
		    0 && cf.keys[0].key[0] == 0x31,
		    "CLERKSYNC_SIGNING_SECRET wins over Clerk's name");
		config_free(&cf);
	}
	{
		const char *const e[] = { "CLERKSYNC_MAX_BODY=",
		    "CLERKSYNC_DB_PASSWORD=", NULL };

		ok(load(BASE "max_body = 10\n", e, &cf, err, sizeof(err)) ==
		    0 && cf.max_body == CONFIG_MAX_BODY_DEFAULT &&
		    cf.db_password == NULL,
		    "an empty environment value is the key left out");
		config_free(&cf);
	}
	{
		const char *const e[] = { "CLERK_SECRET_KEY=sk_live_env",
		    NULL };

		ok(load(BASE "clerk_secret_key = sk_live_file\n", e, &cf, err,
		    sizeof(err)) == 0 && strcmp(cf.clerk_secret_key,
		    "sk_live_env") == 0, "CLERK_SECRET_KEY, as Clerk's SDKs "
		    "name it, overrides the file");
		config_free(&cf);
	}

	ok(load("signing_secret = " SECRET "\ndatabase_url = "
	    "mysql://u%40x:p%3Aw@db.example:3310/name\n", NULL, &cf, err,
	    sizeof(err)) == 0 && strcmp(cf.db_user, "u@x") == 0 &&
	    strcmp(cf.db_password, "p:w") == 0 &&
	    strcmp(cf.db_host, "db.example") == 0 && cf.db_port == 3310 &&
	    strcmp(cf.db_name, "name") == 0, "database_url");
	config_free(&cf);
	ok(load("signing_secret = " SECRET "\ndb_user = mine\ndatabase_url = "
	    "mysql://u@localhost/name\n", NULL, &cf, err, sizeof(err)) == 0 &&
	    strcmp(cf.db_user, "mine") == 0 && cf.db_password == NULL &&
	    cf.db_port == 0, "db_user wins over the URL's");
	config_free(&cf);
}

static void
bad(void)
{
	static const struct {
		const char	*text;
		const char	*key;
	} cases[] = {
		{ "db_user=a\ndb_name=b\n", "signing_secret" },
		{ "signing_secret =\ndb_user=a\ndb_name=b\n", "signing_secret" },
		{ "signing_secret = whsec_!!\ndb_user=a\ndb_name=b\n",
		    "signing_secret" },
		{ "signing_secret = " SECRET " " SECRET " " SECRET " " SECRET
		    " " SECRET " " SECRET " " SECRET " " SECRET " " SECRET
		    "\ndb_user=a\ndb_name=b\n", "signing_secret" },
		{ "signing_secret = " SECRET "\ndb_name=b\n", "db_user" },
		{ "signing_secret = " SECRET "\ndb_user=a\n", "db_name" },
		{ BASE "db_pasword = x\n", "db_pasword" },
		{ BASE "no equals sign\n", "KEY = value" },
		{ BASE "db_port = 0\n", "db_port" },
		{ BASE "db_port = 65536\n", "db_port" },
		{ BASE "db_port = 33o6\n", "db_port" },
		{ BASE "table_prefix = a-b\n", "table_prefix" },
		{ BASE "table_prefix = x`; DROP TABLE users; --\n",
		    "table_prefix" },
		{ BASE "table_prefix = 123456789012345678901234567890123\n",
		    "table_prefix" },
		{ BASE "timestamp_tolerance = -1\n", "timestamp_tolerance" },
		{ BASE "timestamp_tolerance = 0\n", "timestamp_tolerance" },
		{ BASE "max_body = 1MB\n", "max_body" },
		{ BASE "max_body = 67108865\n", "max_body" },
		{ BASE "log_level = loud\n", "log_level" },
		{ BASE "sync_private_metadata = maybe\n",
		    "sync_private_metadata" },
		{ BASE "keep_deleted_data = 2\n", "keep_deleted_data" },
		{ BASE "event_retention_days = 0\n", "event_retention_days" },
		{ BASE "events = users sessions\n", "events" },
		{ BASE "events = ,\n", "events" },
		{ BASE "events = Users\n", "events" },
		{ BASE "db_host = a b c d e f g h i\n", "db_host" },
		{ BASE "db_host = a:0\n", "db_host" },
		{ BASE "db_host = a:x\n", "db_host" },
		{ BASE "db_host = :3306\n", "db_host" },
		{ BASE "clerk_api_url = http://api.clerk.com\n",
		    "clerk_api_url" },
		{ BASE "clerk_api_url = https://\n", "clerk_api_url" },
		{ BASE "clerk_secret_key = sk a\n", "clerk_secret_key" },
		{ BASE "pull_secret = whsec_!!\n", "pull_secret" },
		{ BASE "pull_secret = " SECRET2 " x\n", "pull_secret" },
		{ BASE "pull_secret = " SECRET "\n", "pull_secret" },
		{ BASE "pull_secret = " SECRET2 " " SECRET "\n",
		    "pull_secret" },
		{ BASE "clerk_rate_limit = 100\n", "clerk_rate_limit" },
		{ BASE "clerk_rate_limit = 0/10\n", "clerk_rate_limit" },
		{ BASE "clerk_rate_limit = 10/0\n", "clerk_rate_limit" },
		{ BASE "db_tls = yes\n", "db_tls" },
		{ BASE "db_tls = VERIFY\n", "db_tls" },
		{ BASE "db_tls_ca = /etc/passwd\n", "db_tls_ca" },
		{ BASE "db_tls = on\ndb_tls_ca = /etc/passwd\n", "db_tls_ca" },
		{ BASE "db_tls = verify\ndb_tls_ca = /nonexistent/ca.pem\n",
		    "db_tls_ca" },
		{ "signing_secret = " SECRET "\ndatabase_url = postgres://x/y\n",
		    "database_url" },
		{ "signing_secret = " SECRET "\ndatabase_url = mysql://u:p@h\n",
		    "database_url" },
		{ "signing_secret = " SECRET "\ndatabase_url = mysql://u:p%zz@h/d\n",
		    "database_url" },
	};
	struct config	 cf;
	char		 err[256];
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = load(cases[i].text, NULL, &cf, err, sizeof(err));
		ok(rc == -1 && strstr(err, cases[i].key) != NULL &&
		    strstr(err, "MfKQ9r8") == NULL &&
		    strstr(err, "s3cr3t") == NULL && strchr(err, '\n') == NULL,
		    "bad case %zu names %s: %s", i, cases[i].key, err);
		config_free(&cf);
	}
}

/* Trailing comments and quoted values, as the README documents them. */
static void
syntax(void)
{
	static const struct {
		const char	*line;
		const char	*want;	/* db_password; NULL: unset */
	} cases[] = {
		{ "db_password = pw   # the password\n", "pw" },
		{ "db_password = pw\t# tab, then a comment\n", "pw" },
		{ "db_password = pa#ss\n", "pa#ss" },
		{ "db_password =#x\n", "#x" },
		{ "db_password = pa #ss\n", "pa" },
		{ "db_password = # only a comment\n", NULL },
		{ "db_password = a=b\n", "a=b" },
		{ "db_password = a b  \r\n", "a b" },
		{ "db_password = \"pa #ss\"  # quoted\n", "pa #ss" },
		{ "db_password = \"a\\\"b\\\\c\"\n", "a\"b\\c" },
		{ "db_password=\t\" sp \"\t#c\r\n", " sp " },
		{ "db_password = \"\"\n", NULL },
		{ "db_password = \"#\"\n", "#" },
		{ "db_password = \"x\"", "x" },
		{ "  db_password   =   y", "y" },
	};
	struct config	 cf;
	char		 text[512], err[256];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), BASE "%s", cases[i].line);
		ok(load(text, NULL, &cf, err, sizeof(err)) == 0 &&
		    (cases[i].want == NULL ? cf.db_password == NULL :
		    cf.db_password != NULL &&
		    strcmp(cf.db_password, cases[i].want) == 0),
		    "syntax %zu: db_password is %s%s%s (%s)", i,
		    cases[i].want ? "'" : "", cases[i].want ? cases[i].want :
		    "unset", cases[i].want ? "'" : "", err);
		config_free(&cf);
	}

	/* The README's own examples of issue 14. */
	ok(load(BASE "db_name = acct_app   # the database\n"
	    "log_file = clerksync.log  # optional\n"
	    "signing_secret = " SECRET "  " SECRET2 "  # both, rotating\n"
	    "events = users organizations   # not memberships\n"
	    "max_body = 2048 # bytes\n", NULL, &cf, err, sizeof(err)) == 0 &&
	    strcmp(cf.db_name, "acct_app") == 0 &&
	    strcmp(cf.log_file, "clerksync.log") == 0 && cf.nkeys == 2 &&
	    cf.events == (CONFIG_EVENTS_USERS | CONFIG_EVENTS_ORGANIZATIONS) &&
	    cf.max_body == 2048, "comments after values of every kind: %s",
	    err);
	config_free(&cf);
}

/* A 3-byte piece of value in text: the message shows part of it. */
static int
echoes(const char *text, const char *value)
{
	char	 gram[4];
	size_t	 i;

	for (i = 0; i + 3 <= strlen(value); i++) {
		memcpy(gram, value + i, 3);
		gram[3] = '\0';
		if (strstr(text, gram) != NULL)
			return 1;
	}
	return 0;
}

/*
 * Issue 15: a message names the key (or the line), never a byte of the
 * value, whatever is wrong with the line or the value.
 */
static void
no_echo(void)
{
	static const struct {
		const char	*line;
		const char	*value;
		const char	*names;
	} cases[] = {
		{ "db_password: S3cr3tPa55=x", "S3cr3tPa55=x", "db_password" },
		/* whsec_ is in the key's own name: the rest is checked. */
		{ "signing_secret = whsec_BAD%", "BAD%", "signing_secret" },
		{ "bogus = SECRET", "SECRET", "bogus" },
		{ "S3cr3tPa55Word", "S3cr3tPa55Word", ":4:" },
		{ "Db_Password = S3cr3tZZ", "Db_Password = S3cr3tZZ", ":4:" },
		{ "db_password S3cr3tZZ", "S3cr3tZZ", "db_password" },
		{ "db_password = \"S3cr3tZZ", "S3cr3tZZ", "db_password" },
		{ "db_password = \"S3cr\\q3tZZ\"", "S3cr\\q3tZZ",
		    "db_password" },
		{ "db_password = \"S3cr3t\" ZZQQ", "S3cr3t\" ZZQQ",
		    "db_password" },
		{ "= S3cr3tZZ", "S3cr3tZZ", ":4:" },
		{ "signing_secret = whsec_S3cr3tZZ!!", "_S3cr3tZZ!!",
		    "signing_secret" },
		{ "signing_secret = whsec_QQ== whsec_WQ:x", "WQ:x",
		    "signing_secret" },
		{ "max_body = S3cr3tZZ", "S3cr3tZZ", "max_body" },
		{ "db_port = S3cr3tZZ", "S3cr3tZZ", "db_port" },
		{ "log_level = S3cr3tZZ", "S3cr3tZZ", "log_level" },
		{ "events = S3cr3tZZ", "S3cr3tZZ", "events" },
		{ "table_prefix = S3cr3t-ZZ", "S3cr3t-ZZ", "table_prefix" },
		{ "db_host = S3cr3tZZ:x", "S3cr3tZZ:x", "db_host" },
		{ "clerk_api_url = S3cr3tZZ", "S3cr3tZZ", "clerk_api_url" },
		{ "clerk_rate_limit = S3cr3tZZ", "S3cr3tZZ",
		    "clerk_rate_limit" },
		{ "database_url = S3cr3tZZ", "S3cr3tZZ", "database_url" },
		{ "database_url = mysql://u:S3cr3tZZ@h", "S3cr3tZZ",
		    "database_url" },
		{ "clerk_secret_key = S3cr3t ZZQQ", "S3cr3t ZZQQ",
		    "clerk_secret_key" },
		{ "keep_deleted_data = S3cr3tZZ", "S3cr3tZZ",
		    "keep_deleted_data" },
	};
	struct config	 cf;
	char		 text[512], err[256];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The case is line 4 of the file. */
		snprintf(text, sizeof(text), "signing_secret = " SECRET
		    "\ndb_user = app\ndb_name = appdb\n%s\n", cases[i].line);
		ok(load(text, NULL, &cf, err, sizeof(err)) == -1 &&
		    strstr(err, cases[i].names) != NULL &&
		    !echoes(err, cases[i].value),
		    "no echo %zu: names %s, shows nothing of the value: %s", i,
		    cases[i].names, err);
		config_free(&cf);
	}
	{
		const char *const e[] = { "CLERKSYNC_DB_PORT=S3cr3tZZ", NULL };

		ok(load(BASE, e, &cf, err, sizeof(err)) == -1 &&
		    strstr(err, "db_port") != NULL && !echoes(err, "S3cr3tZZ"),
		    "no echo of an environment value: %s", err);
		config_free(&cf);
	}
}

static void
search(void)
{
	struct config	 cf;
	char		 err[1024], path[300];
	char		 dir[] = "/tmp/clerksync-cfXXXXXX";
	FILE		*f;

	if (mkdtemp(dir) == NULL)
		exit(1);
	snprintf(path, sizeof(path), "%s/" CONFIG_FILE_NAME, dir);
	f = fopen(path, "w");
	fputs(BASE "db_name = besidebinary\n", f);
	fclose(f);
	{
		const char *const e[] = { NULL };

		memset(&cf, 0, sizeof(cf));
		fake_env = e;
		ok(config_load(&cf, dir, env, err, sizeof(err)) == 0 &&
		    strcmp(cf.db_name, "besidebinary") == 0 &&
		    strcmp(cf.path, path) == 0, "the file beside the binary");
		config_free(&cf);
	}
	{
		char var[400];
		const char *const e[] = { var, NULL };

		snprintf(var, sizeof(var), "CLERKSYNC_CONFIG=%s/nope", dir);
		memset(&cf, 0, sizeof(cf));
		fake_env = e;
		ok(config_load(&cf, dir, env, err, sizeof(err)) == -1 &&
		    strstr(err, "CLERKSYNC_CONFIG") != NULL &&
		    strstr(err, var + 17) != NULL &&
		    strstr(err, "No such file") != NULL &&
		    strstr(err, "uid ") != NULL,
		    "a missing CLERKSYNC_CONFIG file is an error naming the "
		    "path, the reason and the user: %s", err);
		config_free(&cf);
		snprintf(var, sizeof(var), "CLERKSYNC_CONFIG=%s", dir);
		memset(&cf, 0, sizeof(cf));
		ok(config_load(&cf, dir, env, err, sizeof(err)) == -1 &&
		    strstr(err, dir) != NULL &&
		    strstr(err, "Is a directory") != NULL &&
		    strstr(err, "not found") == NULL,
		    "a config that cannot be read says why: %s", err);
		config_free(&cf);
		snprintf(var, sizeof(var), "CLERKSYNC_CONFIG=%s", path);
		memset(&cf, 0, sizeof(cf));
		ok(config_load(&cf, NULL, env, err, sizeof(err)) == 0 &&
		    strcmp(cf.path, path) == 0, "CLERKSYNC_CONFIG is read");
		config_free(&cf);
		f = fopen(path, "w");
		fputs("signing_secret = " SECRET "\ndb_user = app\n", f);
		fclose(f);
		memset(&cf, 0, sizeof(cf));
		ok(config_load(&cf, NULL, env, err, sizeof(err)) == -1 &&
		    strstr(err, "db_name: not set (in ") == err &&
		    strstr(err, path) != NULL && strstr(err, "read as ") != NULL,
		    "a bad setting names the file it was read from: %s", err);
		config_free(&cf);
	}
	unlink(path);
	{
		const char *const e[] = { NULL };
		char	 want[400], who[64];

		memset(&cf, 0, sizeof(cf));
		fake_env = e;
		snprintf(want, sizeof(want), "%s/" CONFIG_FILE_NAME, dir);
		snprintf(who, sizeof(who), "uid %lu)",
		    (unsigned long)geteuid());
		ok(config_load(&cf, dir, env, err, sizeof(err)) == -1 &&
		    strstr(err, "signing_secret: not set") == err &&
		    strstr(err, "CLERKSYNC_CONFIG is not set") != NULL &&
		    strstr(err, want) != NULL && strstr(err, who) != NULL &&
		    strstr(err, "/" CONFIG_FILE_PREFIX) != NULL &&
		    strcmp(cf.path, "") == 0,
		    "no file: the error lists every place looked, and the "
		    "user: %s", err);
		config_free(&cf);
	}
	rmdir(dir);
}

int
main(void)
{
	good();
	bad();
	syntax();
	no_echo();
	search();
	return done_testing();
}

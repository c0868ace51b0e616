/*
 * clerksync — receives Clerk webhooks (signed by Svix) and keeps a
 * MySQL/MariaDB users table in step. One binary: FastCGI when started by
 * a FastCGI manager, CGI otherwise, and two subcommands for a shell.
 * SPDX-License-Identifier: ISC
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfill.h"
#include "config.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "schema.h"
#include "sig.h"
#include "status.h"
#include "store.h"

#ifndef CLERKSYNC_VERSION
#define CLERKSYNC_VERSION "0.2.0"
#endif

static struct config	 cf;
static char		 cferr[1536];	/* the key, or where it looked */
static char		 exedir[PATH_MAX];
static const char	*config_param;	/* CLERKSYNC_CONFIG of a request */

/*
 * Process environment, except that a FastCGI request param names the
 * config file where the server sets it per request (Apache SetEnv under
 * mod_fcgid). Only the server can set that param: client headers arrive
 * as HTTP_* and are never read here.
 */
static const char *
env_get(const char *name)
{
	if (config_param != NULL && strcmp(name, "CLERKSYNC_CONFIG") == 0)
		return config_param;
	return getenv(name);
}

/*
 * The directory of the running binary, for clerksync.conf beside it. In
 * a release the launcher (src/launch.c) says where it is: the process is
 * then the bundled dynamic loader, and /proc may be missing.
 */
static const char *
exe_dir(const char *argv0)
{
	const char	*launch = getenv("CLERKSYNC_LAUNCH_DIR");
	ssize_t		 n;
	char		*slash;

	if (launch != NULL && *launch == '/' &&
	    strlen(launch) < sizeof(exedir)) {
		snprintf(exedir, sizeof(exedir), "%s", launch);
		return exedir;
	}
	if ((n = readlink("/proc/self/exe", exedir, sizeof(exedir) - 1)) > 0)
		exedir[n] = '\0';
	else if (argv0 != NULL && strchr(argv0, '/') != NULL &&
	    strlen(argv0) < sizeof(exedir))
		snprintf(exedir, sizeof(exedir), "%s", argv0);
	else
		return NULL;
	if ((slash = strrchr(exedir, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return exedir;
}

/* Open the log, or say on stderr which file could not be opened and why. */
static void
log_file_open(const char *path, enum log_level level)
{
	if (log_open(path, level) == -1)
		log_warnx("log_file: cannot open %s: %s; logging to stderr",
		    path, strerror(errno));
}

/* (Re)load the configuration into hd; a failure leaves hd->cf NULL. */
static void
configure(struct handler *hd)
{
	store_close(hd->st);
	hd->st = NULL;
	hd->cf = NULL;
	config_free(&cf);
	if (config_load(&cf, exedir[0] ? exedir : NULL, env_get, cferr,
	    sizeof(cferr)) == -1) {
		/*
		 * Each request logs this line and answers 503 (SPEC
		 * section 4), in the log the operator set if it opens.
		 */
		hd->cferr = cferr;
		if (cf.raw[CONFIG_LOG_FILE] != NULL &&
		    cf.raw[CONFIG_LOG_FILE][0] != '\0')
			log_file_open(cf.raw[CONFIG_LOG_FILE], LOG_INFO);
		return;
	}
	log_file_open(cf.log_file, cf.log_level);
	if ((hd->st = store_open(&cf)) == NULL) {
		hd->cferr = "out of memory";
		return;
	}
	hd->cf = &cf;
}

/* A host that is not this machine: its traffic crosses a network. */
static int
remote_host(const char *h)
{
	return h != NULL && strcmp(h, "localhost") != 0 &&
	    strncmp(h, "127.", 4) != 0 && strcmp(h, "::1") != 0;
}

/*
 * `check` says whether the connection is encrypted, with what, and what
 * was verified; a remote database reached in clear gets a warning. -1
 * when db_tls asked for TLS and the connection has none.
 */
static int
check_tls(struct handler *hd)
{
	const char	*cipher = store_cipher(hd->st);
	size_t		 i;
	int		 remote = 0;

	for (i = 0; i < cf.ndb_hosts; i++)
		remote |= remote_host(cf.db_hosts[i]);
	if (cipher != NULL) {
		printf("tls: encrypted (%s), %s\n", cipher,
		    cf.db_tls == CONFIG_TLS_VERIFY ? "certificate and host "
		    "name verified" : "the certificate is not verified "
		    "(db_tls = on)");
		return 0;
	}
	if (cf.db_tls != CONFIG_TLS_OFF) {
		printf("tls: not encrypted, though db_tls = %s\n",
		    config_tls_names[cf.db_tls]);
		return -1;
	}
	printf("tls: off, not encrypted%s\n", remote ? ": a remote database "
	    "in clear; set db_tls = verify" : "");
	return 0;
}

static int
cmd_check(struct handler *hd)
{
	const int	 want = schema_files[schema_count - 1].version;
	char		 err[512];
	enum store_check rc;
	int		 version = 0;

	if (hd->cf == NULL) {
		printf("config: %s\n", cferr);
		return 1;
	}
	/* SPEC section 4: the file read, or every place looked. */
	if (cf.path[0] != '\0')
		printf("config: %s (read as %s)\n", cf.path, cf.who);
	else
		printf("config: from the environment only; %s\n", cf.looked);
	printf("signing_secret: %zu secret%s, each decodes\n", cf.nkeys,
	    cf.nkeys == 1 ? "" : "s");
	/* SPEC section 1, "Pull": shown only when the pull is on. */
	if (cf.npull_keys > 0)
		printf("pull_secret: %zu secret%s, each decodes%s\n",
		    cf.npull_keys, cf.npull_keys == 1 ? "" : "s",
		    cf.clerk_secret_key != NULL ? "" : "; clerk_secret_key "
		    "is not set, so every pull is answered 503");
	rc = store_probe(hd->st, &version, err, sizeof(err));
	if (rc == STORE_CHECK_CONNECT) {
		printf("database: %s\n", err);
		return 1;
	}
	printf("database: connected to %s as %s\n", cf.db_socket ?
	    cf.db_socket : cf.db_host ? cf.db_host : "localhost", cf.db_user);
	if (check_tls(hd) == -1)
		return 1;
	if (version < want) {
		printf("schema: version %d, expected %d: run `clerksync.fcgi "
		    "migrate` or import schema/ with phpMyAdmin\n", version,
		    want);
		return 1;
	}
	if (rc != STORE_CHECK_OK) {
		printf("schema: %s\n", err);
		return 1;
	}
	printf("schema: version %d, tables and columns present\nok\n",
	    version);
	return 0;
}

static int
cmd_migrate(struct handler *hd)
{
	char	 err[512];
	int	 from, to;

	if (hd->cf == NULL) {
		printf("config: %s\n", cferr);
		return 1;
	}
	if (store_migrate(hd->st, &from, &to, err, sizeof(err)) == -1) {
		printf("migrate: %s\n", err);
		return 1;
	}
	if (from == to)
		printf("schema: already at version %d\n", to);
	else
		printf("schema: version %d -> %d\n", from, to);
	return 0;
}

#define PRUNE_EVERY	3600	/* seconds, in a persistent process */
#define PRUNE_ODDS	100	/* one CGI request in this many prunes */

/*
 * Old events rows go after the answer has been flushed, so pruning never
 * delays a delivery: hourly in a persistent process, and on about one
 * request in PRUNE_ODDS under CGI, where every process is new. The
 * caller prunes only after a request that was verified and recorded
 * (SPEC section 1: no database work before the signature), so a stranger
 * never makes clerksync connect, and the connection is already open.
 */
static void
maybe_prune(struct handler *hd, int fastcgi)
{
	static time_t	 last;
	time_t		 now = time(NULL);
	long long	 n;
	char		 err[512];

	if (hd->cf == NULL)
		return;
	if (fastcgi ? now - last < PRUNE_EVERY : getpid() % PRUNE_ODDS != 0)
		return;
	last = now;
	if ((n = store_prune(hd->st, err, sizeof(err))) == -1)
		log_warnx("prune: %s", err);
	else if (n > 0)
		log_info("pruned %lld events rows older than %d days", n,
		    cf.retention_days);
}

/*
 * Whether a web server started this process, which then never runs a
 * subcommand: RFC 3875 4.4 lets a CGI server pass a query string without
 * '=' as arguments, so `?check` must not run one for the web. A CGI
 * request is told by either of two meta-variables that every server must
 * set (4.1.4 GATEWAY_INTERFACE, 4.1.12 REQUEST_METHOD), a FastCGI process
 * by the listening socket on stdin that libfcgi accepts on. A shell, cron
 * or SSH session gives none: stdin may be a pipe or a connected socket
 * there, never a listening one.
 */
static int
started_by_web(void)
{
	int		 listening = 0;
	socklen_t	 len = sizeof(listening);

	if (getenv("GATEWAY_INTERFACE") != NULL ||
	    getenv("REQUEST_METHOD") != NULL)
		return 1;
	return getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &len) == 0 && listening != 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: clerksync.fcgi check | migrate | --help | --version\n"
	    "       clerksync.fcgi backfill [--restart] [--limit N] "
	    "[--timeout S]\n"
	    "       clerksync.fcgi reconcile [--dry-run] [--force] "
	    "[--limit N] [--timeout S]\n"
	    "       clerksync.fcgi sync [--dry-run] [--force] [--timeout S] "
	    "ID...\n"
	    "       clerksync.fcgi status [--quiet-for DURATION]\n"
	    "\n"
	    "Started by a web server (FastCGI or CGI), clerksync answers\n"
	    "Clerk webhooks and keeps the users table in step.\n"
	    "  check      read the configuration, connect, check the schema\n"
	    "  migrate    create or update the tables (safe to run twice)\n"
	    "  backfill   import every user and organization from Clerk's\n"
	    "             Backend API; resumes where it stopped\n"
	    "  reconcile  the same walk, then mark deleted what Clerk no\n"
	    "             longer has (--dry-run: only report)\n"
	    "  sync       fetch the users (user_...) and organizations\n"
	    "             (org_...) named, and write them as a webhook would\n"
	    "  status     when each kind of event last arrived; exit 1 if\n"
	    "             nothing did for longer than DURATION (90m, 6h, 2d)\n"
	    "Configuration: $CLERKSYNC_CONFIG, else ~/clerksync-FOLDER.conf\n"
	    "(FOLDER: the name of this binary's folder), ~/clerksync.conf,\n"
	    "clerksync.conf beside this binary; see README.md.\n");
}

/* What the command line asks for, besides serving. */
struct cmdline {
	int			 walk;	/* enum backfill_cmd, or -1 */
	int			 stat;	/* "status" */
	struct backfill_opts	 bo;
	struct status_opts	 so;
};

/*
 * Reads the command line into cl. Returns -1 to go on, or the exit
 * status when it is answered here (--version, --help) or refused.
 */
static int
cmdline_parse(int argc, char *argv[], struct cmdline *cl)
{
	char	 err[256];

	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("clerksync %s\n", CLERKSYNC_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	cl->walk = argc > 1 ? backfill_cmd(argv[1]) : -1;
	if (cl->walk != -1 && backfill_args(argc - 2, argv + 2,
	    (enum backfill_cmd)cl->walk, &cl->bo, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		usage(stderr);
		return 2;
	}
	cl->stat = argc > 1 && strcmp(argv[1], "status") == 0;
	if (cl->stat && status_args(argc - 2, argv + 2, &cl->so, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		usage(stderr);
		return 2;
	}
	if (cl->walk == -1 && !cl->stat && (argc > 2 || (argc == 2 &&
	    strcmp(argv[1], "check") != 0 && strcmp(argv[1], "migrate") !=
	    0))) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* A backfill walk, status, check or migrate: one run, then exit. */
static int
cmdline_run(struct handler *hd, const struct cmdline *cl, char *argv[])
{
	if (cl->walk != -1) {
		if (hd->cf == NULL) {
			printf("config: %s\n", cferr);
			return 1;
		}
		return backfill_run(&cf, hd->st, &cl->bo);
	}
	if (cl->stat) {
		if (hd->cf == NULL) {
			printf("config: %s\n", cferr);
			return 1;
		}
		return status_run(&cf, hd->st, &cl->so);
	}
	return strcmp(argv[1], "check") == 0 ? cmd_check(hd) :
	    cmd_migrate(hd);
}

/*
 * Serves requests until the server stops sending them: FastCGI, or one
 * CGI request. Returns the exit status.
 */
static int
serve_requests(struct handler *hd)
{
	struct http	*h = NULL;
	const char	*p;
	int		 rc = 1, recorded;

	if (geteuid() == 0)
		log_warnx("running as root: clerksync needs no privileges");
	/*
	 * Before the first connection starts OpenSSL with openssl.cnf
	 * (backfill's HTTPS keeps the host's settings: it returned above).
	 */
	if (sig_init() == -1)
		log_warnx("OpenSSL did not start; it will on first use");
	if ((h = http_open()) == NULL) {
		log_errx("cannot set up FastCGI");
		goto out;
	}
	while (http_accept(h)) {
		p = http_param(h, "CLERKSYNC_CONFIG");
		if (http_is_fastcgi(h) && p != NULL && *p != '\0' &&
		    (hd->cf == NULL || strcmp(p, cf.path) != 0)) {
			config_param = p;
			configure(hd);
			config_param = NULL;
		} else if (hd->cf == NULL && http_is_fastcgi(h))
			configure(hd);
		recorded = handler_serve(hd, h);
		http_finish(h);
		if (recorded)
			maybe_prune(hd, http_is_fastcgi(h));
	}
	rc = 0;
out:
	http_close(h);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct handler	 hd = { NULL, NULL, NULL };
	struct cmdline	 cl;
	int		 rc;

	/* Arguments from a web server are ignored: see started_by_web. */
	if (started_by_web())
		argc = 1;
	if ((rc = cmdline_parse(argc, argv, &cl)) != -1)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	exe_dir(argv[0]);

	/* Read before the first accept: settings come from the process. */
	configure(&hd);
	if (cl.walk != -1 || cl.stat || argc == 2)
		rc = cmdline_run(&hd, &cl, argv);
	else
		rc = serve_requests(&hd);
	store_close(hd.st);
	config_free(&cf);
	log_close();
	return rc;
}

/*
 * clerksync — receives Clerk webhooks (signed by Svix) and keeps a
 * MySQL/MariaDB users table in step. One binary: FastCGI when started by
 * a FastCGI manager, CGI otherwise.
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "store.h"

#ifndef CLERKSYNC_VERSION
#define CLERKSYNC_VERSION "0.1.0"
#endif

static const char *
env_get(const char *name)
{
	return getenv(name);
}

/* The directory of the running binary, for clerksync.conf beside it. */
static int
exe_dir(const char *argv0, char *buf, size_t size)
{
	ssize_t	 n;
	char	*slash;

	if ((n = readlink("/proc/self/exe", buf, size - 1)) > 0)
		buf[n] = '\0';
	else if (argv0 != NULL && strchr(argv0, '/') != NULL &&
	    strlen(argv0) < size)
		snprintf(buf, size, "%s", argv0);
	else
		return -1;
	if ((slash = strrchr(buf, '/')) == NULL)
		return -1;
	*slash = '\0';
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: clerksync.fcgi [--help | --version]\n"
	    "\n"
	    "Started by a web server (FastCGI or CGI), clerksync answers\n"
	    "Clerk webhooks and keeps the users table in step.\n"
	    "Configuration: $CLERKSYNC_CONFIG, ~/clerksync.conf, or\n"
	    "clerksync.conf beside this binary; see README.md.\n");
}

int
main(int argc, char *argv[])
{
	static struct config	 cf;
	struct handler		 hd = { NULL, NULL, NULL };
	struct http		*h = NULL;
	char			 dir[PATH_MAX], err[512];
	int			 rc = 1;

	if (argc > 1) {
		if (strcmp(argv[1], "--version") == 0) {
			printf("clerksync %s\n", CLERKSYNC_VERSION);
			return 0;
		}
		usage(strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);

	/* Read before the first accept: settings come from the process. */
	if (config_load(&cf, exe_dir(argv[0], dir, sizeof(dir)) == 0 ?
	    dir : NULL, env_get, err, sizeof(err)) == -1) {
		/*
		 * Each request logs this line and answers 503 (SPEC
		 * section 4), in the log the operator set if it opens.
		 */
		hd.cferr = err;
		if (cf.raw[CONFIG_LOG_FILE] != NULL)
			log_open(cf.raw[CONFIG_LOG_FILE], LOG_INFO);
	} else {
		hd.cf = &cf;
		if (log_open(cf.log_file, cf.log_level) == -1)
			log_warnx("log_file: cannot open, logging to stderr");
		if ((hd.st = store_open(&cf)) == NULL) {
			log_errx("out of memory");
			goto out;
		}
	}
	if (geteuid() == 0)
		log_warnx("running as root: clerksync needs no privileges");
	if ((h = http_open()) == NULL) {
		log_errx("cannot set up FastCGI");
		goto out;
	}
	while (http_accept(h)) {
		handler_serve(&hd, h);
		http_finish(h);
	}
	rc = 0;
out:
	http_close(h);
	store_close(hd.st);
	config_free(&cf);
	log_close();
	return rc;
}

/*
 * clerksync — launch: the clerksync.fcgi of a release (make release).
 * Linked static, so it starts on any x86-64 Linux whatever its glibc; it
 * finds its own folder without /proc (the exec'd path, AUX vector
 * AT_EXECFN, made absolute against the working directory) and replaces
 * itself with the dynamic loader shipped beside it:
 *
 *   DIR/lib/ld-linux-x86-64.so.2 --library-path DIR/lib --inhibit-cache
 *       --argv0 ARGV0 DIR/lib/clerksync ARGS...
 *
 * so the program runs on the release's own glibc and libraries, never the
 * host's. The folder reaches the program as LAUNCH_DIR_ENV (clerksync.conf
 * beside clerksync.fcgi), Connector/C's plugins as MARIADB_PLUGIN_DIR.
 * File descriptors are inherited: mod_fcgid's listening socket on fd 0
 * stays where libfcgi looks for it.
 * SPDX-License-Identifier: ISC
 */
#include <sys/auxv.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LAUNCH_DIR_ENV	"CLERKSYNC_LAUNCH_DIR"
#define LAUNCH_LOADER	"lib/ld-linux-x86-64.so.2"
#define LAUNCH_PROGRAM	"lib/clerksync"
#define LAUNCH_PLUGINS	"lib/plugin"
#define LAUNCH_NFIXED	7	/* loader and its options, before ARGS */

/*
 * A CGI server gets an answer it can pass on: Svix retries a 503, while a
 * program that printed nothing becomes a 500 page.
 */
static void
launch_fail(const char *what, const char *path)
{
	int	 e = errno;

	fprintf(stderr, "clerksync.fcgi: %s %s: %s\n", what, path,
	    strerror(e));
	if (getenv("GATEWAY_INTERFACE") != NULL)
		printf("Status: 503 Service Unavailable\r\n"
		    "Content-Type: application/json\r\n\r\n"
		    "{\"error\":\"unavailable\",\"message\":"
		    "\"the program cannot start; see the server log\"}\n");
}

/* The folder of the file that was exec'd, absolute; -1 if unknown. */
static int
launch_dir(char *dir, size_t dirsz)
{
	const char	*exe;
	char		 real[PATH_MAX], *slash;

	exe = (const char *)getauxval(AT_EXECFN);
	if (exe == NULL || *exe == '\0') {
		errno = ENOENT;
		return -1;
	}
	/* realpath resolves a relative path and symlinks without /proc. */
	if (realpath(exe, real) == NULL)
		return -1;
	if ((slash = strrchr(real, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(dir, dirsz, "%s", real[0] ? real : "/") >=
	    dirsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	char		 dir[PATH_MAX], loader[PATH_MAX], libs[PATH_MAX];
	char		 prog[PATH_MAX], plugins[PATH_MAX];
	char		**av = NULL;
	int		 i, n = 0;

	if (launch_dir(dir, sizeof(dir)) == -1) {
		launch_fail("cannot find the folder of",
		    argv[0] ? argv[0] : "clerksync.fcgi");
		goto out;
	}
	if ((size_t)snprintf(loader, sizeof(loader), "%s/%s", dir,
	    LAUNCH_LOADER) >= sizeof(loader) ||
	    (size_t)snprintf(libs, sizeof(libs), "%s/lib", dir) >=
	    sizeof(libs) ||
	    (size_t)snprintf(prog, sizeof(prog), "%s/%s", dir,
	    LAUNCH_PROGRAM) >= sizeof(prog) ||
	    (size_t)snprintf(plugins, sizeof(plugins), "%s/%s", dir,
	    LAUNCH_PLUGINS) >= sizeof(plugins)) {
		errno = ENAMETOOLONG;
		launch_fail("path too long:", dir);
		goto out;
	}
	if ((av = calloc((size_t)argc + LAUNCH_NFIXED + 1,
	    sizeof(*av))) == NULL) {
		launch_fail("out of memory for", "arguments");
		goto out;
	}
	av[n++] = loader;
	av[n++] = "--library-path";
	av[n++] = libs;
	/* The host's /etc/ld.so.cache lists libraries for its own glibc. */
	av[n++] = "--inhibit-cache";
	av[n++] = "--argv0";
	av[n++] = argv[0] != NULL ? argv[0] : "clerksync.fcgi";
	av[n++] = prog;
	for (i = 1; i < argc; i++)
		av[n++] = argv[i];
	av[n] = NULL;

	/* A preload built for the host's glibc has no place here. */
	if (unsetenv("LD_PRELOAD") == -1 ||
	    setenv(LAUNCH_DIR_ENV, dir, 1) == -1 ||
	    setenv("MARIADB_PLUGIN_DIR", plugins, 1) == -1) {
		launch_fail("cannot set the environment for", prog);
		goto out;
	}
	execv(loader, av);
	launch_fail("cannot run", loader);
out:
	free(av);
	return 1;
}

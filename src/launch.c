/*
 * clerksync — launch: the clerksync.fcgi of a release (make release).
 *
 * It finds its own folder without /proc (the path it was exec'd by, the
 * AT_EXECFN entry of the auxiliary vector, made absolute against the
 * working directory, symlinks to it followed) and replaces itself with
 * the dynamic loader shipped beside it:
 *
 *   DIR/lib/ld-linux-x86-64.so.2 --library-path DIR/lib --inhibit-cache
 *       --argv0 ARGV0 DIR/lib/clerksync ARGS...
 *
 * so the program runs on the release's own glibc and libraries, never
 * the host's. The folder reaches the program as CLERKSYNC_LAUNCH_DIR
 * (for clerksync.conf beside clerksync.fcgi), Connector/C's plugins as
 * MARIADB_PLUGIN_DIR. File descriptors are inherited: mod_fcgid's
 * listening socket on fd 0 stays where libfcgi looks for it.
 *
 * Freestanding (x86-64 Linux system calls, no libc): a CGI request pays
 * for this exec too, and starting even an empty static glibc program
 * cost 0.65 ms of CPU on the test machine, against 0.02 ms without libc.
 * Nothing here allocates; every string has a fixed, checked bound.
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>

#define LAUNCH_PATH_MAX	4096
#define LAUNCH_LOADER	"/lib/ld-linux-x86-64.so.2"
#define LAUNCH_PROGRAM	"/lib/clerksync"
#define LAUNCH_LIBS	"/lib"
#define LAUNCH_PLUGINS	"/lib/plugin"
#define LAUNCH_DIR_ENV	"CLERKSYNC_LAUNCH_DIR="
#define LAUNCH_PLUG_ENV	"MARIADB_PLUGIN_DIR="
#define LAUNCH_NFIXED	7	/* loader and its options, before ARGS */
#define LAUNCH_SYMLINKS	8	/* links followed to the real file */

#define SYS_WRITE	1
#define SYS_EXECVE	59
#define SYS_EXIT	60
#define SYS_READLINK	89
#define SYS_GETCWD	79
#define AT_NULL		0
#define AT_EXECFN	31
#define ENOENT		2
#define ENAMETOOLONG	36
#define LAUNCH_SUFFIX	64	/* room after the folder, for LAUNCH_* */

void	launch_start(long *);

/* The process starts here: the stack holds argc, argv, envp, auxv. */
__asm__(
	".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call launch_start\n"
	"	hlt\n");

static long
launch_syscall(long n, long a, long b, long c)
{
	long	 r;

	__asm__ volatile ("syscall" : "=a" (r)
	    : "a" (n), "D" (a), "S" (b), "d" (c)
	    : "rcx", "r11", "memory");
	return r;
}

static size_t
launch_len(const char *s)
{
	size_t	 n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

/* Whether the environment entry e is NAME= (name given with its '='). */
static int
launch_is(const char *e, const char *name)
{
	while (*name != '\0')
		if (*e++ != *name++)
			return 0;
	return 1;
}

/* Appends s at *at, within end; -1 once it does not fit. */
static int
launch_cat(char **at, const char *end, const char *s)
{
	size_t	 n = launch_len(s);

	if (*at == NULL || n >= (size_t)(end - *at)) {
		*at = NULL;
		return -1;
	}
	while (*s != '\0')
		*(*at)++ = *s++;
	**at = '\0';
	return 0;
}

static void
launch_say(const char *s)
{
	launch_syscall(SYS_WRITE, 2, (long)s, (long)launch_len(s));
}

/*
 * Tells the server log why, and gives a CGI server an answer it can pass
 * on: Svix retries a 503, while a program that printed nothing becomes a
 * 500 page.
 */
static void
launch_fail(char **envp, const char *what, const char *path, long err)
{
	static const char *const errs[] = {
		[2] = "no such file or directory",
		[8] = "not an executable",
		[13] = "permission denied",
		[20] = "not a directory",
		[36] = "path too long",
	};
	static const char answer[] = "Status: 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"error\":\"unavailable\",\"message\":"
	    "\"the program cannot start; see the server log\"}\n";
	const char	*why = "error";
	char		**e;

	if (err < 0 && -err < (long)(sizeof(errs) / sizeof(errs[0])) &&
	    errs[-err] != NULL)
		why = errs[-err];
	launch_say("clerksync.fcgi: ");
	launch_say(what);
	launch_say(path);
	launch_say(": ");
	launch_say(why);
	launch_say(" (the folder must be uploaded whole, lib/ included)\n");
	for (e = envp; *e != NULL; e++)
		if (launch_is(*e, "GATEWAY_INTERFACE=")) {
			launch_syscall(SYS_WRITE, 1, (long)answer,
			    (long)sizeof(answer) - 1);
			break;
		}
}

/*
 * The folder of the file that was exec'd, absolute, into dir: the
 * working directory before a relative path, symlinks to the file
 * followed. Returns 0, or a negative errno.
 */
static long
launch_dir(const char *exe, char *dir, size_t dirsz)
{
	char	 link[LAUNCH_PATH_MAX], *at = dir, *slash, *p;
	long	 n;
	int	 i;

	if (exe[0] != '/') {
		if ((n = launch_syscall(SYS_GETCWD, (long)dir,
		    (long)dirsz, 0)) < 0)
			return n;
		at = dir + launch_len(dir);
		if (at[-1] != '/')
			launch_cat(&at, dir + dirsz, "/");
		while (exe[0] == '.' && exe[1] == '/')
			exe += 2;
	}
	if (launch_cat(&at, dir + dirsz, exe) == -1)
		return -ENAMETOOLONG;
	for (i = 0; i < LAUNCH_SYMLINKS; i++) {
		n = launch_syscall(SYS_READLINK, (long)dir, (long)link,
		    (long)sizeof(link) - 1);
		if (n < 0)
			break;		/* EINVAL: not a symlink */
		link[n] = '\0';
		if (link[0] == '/')
			at = dir;
		else
			for (at = dir, p = dir; *p != '\0'; p++)
				if (*p == '/')
					at = p + 1;
		*at = '\0';
		if (launch_cat(&at, dir + dirsz, link) == -1)
			return -ENAMETOOLONG;
	}
	for (slash = NULL, p = dir; *p != '\0'; p++)
		if (*p == '/')
			slash = p;
	if (slash == NULL)
		return -ENOENT;
	if (slash == dir)
		slash++;	/* a file in / */
	*slash = '\0';
	return 0;
}

/*
 * The folder of this program into dir, from the AT_EXECFN entry of the
 * auxiliary vector after envp. Returns 0, or -1 once the server log and
 * a CGI client have been told why.
 */
static int
launch_find(int argc, char **argv, char **envp, char *dir, size_t dirsz)
{
	char		**e;
	unsigned long	*aux;
	const char	*exe = NULL;
	long		 rc;

	for (e = envp; *e != NULL; e++)
		;
	for (aux = (unsigned long *)(e + 1); aux[0] != AT_NULL; aux += 2)
		if (aux[0] == AT_EXECFN)
			exe = (const char *)aux[1];
	if (exe == NULL || *exe == '\0') {
		launch_fail(envp, "no path to find the folder of ",
		    argc > 0 ? argv[0] : "clerksync.fcgi", -ENOENT);
		return -1;
	}
	if ((rc = launch_dir(exe, dir, dirsz)) < 0) {
		launch_fail(envp, "cannot find the folder of ", exe, rc);
		return -1;
	}
	/* Then every path and variable below fits its buffer. */
	if (launch_len(dir) + LAUNCH_SUFFIX >= dirsz) {
		launch_fail(envp, "path too long: ", dir, -ENAMETOOLONG);
		return -1;
	}
	return 0;
}

/* The paths and variables made from the folder, each LAUNCH_PATH_MAX. */
struct launch_paths {
	char	 loader[LAUNCH_PATH_MAX];
	char	 libs[LAUNCH_PATH_MAX];
	char	 prog[LAUNCH_PATH_MAX];
	char	 direnv[LAUNCH_PATH_MAX];
	char	 plugenv[LAUNCH_PATH_MAX];
};

/* Fills lp from dir; launch_find checked that each fits. */
static void
launch_paths(struct launch_paths *lp, const char *dir)
{
	char	*at;

	at = lp->loader;
	launch_cat(&at, lp->loader + sizeof(lp->loader), dir);
	launch_cat(&at, lp->loader + sizeof(lp->loader), LAUNCH_LOADER);
	at = lp->libs;
	launch_cat(&at, lp->libs + sizeof(lp->libs), dir);
	launch_cat(&at, lp->libs + sizeof(lp->libs), LAUNCH_LIBS);
	at = lp->prog;
	launch_cat(&at, lp->prog + sizeof(lp->prog), dir);
	launch_cat(&at, lp->prog + sizeof(lp->prog), LAUNCH_PROGRAM);
	at = lp->direnv;
	launch_cat(&at, lp->direnv + sizeof(lp->direnv), LAUNCH_DIR_ENV);
	launch_cat(&at, lp->direnv + sizeof(lp->direnv), dir);
	at = lp->plugenv;
	launch_cat(&at, lp->plugenv + sizeof(lp->plugenv), LAUNCH_PLUG_ENV);
	launch_cat(&at, lp->plugenv + sizeof(lp->plugenv), dir);
	launch_cat(&at, lp->plugenv + sizeof(lp->plugenv), LAUNCH_PLUGINS);
}

/* The loader's arguments into av (argc + LAUNCH_NFIXED + 1 slots). */
static void
launch_args(char **av, int argc, char **argv, struct launch_paths *lp)
{
	int	 i, n = 0;

	av[n++] = lp->loader;
	av[n++] = "--library-path";
	av[n++] = lp->libs;
	/* The host's /etc/ld.so.cache names its own glibc's. */
	av[n++] = "--inhibit-cache";
	av[n++] = "--argv0";
	av[n++] = argc > 0 ? argv[0] : "clerksync.fcgi";
	av[n++] = lp->prog;
	for (i = 1; i < argc; i++)
		av[n++] = argv[i];
	av[n] = NULL;
}

/* The program's environment into ev (entries of envp + 3 slots). */
static void
launch_env(char **ev, char **envp, struct launch_paths *lp)
{
	char	**e;
	int	 n = 0;

	/* A preload built for the host's glibc has no place here. */
	for (e = envp; *e != NULL; e++)
		if (!launch_is(*e, "LD_PRELOAD=") &&
		    !launch_is(*e, LAUNCH_DIR_ENV) &&
		    !launch_is(*e, LAUNCH_PLUG_ENV))
			ev[n++] = *e;
	ev[n++] = lp->direnv;
	ev[n++] = lp->plugenv;
	ev[n] = NULL;
}

void
launch_start(long *sp)
{
	int		 argc = (int)sp[0];
	char		**argv = (char **)(sp + 1);
	char		**envp = argv + argc + 1;
	char		**e;
	char		 dir[LAUNCH_PATH_MAX];
	struct launch_paths	 lp;
	long		 rc;
	int		 nenv = 0;

	for (e = envp; *e != NULL; e++)
		nenv++;
	if (launch_find(argc, argv, envp, dir, sizeof(dir)) == -1)
		goto out;
	launch_paths(&lp, dir);

	{
		char	*av[argc + LAUNCH_NFIXED + 1];
		char	*ev[nenv + 3];

		launch_args(av, argc, argv, &lp);
		launch_env(ev, envp, &lp);
		rc = launch_syscall(SYS_EXECVE, (long)lp.loader, (long)av,
		    (long)ev);
		launch_fail(envp, "cannot run ", lp.loader, rc);
	}
out:
	launch_syscall(SYS_EXIT, 1, 0, 0);
	for (;;)
		;
}

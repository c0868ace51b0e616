/*
 * clerksync — unit tests of log: field escaping (log_value, log_quoted),
 * the line escaping of log_vwrite, and log_open refusing a symbolic link.
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "util.h"

/* Every output must also hold no blank (unquoted), no control, no 8-bit. */
static int
clean(const char *s, int quoted)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || (!quoted && *p == ' '))
			return 0;
	return 1;
}

/* A whole line: printable ASCII, and the newline that ends it. */
static int
clean_line(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\n') || *p > 0x7e)
			return 0;
	return 1;
}

static void
test_values(void)
{
	static const struct {
		const char	*in;
		int		 quoted;
		size_t		 bufsz;
		const char	*out;
	} cases[] = {
		{ "user.created", 0, LOG_VALUE_MAX, "user.created" },
		{ "user_2abcXYZ", 0, LOG_VALUE_MAX, "user_2abcXYZ" },
		{ NULL, 0, LOG_VALUE_MAX, "-" },
		{ NULL, 1, LOG_VALUE_MAX, "-" },
		{ "", 0, LOG_VALUE_MAX, "" },
		{ "", 1, LOG_VALUE_MAX, "\"\"" },
		/* The forged svix-id of issue 15, finding 4. */
		{ "x type=user.deleted object=user_victim outcome=applied",
		    0, LOG_VALUE_MAX, "x\\x20type\\x3duser.deleted\\x20"
		    "object\\x3duser_victim\\x20outcome\\x3dapplied" },
		{ "a\tb\nc\rd", 0, LOG_VALUE_MAX, "a\\x09b\\x0ac\\x0dd" },
		{ "a\tb\nc", 1, LOG_VALUE_MAX, "\"a\\x09b\\x0ac\"" },
		{ "back\\slash", 0, LOG_VALUE_MAX, "back\\\\slash" },
		{ "\\x20", 0, LOG_VALUE_MAX, "\\\\x20" },
		{ "say \"hi\"", 0, LOG_VALUE_MAX, "say\\x20\\x22hi\\x22" },
		{ "say \"hi\" a=b", 1, LOG_VALUE_MAX,
		    "\"say \\x22hi\\x22 a=b\"" },
		{ "Zo\xc3\xab", 0, LOG_VALUE_MAX, "Zo\\xc3\\xab" },
		{ "Zo\xc3\xab", 1, LOG_VALUE_MAX, "\"Zo\\xc3\\xab\"" },
		{ "\x7f\x80\x9b\xff", 0, LOG_VALUE_MAX,
		    "\\x7f\\x80\\x9b\\xff" },
		{ "a=b", 1, LOG_VALUE_MAX, "\"a=b\"" },
		/* Cut: 15 characters fit in 16 bytes, 16 do not. */
		{ "abcdefghijklmno", 0, 16, "abcdefghijklmno" },
		{ "abcdefghijklmnop", 0, 16, "abcdefghijkl..." },
		{ "abcdefghijklm", 1, 16, "\"abcdefghijklm\"" },
		{ "abcdefghijklmn", 1, 16, "\"abcdefghij...\"" },
		/* An escape is never cut in two. */
		{ "abcdefghij\x01xyz", 0, 16, "abcdefghij..." },
		{ "abcdefghi\x01xyz", 0, 16, "abcdefghi..." },
		{ "abcdefgh\x01xyz", 0, 16, "abcdefgh\\x01xyz" },
		{ "abcdefgh\x01xyzw", 0, 16, "abcdefgh\\x01..." },
		{ "abcdefghijkl\\z", 0, 16, "abcdefghijkl\\\\z" },
		{ "abcdefghijklm\\z", 0, 16, "abcdefghijkl..." },
		/* Too small a buffer: nothing rather than a part. */
		{ "abc", 0, LOG_VALUE_MIN - 1, "" },
	};
	char	 buf[LOG_VALUE_MAX + 8];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'Z', sizeof(buf));
		if (cases[i].quoted)
			log_quoted(buf, cases[i].bufsz, cases[i].in);
		else
			log_value(buf, cases[i].bufsz, cases[i].in);
		ok(strcmp(buf, cases[i].out) == 0 &&
		    strlen(buf) < cases[i].bufsz &&
		    buf[cases[i].bufsz] == 'Z' && clean(buf, cases[i].quoted),
		    "%s case %zu: %s", cases[i].quoted ? "quoted" : "value",
		    i, cases[i].out);
		if (strcmp(buf, cases[i].out) != 0)
			printf("#   got %s\n", buf);
	}
}

/* Every byte value, at every buffer size: bounded and clean. */
static void
test_every_byte(void)
{
	char	 in[257], buf[LOG_VALUE_MAX + 1];
	size_t	 sz;
	int	 c, bad = 0, quoted;

	for (c = 1; c < 256; c++)
		in[c - 1] = (char)c;
	in[255] = '\0';
	for (quoted = 0; quoted < 2; quoted++) {
		for (sz = LOG_VALUE_MIN; sz <= LOG_VALUE_MAX; sz++) {
			buf[sz] = 'Z';
			if (quoted)
				log_quoted(buf, sz, in);
			else
				log_value(buf, sz, in);
			if (buf[sz] != 'Z' || strlen(buf) >= sz ||
			    !clean(buf, quoted) ||
			    strcmp(buf + strlen(buf) - 3 - quoted, quoted ?
			    "...\"" : "...") != 0)
				bad++;
		}
	}
	ok(bad == 0, "bytes 1..255 at every size from %d to %d: bounded, "
	    "clean, cut with ... (%d bad)", LOG_VALUE_MIN, LOG_VALUE_MAX, bad);
}

/* A line goes out with control and 8-bit bytes escaped, one line. */
static void
test_line(const char *dir)
{
	char	 path[512], *text;
	size_t	 len;

	snprintf(path, sizeof(path), "%s/line.log", dir);
	ok(log_open(path, LOG_WARN) == 0, "log_open on a new file");
	log_warnx("a\nb Zo\xc3\xab \x1b[31m \x9b");
	log_info("not written above warn");
	log_open(NULL, LOG_INFO);
	text = read_file(path, &len);
	ok(strstr(text, "a\\x0ab Zo\\xc3\\xab \\x1b[31m \\x9b\n") != NULL &&
	    strchr(text, '\n') == text + len - 1 && clean_line(text),
	    "control and 8-bit bytes of a message are escaped, one line");
	free(text);
	unlink(path);
}

static void
test_nofollow(const char *dir)
{
	char		 target[512], link[512];
	struct stat	 sb;
	int		 rc;

	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/link.log", dir);
	ok(symlink(target, link) == 0, "a symbolic link to a missing file");
	errno = 0;
	rc = log_open(link, LOG_INFO);
	ok(rc == -1 && errno == ELOOP, "log_open refuses it (ELOOP)");
	ok(stat(target, &sb) == -1 && errno == ENOENT,
	    "and did not create the file it points at");
	close(open(target, O_WRONLY | O_CREAT, 0600));
	ok(log_open(link, LOG_INFO) == -1,
	    "nor opens a link to an existing file");
	log_open(NULL, LOG_INFO);
	ok(stat(target, &sb) == 0 && sb.st_size == 0,
	    "which stays empty");
	unlink(link);
	unlink(target);
}

int
main(void)
{
	char	 dir[] = "/tmp/clerksync-test-log-XXXXXX";

	test_values();
	test_every_byte();
	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_line(dir);
	test_nofollow(dir);
	rmdir(dir);
	return done_testing();
}

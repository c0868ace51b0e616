/*
 * clerksync — helpers shared by the unit suites: files, guard pages.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_TEST_UTIL_H
#define CLERKSYNC_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FIXTURES "tests/fixtures"

/* The whole file, NUL-terminated (the NUL is not counted in *len). */
static inline char *
read_file(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL) {
		printf("# cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if ((buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/*
 * A copy of buf that ends right before a PROT_NONE page, so that reading
 * one byte past the end faults even without AddressSanitizer.
 */
struct guarded {
	char	*map;
	size_t	 maplen;
	char	*p;
};

static inline struct guarded
guard(const void *buf, size_t len)
{
	struct guarded	 g;
	size_t		 page = (size_t)sysconf(_SC_PAGESIZE);
	size_t		 data = (len + page - 1) / page * page;

	if (data == 0)
		data = page;
	g.maplen = data + page;
	g.map = mmap(NULL, g.maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.map == MAP_FAILED)
		exit(1);
	if (mprotect(g.map + data, page, PROT_NONE) != 0)
		exit(1);
	g.p = g.map + data - len;
	memcpy(g.p, buf, len);
	return g;
}

static inline void
unguard(struct guarded *g)
{
	munmap(g->map, g->maplen);
}

#endif

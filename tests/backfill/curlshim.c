/*
 * A libcurl.so.4 for the backfill tests, found first through
 * LD_LIBRARY_PATH: it forwards each function clerkapi.c uses to the real
 * libcurl (the path in CURLSHIM_REAL), except that curl_easy_setopt
 * refuses the option numbers listed in CURLSHIM_REFUSE (comma-separated)
 * as an old libcurl refuses an option it does not know, and appends
 * "option value" for each long option set to the file CURLSHIM_LOG.
 *
 * cc -shared -fPIC -Wl,-soname,libcurlshim.so -o DIR/libcurl.so.4 \
 *     curlshim.c -ldl
 * SPDX-License-Identifier: ISC
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plain prototypes: not the type-checking macros. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

static void	*real;

static void *
fn(const char *name)
{
	const char	*path = getenv("CURLSHIM_REAL");
	void		*f;

	if (real == NULL && (path == NULL ||
	    (real = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)) {
		fprintf(stderr, "curlshim: cannot load %s\n", path ? path :
		    "CURLSHIM_REAL");
		abort();
	}
	if ((f = dlsym(real, name)) == NULL)
		abort();
	return f;
}

static int
refused(int opt)
{
	const char	*list = getenv("CURLSHIM_REFUSE");
	char		*end;
	long		 v;

	while (list != NULL && *list != '\0') {
		v = strtol(list, &end, 10);
		if (end == list)
			break;
		if (v == opt)
			return 1;
		list = *end == ',' ? end + 1 : end;
	}
	return 0;
}

CURLcode
curl_global_init(long flags)
{
	CURLcode	(*f)(long) = (CURLcode (*)(long))fn("curl_global_init");

	return f(flags);
}

CURL *
curl_easy_init(void)
{
	CURL	*(*f)(void) = (CURL *(*)(void))fn("curl_easy_init");

	return f();
}

CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode	(*f)(CURL *, CURLoption, ...) =
		    (CURLcode (*)(CURL *, CURLoption, ...))fn("curl_easy_setopt");
	const char	*logf = getenv("CURLSHIM_LOG");
	FILE		*lf;
	va_list		 ap;
	long		 l = 0;
	void		*p = NULL;
	curl_off_t	 o = 0;

	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		l = va_arg(ap, long);
	else if (opt < CURLOPTTYPE_OFF_T)
		p = va_arg(ap, void *);
	else
		o = va_arg(ap, curl_off_t);
	va_end(ap);
	if (refused((int)opt))
		return CURLE_UNKNOWN_OPTION;
	if (opt < CURLOPTTYPE_OBJECTPOINT && logf != NULL &&
	    (lf = fopen(logf, "a")) != NULL) {
		fprintf(lf, "%d %ld\n", (int)opt, l);
		fclose(lf);
	}
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		return f(h, opt, l);
	if (opt < CURLOPTTYPE_OFF_T)
		return f(h, opt, p);
	return f(h, opt, o);
}

CURLcode
curl_easy_perform(CURL *h)
{
	CURLcode	(*f)(CURL *) = (CURLcode (*)(CURL *))fn("curl_easy_perform");

	return f(h);
}

CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode	(*f)(CURL *, CURLINFO, ...) =
		    (CURLcode (*)(CURL *, CURLINFO, ...))fn("curl_easy_getinfo");
	va_list		 ap;
	void		*p;

	va_start(ap, info);
	p = va_arg(ap, void *);
	va_end(ap);
	return f(h, info, p);
}

const char *
curl_easy_strerror(CURLcode c)
{
	const char	*(*f)(CURLcode) =
		    (const char *(*)(CURLcode))fn("curl_easy_strerror");

	return f(c);
}

void
curl_easy_cleanup(CURL *h)
{
	void	(*f)(CURL *) = (void (*)(CURL *))fn("curl_easy_cleanup");

	f(h);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	struct curl_slist *(*f)(struct curl_slist *, const char *) =
	    (struct curl_slist *(*)(struct curl_slist *, const char *))
	    fn("curl_slist_append");

	return f(l, s);
}

void
curl_slist_free_all(struct curl_slist *l)
{
	void	(*f)(struct curl_slist *) =
		    (void (*)(struct curl_slist *))fn("curl_slist_free_all");

	f(l);
}

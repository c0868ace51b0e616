/*
 * clerksync — clerkapi: Clerk's Backend API through a libcurl loaded at
 * run time.
 * SPDX-License-Identifier: ISC
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* CURLOPT_PROTOCOLS is named, deprecated, for libcurl before 7.85. */
#define CURL_DISABLE_DEPRECATION
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "clerkapi.h"
#include "json.h"
#include "log.h"
#include "num.h"

#define API_MARGIN	0.05	/* seconds added to the rate window */
#define API_BACKOFF_MAX	30	/* seconds between tries */
#define API_RETRY_AFTER_MAX 120	/* seconds we wait when told to */
#define API_ONCE_MIN_MS	500	/* a pull's request needs this much time */
#define API_ONCE_CONNECT_MS 3000	/* a pull's connect timeout */

/* The few libcurl functions used, found with dlsym. */
struct curl_fns {
	CURLcode	 (*global_init)(long);
	CURL		*(*easy_init)(void);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_perform)(CURL *);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char	*(*easy_strerror)(CURLcode);
	void		 (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
};

struct clerkapi {
	void			*lib;
	struct curl_fns		 f;
	CURL			*h;
	struct curl_slist	*headers;
	const char		*base;
	char			*url;
	size_t			 urlsz;
	char			*buf;
	size_t			 len, cap;
	int			 retry_after;	/* of the last answer; -1 */
	double			*ring;		/* start times, a window's */
	int			 nring, head, rate;
	double			 window;
	struct clerkapi_stats	 st;
	char			 curlerr[CURL_ERROR_SIZE];
	int			 once;		/* a pull: clerkapi_set_once */
	double			 deadline;	/* then: when it ends */
	int			 wait;		/* then: clerkapi_retry_after */
	int			(*gate)(void *, int *, char *, size_t);
	void			*gate_arg;
};

static void
pause_for(double sec)
{
	struct timespec	 ts;

	if (sec <= 0)
		return;
	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1)
		continue;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct clerkapi	*a = arg;
	size_t		 len = size * n, cap;
	char		*nb;

	if (len > API_BODY_MAX - a->len)
		return 0;		/* curl fails the transfer */
	if (a->len + len + 1 > a->cap) {
		for (cap = a->cap ? a->cap : 65536; cap < a->len + len + 1;)
			cap *= 2;
		if ((nb = realloc(a->buf, cap)) == NULL)
			return 0;
		a->buf = nb;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, p, len);
	a->len += len;
	a->buf[a->len] = '\0';
	return len;
}

/* Retry-After in seconds (an HTTP date is taken as absent). */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct clerkapi	*a = arg;
	size_t		 len = size * n, i;
	long long	 v;

	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		for (i = 12; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
			continue;
		while (len > i && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
		    p[len - 1] == ' '))
			len--;
		if (num_parse(p + i, len - i, 0, 86400, &v) == 0)
			a->retry_after = (int)v;
	}
	return size * n;
}

#define SYM(name, field) do {						\
	*(void **)(&a->f.field) = dlsym(a->lib, name);			\
	if (a->f.field == NULL)						\
		goto nosym;						\
} while (0)

/*
 * Where distributions keep the CA bundle. libcurl knows only the place of
 * the system it was built on, and a release carries Debian's libcurl to
 * RHEL-family hosts too; the first file that opens is used.
 */
static const char *const api_ca_files[] = {
	"/etc/ssl/certs/ca-certificates.crt",	/* Debian, Ubuntu, Arch */
	"/etc/pki/tls/certs/ca-bundle.crt",	/* RHEL, CentOS, Fedora */
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* EL 7+ */
	"/etc/ssl/ca-bundle.pem",		/* openSUSE, SLES */
	"/etc/pki/tls/cacert.pem",		/* OpenELEC */
	"/etc/ssl/cert.pem",			/* Alpine */
};

static const char *
api_ca_file(const struct config *cf)
{
	size_t	 i;

	if (cf->clerk_ca_file != NULL)
		return cf->clerk_ca_file;
	for (i = 0; i < sizeof(api_ca_files) / sizeof(api_ca_files[0]); i++)
		if (access(api_ca_files[i], R_OK) == 0)
			return api_ca_files[i];
	return NULL;
}

/* Find the libcurl functions used; -1 with err set when one is missing. */
static int
api_load(struct clerkapi *a, char *err, size_t errsz)
{
	SYM("curl_global_init", global_init);
	SYM("curl_easy_init", easy_init);
	SYM("curl_easy_setopt", easy_setopt);
	SYM("curl_easy_perform", easy_perform);
	SYM("curl_easy_getinfo", easy_getinfo);
	SYM("curl_easy_strerror", easy_strerror);
	SYM("curl_easy_cleanup", easy_cleanup);
	SYM("curl_slist_append", slist_append);
	SYM("curl_slist_free_all", slist_free_all);
	return 0;
nosym:
	snprintf(err, errsz, "libcurl is older than 7.85: %s", dlerror());
	return -1;
}

/*
 * The request headers: the secret key as a bearer token, and JSON asked
 * for. The one copy we make of the key is wiped before it is freed.
 */
static int
api_headers(struct clerkapi *a, const char *key)
{
	char	*auth;
	size_t	 n;

	n = strlen("Authorization: Bearer ") + strlen(key) + 1;
	if ((auth = malloc(n)) == NULL)
		return -1;
	snprintf(auth, n, "Authorization: Bearer %s", key);
	a->headers = a->f.slist_append(NULL, auth);
	/* A plain memset before free may be dropped by the compiler. */
	OPENSSL_cleanse(auth, n);
	free(auth);
	if (a->headers == NULL || (a->headers = a->f.slist_append(a->headers,
	    "Accept: application/json")) == NULL)
		return -1;
	return 0;
}

/*
 * Set one option; a refused one stops clerkapi_open, naming it, so that no
 * request leaves with a setting missing (TLS checks, timeouts).
 */
#define SETOPT(opt, val) do {						\
	if ((rc = a->f.easy_setopt(a->h, opt, val)) != CURLE_OK) {	\
		what = #opt;						\
		goto refused;						\
	}								\
} while (0)

/* HTTPS only, verified; no redirects; the secret in a header only. */
static int
api_setopts(struct clerkapi *a, const struct config *cf, long timeout,
    char *err, size_t errsz)
{
	const char	*ca;
	const char	*what;
	CURLcode	 rc;

	SETOPT(CURLOPT_HTTPHEADER, a->headers);
	SETOPT(CURLOPT_USERAGENT, "clerksync/" CLERKSYNC_VERSION);
	/*
	 * The string form is 7.85's; an older libcurl refuses it as an
	 * unknown option, and takes the bit mask instead.
	 */
	if (a->f.easy_setopt(a->h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK)
		SETOPT(CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if ((ca = api_ca_file(cf)) != NULL)
		SETOPT(CURLOPT_CAINFO, ca);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_CONNECTTIMEOUT, 10L);
	SETOPT(CURLOPT_TIMEOUT, timeout > 0 ? timeout : (long)API_TIMEOUT);
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(CURLOPT_ERRORBUFFER, a->curlerr);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, a);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, a);
	return 0;
refused:
	snprintf(err, errsz, "libcurl refused %s: %s", what,
	    a->f.easy_strerror(rc));
	return -1;
}

struct clerkapi *
clerkapi_open(const struct config *cf, long timeout, char *err, size_t errsz)
{
	struct clerkapi	*a;

	if (cf->clerk_secret_key == NULL) {
		snprintf(err, errsz, "clerk_secret_key: not set (the sk_... "
		    "key of the instance, or CLERK_SECRET_KEY)");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto oom;
	a->retry_after = -1;
	a->wait = -1;
	if ((a->lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errsz, "libcurl is needed for this (Debian: "
		    "libcurl4): %s", dlerror());
		free(a);
		return NULL;
	}
	if (api_load(a, err, errsz) == -1)
		goto fail;
	if (a->f.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (a->h = a->f.easy_init()) == NULL)
		goto oom;

	a->base = cf->clerk_api_url;
	a->rate = cf->rate_requests;
	a->window = cf->rate_seconds + API_MARGIN;
	if ((a->ring = calloc((size_t)a->rate, sizeof(*a->ring))) == NULL)
		goto oom;
	if (api_headers(a, cf->clerk_secret_key) == -1)
		goto oom;
	if (api_setopts(a, cf, timeout, err, errsz) == -1)
		goto fail;
	return a;
oom:
	snprintf(err, errsz, "out of memory");
fail:
	clerkapi_close(a);
	return NULL;
}

/* Wait until one more request fits the rate window, and count it. */
static void
pace(struct clerkapi *a)
{
	double	 t = num_seconds(), oldest;

	if (a->nring == a->rate) {
		oldest = a->ring[a->head];
		if (t - oldest < a->window)
			pause_for(a->window - (t - oldest));
		a->nring--;
		a->head = (a->head + 1) % a->rate;
	}
	a->ring[(a->head + a->nring) % a->rate] = num_seconds();
	a->nring++;
	a->st.requests++;
}

void
clerkapi_set_once(struct clerkapi *a, double deadline,
    int (*gate)(void *, int *, char *, size_t), void *arg)
{
	a->once = 1;
	a->deadline = num_seconds() + deadline;
	a->gate = gate;
	a->gate_arg = arg;
}

int
clerkapi_retry_after(const struct clerkapi *a)
{
	return a->wait;
}

/* A wait we are told of, bounded. */
static int
bounded(int sec)
{
	return sec < 1 ? 1 : sec > API_RETRY_AFTER_MAX ? API_RETRY_AFTER_MAX :
	    sec;
}

/* Why a transfer failed: libcurl's detailed message when it left one. */
static const char *
api_strerror(const struct clerkapi *a, CURLcode rc)
{
	return a->curlerr[0] ? a->curlerr : a->f.easy_strerror(rc);
}

/* One transfer of the URL set; *status stays 0 when no answer came. */
static CURLcode
api_perform(struct clerkapi *a, long *status)
{
	CURLcode	 rc;

	a->len = 0;
	a->retry_after = -1;
	a->curlerr[0] = '\0';
	if (a->buf != NULL)
		a->buf[0] = '\0';
	rc = a->f.easy_perform(a->h);
	*status = 0;
	if (rc == CURLE_OK)
		a->f.easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, status);
	return rc;
}

/* A 200 or 404: its body is the caller's until the next request. */
static int
api_answer(const struct clerkapi *a, long status, const char **body,
    size_t *len)
{
	*body = a->buf != NULL ? a->buf : "";
	*len = a->len;
	return (int)status;
}

/*
 * clerkapi_get for a pull: one try, within the deadline, after the gate. The
 * URL is set. No pacing here: the gate is the budget, shared by every
 * process, and a wait would outlast the web server's patience.
 */
static int
get_once(struct clerkapi *a, const char *path, const char **body, size_t *len,
    char *err, size_t errsz)
{
	CURLcode	 rc;
	long		 status, left;
	int		 g, wait = -1;

	a->wait = -1;
	left = (long)((a->deadline - num_seconds()) * 1000);
	if (left < API_ONCE_MIN_MS) {
		snprintf(err, errsz, "GET %s: no time left", path);
		return -1;
	}
	if (a->gate != NULL && (g = a->gate(a->gate_arg, &wait, err,
	    errsz)) != 0) {
		if (g == 1) {
			a->wait = bounded(wait);
			snprintf(err, errsz, "GET %s: over clerk_rate_limit, "
			    "not sent", path);
		}
		return -1;
	}
	if ((rc = a->f.easy_setopt(a->h, CURLOPT_TIMEOUT_MS, left)) !=
	    CURLE_OK || (rc = a->f.easy_setopt(a->h, CURLOPT_CONNECTTIMEOUT_MS,
	    left < API_ONCE_CONNECT_MS ? left : (long)API_ONCE_CONNECT_MS)) !=
	    CURLE_OK) {
		snprintf(err, errsz, "GET %s: %s", path,
		    a->f.easy_strerror(rc));
		return -1;
	}
	a->st.requests++;
	rc = api_perform(a, &status);
	if (status == 200 || status == 404)
		return api_answer(a, status, body, len);
	if (status == 429)
		a->st.limited++;
	if (a->retry_after >= 0)
		a->wait = bounded(a->retry_after);
	if (rc != CURLE_OK)
		snprintf(err, errsz, "GET %s: %s", path, api_strerror(a, rc));
	else
		snprintf(err, errsz, "GET %s: HTTP %ld%s", path, status,
		    status == 401 || status == 403 ?
		    ": check clerk_secret_key" : "");
	return -1;
}

/*
 * Whether a failed answer is final for clerkapi_get: the key refused, a
 * transport error no retry mends, or a 4xx. Transport errors, timeouts and
 * 5xx may pass and are tried again.
 */
static int
api_final(const struct clerkapi *a, const char *path, CURLcode rc,
    long status, char *err, size_t errsz)
{
	if (status == 401 || status == 403) {
		snprintf(err, errsz, "GET %s: HTTP %ld: check "
		    "clerk_secret_key", path, status);
		return 1;
	}
	if (rc != CURLE_OK && (rc == CURLE_UNSUPPORTED_PROTOCOL ||
	    rc == CURLE_URL_MALFORMAT || rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_WRITE_ERROR)) {
		snprintf(err, errsz, "GET %s: %s", path, api_strerror(a, rc));
		return 1;
	}
	if (rc == CURLE_OK && status < 500) {
		snprintf(err, errsz, "GET %s: HTTP %ld", path, status);
		return 1;
	}
	return 0;
}

/* clerkapi_get for a backfill: paced, waiting out 429s, retrying 5xx. */
static int
get_paced(struct clerkapi *a, const char *path, const char **body,
    size_t *len, char *err, size_t errsz)
{
	CURLcode	 rc;
	long		 status;
	int		 tries = 0, limited = 0;
	double		 backoff = 0.5;

	for (;;) {
		pace(a);
		rc = api_perform(a, &status);
		if (status == 200 || status == 404)
			return api_answer(a, status, body, len);
		if (status == 429) {
			a->st.limited++;
			if (++limited > API_LIMITED_MAX) {
				snprintf(err, errsz, "GET %s: still 429 after "
				    "%d waits", path, API_LIMITED_MAX);
				return -1;
			}
			pause_for(a->retry_after >= 0 ? (a->retry_after >
			    API_RETRY_AFTER_MAX ? API_RETRY_AFTER_MAX :
			    a->retry_after) : a->window);
			continue;
		}
		if (api_final(a, path, rc, status, err, errsz))
			return -1;
		if (++tries >= API_ATTEMPTS) {
			if (rc != CURLE_OK)
				snprintf(err, errsz, "GET %s: %s (%d tries)",
				    path, api_strerror(a, rc), tries);
			else
				snprintf(err, errsz, "GET %s: HTTP %ld (%d "
				    "tries)", path, status, tries);
			return -1;
		}
		a->st.retried++;
		log_info("GET %s: %s, again in %.1f s", path, rc != CURLE_OK ?
		    a->f.easy_strerror(rc) : "server error", backoff);
		pause_for(backoff);
		backoff = backoff * 2 > API_BACKOFF_MAX ? API_BACKOFF_MAX :
		    backoff * 2;
	}
}

int
clerkapi_get(struct clerkapi *a, const char *path, const char **body,
    size_t *len, char *err, size_t errsz)
{
	CURLcode	 rc;
	size_t		 need = strlen(a->base) + strlen(path) + 1;
	char		*nu;

	if (need > a->urlsz) {
		if ((nu = realloc(a->url, need)) == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		a->url = nu;
		a->urlsz = need;
	}
	snprintf(a->url, a->urlsz, "%s%s", a->base, path);
	if ((rc = a->f.easy_setopt(a->h, CURLOPT_URL, a->url)) != CURLE_OK) {
		snprintf(err, errsz, "GET %s: %s", path,
		    a->f.easy_strerror(rc));
		return -1;
	}
	if (a->once)
		return get_once(a, path, body, len, err, errsz);
	return get_paced(a, path, body, len, err, errsz);
}

void
clerkapi_stats(const struct clerkapi *a, struct clerkapi_stats *out)
{
	*out = a->st;
}

void
clerkapi_close(struct clerkapi *a)
{
	struct curl_slist	*h;

	if (a == NULL)
		return;
	if (a->h != NULL)
		a->f.easy_cleanup(a->h);
	/* libcurl's copy of the Authorization header, wiped too. */
	for (h = a->headers; h != NULL; h = h->next)
		if (h->data != NULL)
			OPENSSL_cleanse(h->data, strlen(h->data));
	if (a->headers != NULL)
		a->f.slist_free_all(a->headers);
	/* libcurl stays loaded: its OpenSSL may have exit handlers. */
	free(a->ring);
	free(a->url);
	free(a->buf);
	free(a);
}

int
clerkapi_not_found(const char *body, size_t len)
{
	struct json_span	 obj, errs, el, code;
	size_t			 pos = 0;
	static const char	 want[] = "\"resource_not_found\"";

	if (json_validate(body, len, NULL) == -1)
		return 0;
	obj = json_start(body, len);
	if (obj.len == 0 || *obj.p != '{' ||
	    !json_member(obj, "errors", &errs) || *errs.p != '[')
		return 0;
	while (json_next(errs, &pos, &el))
		if (*el.p == '{' && json_member(el, "code", &code) &&
		    code.len == sizeof(want) - 1 &&
		    memcmp(code.p, want, code.len) == 0)
			return 1;
	return 0;
}

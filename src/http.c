/*
 * clerksync — http: FastCGI through libfcgi, or plain CGI.
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "http.h"

struct http {
	int		 fastcgi;
	int		 served;	/* CGI: the one request is done */
	FCGX_Request	 req;
};

struct http *
http_open(void)
{
	struct http	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->fastcgi = !FCGX_IsCGI();
	if (h->fastcgi && (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&h->req, 0, 0) != 0)) {
		free(h);
		return NULL;
	}
	return h;
}

int
http_is_fastcgi(const struct http *h)
{
	return h->fastcgi;
}

int
http_accept(struct http *h)
{
	if (!h->fastcgi)
		return h->served++ == 0;
	/* Returns < 0 on SIGTERM (libfcgi's handler) once idle. */
	return FCGX_Accept_r(&h->req) >= 0;
}

const char *
http_param(struct http *h, const char *name)
{
	if (h->fastcgi)
		return FCGX_GetParam(name, h->req.envp);
	/* RFC 3875 4.1: under CGI the request is the environment. */
	return getenv(name);
}

int
http_read(struct http *h, char *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;
	int	 chunk;

	while (got < len) {
		if (h->fastcgi) {
			chunk = len - got > 65536 ? 65536 : (int)(len - got);
			if ((n = FCGX_GetStr(buf + got, chunk,
			    h->req.in)) <= 0)
				return -1;
		} else if ((n = read(STDIN_FILENO, buf + got,
		    len - got)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static int
put(struct http *h, const char *s, size_t len)
{
	ssize_t	 n;

	if (h->fastcgi)
		return FCGX_PutStr(s, (int)len, h->req.out) == (int)len ?
		    0 : -1;
	while (len > 0) {
		if ((n = write(STDOUT_FILENO, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int
http_reply(struct http *h, int status, const char *headers,
    const char *body, size_t len)
{
	char	 head[512];
	int	 n;

	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s\r\n", status, reason(status), len,
	    headers != NULL ? headers : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (put(h, head, (size_t)n) == -1 || put(h, body, len) == -1)
		return -1;
	return 0;
}

void
http_finish(struct http *h)
{
	if (h->fastcgi)
		FCGX_Finish_r(&h->req);
}

void
http_close(struct http *h)
{
	if (h == NULL)
		return;
	if (h->fastcgi)
		FCGX_Free(&h->req, 1);
	free(h);
}

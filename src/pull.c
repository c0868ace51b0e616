/*
 * clerksync — pull: what a pull body is and names. Pure: the fetch
 * and the write are serve.c's (serve_pull).
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "pull.h"

int
pull_is(const char *body, size_t len)
{
	struct json_span	 obj = { body, len }, type;
	static const char	 want[] = "\"clerksync.pull\"";

	while (obj.len > 0 && (*obj.p == ' ' || *obj.p == '\t' ||
	    *obj.p == '\r' || *obj.p == '\n'))
		obj.p++, obj.len--;
	if (obj.len == 0 || *obj.p != '{' ||
	    json_validate(body, len, NULL) == -1)
		return 0;
	return json_member(obj, "type", &type) &&
	    type.len == sizeof(want) - 1 &&
	    memcmp(type.p, want, type.len) == 0;
}

int
pull_id(const char *body, size_t len, char *id, size_t idsz)
{
	struct json_span	 obj, data, v;
	size_t			 n;

	/*
	 * As written: an id is letters, digits and an underscore, which
	 * need no escape, so one that holds an escape is refused.
	 */
	obj = json_start(body, len);
	if (obj.len == 0 || *obj.p != '{' ||
	    !json_member(obj, "data", &data) || *data.p != '{' ||
	    !json_member(data, "id", &v) || v.len < 2 || *v.p != '"')
		return -1;
	n = v.len - 2;
	if (n >= idsz || n > EVENT_ID_MAX || memchr(v.p + 1, '\\', n) != NULL)
		return -1;
	memcpy(id, v.p + 1, n);
	id[n] = '\0';
	return 0;
}

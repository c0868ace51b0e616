/*
 * clerksync — schema: the SQL files of schema/, compiled in (the build
 * generates schema.c, each file split into its statements), so that
 * `migrate` needs only the binary.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_SCHEMA_H
#define CLERKSYNC_SCHEMA_H

#include <stddef.h>

struct schema_file {
	int		 version;	/* NNN of NNN_name.sql */
	const char	*name;
	const char *const *stmts;	/* split at build time; NULL ends */
};

extern const struct schema_file	schema_files[];	/* in version order */
extern const size_t		schema_count;

#endif

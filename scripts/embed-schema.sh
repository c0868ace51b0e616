#!/bin/sh
# Writes a C file holding schema/NNN_name.sql as strings, for migrate.
# usage: embed-schema.sh schema/*.sql > schema.c
set -eu
echo '/* Generated from schema/ by scripts/embed-schema.sh; do not edit. */'
echo '#include "schema.h"'
echo 'const struct schema_file schema_files[] = {'
for f in "$@"; do
	base=$(basename "$f")
	version=$(echo "$base" | sed -n 's/^0*\([0-9][0-9]*\)_.*\.sql$/\1/p')
	[ -n "$version" ] || { echo "$f: name must be NNN_name.sql" >&2; exit 1; }
	printf '\t{ %s, "%s",\n' "$version" "$base"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t    "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo 'const size_t schema_count = sizeof(schema_files) / sizeof(schema_files[0]);'

#!/bin/sh
# Writes a C file holding schema/NNN_name.sql, split into statements, for
# migrate: a statement ends with ';' at the end of a line (the ';' is
# dropped), and lines that start with "--" are comments (left out).
# usage: embed-schema.sh schema/NNN_*.sql > schema.c
set -eu
echo '/* Generated from schema/ by scripts/embed-schema.sh; do not edit. */'
echo '#include <stddef.h>'
echo '#include "schema.h"'
for f in "$@"; do
	base=$(basename "$f")
	version=$(echo "$base" | sed -n 's/^0*\([0-9][0-9]*\)_.*\.sql$/\1/p')
	[ -n "$version" ] || { echo "$f: name must be NNN_name.sql" >&2; exit 1; }
	printf 'static const char *const schema_%s[] = {\n' "$version"
	awk '
	/^[ \t]*--/ { next }
	{
		line = $0
		sub(/\r$/, "", line)
		if (n == 0 && line ~ /^[ \t]*$/)
			next
		gsub(/\\/, "\\\\", line)
		gsub(/"/, "\\\"", line)
		end = line ~ /;[ \t]*$/
		if (end)
			sub(/;[ \t]*$/, "", line)
		printf "%s\"%s%s\"", n ? "\n\t    " : "\t", line, end ? "" : "\\n"
		n++
		if (end) {
			print ","
			n = 0
		}
	}
	END { if (n) { print ""; print "unterminated statement" > "/dev/stderr"; exit 1 } }
	' "$f"
	printf '\tNULL\n};\n'
done
echo 'const struct schema_file schema_files[] = {'
for f in "$@"; do
	base=$(basename "$f")
	version=$(echo "$base" | sed -n 's/^0*\([0-9][0-9]*\)_.*\.sql$/\1/p')
	printf '\t{ %s, "%s", schema_%s },\n' "$version" "$base" "$version"
done
echo '};'
echo 'const size_t schema_count = sizeof(schema_files) / sizeof(schema_files[0]);'

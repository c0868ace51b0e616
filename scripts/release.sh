#!/bin/sh
# Packs the release folder clerksync/ (see README, "Release"): the static
# launcher as clerksync.fcgi, the program and every library it, libcurl
# and Connector/C's plugins load (glibc and its loader included) in lib/,
# .htaccess, clerksync.conf.example, schema/ with clerksync.sql, and
# DEPLOY.txt (the README's deploy section), then the .tar.gz and .sha256.
#
# usage: release.sh VERSION LAUNCHER PROGRAM OUTDIR
set -eu
version=$1 launcher=$2 program=$3 out=$4
cd "$(dirname "$0")/.."

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
plugindir=$(mariadb_config --plugindir 2>/dev/null ||
	echo "/usr/lib/$multiarch/libmariadb3/plugin")
curl=$(ldconfig -p | awk '$1 == "libcurl.so.4" && /x86-64/ { print $NF; exit }')
[ -n "$curl" ] || { echo "release: libcurl.so.4 not found (libcurl4)" >&2; exit 1; }

name=clerksync-$version-linux-x86_64
mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
dir=$stage/clerksync
mkdir -p "$dir/lib/plugin" "$dir/lib/licenses" "$dir/schema"

# Every shared object the program, libcurl and the plugins need, by the
# name the loader asks for (ldd: "soname => path").
objs="$program $curl $(ls "$plugindir"/*.so)"
ldd $objs > "$stage/ldd"
if grep 'not found' "$stage/ldd" >&2; then
	echo "release: a library is missing" >&2
	exit 1
fi
awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' "$stage/ldd" > "$stage/libs"
# The loader itself, and libgcc_s, which glibc loads for thread
# cancellation and backtraces.
echo "ld-linux-x86-64.so.2 $(ldd "$program" | awk '/ld-linux-x86-64/ { print $1 }')" >> "$stage/libs"
echo "libgcc_s.so.1 $(realpath "/lib/$multiarch/libgcc_s.so.1")" >> "$stage/libs"
echo "libcurl.so.4 $curl" >> "$stage/libs"
sort -u "$stage/libs" | while read -r soname path; do
	cp -L "$path" "$dir/lib/$soname"
	# Both spellings: dpkg knows a file by the path its package installed.
	p=$(realpath "$path")
	echo "$p"
	echo "/usr$p"
done > "$stage/paths"
cp "$plugindir"/*.so "$dir/lib/plugin/"
# The Debian package's copyright file travels with its libraries.
dpkg -S $(cat "$stage/paths") "$plugindir" 2>/dev/null |
    sed -n 's/^\([^:,]*\)[:,].*/\1/p' | sort -u | while read -r pkg; do
	[ ! -f "/usr/share/doc/$pkg/copyright" ] ||
	    cp "/usr/share/doc/$pkg/copyright" "$dir/lib/licenses/$pkg"
done

cp "$launcher" "$dir/clerksync.fcgi"
cp "$program" "$dir/lib/clerksync"
strip --strip-debug "$dir/clerksync.fcgi" "$dir/lib/clerksync"

cp htaccess.example "$dir/.htaccess"
cp scripts/clerksync.conf.example "$dir/clerksync.conf.example"
cp schema/[0-9][0-9][0-9]_*.sql "$dir/schema/"
{
	echo "-- clerksync schema, every version in one file (for phpMyAdmin):"
	echo "-- creates the tables or brings older ones up to date, and records"
	echo "-- each version as \`clerksync.fcgi migrate\` does. Safe to run twice."
	for f in schema/[0-9][0-9][0-9]_*.sql; do
		echo
		echo "-- $(basename "$f")"
		cat "$f"
	done
} > "$dir/schema/clerksync.sql"
# The README's own section, so the two cannot disagree.
awk '/^## Deploy on shared hosting/ { on = 1 } on && /^## / && !/Deploy on/ { exit }
    on' README.md > "$dir/DEPLOY.txt"
[ -s "$dir/DEPLOY.txt" ] || { echo "release: no deploy section in README.md" >&2; exit 1; }

# Nothing writable by others (suEXEC), nothing setuid.
find "$dir" -type d -exec chmod 755 {} +
find "$dir" -type f -exec chmod 644 {} +
chmod 755 "$dir/clerksync.fcgi" "$dir/lib/clerksync" \
    "$dir/lib/ld-linux-x86-64.so.2"

mtime=$(git log -1 --format=%ct 2>/dev/null || date +%s)
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$mtime" -cf - clerksync | gzip -n9 > "$stage/$name.tar.gz"
(cd "$stage" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
# Whole files only: a reader never sees half a tarball.
mv -f "$stage/$name.tar.gz" "$out/$name.tar.gz"
mv -f "$stage/$name.tar.gz.sha256" "$out/$name.tar.gz.sha256"
echo "$out/$name.tar.gz"

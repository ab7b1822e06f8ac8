#!/usr/bin/env bash
# tests/consumer/soname/run.sh BUILD_DIR WORK_DIR [CONFIG]
#
# What a user of an installed midge sees, checked end to end:
#   - `cmake --install` lays out libmidge.so -> libmidge.so.1 -> libmidge.so.1.0.0;
#   - the library's SONAME is libmidge.so.1 (the ABI's major version);
#   - `cc app.c $(pkg-config --cflags --libs midge)`, as the README says, gives a program
#     that records NEEDED libmidge.so.1 (not the unversioned development symlink) and
#     runs with LD_LIBRARY_PATH unset against this non-system prefix.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR WORK_DIR [CONFIG]}
work=${2:?usage: run.sh BUILD_DIR WORK_DIR [CONFIG]}
config=${3:-Release}
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
pkg_config=${PKG_CONFIG:-pkg-config}

fail() { echo "consumer_soname: FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
env -u DESTDIR cmake --install "$build" --prefix "$prefix" --config "$config" >/dev/null

libdir=""
for d in "$prefix/lib" "$prefix/lib64" "$prefix"/lib/*-linux-gnu; do
  if [ -e "$d/libmidge.so" ]; then libdir=$d; break; fi
done
[ -n "$libdir" ] || fail "no libmidge.so installed under $prefix"

# The symlink chain.
[ -L "$libdir/libmidge.so" ] || fail "$libdir/libmidge.so is not a symlink"
[ "$(readlink "$libdir/libmidge.so")" = libmidge.so.1 ] ||
  fail "libmidge.so -> $(readlink "$libdir/libmidge.so"), expected libmidge.so.1"
[ -L "$libdir/libmidge.so.1" ] || fail "$libdir/libmidge.so.1 is not a symlink"
real=$(readlink "$libdir/libmidge.so.1")
[[ "$real" =~ ^libmidge\.so\.1\.[0-9]+\.[0-9]+$ ]] ||
  fail "libmidge.so.1 -> $real, expected libmidge.so.1.MINOR.PATCH"
[ -f "$libdir/$real" ] && [ ! -L "$libdir/$real" ] || fail "$libdir/$real is not a file"
echo "installed: libmidge.so -> libmidge.so.1 -> $real"

# The library's SONAME.
soname=$(readelf -d "$libdir/$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libmidge.so.1 ] || fail "SONAME of $real is '${soname}', expected libmidge.so.1"
echo "SONAME: $soname"

# A consumer built exactly as the README says.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$("$pkg_config" --cflags --libs midge)
echo "pkg-config --cflags --libs midge: $flags"
# shellcheck disable=SC2086  # the flags are words, as in the README's command
"$cc" -std=c11 -Wall -Wextra -Werror -o "$work/consumer" "$here/../find_package/main.c" $flags
needed=$(readelf -d "$work/consumer" | sed -n 's/.*(NEEDED).*\[\(libmidge[^]]*\)\]/\1/p')
[ "$needed" = libmidge.so.1 ] || fail "consumer NEEDED '${needed}', expected libmidge.so.1"
echo "consumer NEEDED: $needed"
readelf -d "$work/consumer" | grep -E '\((RPATH|RUNPATH)\)' || true

# It runs without help from the environment.
out=$(env -u LD_LIBRARY_PATH "$work/consumer") || fail "the consumer did not run: $out"
echo "$out"
# And it loaded the installed copy, not some other libmidge.
loaded=$(env -u LD_LIBRARY_PATH LD_TRACE_LOADED_OBJECTS=1 "$work/consumer" |
  sed -n 's/^[[:space:]]*libmidge\.so\.1 => \(.*\) (0x[0-9a-f]*)$/\1/p')
[ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "$libdir/libmidge.so.1")" ] ||
  fail "the consumer loaded '${loaded}', not $libdir/libmidge.so.1"
echo "loaded: $loaded"
echo "consumer_soname: ok"

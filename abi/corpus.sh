# Sourced by abi/check, abi/update and abi/selftest: builds the ABI corpus of a header.
#
# abi_corpus HEADER OUT.abi [WORKDIR]
#   Compiles abi/probe.py's stub of HEADER with -g into a shared library whose SONAME is
#   libmidge.so.<MIDGE_VERSION_MAJOR of HEADER>, and writes its libabigail corpus (abidw)
#   to OUT.abi, without paths or source locations (so the committed baseline does not
#   change with the checkout's place or the header's line numbers).
abi_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

abi_need_tools() {
  local missing=()
  for t in abidw abidiff python3 "${CC:-cc}" nm readelf; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "abi: missing ${missing[*]} (abidw and abidiff are Debian's abigail-tools;" \
         "scripts/prerequisites installs everything)" >&2
    exit 2
  fi
}

abi_major() {
  sed -n 's/^#define MIDGE_VERSION_MAJOR \([0-9][0-9]*\)$/\1/p' "$1"
}

abi_corpus() {
  local header=$1 out=$2 work=${3:-}
  local major
  major=$(abi_major "$header")
  [ -n "$major" ] || { echo "abi: no MIDGE_VERSION_MAJOR in $header" >&2; return 2; }
  [ -n "$work" ] || work=$(mktemp -d)
  mkdir -p "$work/include"
  cp "$header" "$work/include/midge.h"
  python3 "$abi_dir/probe.py" "$work/include/midge.h" >"$work/probe.c"
  "${CC:-cc}" -g -O0 -w -shared -fPIC -I "$work/include" -Wl,-soname,"libmidge.so.$major" \
    -o "$work/libmidge.so.$major" "$work/probe.c"
  abidw --no-corpus-path --no-comp-dir-path --no-show-locs "$work/libmidge.so.$major" >"$out"
}

# The midge_* functions a header declares (the probe's), one per line, sorted.
abi_header_functions() {
  python3 "$abi_dir/probe.py" "$1" | sed -n 's/^.*\b\(midge_[A-Za-z0-9_]*\)(.*) {.*$/\1/p' | sort -u
}

# The midge_* functions a shared library exports, one per line, sorted.
abi_library_functions() {
  nm -D --defined-only "$1" | awk '$2 == "T" && $3 ~ /^midge_/ { sub(/@.*/, "", $3); print $3 }' | sort -u
}

#!/usr/bin/env bash
# tests/cmake/cross_configure.sh <source-dir> <work-dir>
# Configures midge for aarch64 with tests/cmake/aarch64-toolchain.cmake (no build: Rust's
# standard library for aarch64 is not installed on the CI machine) and checks that CMake
# mapped CMAKE_SYSTEM_PROCESSOR to the Rust triple, that the cargo command it will run
# passes --target with the linker environment, and that the libraries are looked for under
# target/<triple>/<profile>. Then the same with an explicit MIDGE_RUST_TARGET and the size
# profile, a native configure (no --target, target/release), the size-abort profile, and an
# unmapped processor (refused).
set -euo pipefail
src=$1 work=$2
cmake=${CMAKE:-cmake}
rm -rf "$work"
mkdir -p "$work"
fail() { echo "cross_configure: $*" >&2; exit 1; }
configure() { # <build-dir> <args...>
  local dir=$1; shift
  "$cmake" -S "$src" -B "$dir" -DMIDGE_BUILD_TESTS=OFF -DMIDGE_BUILD_EXAMPLES=OFF \
    -DMIDGE_CARGO_TARGET_DIR="$work/target" "$@" >"$dir.log" 2>&1 \
    || { cat "$dir.log" >&2; fail "configure $dir failed"; }
}
field() { sed -n "s/^$2=//p" "$1"; }

# 1. aarch64 from the toolchain file.
configure "$work/aarch64" -DCMAKE_TOOLCHAIN_FILE="$src/tests/cmake/aarch64-toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release
f="$work/aarch64/midge-cargo-Release.txt"
[ -f "$f" ] || fail "no $f"
cat "$f"
[ "$(field "$f" triple)" = aarch64-unknown-linux-gnu ] || fail "triple: $(field "$f" triple)"
[ "$(field "$f" libdir)" = "$work/target/aarch64-unknown-linux-gnu/release" ] || fail "libdir: $(field "$f" libdir)"
cmd=$(field "$f" command)
case "$cmd" in *" rustc --lib --crate-type cdylib --crate-type staticlib --profile release "*) ;;
  *) fail "not the C libraries alone with --profile release: $cmd" ;; esac
case "$cmd" in *" --target aarch64-unknown-linux-gnu"*) ;; *) fail "no --target: $cmd" ;; esac
case "$cmd" in *"CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="*) ;; *) fail "no linker: $cmd" ;; esac
case "$cmd" in *"CC_aarch64_unknown_linux_gnu="*) ;; *) fail "no CC_<triple>: $cmd" ;; esac
grep -q "cargo builds for aarch64-unknown-linux-gnu" "$work/aarch64.log" || fail "no status line"

# 2. An explicit triple wins over the mapping; the size profile picks cargo's size profile.
configure "$work/musl" -DCMAKE_TOOLCHAIN_FILE="$src/tests/cmake/aarch64-toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DMIDGE_RUST_TARGET=aarch64-unknown-linux-musl -DMIDGE_SIZE_PROFILE=ON
f="$work/musl/midge-cargo-Release.txt"
cat "$f"
[ "$(field "$f" triple)" = aarch64-unknown-linux-musl ] || fail "explicit triple: $(field "$f" triple)"
[ "$(field "$f" libdir)" = "$work/target/aarch64-unknown-linux-musl/size" ] || fail "libdir: $(field "$f" libdir)"
case "$(field "$f" command)" in *" --profile size "*) ;; *) fail "no --profile size" ;; esac

# 3. Native: no triple, no --target, the libraries in target/release as before.
configure "$work/native" -DCMAKE_BUILD_TYPE=Release
f="$work/native/midge-cargo-Release.txt"
cat "$f"
[ -z "$(field "$f" triple)" ] || fail "native triple: $(field "$f" triple)"
[ "$(field "$f" libdir)" = "$work/target/release" ] || fail "native libdir: $(field "$f" libdir)"
case "$(field "$f" command) " in *" --target "*|*CARGO_TARGET_*) fail "native build passes a target" ;; esac

# 4. The size profile's panic=abort opt-in picks cargo's size-abort profile, and only
#    together with the size profile.
configure "$work/abort" -DCMAKE_BUILD_TYPE=Release -DMIDGE_SIZE_PROFILE=ON -DMIDGE_SIZE_PANIC_ABORT=ON
f="$work/abort/midge-cargo-Release.txt"
cat "$f"
[ "$(field "$f" libdir)" = "$work/target/size-abort" ] || fail "size-abort libdir: $(field "$f" libdir)"
case "$(field "$f" command)" in *" --profile size-abort "*) ;; *) fail "no --profile size-abort" ;; esac
if "$cmake" -S "$src" -B "$work/abort-only" -DMIDGE_BUILD_TESTS=OFF -DMIDGE_BUILD_EXAMPLES=OFF \
    -DMIDGE_SIZE_PANIC_ABORT=ON >"$work/abort-only.log" 2>&1; then
  fail "MIDGE_SIZE_PANIC_ABORT without MIDGE_SIZE_PROFILE configured"
fi

# 5. A processor with no mapping stops the configure with a message naming MIDGE_RUST_TARGET.
printf 'set(CMAKE_SYSTEM_NAME Linux)\nset(CMAKE_SYSTEM_PROCESSOR mips)\n' >"$work/mips.cmake"
if "$cmake" -S "$src" -B "$work/mips" -DMIDGE_BUILD_TESTS=OFF -DMIDGE_BUILD_EXAMPLES=OFF \
    -DCMAKE_TOOLCHAIN_FILE="$work/mips.cmake" >"$work/mips.log" 2>&1; then
  fail "an unmapped processor configured"
fi
grep -q "MIDGE_RUST_TARGET" "$work/mips.log" || { cat "$work/mips.log" >&2; fail "no hint to MIDGE_RUST_TARGET"; }
echo "cross_configure: ok"

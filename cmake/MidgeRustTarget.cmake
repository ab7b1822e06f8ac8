# The Rust target triple cargo builds libmidge for (docs/size.md, "Cross-building").
#
#   include(MidgeRustTarget)
#   midge_rust_target_map(<out-var> <system-name> <processor> [<toolchain-hint>])
#   midge_rust_target(<out-var>)
#
# midge_rust_target_map is pure (no cache, no global state), so tests can call it under
# `cmake -P` (tests/cmake/rust_target_map.cmake): it maps a CMake system name and processor
# (CMAKE_SYSTEM_NAME, CMAKE_SYSTEM_PROCESSOR) to a Rust target triple, or to "" when it
# knows no mapping. <toolchain-hint> is any text naming the C toolchain (the compiler's
# path, CMAKE_C_COMPILER_TARGET, CMAKE_LIBRARY_ARCHITECTURE): "musl" in it selects musl
# libc; for 32-bit ARM, "eabihf" (or "armhf") selects hard float and "eabi" without "hf"
# soft float; with neither, 32-bit ARM is taken as hard float (Debian's armhf, the ABI of
# the ARMv7 gateways we know).
#
# midge_rust_target is what CMakeLists.txt calls: MIDGE_RUST_TARGET when the user set it;
# otherwise, when cross-compiling, the mapping of the toolchain file's CMAKE_SYSTEM_NAME
# and CMAKE_SYSTEM_PROCESSOR (a fatal error when there is none: set MIDGE_RUST_TARGET);
# otherwise "" (a native build: cargo builds for the host, into target/<profile>/).

function(midge_rust_target_map out system processor)
  set(hint "")
  if(ARGC GREATER 3)
    string(TOLOWER "${ARGV3}" hint)
  endif()
  set(${out} "" PARENT_SCOPE)
  if(NOT system STREQUAL "Linux")
    return()
  endif()
  set(libc gnu)
  if(hint MATCHES "musl")
    set(libc musl)
  endif()
  string(TOLOWER "${processor}" p)

  if(p MATCHES "^(aarch64|arm64|aarch64_be)$")
    if(p STREQUAL "aarch64_be")
      set(triple "aarch64_be-unknown-linux-${libc}")
    else()
      set(triple "aarch64-unknown-linux-${libc}")
    endif()
  elseif(p MATCHES "^(x86_64|amd64|x64)$")
    set(triple "x86_64-unknown-linux-${libc}")
  elseif(p MATCHES "^(i[3-6]86|x86)$")
    set(triple "i686-unknown-linux-${libc}")
  elseif(p MATCHES "^riscv64")
    set(triple "riscv64gc-unknown-linux-${libc}")
  elseif(p MATCHES "^arm")
    # The float ABI: hard unless the toolchain says soft ("gnueabi"/"musleabi", no "hf").
    set(abi "eabihf")
    if(hint MATCHES "eabi" AND NOT hint MATCHES "eabihf" AND NOT hint MATCHES "armhf")
      set(abi "eabi")
    endif()
    if(p MATCHES "^armv7")                  # armv7, armv7l, armv7-a, armv7hl, ...
      set(triple "armv7-unknown-linux-${libc}${abi}")
    elseif(p MATCHES "^armv6")              # Rust's arm-* targets are ARMv6
      set(triple "arm-unknown-linux-${libc}${abi}")
    elseif(p MATCHES "^(arm|armhf|armel)$")
      if(p STREQUAL "armel")
        set(abi "eabi")
      elseif(p STREQUAL "armhf")
        set(abi "eabihf")
      endif()
      # Plain "arm" with hard float is, in practice, ARMv7 (Debian armhf's baseline);
      # soft float is left to the ARMv6 baseline, which runs on more cores.
      if(abi STREQUAL "eabihf")
        set(triple "armv7-unknown-linux-${libc}${abi}")
      else()
        set(triple "arm-unknown-linux-${libc}${abi}")
      endif()
    else()
      return()
    endif()
  else()
    return()
  endif()
  set(${out} "${triple}" PARENT_SCOPE)
endfunction()

function(midge_rust_target out)
  if(MIDGE_RUST_TARGET)
    set(${out} "${MIDGE_RUST_TARGET}" PARENT_SCOPE)
    return()
  endif()
  if(NOT CMAKE_CROSSCOMPILING)
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  midge_rust_target_map(triple "${CMAKE_SYSTEM_NAME}" "${CMAKE_SYSTEM_PROCESSOR}"
    "${CMAKE_C_COMPILER} ${CMAKE_C_COMPILER_TARGET} ${CMAKE_LIBRARY_ARCHITECTURE}")
  if(NOT triple)
    message(FATAL_ERROR "midge: no Rust target triple known for CMAKE_SYSTEM_NAME "
      "'${CMAKE_SYSTEM_NAME}', CMAKE_SYSTEM_PROCESSOR '${CMAKE_SYSTEM_PROCESSOR}': "
      "set -DMIDGE_RUST_TARGET=<triple> (rustc --print target-list)")
  endif()
  set(${out} "${triple}" PARENT_SCOPE)
endfunction()

# The environment cargo needs to link and build C code for <triple> with the CMake C
# toolchain: the linker (CARGO_TARGET_<TRIPLE>_LINKER) and the cc crate's CC_<triple> and
# AR_<triple>. Sets <out> to a list of NAME=VALUE.
function(midge_rust_target_env out triple c_compiler ar)
  string(TOUPPER "${triple}" upper)
  string(REPLACE "-" "_" upper "${upper}")
  string(REPLACE "-" "_" lower "${triple}")
  set(env "CARGO_TARGET_${upper}_LINKER=${c_compiler}" "CC_${lower}=${c_compiler}")
  if(ar)
    list(APPEND env "AR_${lower}=${ar}")
  endif()
  set(${out} "${env}" PARENT_SCOPE)
endfunction()

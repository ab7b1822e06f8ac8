# cmake -P tests/cmake/rust_target_map.cmake: unit test of cmake/MidgeRustTarget.cmake's
# mapping from CMAKE_SYSTEM_NAME / CMAKE_SYSTEM_PROCESSOR (+ a toolchain hint) to the Rust
# target triple cargo builds for (ctest rust_target_map).
cmake_minimum_required(VERSION 3.16)
include("${CMAKE_CURRENT_LIST_DIR}/../../cmake/MidgeRustTarget.cmake")

set(failures 0)
function(expect system processor hint want)
  midge_rust_target_map(got "${system}" "${processor}" "${hint}")
  if(NOT got STREQUAL want)
    message(SEND_ERROR "${system}/${processor} (hint '${hint}'): got '${got}', want '${want}'")
  else()
    message(STATUS "${system}/${processor} (hint '${hint}') -> '${got}'")
  endif()
endfunction()

# 64-bit ARM gateways.
expect(Linux aarch64 "" aarch64-unknown-linux-gnu)
expect(Linux arm64 "" aarch64-unknown-linux-gnu)
expect(Linux aarch64 "/usr/bin/aarch64-linux-gnu-gcc" aarch64-unknown-linux-gnu)
expect(Linux aarch64 "/opt/x/bin/aarch64-linux-musl-gcc" aarch64-unknown-linux-musl)
# 32-bit ARM: hard float unless the toolchain says soft.
expect(Linux armv7 "" armv7-unknown-linux-gnueabihf)
expect(Linux armv7l "" armv7-unknown-linux-gnueabihf)
expect(Linux armv7-a "arm-linux-gnueabihf-gcc" armv7-unknown-linux-gnueabihf)
expect(Linux arm "/usr/bin/arm-linux-gnueabihf-gcc" armv7-unknown-linux-gnueabihf)
expect(Linux arm "" armv7-unknown-linux-gnueabihf)
expect(Linux armhf "" armv7-unknown-linux-gnueabihf)
expect(Linux armv7l "armv7l-linux-musleabihf-gcc" armv7-unknown-linux-musleabihf)
expect(Linux armv7 "/usr/bin/arm-linux-gnueabi-gcc" armv7-unknown-linux-gnueabi)
expect(Linux arm "/usr/bin/arm-linux-gnueabi-gcc" arm-unknown-linux-gnueabi)
expect(Linux armel "" arm-unknown-linux-gnueabi)
expect(Linux armv6l "" arm-unknown-linux-gnueabihf)
expect(Linux ARMV7L "" armv7-unknown-linux-gnueabihf)
# x86 and RISC-V.
expect(Linux x86_64 "" x86_64-unknown-linux-gnu)
expect(Linux AMD64 "" x86_64-unknown-linux-gnu)
expect(Linux x86_64 "x86_64-linux-musl-gcc" x86_64-unknown-linux-musl)
expect(Linux i686 "" i686-unknown-linux-gnu)
expect(Linux riscv64 "" riscv64gc-unknown-linux-gnu)
# Unknown: no mapping (CMakeLists.txt then asks for MIDGE_RUST_TARGET).
expect(Linux mips "" "")
expect(Linux sparc64 "" "")
expect(Windows x86_64 "" "")
expect(Darwin arm64 "" "")

# The environment that makes cargo link with the CMake toolchain.
midge_rust_target_env(env armv7-unknown-linux-gnueabihf /x/arm-linux-gnueabihf-gcc /x/arm-linux-gnueabihf-ar)
set(want "CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=/x/arm-linux-gnueabihf-gcc;CC_armv7_unknown_linux_gnueabihf=/x/arm-linux-gnueabihf-gcc;AR_armv7_unknown_linux_gnueabihf=/x/arm-linux-gnueabihf-ar")
if(NOT env STREQUAL want)
  message(SEND_ERROR "midge_rust_target_env: got '${env}', want '${want}'")
endif()

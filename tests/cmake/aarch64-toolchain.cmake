# A toolchain file for an aarch64 Linux gateway, as a user would write it (docs/size.md).
# ctest cross_configure_aarch64 configures midge with it, without building, and checks the
# Rust target triple and the cargo command CMake derives from it. The C compiler is the
# host's unless MIDGE_TEST_CROSS_CC names a real cross compiler: configuring only compiles
# and links CMake's probe programs, it never runs them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
if(DEFINED ENV{MIDGE_TEST_CROSS_CC})
  set(CMAKE_C_COMPILER "$ENV{MIDGE_TEST_CROSS_CC}")
  set(CMAKE_CXX_COMPILER "$ENV{MIDGE_TEST_CROSS_CXX}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# toolchain-aarch64.cmake: cross-build cio for aarch64 Linux with Debian's cross gcc
# (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross), and run what is built under qemu-user, so
# that ctest exercises the aarch64 context switch on an x86_64 machine. .ci/aarch64.sh uses it:
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CIO_CROSS_TRIPLE aarch64-linux-gnu CACHE STRING "Cross toolchain prefix")
set(CMAKE_C_COMPILER ${CIO_CROSS_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${CIO_CROSS_TRIPLE}-gcc)

# Headers and libraries from the cross sysroot only; programs (cmake's helpers) from the host.
set(CIO_CROSS_SYSROOT /usr/${CIO_CROSS_TRIPLE} CACHE PATH "Target root for libraries and qemu -L")
set(CMAKE_FIND_ROOT_PATH ${CIO_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and add_custom_command) run target programs through qemu-user; -L points qemu at
# the target's dynamic loader and libc.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
    set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;${CIO_CROSS_SYSROOT})
endif()

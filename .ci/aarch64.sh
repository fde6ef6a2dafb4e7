#!/usr/bin/env bash
# .ci/aarch64.sh: cross-build cio for aarch64 and run the runtime tests (label "rt": context
# switch, stacks, coroutines) under qemu-user. Installs the cross compiler and qemu when they
# are missing and we are root. Exits non-zero if anything fails to build or a test fails.
# Usage: .ci/aarch64.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/aarch64
scripts/install-deps.sh build cross

cmake -S . -B "$build" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
    -DCMAKE_CROSSCOMPILING_EMULATOR="qemu-aarch64;-L;/usr/aarch64-linux-gnu" \
    -DCMAKE_BUILD_TYPE=Debug \
    -DCIO_WERROR="${CIO_WERROR:-ON}" \
    -DCIO_BUILD_BENCH=OFF \
    -DCIO_BUILD_EXAMPLES=OFF \
    -DCIO_BUILD_TOOLS=OFF
cmake --build "$build"
# CIO_QEMU tells the tests they run under qemu-user (they also notice it by themselves), so
# that checks qemu cannot support (RSS figures, mincore on PROT_NONE pages) are left out.
CIO_QEMU=1 ctest --test-dir "$build" -L rt --output-on-failure "$@"

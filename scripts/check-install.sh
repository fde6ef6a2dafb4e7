#!/usr/bin/env bash
# check-install.sh: install the built library into a temporary prefix, then build a tiny
# out-of-tree program against it twice — with CMake's find_package(cio) and with
# pkg-config — link it statically and dynamically, and run both. The program polls once and
# goes through the socket core's converting macros on a UDP socket.
# Usage: check-install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

mkdir -p "$tmp/user"
cat >"$tmp/user/main.c" <<'C'
#include <cio.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    cio_poll *poll;
    cio_events *events;
    if (strcmp(cio_version(), CIO_VERSION_STRING) != 0)
        return 1;
    if (cio_poll_new(&poll, NULL) < 0 || cio_events_new(&events, 8) < 0)
        return 1;
    int n = cio_poll_wait(poll, events, 0);
    printf("cio %s: %s backend, %d events\n", cio_version(), cio_backend_name(cio_poll_backend(poll)), n);
    cio_events_free(events);
    cio_poll_free(poll);
    /* The socket core's converting macros (_Generic), as an installed consumer compiles them. */
    cio_udp_socket *udp;
    cio_addr addr;
    if (cio_addr_parse(&addr, "127.0.0.1:0") < 0 || cio_udp_socket_new(&udp, &addr) < 0)
        return 1;
    int ok = cio_socket_local_addr(udp, &addr) == 0 && cio_addr_port(&addr) > 0 &&
             cio_dgram_try_recv(udp, NULL, 0) == -EAGAIN;
    cio_socket_close(udp);
    return n == 0 && ok ? 0 : 1;
}
C
cat >"$tmp/user/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(cio_user C)
find_package(cio 0.1 REQUIRED)
add_executable(user_shared main.c)
target_link_libraries(user_shared PRIVATE cio::cio)
add_executable(user_static main.c)
target_link_libraries(user_static PRIVATE cio::cio_static)
CM
cmake -S "$tmp/user" -B "$tmp/user/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/user/build" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$tmp/user/build/user_shared"
"$tmp/user/build/user_static"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 "$tmp/user/main.c" -o "$tmp/user/pc" $(pkg-config --cflags --libs cio)
LD_LIBRARY_PATH="$prefix/lib" "$tmp/user/pc"
# The archive and what it needs (Libs.private: -luring where the io_uring backend is built).
private_libs=$(pkg-config --static --libs cio | tr ' ' '\n' | grep -v -e '^-lcio$' -e '^-L' | tr '\n' ' ')
cc -std=c11 "$tmp/user/main.c" -o "$tmp/user/pc_static" $(pkg-config --cflags cio) \
    "$prefix/lib/libcio.a" $private_libs
"$tmp/user/pc_static"
# Only cio_ names are exported from the shared library.
bad=$(nm -D --defined-only "$prefix/lib/libcio.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^cio_' | grep -v '^CIO_' || true)
if [[ -n "$bad" ]]; then
    echo "check-install: unexpected exported symbols: $bad" >&2
    exit 1
fi
echo "check-install: find_package and pkg-config builds work"

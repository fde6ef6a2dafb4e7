#!/usr/bin/env bash
# check-install.sh: the README's install recipes, run as written. In a copy of the source
# tree, the README's library-only build (block "<!-- recipe: library -->") runs with only a C
# compiler, CMake and a build tool on the PATH, builds nothing but the library and installs
# no program; then the README's consumer recipe (block "<!-- recipe: consumer -->") builds a
# small program against the installed prefix with pkg-config — shared with an rpath, and
# static — and runs both. Both blocks have /opt/cio replaced by a temporary prefix. Also
# checked: the same program without the rpath does not start (the README says why) and does
# with LD_LIBRARY_PATH; a fully static build; find_package(cio) with both targets; a parent
# project that adds cio with add_subdirectory gets the library only; the test build's own
# install puts no program in bin/ unless the "tools" component is asked for; and the shared
# library exports only cio_ names.
# Usage: check-install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() {
    echo "check-install: $*" >&2
    exit 1
}

# The sh block that follows "<!-- recipe: NAME -->" in the README, /opt/cio made $prefix.
recipe() {
    local text
    text=$(awk -v m="<!-- recipe: $1 -->" '
        $0 == m {found=1; next}
        found && /^```sh/ {inblock=1; next}
        inblock && /^```/ {exit}
        inblock {print}' "$src/README.md")
    [[ -n "$text" ]] || fail "no '<!-- recipe: $1 -->' sh block in README.md"
    printf '%s\n' "${text//\/opt\/cio/$prefix}"
}

# ---- the library alone, with nothing but a compiler, CMake and a build tool ----
mkdir -p "$tmp/src" "$tmp/bin"
tar -C "$src" --exclude=./build --exclude=./.git -cf - . | tar -C "$tmp/src" -xf -
for tool in cmake ninja make cc gcc as ld ar ranlib; do
    path=$(command -v "$tool") || continue
    ln -s "$path" "$tmp/bin/$tool"
done
recipe library >"$tmp/library.sh"
(cd "$tmp/src" && env -i HOME="$tmp" PATH="$tmp/bin" CMAKE_GENERATOR=Ninja \
    CMAKE_BUILD_PARALLEL_LEVEL=2 /bin/bash -euo pipefail "$tmp/library.sh") >"$tmp/library.log" 2>&1 ||
    { tail -30 "$tmp/library.log" >&2; fail "the README's library-only recipe failed"; }
# Only the two libraries were linked, and the install holds no program.
others=$(find "$tmp/src/build" -type f -perm -u+x ! -path '*/CMakeFiles/*' ! -name 'libcio.so.*' |
    tr '\n' ' ')
[[ -z "$others" ]] || fail "the library-only build linked more than libcio.so: $others"
[[ -f "$tmp/src/build/libcio.a" ]] || fail "the library-only build made no libcio.a"
[[ ! -e "$prefix/bin" ]] || fail "installing the library put programs in bin/: $(ls "$prefix/bin")"
for f in include/cio.h include/cio/version.h lib/libcio.a lib/pkgconfig/cio.pc \
    lib/pkgconfig/cio-static.pc lib/cmake/cio/cioConfig.cmake; do
    [[ -e "$prefix/$f" ]] || fail "$f is not installed"
done

# ---- a program built against the install ----
cat >"$tmp/app.c" <<'C'
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
recipe consumer >"$tmp/consumer.sh"
(cd "$tmp" && env -u LD_LIBRARY_PATH /bin/bash -euo pipefail "$tmp/consumer.sh") ||
    fail "the README's consumer recipe failed"
[[ -x "$tmp/app" && -x "$tmp/app-static" ]] || fail "the consumer recipe did not make app and app-static"
# The static program does not load libcio.so; the shared one does, found through its rpath.
if readelf -d "$tmp/app-static" | grep -q 'NEEDED.*libcio'; then
    fail "app-static needs libcio.so"
fi
readelf -d "$tmp/app" | grep -q 'NEEDED.*libcio\.so\.0' || fail "app does not load libcio.so.0"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# Without an rpath the loader does not find libcio.so.0 (README: "Without the rpath...")...
cc "$tmp/app.c" -o "$tmp/app-norpath" $(pkg-config --cflags --libs cio)
if env -u LD_LIBRARY_PATH "$tmp/app-norpath" 2>"$tmp/norpath.err" >/dev/null; then
    fail "a program linked without an rpath started: is $prefix/lib in the loader's path?"
fi
grep -q 'libcio.so.0: cannot open shared object file' "$tmp/norpath.err" ||
    fail "unexpected failure without rpath: $(cat "$tmp/norpath.err")"
# ... and LD_LIBRARY_PATH is the other way to point it there.
LD_LIBRARY_PATH=$prefix/lib "$tmp/app-norpath" >/dev/null
# A fully static program (libc too). glibc's linker warning about getaddrinfo is expected.
cc -static "$tmp/app.c" -o "$tmp/app-full-static" $(pkg-config --static --cflags --libs cio) \
    2>"$tmp/static.err" || { cat "$tmp/static.err" >&2; fail "the fully static link failed"; }
readelf -l "$tmp/app-full-static" | grep -q INTERP && fail "app-full-static is not static"
"$tmp/app-full-static" >/dev/null

# ---- CMake: find_package(cio) from an installed prefix, add_subdirectory from source ----
mkdir -p "$tmp/user"
cp "$tmp/app.c" "$tmp/user/main.c"
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
env -u LD_LIBRARY_PATH "$tmp/user/build/user_shared" >/dev/null # CMake's build-tree rpath
"$tmp/user/build/user_static" >/dev/null

mkdir -p "$tmp/parent"
cat >"$tmp/parent/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(cio_parent C)
add_subdirectory("$tmp/src" cio)
CM
cmake -S "$tmp/parent" -B "$tmp/parent/build" -G Ninja >/dev/null
for target in cio cio_static; do
    grep -q "^build $target:" "$tmp/parent/build/build.ninja" || fail "add_subdirectory: no $target target"
done
if grep -qE '^build (cio-echo|cio_harness|readme_echo|epoll_server):' "$tmp/parent/build/build.ninja"; then
    fail "add_subdirectory(cio) builds more than the library"
fi

# ---- the test build's own install: no program in bin/ unless asked for ----
cmake --install "$build" --prefix "$tmp/all" >/dev/null
[[ ! -e "$tmp/all/bin" ]] || fail "cmake --install put programs in bin/: $(ls "$tmp/all/bin")"
if [[ -f "$build/tools/cio-echo" ]]; then
    cmake --install "$build" --prefix "$tmp/tools" --component tools >/dev/null
    for tool in "$build"/tools/cio-*; do
        name=$(basename "$tool")
        [[ -x "$tmp/tools/bin/$name" ]] || fail "--component tools did not install $name"
        "$tmp/tools/bin/$name" --help >/dev/null || fail "installed $name --help failed"
    done
fi

# Only cio_ names are exported from the shared library.
bad=$(nm -D --defined-only "$prefix/lib/libcio.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^cio_' | grep -v '^CIO_' || true)
[[ -z "$bad" ]] || fail "unexpected exported symbols: $bad"
# The man pages: every generated page installed under share/man, found by name; a tool's
# page goes with it (the tools component).
if [[ -f $build/man/.stamp ]]; then
    for sec in 3 7; do
        built=$(find "$build/man/man$sec" -name "*.$sec" | wc -l)
        installed=$(find "$tmp/all/share/man/man$sec" -name "*.$sec" 2>/dev/null | wc -l)
        [[ $built -ne 0 && $installed -eq $built ]] ||
            fail "$installed of $built section-$sec pages installed"
    done
    for tool in "$tmp"/tools/bin/cio-*; do
        [[ -e $tool ]] || continue
        page=$tmp/tools/share/man/man1/$(basename "$tool").1
        [[ -f $page ]] || fail "no $page"
    done
    if command -v man >/dev/null && ! man -M "$tmp/all/share/man" -w cio_poll_new cio >/dev/null; then
        fail "man -M $tmp/all/share/man does not find cio_poll_new(3), cio(7)"
    fi
fi
echo "check-install: README recipes (library only; pkg-config shared with rpath and static)," \
    "find_package and add_subdirectory work, man pages installed"

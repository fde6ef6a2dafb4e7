#!/usr/bin/env bash
# check-headers.sh: each public header compiles alone, as C11 without _GNU_SOURCE, pedantic,
# with gcc and clang. Usage: check-headers.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    for h in "$src"/include/cio.h "$src"/include/cio/*.h; do
        rel=${h#"$src"/include/}
        printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$rel" "$rel" >"$tmp/t.c"
        $cc -std=c11 -Wall -Wextra -Wpedantic -Werror -Wstrict-prototypes -Wundef \
            -I"$src/include" -I"$build/include" -c "$tmp/t.c" -o "$tmp/t.o" ||
            { echo "check-headers: $rel does not compile alone with $cc" >&2; exit 1; }
        n=$((n + 1))
    done
done
echo "check-headers: $n header compilations passed"

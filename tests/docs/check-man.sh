#!/usr/bin/env bash
# check-man.sh: the man pages are complete, current and clean.
# Usage: check-man.sh pages SOURCE_DIR BUILD_DIR
#          One section-3 page per exported function: the CIO_EXPORT prototypes of
#          include/cio/*.h, the cio_ functions libcio.so exports and the build's man3 pages are
#          the same set. scripts/gen-man.py --check regenerates every page and fails on any
#          warning (a doc block missing or malformed, a tool without a page, a reference to a
#          page that does not exist); the build's pages must equal what it generates.
#        check-man.sh lint SOURCE_DIR BUILD_DIR
#          Every page through groff -ww -z -man (groff's default device), and through
#          man -l on an 80-column terminal with groff's warnings on (groff -Tutf8 at 80
#          columns where man-db is missing): any warning fails.
# Exit 77 (skipped) when a tool the check needs is missing.
set -euo pipefail
mode=$1
src=$2
build=$3
man=$build/man
fail=0
err() {
    echo "check-man: $*" >&2
    fail=1
}

if [[ ! -f $man/.stamp ]]; then
    echo "check-man: no pages in $man: build first (cmake --build)" >&2
    exit 1
fi

case $mode in
pages)
    command -v python3 >/dev/null || { echo "check-man: skipped: no python3"; exit 77; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT

    # 1. The three sets. The prototypes are read here with a plain pattern, not through the
    #    generator, so a prototype the generator fails to see still counts.
    cat "$src"/include/cio/*.h | tr '\n' ' ' | grep -o 'CIO_EXPORT [^;(]*(' |
        grep -o 'cio_[A-Za-z0-9_]*[[:space:]]*($' | tr -d ' (' | sort >"$tmp/declared"
    lib=$build/libcio.so
    [[ -f $lib ]] || { err "no $lib"; exit 1; }
    nm -D --defined-only "$lib" | awk '$2 == "T" && $3 ~ /^cio_/ {sub(/@.*/, "", $3); print $3}' |
        sort >"$tmp/exported"
    find "$man/man3" -name '*.3' -printf '%f\n' | sed 's/\.3$//' | sort >"$tmp/pages"
    n=$(wc -l <"$tmp/declared")
    echo "check-man: $n declared, $(wc -l <"$tmp/exported") exported," \
        "$(wc -l <"$tmp/pages") section-3 pages"
    [[ $n -gt 0 ]] || err "no CIO_EXPORT prototype found in $src/include/cio"
    if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/d1"; then
        err "declared (-) and exported by libcio.so (+) differ:"
        grep "^[-+]cio" "$tmp/d1" >&2 || true
    fi
    if ! diff -u "$tmp/exported" "$tmp/pages" >"$tmp/d2"; then
        err "exported (-) and section-3 pages (+) differ:"
        grep "^[-+]cio" "$tmp/d2" >&2 || true
    fi

    # 2. A fresh generation: no warning, and the same pages as the build's.
    version=$(sed -n 's/^project(cio VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
    if ! python3 "$src/scripts/gen-man.py" --check --src "$src" --version "$version" \
        --out "$tmp/man" >"$tmp/gen.log" 2>&1; then
        err "scripts/gen-man.py --check failed:"
        cat "$tmp/gen.log" >&2
    fi
    if ! diff -r -q -x warnings.txt -x .stamp "$man" "$tmp/man" >"$tmp/d3"; then
        err "the build's pages are stale (rebuild): $(cat "$tmp/d3")"
    fi
    # 3. Every tool built from tools/ has its section-1 page.
    for dir in "$src"/tools/*/; do
        name=$(basename "$dir")
        [[ $name == common ]] && continue
        compgen -G "$dir*.c" >/dev/null || continue
        [[ -f $man/man1/$name.1 ]] || err "tools/$name has no page $name(1)"
    done
    ;;
lint)
    if ! command -v groff >/dev/null; then
        echo "check-man: skipped: no groff (scripts/install-deps.sh test installs it)"
        exit 77
    fi
    # shellcheck disable=SC2317 # lint_one runs in the xargs children
    lint_one() { # page: the complaints, if any, of groff and of man -l
        local out
        out=$(groff -ww -z -man "$1" 2>&1) || out="groff failed: $out"
        [[ -z $out ]] || echo "${1##*/} (groff -ww -z -man): $out"
        if command -v man >/dev/null; then
            out=$(MANWIDTH=80 man --warnings=w -l "$1" 2>&1 >/dev/null) || out="man failed: $out"
            [[ -z $out ]] || echo "${1##*/} (MANWIDTH=80 man --warnings=w -l): $out"
        else # what man -l runs, on an 80-column terminal
            out=$(groff -ww -z -man -Tutf8 -rLL=80n -rLT=80n "$1" 2>&1) || out="groff failed: $out"
            [[ -z $out ]] || echo "${1##*/} (groff -ww -z -man -Tutf8 -rLL=80n): $out"
        fi
    }
    export -f lint_one
    pages=$(find "$man" -name '*.[137]' | wc -l)
    [[ $pages -gt 0 ]] || err "no page to check in $man"
    # shellcheck disable=SC2016 # the children expand "$@"
    complaints=$(find "$man" -name '*.[137]' -print0 | xargs -0 -n 16 -P 2 bash -c \
        'for p in "$@"; do lint_one "$p"; done' lint)
    if [[ -n $complaints ]]; then
        err "warnings:"$'\n'"$complaints"
    else
        echo "check-man: $pages pages clean under groff -ww and man -l"
    fi
    ;;
*)
    echo "usage: check-man.sh pages|lint SOURCE_DIR BUILD_DIR" >&2
    exit 2
    ;;
esac
exit $fail

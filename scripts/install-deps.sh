#!/usr/bin/env bash
# install-deps.sh: install the Debian packages a make target needs, only those missing.
# Usage: scripts/install-deps.sh GROUP...   (groups: build test bench cross coverage)
# As root it runs apt-get (update once, then install); otherwise it names what is missing.
set -euo pipefail

declare -A groups=(
    [build]="cmake ninja-build gcc make pkg-config python3 liburing-dev"
    [test]="clang clang-format libclang-rt-14-dev cppcheck valgrind curl wrk nghttp2-client groff-base man-db"
    [cross]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
    [coverage]="gcovr"
    [bench]="libuv1-dev libevent-dev wrk gnuplot-nox librust-tokio-dev librust-memchr-dev strace linux-perf python3 valgrind"
)

want=()
for g in "$@"; do
    [[ -n "${groups[$g]+x}" ]] || { echo "install-deps: unknown group '$g'" >&2; exit 2; }
    for p in ${groups[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/cio-apt.log 2>&1; then
    apt-get update -q >>/tmp/cio-apt.log 2>&1
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/cio-apt.log 2>&1 || {
        tail -20 /tmp/cio-apt.log >&2
        exit 1
    }
fi

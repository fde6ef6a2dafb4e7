#!/usr/bin/env bash
# counts.sh: exact counts per operation (part of `make bench`; alone: `make bench-counts`).
# Runs the echo and HTTP servers of cio, the hand-written epoll floor and libuv with a fixed
# number of operations after a fixed warm-up, and counts what the server executes for them:
# user-space instructions and atomic instructions (callgrind, switched on for exactly that
# window) and system calls (perf stat, or strace, for the same window of a native run).
# Prints a Markdown table and writes bench/results/counts.md and counts.json.
# See bench/README.md ("Exact counts per operation") for the method.
#
# Usage: bench/counts.sh [BUILD_DIR] [options of bench/counts/counts.py]
#   BUILD_DIR   a built tree to count, used as it is (e.g. one built from a later commit:
#               it needs bench/peers/{epoll,libuv}_server and tools/cio-{echo,http-hello}).
#               Without it: build/bench, configured and built like bench/run.sh does
#               (Release) unless SKIP_BUILD=1.
#   --servers epoll,libuv,cio  --workloads echo-c100,http,http-p16  --ops N  --warmup-ops N
#   --reps N  --connections N  --out DIR  --no-syscalls   (see counts.py --help)
# Environment: BUILD_DIR, SKIP_BUILD=1, OUT (default bench/results), SERVERS, WORKLOADS,
# OPS (default 50000), WARMUP_OPS (default 10000), COUNTS_REPS (callgrind runs per cell,
# default 3), QUICK=1 (8000 operations, one run each; results go to
# BUILD_DIR/bench-results-quick unless OUT is set).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

explicit=0
if [[ $# -gt 0 && "$1" != -* ]]; then
    build=$1
    explicit=1
    shift
else
    build=${BUILD_DIR:-$root/build/bench}
    [[ -n "${BUILD_DIR:-}" ]] && explicit=1
fi
case $build in /*) ;; *) build=$PWD/$build ;; esac

for tool in valgrind vgdb objdump cc python3; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "counts: $tool is missing (Debian: scripts/install-deps.sh bench)" >&2; exit 1; }
done

if [[ $explicit == 0 && "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "counts: building $build (Release)" >&2
    mkdir -p "$build"
    gen=()
    [[ -f "$build/CMakeCache.txt" ]] || gen=(-G Ninja)
    cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCIO_BUILD_TESTS=OFF \
        -DCIO_BUILD_EXAMPLES=ON -DCIO_BUILD_TOOLS=ON -DCIO_BUILD_BENCH=ON >"$build/counts-cmake.log" 2>&1 ||
        { tail -20 "$build/counts-cmake.log" >&2; echo "counts: cmake failed" >&2; exit 1; }
    if ! cmake --build "$build" -- -k 0 >"$build/counts-build.log" 2>&1; then
        grep -E '^FAILED|error:' "$build/counts-build.log" | head -20 >&2 || true
        echo "counts: some targets failed to build (see $build/counts-build.log)" >&2
    fi
fi
[[ -d "$build" ]] || { echo "counts: no build tree at $build" >&2; exit 1; }

# The client is built from this checkout, not taken from the tree under test, so the load
# stays the same when a build of another commit is counted.
work=$(mktemp -d "${TMPDIR:-/tmp}/cio-counts.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -o "$work/counts_client" "$here/counts/counts_client.c"

out=${OUT:-$root/bench/results}
args=(--build "$build" --client "$work/counts_client")
if [[ "${QUICK:-0}" == 1 ]]; then
    # a smoke check (as bench/run.sh's QUICK=1): fewer operations, results beside the build
    out=${OUT:-$build/bench-results-quick}
    args+=(--ops "${OPS:-8000}" --warmup-ops "${WARMUP_OPS:-1600}" --reps 1 --sys-reps 1)
fi
args+=(--out "$out")
[[ -n "${SERVERS:-}" ]] && args+=(--servers "$SERVERS")
[[ -n "${WORKLOADS:-}" ]] && args+=(--workloads "$WORKLOADS")
[[ -n "${OPS:-}" ]] && args+=(--ops "$OPS")
[[ -n "${WARMUP_OPS:-}" ]] && args+=(--warmup-ops "$WARMUP_OPS")
[[ -n "${COUNTS_REPS:-}" ]] && args+=(--reps "$COUNTS_REPS")

# In the background so that SIGINT/SIGTERM reach it at once; it kills what it started.
python3 "$here/counts/counts.py" "${args[@]}" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM HUP
rc=0
wait "$pid" || rc=$?
while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" || rc=$?
done
exit "$rc"

#!/usr/bin/env bash
# run.sh: `make bench` — cio's side-by-side benchmark. Builds an optimised (Release) tree with
# the cio tools, the C peers and the micro benchmarks, builds the tokio peer, then runs
# bench/harness.py, which prints the results table and the targets and writes
# bench/results/{results.md,results.csv,runs.csv,syscalls.csv,ratios.png}.
# See bench/README.md for what each column means.
#
# Environment (all optional):
#   REPS=N          repetitions per cell, interleaved across servers (default 5; use 10 for
#                   the CPU-per-operation figures the targets quote)
#   QUICK=1         smoke check: 1 repetition, 2 s runs; results go to
#                   $BUILD_DIR/bench-results-quick unless OUT is set
#   DURATION=S      measured seconds per run (default 5); WARMUP=S before it (default 1)
#   SYS_DURATION=S  length of the separate system-call counting run (default 2)
#   SERVERS=a,b     subset of epoll,libuv,libevent,tokio,cio
#   WORKLOADS=a,b   subset of echo-c1,echo-c100,echo-c1000,http,http-p16,churn,memory,micro
#   IDLE_CONNS=N    idle connections for the memory figure (default 10000)
#   BUILD_DIR=dir   build tree to use (default build/bench); SKIP_BUILD=1 uses it as it is
#   OUT=dir         where the results go (default bench/results)
# Every process the harness starts is killed when it ends or is interrupted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
case $build in /*) ;; *) build=$root/$build ;; esac

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "bench: building $build (Release)" >&2
    mkdir -p "$build"
    gen=()
    [[ -f "$build/CMakeCache.txt" ]] || gen=(-G Ninja)
    # The test suite is not needed here; everything else is (tools, peers, micro benchmarks).
    cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCIO_BUILD_TESTS=OFF \
        -DCIO_BUILD_EXAMPLES=ON -DCIO_BUILD_TOOLS=ON -DCIO_BUILD_BENCH=ON >"$build/bench-cmake.log" 2>&1 ||
        { tail -20 "$build/bench-cmake.log" >&2; echo "bench: cmake failed" >&2; exit 1; }
    # Keep going past a target that fails: the harness skips what is not built.
    if ! cmake --build "$build" -- -k 0 >"$build/bench-build.log" 2>&1; then
        grep -E '^FAILED|error:' "$build/bench-build.log" | head -20 >&2 || true
        echo "bench: some targets failed to build (see $build/bench-build.log); they are skipped" >&2
    fi
    if command -v cargo >/dev/null 2>&1 || [[ $(id -u) -eq 0 ]]; then
        if ! timeout 1200 "$here/peers/build-tokio.sh" >"$build/bench-tokio.log" 2>&1; then
            tail -5 "$build/bench-tokio.log" >&2
            echo "bench: the tokio peer did not build; it is skipped" >&2
        fi
    fi
fi

args=(--build "$build" --reps "${REPS:-5}")
[[ "${QUICK:-0}" == 1 ]] && args+=(--quick)
[[ -n "${DURATION:-}" ]] && args+=(--duration "$DURATION")
[[ -n "${WARMUP:-}" ]] && args+=(--warmup "$WARMUP")
[[ -n "${SYS_DURATION:-}" ]] && args+=(--sys-duration "$SYS_DURATION")
[[ -n "${SERVERS:-}" ]] && args+=(--servers "$SERVERS")
[[ -n "${WORKLOADS:-}" ]] && args+=(--workloads "$WORKLOADS")
[[ -n "${IDLE_CONNS:-}" ]] && args+=(--idle-conns "$IDLE_CONNS")
if [[ -n "${OUT:-}" ]]; then
    args+=(--out "$OUT")
elif [[ "${QUICK:-0}" == 1 ]]; then
    args+=(--out "$build/bench-results-quick")
fi

# The harness runs in the background so that a SIGTERM or SIGINT sent to this script reaches
# it at once (bash runs traps only between foreground commands); it kills its own children.
python3 "$here/harness.py" "${args[@]}" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM HUP
rc=0
wait "$pid" || rc=$?
# wait returns early when a trapped signal arrives: wait again for the harness to finish.
while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" || rc=$?
done
exit "$rc"

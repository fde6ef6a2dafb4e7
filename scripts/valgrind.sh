#!/usr/bin/env bash
# valgrind.sh: memcheck over a representative subset — the runtime shut down with live tasks,
# the event core, and the tools under a short load. Any memcheck error or leaked block fails.
# Usage: scripts/valgrind.sh BUILD_DIR     (a build with tests, examples and tools: build/dev)
#
#   - runtime: rt_test_rt_tasks test_free_with_waiters (100 sleeping tasks when the runtime is
#     freed), rt_test_rt_multi test_shutdown_from_other_thread / test_spawn_after_shutdown,
#     and the examples readme_echo (an accept loop cancelled) and poll_echo (the event core);
#   - servers under valgrind, driven by a native cio-load for LOAD_SECONDS (default 2):
#     cio-echo with two workers over TCP and with one over a Unix socket, cio-http-hello
#     (plain and pipelined, plus a malformed request), cio-relay in front of a native echo
#     server; each is stopped with SIGTERM while a client connection is still open, so the
#     graceful stop (cio/serve.h) has a live connection to end, and must exit 0;
#   - cio-load under valgrind against native echo and HTTP servers.
# Every run is bounded (timeouts); valgrind's reports are kept and shown for what failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/servers.sh
build=${1:?usage: valgrind.sh BUILD_DIR}
secs=${LOAD_SECONDS:-2}
command -v valgrind >/dev/null || { echo "valgrind: not installed" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cio-valgrind.XXXXXX")
pids=()
cleanup() {
    stop_all "${pids[@]}"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every report goes to its own file (one per process, forked test cases included).
vg=(valgrind --quiet --error-exitcode=1 --leak-check=full
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
    --child-silent-after-fork=no --log-file="$tmp/vg.%p.log")
failures=0
job_start=0

begin() {
    job=$1
    job_start=$SECONDS
    rm -f "$tmp"/vg.*.log
}

# end_job RC: report the job; a non-zero status or any memcheck report fails it. (Memcheck's
# reports are the "==PID==" lines; "--PID--" lines are valgrind's own notes, such as the
# epoll_pwait2 it does not know, for which cio falls back to epoll_wait.)
end_job() {
    local rc=$1 reports
    reports=$(grep -l -E '^==[0-9]+==' "$tmp"/vg.*.log 2>/dev/null | sort || true)
    if [[ $rc -eq 0 && -z "$reports" ]]; then
        printf 'valgrind: %-50s OK (%ds)\n' "$job" $((SECONDS - job_start))
        return
    fi
    failures=$((failures + 1))
    printf 'valgrind: %-50s FAILED (exit %d)\n' "$job" "$rc" >&2
    local f
    for f in $reports; do
        echo "---- $f" >&2
        head -n 60 "$f" >&2
    done
    for f in "$tmp"/*.out "$tmp"/*.err; do
        [[ -s "$f" ]] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }
    done
    return 0
}

tool() {
    local path=$build/tools/$1
    [[ -x "$path" ]] || { echo "valgrind: $path is not built" >&2; exit 1; }
    echo "$path"
}

# start NAME CMD...: run a server in the background; wait for "listening on ADDR" (valgrind
# takes a while to start); sets $addr and $pid.
start() {
    spawn_server "$tmp" "$1" 600 "${@:2}" || return 1
    pid=$server_pid addr=$server_addr
}

# stop PID: SIGTERM, then its exit status (killed after 60 s: a server that does not stop).
stop() {
    local pid=$1 rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    return $rc
}

# load ARGS...: a native cio-load run of $secs seconds.
load() {
    timeout 120 "$load_bin" --duration "$secs" --timeout 30 --quiet "$@" </dev/null \
        >>"$tmp/load.out" 2>&1
}

# stop_live PID ADDR [REQUEST]: stop the server PID while a client connection to its TCP
# ADDR is open (after REQUEST was sent on it), so that a connection task is live at shutdown.
stop_live() {
    local pid=$1 addr=$2 rc=0
    exec 7<>"/dev/tcp/${addr%:*}/${addr##*:}" || rc=1
    [[ $# -lt 3 ]] || printf '%b' "$3" >&7 || rc=1
    sleep 0.2
    stop "$pid" || rc=$?
    exec 7<&-
    return $rc
}

load_bin=$(tool cio-load)
echo_bin=$(tool cio-echo)
http_bin=$(tool cio-http-hello)
relay_bin=$(tool cio-relay)

# ---- the runtime and the event core ----
run_test() {
    local program=$build/$1
    shift
    [[ -x "$program" ]] || { echo "valgrind: $program is not built" >&2; exit 1; }
    timeout 600 "${vg[@]}" "$program" "$@" </dev/null >"$tmp/test.out" 2>&1
}

begin "runtime freed with 100 sleeping tasks"
rc=0 && run_test tests/rt/rt_test_rt_tasks test_free_with_waiters || rc=$?
end_job $rc
begin "runtime shut down from another thread"
rc=0 && run_test tests/rt/rt_test_rt_multi test_shutdown_from_other_thread \
    test_spawn_after_shutdown || rc=$?
end_job $rc
begin "examples/readme_echo (accept loop cancelled)"
rc=0 && run_test examples/readme_echo || rc=$?
end_job $rc
begin "examples/poll_echo (event core)"
rc=0 && run_test examples/poll_echo || rc=$?
end_job $rc

# ---- servers under valgrind, native load ----
begin "cio-echo --workers 2 (TCP)"
rc=0
if start echo "${vg[@]}" "$echo_bin" --listen 127.0.0.1:0 --workers 2; then
    load --target "$addr" --connections 20 --pipeline 4 || rc=$?
    load --target "$addr" --connections 4 --size 16384 || rc=$?
    stop_live "$pid" "$addr" || rc=$?
else
    rc=1
fi
end_job $rc

begin "cio-echo (Unix socket)"
rc=0
if start echo-unix "${vg[@]}" "$echo_bin" --listen "$tmp/echo.sock"; then
    load --target "$addr" --connections 10 || rc=$?
    stop "$pid" || rc=$?
else
    rc=1
fi
end_job $rc

begin "cio-http-hello"
rc=0
if start http "${vg[@]}" "$http_bin" --listen 127.0.0.1:0; then
    load --mode http --target "$addr" --connections 20 || rc=$?
    load --mode http --target "$addr" --connections 10 --pipeline 16 || rc=$?
    # A malformed request: answered 400 and closed.
    exec 8<>"/dev/tcp/${addr%:*}/${addr##*:}"
    printf 'GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n' >&8
    reply=$(timeout 30 head -c 12 <&8 || true)
    exec 8<&-
    [[ "$reply" == "HTTP/1.1 400" ]] || { echo "valgrind: http-hello answered '$reply'" >&2; rc=1; }
    stop_live "$pid" "$addr" 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' || rc=$? # kept alive
else
    rc=1
fi
end_job $rc

# ---- against native servers: the relay and the load generator under valgrind ----
start echo-native "$echo_bin" --listen 127.0.0.1:0 || exit 1
echo_pid=$pid echo_addr=$addr
start http-native "$http_bin" --listen 127.0.0.1:0 || exit 1
http_pid=$pid http_addr=$addr

begin "cio-relay to a native echo server"
rc=0
if start relay "${vg[@]}" "$relay_bin" --listen 127.0.0.1:0 --target "$echo_addr" --quiet; then
    load --target "$addr" --connections 10 || rc=$?
    stop_live "$pid" "$addr" || rc=$?
else
    rc=1
fi
end_job $rc

begin "cio-load (echo and http) against native servers"
rc=0
timeout 120 "${vg[@]}" "$load_bin" --target "$echo_addr" --connections 10 --duration "$secs" \
    --pipeline 4 --quiet </dev/null >>"$tmp/load.out" 2>&1 || rc=$?
timeout 120 "${vg[@]}" "$load_bin" --mode http --target "$http_addr" --connections 10 \
    --duration "$secs" --rate 2000 --quiet </dev/null >>"$tmp/load.out" 2>&1 || rc=$?
end_job $rc

for pid in "$http_pid" "$echo_pid"; do
    stop "$pid" || { echo "valgrind: a native server did not stop cleanly" >&2; failures=$((failures + 1)); }
done

pids=()
if [[ $failures -ne 0 ]]; then
    echo "valgrind: $failures job(s) failed" >&2
    exit 1
fi
echo "valgrind: every job clean (memcheck, leak check, --error-exitcode=1)"

#!/usr/bin/env bash
# demo.sh: the main job behind `make demo` — shows the library at work and ends by itself.
# Usage: scripts/demo.sh BUILD_DIR
#
# Starts cio's echo and HTTP "hello" servers on 127.0.0.1 (kernel-chosen ports, read back
# from their "listening on" lines), drives each with cio-load for a few seconds (live
# progress on stderr), passes an 8 MiB random file through cio-relay in front of the echo
# server and checks that the bytes coming back have the same SHA-256, prints a summary
# table, stops every server with SIGTERM and exits 0 when everything passed. Needs no stdin,
# no network beyond loopback, and bash, awk and coreutils only; every process it starts is
# stopped on any exit (trap). A tool that is not built is reported and skipped.
set -euo pipefail
# shellcheck source=servers.sh
. "$(dirname "$0")/servers.sh"

build=${1:-build/release}
[[ -d "$build" ]] || { echo "demo: no build directory '$build'" >&2; exit 1; }

# Seconds of measurement per load run (after a short warmup); DEMO_SECONDS=1 for a quick look.
secs=${DEMO_SECONDS:-3}
warmup=0.5

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cio-demo.XXXXXX")
pids=()
failures=0

cleanup() {
    stop_all "${pids[@]}"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# find_tool NAME...: the first built program of these names under tools/ or examples/.
find_tool() {
    local name dir
    for name in "$@"; do
        for dir in tools examples; do
            if [[ -x "$build/$dir/$name" ]]; then
                echo "$build/$dir/$name"
                return 0
            fi
        done
    done
    return 1
}

# start_server LABEL PROGRAM ARGS...: start it in the background and wait for its
# "listening on ADDR" line; sets $server_addr and $server_pid.
start_server() {
    spawn_server "$tmp" "$1" 100 "${@:2}" || return 1
    echo "   $1: pid $server_pid, listening on $server_addr"
}

# stop_server LABEL PID: SIGTERM, wait, show its last words.
stop_server() {
    local label=$1 pid=$2 rc=0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    local last
    last=$(cat "$tmp/$label.out" "$tmp/$label.err" 2>/dev/null | grep -v '^listening on ' |
        tail -n 1 || true)
    echo "   $label: exit $rc${last:+ — $last}"
    [[ $rc -eq 0 ]] || failures=$((failures + 1))
}

# json_field FILE KEY: a number from cio-load's JSON report.
json_field() {
    local v
    v=$(grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2 || true)
    echo "${v:-0}"
}

# fmt_ns NS: 147000 -> 147us.
fmt_ns() {
    awk -v ns="${1:-0}" 'BEGIN {
        split("s ms us", unit, " "); split("1e9 1e6 1e3", scale, " ");
        for (i = 1; i <= 3; i++) if (ns >= scale[i]) {
            v = ns / scale[i]; printf (v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s"), v, unit[i]; exit
        }
        printf "%dns", ns }'
}

rows=()
# load LABEL DESCRIPTION CIO-LOAD-ARGS...: one cio-load run, its numbers kept for the table.
load() {
    local label=$1 what=$2 json="$tmp/load.${#rows[@]}.json" rc=0
    shift 2
    echo
    echo "== cio-load $* (${secs}s after ${warmup}s warmup)"
    "$load_bin" --duration "$secs" --warmup "$warmup" --timeout 5 --json "$@" \
        </dev/null >"$json" || rc=$?
    if [[ ! -s "$json" ]]; then
        rows+=("$(printf '%-16s %-24s %12s %9s %9s %7s' "$label" "$what" "failed" "-" "-" "-")")
        failures=$((failures + 1))
        return
    fi
    local rps p50 p99 errors
    rps=$(json_field "$json" requests_per_s)
    p50=$(json_field "$json" p50)
    p99=$(json_field "$json" p99)
    errors=$(json_field "$json" total)
    rows+=("$(printf '%-16s %-24s %12.0f %9s %9s %7s' "$label" "$what" "$rps" \
        "$(fmt_ns "$p50")" "$(fmt_ns "$p99")" "$errors")")
    [[ $rc -eq 0 ]] || failures=$((failures + 1))
}

version=$(sed -n 's/.*CIO_VERSION_STRING "\(.*\)"/\1/p' "$build/include/cio/version.h" 2>/dev/null || true)
echo "== cio ${version:-?}: servers, load generator and relay on loopback ($(nproc) CPUs)"

# The event core alone first: the readiness-loop example on both backends (quiet unless it
# fails).
if [[ -x "$build/examples/poll_echo" ]]; then
    for backend in epoll poll; do
        if CIO_BACKEND=$backend "$build/examples/poll_echo" </dev/null >"$tmp/poll_echo.out" 2>&1; then
            echo "   event core: poll_echo on the $backend backend: OK"
        else
            echo "   event core: poll_echo on the $backend backend: FAILED" >&2
            cat "$tmp/poll_echo.out" >&2
            failures=$((failures + 1))
        fi
    done
fi

load_bin=$(find_tool cio-load) || { echo "demo: cio-load is not built in $build" >&2; exit 1; }
echo_bin=$(find_tool cio-echo echo || true)
http_bin=$(find_tool cio-http-hello http-hello http_hello || true)
relay_bin=$(find_tool cio-relay relay || true)

echo
echo "== starting servers"
echo_pid='' http_pid='' relay_pid='' echo_addr='' http_addr='' relay_addr=''
if [[ -n "$echo_bin" ]]; then
    start_server echo "$echo_bin" --listen 127.0.0.1:0
    echo_pid=$server_pid echo_addr=$server_addr
else
    echo "   echo server: not built, skipped"
fi
if [[ -n "$http_bin" ]]; then
    start_server http-hello "$http_bin" --listen 127.0.0.1:0
    http_pid=$server_pid http_addr=$server_addr
else
    echo "   http-hello: not built, skipped"
fi
if [[ -n "$relay_bin" && -n "$echo_addr" ]]; then
    start_server relay "$relay_bin" --listen 127.0.0.1:0 --target "$echo_addr" --quiet
    relay_pid=$server_pid relay_addr=$server_addr
else
    echo "   relay: not built (or no echo server to relay to), skipped"
fi

if [[ -n "$echo_addr" ]]; then
    load cio-echo "echo 64B, 50 conns" --target "$echo_addr" --connections 50
    load cio-echo "echo 4KiB, pipeline 8" --target "$echo_addr" --connections 20 --size 4096 \
        --pipeline 8
    load cio-echo "echo open loop 20k/s" --target "$echo_addr" --connections 20 --rate 20000
fi
if [[ -n "$http_addr" ]]; then
    load cio-http-hello "http, 50 conns" --mode http --target "$http_addr" --connections 50
    load cio-http-hello "http, pipeline 16" --mode http --target "$http_addr" \
        --connections 50 --pipeline 16
fi
if [[ -n "$relay_addr" ]]; then
    load "cio-relay>echo" "echo 64B, 50 conns" --target "$relay_addr" --connections 50
fi

# An 8 MiB random file through the relay to the echo server and back; bash's /dev/tcp keeps
# this free of extra tools. The reader takes exactly as many bytes as were sent.
relay_line="relay: skipped"
if [[ -n "$relay_addr" ]]; then
    echo
    echo "== 8 MiB of random bytes through cio-relay ($relay_addr) to the echo server and back"
    size=$((8 * 1024 * 1024))
    head -c "$size" /dev/urandom >"$tmp/file.in"
    host=${relay_addr%:*} port=${relay_addr##*:}
    start=$(date +%s.%N)
    relay_ok=0
    if exec 3<>"/dev/tcp/$host/$port"; then
        cat "$tmp/file.in" >&3 &
        writer=$!
        timeout 30 head -c "$size" <&3 >"$tmp/file.out" || true
        wait "$writer" || true
        exec 3<&-
        relay_ok=1
    fi
    end=$(date +%s.%N)
    sum_in=$(sha256sum "$tmp/file.in" | cut -d' ' -f1)
    sum_out=$(sha256sum "$tmp/file.out" 2>/dev/null | cut -d' ' -f1)
    got=$(stat -c %s "$tmp/file.out" 2>/dev/null || echo 0)
    mbps=$(awk -v b="$got" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", b / 1e6 / (e - s) }')
    if [[ $relay_ok -eq 1 && "$got" -eq "$size" && "$sum_in" == "$sum_out" ]]; then
        relay_line="relay: $got bytes there and back, ${mbps} MB/s, sha256 ${sum_in:0:16}... OK"
    else
        relay_line="relay: FAILED: sent $size bytes, got $got back, checksum ${sum_out:0:16} vs ${sum_in:0:16}"
        failures=$((failures + 1))
    fi
    echo "   $relay_line"
fi

echo
echo "== stopping servers (SIGTERM)"
[[ -n "$relay_pid" ]] && stop_server relay "$relay_pid"
[[ -n "$http_pid" ]] && stop_server http-hello "$http_pid"
[[ -n "$echo_pid" ]] && stop_server echo "$echo_pid"
pids=()

echo
echo "== summary"
printf '%-16s %-24s %12s %9s %9s %7s\n' server load req/s p50 p99 errors
for row in "${rows[@]}"; do
    echo "$row"
done
echo "$relay_line"
echo
if [[ $failures -eq 0 ]]; then
    echo "demo: done"
else
    echo "demo: $failures check(s) failed" >&2
    exit 1
fi

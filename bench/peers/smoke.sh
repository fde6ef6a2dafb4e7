#!/usr/bin/env bash
# Smoke test of the benchmark peers: starts every built peer in each protocol on an ephemeral
# loopback port, runs smoke_client.py against it (echo bytes, partial writes, half-close;
# HTTP keep-alive, pipelining, split requests, Connection: close), stops it with SIGTERM and
# checks that it exits 0. With SMOKE_WRK=1 and wrk installed it also runs a short
# `wrk -c 100 -d 2` against each HTTP peer and prints the req/s (rough, single run).
#
# Usage: bench/peers/smoke.sh [BUILD_DIR]
#   BUILD_DIR: the CMake build directory holding bench/peers/{epoll,libuv,libevent}_server
#   (default: build). The tokio peer is taken from bench/peers/tokio/target/release.
# A peer that is not built is reported as skipped; exits non-zero if any check failed or
# no peer was found at all.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
[ -d "$build" ] || build=$root/$build

peers=(
    "epoll:$build/bench/peers/epoll_server"
    "libuv:$build/bench/peers/libuv_server"
    "libevent:$build/bench/peers/libevent_server"
    "tokio:$here/tokio/target/release/tokio_server"
)

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
skipped=0
ran_any=0

# start_peer BIN PROTO: starts it in the background and sets server_pid and port.
start_peer() {
    local bin=$1 proto=$2 line=
    : >"$tmp/out"
    "$bin" --proto "$proto" --listen 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
    server_pid=$!
    for _ in $(seq 1 100); do
        line=$(head -n 1 "$tmp/out")
        case $line in
        "listening on 127.0.0.1:"*) break ;;
        esac
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    case $line in
    "listening on 127.0.0.1:"[0-9]*)
        port=${line##*:}
        return 0
        ;;
    esac
    echo "    no 'listening on' line; stdout: '$line' stderr: $(head -c 300 "$tmp/err")"
    return 1
}

# stop_peer: SIGTERM, then up to 5 s for a clean exit with status 0.
stop_peer() {
    local rc
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "    FAIL did not exit within 5 s of SIGTERM"
        kill -KILL "$server_pid"
        wait "$server_pid" 2>/dev/null
        server_pid=
        return 1
    fi
    wait "$server_pid"
    rc=$?
    server_pid=
    if [ "$rc" -ne 0 ]; then
        echo "    FAIL exit status $rc after SIGTERM; stderr: $(head -c 300 "$tmp/err")"
        return 1
    fi
    echo "    ok   clean exit on SIGTERM"
    return 0
}

for entry in "${peers[@]}"; do
    name=${entry%%:*}
    bin=${entry#*:}
    if [ ! -x "$bin" ]; then
        echo "== $name: skipped (not built: $bin)"
        skipped=$((skipped + 1))
        continue
    fi
    ran_any=1
    for proto in echo http; do
        echo "== $name $proto"
        ok=1
        if start_peer "$bin" "$proto"; then
            python3 "$here/smoke_client.py" "$proto" "$port" || ok=0
            if [ "$proto" = http ] && [ "${SMOKE_WRK:-0}" = 1 ] && command -v wrk >/dev/null; then
                rps=$(wrk -t 1 -c 100 -d 2 "http://127.0.0.1:$port/" 2>&1 |
                    awk '/Requests\/sec/ {print $2} /Non-2xx|Socket errors/ {print "  (" $0 ")"}')
                echo "    wrk -t 1 -c 100 -d 2: $rps req/s"
            fi
            stop_peer || ok=0
        else
            ok=0
            [ -n "$server_pid" ] && { kill -KILL "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; }
            server_pid=
        fi
        if [ "$ok" = 1 ]; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    done
done

[ "$ran_any" = 1 ] || { echo "no peer is built"; exit 1; }
echo "smoke: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

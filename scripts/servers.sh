# servers.sh: sourced by the scripts that start cio's servers in the background (demo.sh,
# valgrind.sh): waiting for a server to be ready, and stopping whatever is left at exit.

# wait_listening FILE PID TRIES: wait for the "listening on ADDR" line every server prints
# when ready, in FILE (its standard output), checking TRIES times 50 ms apart and giving up
# early if PID has exited. Prints ADDR; fails if the line never came.
wait_listening() {
    local file=$1 pid=$2 tries=$3 line
    for _ in $(seq 1 "$tries"); do
        line=$(grep -m1 '^listening on ' "$file" 2>/dev/null || true)
        if [[ -n "$line" ]]; then
            echo "${line#listening on }"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}

# spawn_server DIR LABEL TRIES PROGRAM ARGS...: start PROGRAM in the background (output in
# DIR/LABEL.out and DIR/LABEL.err), add it to the caller's `pids` array, and wait for it to
# listen (wait_listening ... TRIES). Sets server_pid and server_addr; on failure prints the
# server's errors and fails.
spawn_server() {
    local dir=$1 label=$2 tries=$3
    shift 3
    "$@" </dev/null >"$dir/$label.out" 2>"$dir/$label.err" &
    server_pid=$!
    pids+=("$server_pid")
    if ! server_addr=$(wait_listening "$dir/$label.out" "$server_pid" "$tries"); then
        echo "$label did not start:" >&2
        cat "$dir/$label.err" >&2
        return 1
    fi
}

# stop_all PID...: SIGTERM to each, five seconds each to stop cleanly, then SIGKILL; reaps
# them. For an exit trap: it never fails.
stop_all() {
    local pid
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

#!/usr/bin/env python3
"""steal.py: one accept loop against accepts sharded by hand, on a 2-worker runtime.

The work-stealing comparison of issue 13: the same echo server (tools/cio-echo) with 2 workers
run two ways —

  sharded    --workers 2: one SO_REUSEPORT listener and one pinned accept loop per worker,
             each connection pinned to its listener's worker (spreading by hand)
  one-loop   --workers 2 --one-accept-loop: one listener, one accept loop, the connections
             spread by the runtime's work stealing

— and, when its peer is built (bench/peers/build-tokio.sh), tokio's multi-thread runtime with
2 workers and its one accept loop. The load is cio-load (echo, 64 B, closed loop). Runs are
interleaved (A B C A B C ...) so that drift on a shared machine hits every server alike; the
result is the median rate of each and its ratio to the sharded server.

Usage: bench/steal.py BUILD_DIR [--reps N] [--duration S] [--connections N] [--out FILE]
(BUILD_DIR: a Release build with tools/cio-echo and tools/cio-load.)
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def start(cmd, err):
    """Start a server; returns (process, port) once it printed 'listening on ADDR:PORT'."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening on "):
            return proc, int(line.strip().rsplit(":", 1)[1])
    proc.kill()
    proc.wait()
    raise RuntimeError("server did not start: %s" % " ".join(cmd))


def worker_metrics(proc, err_path, workers=2):
    """A cio server's per-worker counters: SIGUSR1 makes it write its metrics to stderr
    (cio_rt_dump_on_signal), one "worker N: key=value ..." line per worker. {} for a server
    that writes none (tokio)."""
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with open(err_path) as f:
            found = {}
            for line in f:
                m = re.match(r"worker (\d+): (tasks_live=.*)", line)
                if m:
                    found[int(m.group(1))] = {k: int(v) for k, v in
                                              (kv.split("=") for kv in m.group(2).split())}
            if len(found) == workers:
                return found
        time.sleep(0.05)
    return {}


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid):
    """The process's user + system CPU time so far (/proc/PID/stat), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(load, port, args, server_pid):
    """-> (messages per second, server CPU microseconds per message), both over the load's
    measured window (the CPU from the end of its warm-up, as near as a sleep gets, to its
    end: the server does nothing else)."""
    cmd = [load, "--target", "127.0.0.1:%d" % port, "--mode", "echo", "--connections",
           str(args.connections), "--size", "64", "--duration", "%gs" % args.duration,
           "--warmup", "%gs" % args.warmup, "--timeout", "10", "--json", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(args.warmup)
    cpu0 = cpu_seconds(server_pid)
    out, _ = proc.communicate(timeout=args.duration + 60)
    cpu = cpu_seconds(server_pid) - cpu0
    j = json.loads(out.strip().splitlines()[-1])
    if j["errors"]["total"]:
        raise RuntimeError("load errors: %s" % j["errors"])
    return j["requests_per_s"], 1e6 * cpu / max(1, j["requests"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--out", help="also write the Markdown table here")
    args = ap.parse_args()

    echo = os.path.join(args.build, "tools/cio-echo")
    load = os.path.join(args.build, "tools/cio-load")
    tokio = os.path.join(HERE, "peers/tokio/target/release/tokio_server")
    servers = [
        ("sharded", "cio, 2 workers, SO_REUSEPORT shards (by hand)",
         [echo, "--listen", "127.0.0.1:0", "--workers", "2"]),
        ("one-loop", "cio, 2 workers, one accept loop (work stealing)",
         [echo, "--listen", "127.0.0.1:0", "--workers", "2", "--one-accept-loop"]),
    ]
    if os.access(tokio, os.X_OK):
        servers.append(("tokio-mt", "tokio multi_thread(2), one accept loop",
                        [tokio, "--proto", "echo", "--listen", "127.0.0.1:0", "--workers", "2"]))
    else:
        print("steal: tokio peer not built (bench/peers/build-tokio.sh): left out",
              file=sys.stderr)

    rates = {name: [] for name, _, _ in servers}
    cpus = {name: [] for name, _, _ in servers}
    counts = {name: [] for name, _, _ in servers}
    for rep in range(args.reps):
        for name, _, cmd in servers:
            with tempfile.NamedTemporaryFile("w", prefix="steal-err.") as err:
                proc, port = start(cmd, err)
                try:
                    rate, cpu = run_load(load, port, args, proc.pid)
                    rates[name].append(rate)
                    cpus[name].append(cpu)
                    if not name.startswith("tokio"):
                        counts[name].append(worker_metrics(proc, err.name))
                finally:
                    stop(proc)
            note = ""
            if counts[name] and counts[name][-1]:
                m = counts[name][-1]
                runs = [m[i]["polls"] for i in sorted(m)]
                note = "  runs %s steals %d events %s" % (
                    "/".join(map(str, runs)), sum(m[i]["steals"] for i in m),
                    "/".join(str(m[i]["reactor_events"]) for i in sorted(m)))
            print("rep %d %-9s %10.0f msg/s %6.2f us/msg%s" % (
                rep + 1, name, rates[name][-1], cpus[name][-1], note), file=sys.stderr)

    # Two ratios to the sharded server: of the medians, and the median (with the range) of
    # each repetition's own ratio — its runs were back to back, so drift on the machine
    # between repetitions cancels out of it.
    base = statistics.median(rates["sharded"])
    lines = ["| server | median msg/s | min–max | × sharded (medians) | "
             "× sharded, paired: median [min–max] |", "|---|--:|--:|--:|--:|"]
    for name, label, _ in servers:
        med = statistics.median(rates[name])
        paired = [r / b for r, b in zip(rates[name], rates["sharded"])]
        lines.append("| %s | %.0f | %.0f–%.0f | %.3f | %.3f [%.3f–%.3f] |" % (
            label, med, min(rates[name]), max(rates[name]), med / base,
            statistics.median(paired), min(paired), max(paired)))
    # The server's CPU per message: what it spends, not how fast the shared machine let it
    # go (a run on a loaded machine loses rate to other processes, much less CPU/message).
    lines += ["", "| server | server CPU µs/message, median [min–max] | "
              "× sharded, paired: median [min–max] |", "|---|--:|--:|"]
    for name, label, _ in servers:
        paired = [c / b for c, b in zip(cpus[name], cpus["sharded"])]
        lines.append("| %s | %.2f [%.2f–%.2f] | %.3f [%.3f–%.3f] |" % (
            label, statistics.median(cpus[name]), min(cpus[name]), max(cpus[name]),
            statistics.median(paired), min(paired), max(paired)))
    head = ("echo 64 B, %d connections, cio-load closed loop, %d interleaved runs of %g s "
            "(after %g s warm-up), %d CPUs shared by server and load" % (
                args.connections, args.reps, args.duration, args.warmup, os.cpu_count()))
    text = head + "\n\n" + "\n".join(lines) + "\n"
    # Where the work ran (the servers' own counters, read with SIGUSR1 after each run; they
    # include the warm-up and the connections' set-up): each worker's share of the task runs
    # and of the reactor's events, and tasks stolen per 100 runs — medians over the runs.
    rows = ["| server | task runs, worker 0 / 1 | reactor events, worker 0 / 1 | "
            "steals per 100 runs | remote wakes per 100 runs |", "|---|--:|--:|--:|--:|"]
    for name, label, _ in servers:
        ms = [m for m in counts[name] if m]
        if not ms:
            continue

        def med(f):
            return statistics.median(f(m) for m in ms)

        def share(key, i):
            return med(lambda m: 100.0 * m[i][key] / max(1, sum(m[j][key] for j in m)))

        def per_run(key):
            return med(lambda m: 100.0 * sum(m[j][key] for j in m) /
                       max(1, sum(m[j]["polls"] for j in m)))

        rows.append("| %s | %.0f %% / %.0f %% | %.0f %% / %.0f %% | %.2f | %.2f |" % (
            label, share("polls", 0), share("polls", 1), share("reactor_events", 0),
            share("reactor_events", 1), per_run("steals"), per_run("wakes_remote")))
    if len(rows) > 2:
        text += "\n" + "\n".join(rows) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()

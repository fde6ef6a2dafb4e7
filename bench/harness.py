#!/usr/bin/env python3
"""harness.py: cio's side-by-side benchmark. Runs cio's servers beside the same servers written
on raw epoll (the floor), libuv, libevent and tokio, under one load per workload, each server
pinned to CPU 0 and the load to CPU 1, the servers interleaved (A B C A B C ...) for REPS
repetitions, and reports per cell the throughput, the server's CPU time per operation (from
/proc/PID/stat), the ratios to the floor, system calls per operation (perf stat, or strace -c),
and latency percentiles; then memory per idle connection and the runtime's micro benchmarks.
Writes results.md, results.csv, runs.csv, syscalls.csv and ratios.png (gnuplot) into --out and
prints the Markdown table and the targets. Python 3 standard library only.

bench/run.sh builds what this needs and calls it; see bench/README.md. Every process started
here is killed on exit (normal, error, SIGINT or SIGTERM), every wait is bounded, and a server
or tool that is missing is reported and skipped.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# ---------------------------------------------------------------------------------------------
# process bookkeeping: everything started goes in LIVE and is killed on the way out


LIVE = {}  # pid -> Popen


class Stop(Exception):
    """SIGINT/SIGTERM: unwind, kill what runs, exit."""


def on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def spawn(cmd, **kw):
    """Starts cmd with stdin closed (unless given), remembers it for cleanup."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("preexec_fn", child_setup)
    p = subprocess.Popen(cmd, **kw)
    LIVE[p.pid] = p
    return p


def reap(p, term_wait=5.0):
    """Stops p: SIGTERM, up to term_wait seconds, then SIGKILL. Returns its exit status, or
    None when it had to be killed."""
    rc = p.poll()
    if rc is None:
        try:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=term_wait)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # still there 30 s after SIGKILL (a starved machine): leave it to kill_all
                log("harness: pid %d has not exited 30 s after SIGKILL" % p.pid)
                return None
            rc = None
    LIVE.pop(p.pid, None)
    return rc


def kill_all():
    for p in list(LIVE.values()):
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
    LIVE.clear()


def child_setup():
    """In a child before exec: die with the harness (even if it is SIGKILLed, nothing it
    started outlives it), and raise the descriptor limit."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    raise_nofile()


def raise_nofile():
    """As many descriptors as the hard limit allows (10k idle connections need more than the
    usual 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    want = min(want, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


def run_bounded(cmd, timeout, **kw):
    """Runs cmd to completion (killed after timeout s); returns (rc, stdout, stderr)."""
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        err += "\n[harness: killed after %.0f s]" % timeout
    LIVE.pop(p.pid, None)
    return p.returncode, out, err


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# /proc readings


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread, dead ones included), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def cpu_busy(cpus):
    """Seconds the given CPUs have spent not idle (all processes, interrupts included), from
    /proc/stat."""
    total = 0
    with open("/proc/stat") as f:
        for line in f:
            name = line.split(" ", 1)[0]
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                v = [int(x) for x in line.split()[1:]]
                total += sum(v[:8]) - v[3] - v[4]  # user..steal, less idle and iowait
    return total / CLK_TCK


def cpu_list(text):
    out = set()
    for part in str(text).split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return tuple(float(x) for x in f.read().split()[:3])


def sleep_until(t):
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)


# ---------------------------------------------------------------------------------------------
# what is measured


class Server:
    """One server under test: a name, and a command line per protocol (None: not available,
    with the reason in missing[proto])."""

    def __init__(self, name, label, cmds, missing, cpus, env=None):
        self.name = name
        self.label = label
        self.cmds = cmds  # proto -> argv
        self.missing = missing  # proto -> reason
        self.cpus = cpus  # taskset list for the server
        self.env = env  # extra environment (cio-uring: CIO_BACKEND=uring), or None


def first_executable(paths):
    for p in paths:
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def find_servers(args, ncpu):
    b = args.build
    listen = ["--listen", "127.0.0.1:0"]
    servers = []

    def peer(name, label, path, hint):
        cmds, missing = {}, {}
        for proto in ("echo", "http"):
            if os.access(path, os.X_OK):
                cmds[proto] = [path, "--proto", proto] + listen
            else:
                missing[proto] = "not built (%s): %s" % (os.path.relpath(path, ROOT), hint)
        servers.append(Server(name, label, cmds, missing, str(args.server_cpu)))

    peer("epoll", "epoll floor", os.path.join(b, "bench/peers/epoll_server"),
         "a Linux build of bench/")
    peer("libuv", "libuv", os.path.join(b, "bench/peers/libuv_server"),
         "apt-get install libuv1-dev pkg-config, then rebuild")
    peer("libevent", "libevent", os.path.join(b, "bench/peers/libevent_server"),
         "apt-get install libevent-dev pkg-config, then rebuild")
    peer("tokio", "tokio current-thread",
         os.path.join(ROOT, "bench/peers/tokio/target/release/tokio_server"),
         "bench/peers/build-tokio.sh")

    def cio(name, label, workers, cpus, env=None):
        cmds, missing = {}, {}
        echo = first_executable([os.path.join(b, "tools/cio-echo"),
                                 os.path.join(b, "examples/echo_server"),
                                 os.path.join(b, "examples/echo")])
        http = first_executable([os.path.join(b, "tools/cio-http-hello"),
                                 os.path.join(b, "examples/http_hello"),
                                 os.path.join(b, "examples/http-hello")])
        for proto, path in (("echo", echo), ("http", http)):
            if path:
                cmds[proto] = [path] + listen + ["--workers", str(workers)]
                if proto == "http" and path.endswith("cio-http-hello"):
                    # the peers keep idle connections forever: no idle timer, like them
                    cmds[proto] += ["--idle-timeout", "0"]
            else:
                missing[proto] = "not built (%s server not found under %s/tools or examples)" % (
                    proto, os.path.relpath(b, ROOT))
        servers.append(Server(name, label, cmds, missing, cpus, env))

    cio("cio", "cio current-thread", 1, str(args.server_cpu))
    # the same servers on the io_uring backend (epoll where the machine has none: the notes
    # of the cio-uring rows then say what they ran on, see bench/README.md)
    cio("cio-uring", "cio current-thread, io_uring", 1, str(args.server_cpu),
        {"CIO_BACKEND": "uring"})
    if ncpu > 2:
        others = [c for c in range(ncpu) if c != args.load_cpu]
        cio("cio-mt", "cio multi-thread (%d workers)" % len(others), len(others),
            ",".join(str(c) for c in others))
    wanted = set(args.servers.split(",")) if args.servers else None
    if wanted:
        servers = [s for s in servers if s.name in wanted]
    return servers


WORKLOADS = [
    # id, protocol, load kind, connections, pipeline depth, what one operation is
    dict(id="echo-c1", proto="echo", kind="echo", conns=1, pipeline=1, op="message",
         title="echo 64 B, 1 connection"),
    dict(id="echo-c100", proto="echo", kind="echo", conns=100, pipeline=1, op="message",
         title="echo 64 B, 100 connections"),
    dict(id="echo-c1000", proto="echo", kind="echo", conns=1000, pipeline=1, op="message",
         title="echo 64 B, 1000 connections"),
    dict(id="http", proto="http", kind="wrk", conns=100, pipeline=1, op="request",
         title="HTTP plaintext, wrk 100 connections"),
    dict(id="http-p16", proto="http", kind="wrk", conns=100, pipeline=16, op="request",
         title="HTTP plaintext, wrk 100 connections, pipelined x16"),
    dict(id="churn", proto="echo", kind="churn", conns=32, pipeline=1, op="connection",
         title="connection churn: connect, one 64 B echo, close (32 in flight)"),
]


class Tools:
    def __init__(self, args):
        b = args.build
        self.cio_load = first_executable([os.path.join(b, "tools/cio-load")])
        self.wrk = shutil.which("wrk")
        self.wrk_script = os.path.join(HERE, "wrk/report.lua")
        self.churn = first_executable([os.path.join(b, "bench/churn/churn_client"),
                                       os.path.join(b, "bench/harness/churn_client")])
        if not self.churn:
            self.churn = build_churn_client(b)
        self.perf = perf_works()
        self.perf_events = perf_syscall_events(self.perf) if self.perf else []
        self.strace = shutil.which("strace")
        self.gnuplot = shutil.which("gnuplot")
        self.ctxswitch = first_executable([os.path.join(b, "bench/micro/ctxswitch")])
        self.timers = first_executable([os.path.join(b, "bench/micro/timers")])
        self.spread = first_executable([os.path.join(b, "bench/micro/spread")])
        self.parked = first_executable([os.path.join(b, "bench/micro/parked")])

    def missing_for(self, wl):
        if wl["kind"] == "echo" and not self.cio_load:
            return "cio-load not built (tools/cio-load)"
        if wl["kind"] == "wrk" and not self.wrk:
            return "wrk not installed (apt-get install wrk)"
        if wl["kind"] == "churn" and not self.churn:
            return "churn client not built (bench/churn/churn_client.c; needs a C compiler)"
        return None


def build_churn_client(build):
    """bench/churn/churn_client.c is plain C with no dependency: when the CMake build did not
    make it, compile it here into the build directory."""
    src = os.path.join(HERE, "churn/churn_client.c")
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if not cc or not os.path.isfile(src):
        return None
    out_dir = os.path.join(build, "bench/harness")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "churn_client")
    rc, _, err = run_bounded([cc, "-std=c11", "-O2", "-D_GNU_SOURCE", "-o", out, src], 120)
    if rc != 0:
        log("harness: cannot compile the churn client: " + err.strip()[-500:])
        return None
    return out


def perf_works():
    perf = shutil.which("perf")
    if not perf:
        return None
    rc, _, _ = run_bounded([perf, "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           30)
    return perf if rc == 0 else None


# ---------------------------------------------------------------------------------------------
# one server process


class Running:
    def __init__(self, server, proto, tmpdir):
        self.server = server
        self.out_path = os.path.join(tmpdir, "%s-%s.out" % (server.name, proto))
        self.err_path = os.path.join(tmpdir, "%s-%s.err" % (server.name, proto))
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        cmd = ["taskset", "-c", server.cpus] + server.cmds[proto] if server.cpus else \
            server.cmds[proto]
        env = dict(os.environ, **server.env) if server.env else None
        self.proc = spawn(cmd, stdout=self.out, stderr=self.err, env=env)
        self.pid = self.proc.pid  # taskset execs the server: same process
        self.port = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.out_path) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError("%s (%s) printed no 'listening on' line: %s" % (
                server.name, proto, self.stderr_tail()))

    def stderr_tail(self):
        try:
            with open(self.err_path) as f:
                return f.read()[-300:].strip()
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        rc = reap(self.proc)
        self.out.close()
        self.err.close()
        return rc


# ---------------------------------------------------------------------------------------------
# loads


def load_cmd(tools, wl, port, duration, warmup, cpu):
    """(argv, env) of the load for workload wl against port; duration/warmup in s."""
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    if wl["kind"] == "echo":
        return pin + [tools.cio_load, "--target", "127.0.0.1:%d" % port, "--mode", "echo",
                      "--connections", str(wl["conns"]), "--size", "64",
                      "--duration", "%gs" % duration, "--warmup", "%gs" % warmup,
                      "--timeout", "10", "--json", "--quiet"], None
    if wl["kind"] == "churn":
        return pin + [tools.churn, "--target", "127.0.0.1:%d" % port,
                      "--concurrency", str(wl["conns"]), "--size", "64",
                      "--duration", "%g" % duration, "--warmup", "%g" % warmup], None
    env = dict(os.environ, CIO_BENCH_PIPELINE=str(wl["pipeline"]))
    secs = max(1, int(round(duration)))
    return pin + [tools.wrk, "-t1", "-c%d" % wl["conns"], "-d%ds" % secs, "--timeout", "5s",
                  "-s", tools.wrk_script, "http://127.0.0.1:%d/" % port], env


def parse_load(wl, out):
    """-> dict(ops, rate, p50_us, p99_us, errors) from the load tool's output."""
    if wl["kind"] == "echo":
        j = json.loads(out.strip().splitlines()[-1])
        return dict(ops=j["requests"], rate=j["requests_per_s"],
                    p50_us=j["latency_ns"]["p50"] / 1e3, p99_us=j["latency_ns"]["p99"] / 1e3,
                    errors=j["errors"]["total"])
    if wl["kind"] == "churn":
        j = json.loads(out.strip().splitlines()[-1])
        return dict(ops=j["connections"], rate=j["connections_per_s"],
                    p50_us=j["latency_ns"]["p50"] / 1e3, p99_us=j["latency_ns"]["p99"] / 1e3,
                    errors=j["errors"])
    m = re.search(r"CIO_BENCH requests=(\d+) duration_us=(\d+) errors=(\d+) p50_us=(\d+) "
                  r"p99_us=(\d+)", out)
    if not m:
        raise ValueError("no CIO_BENCH line in wrk's output")
    req, dur, err, p50, p99 = (int(x) for x in m.groups())
    return dict(ops=req, rate=req / (dur / 1e6) if dur else 0.0, p50_us=float(p50),
                p99_us=float(p99), errors=err)


def warm_wrk(tools, wl, port, warmup, cpu):
    """wrk has no warmup option: a separate short run first."""
    if warmup <= 0:
        return
    cmd, env = load_cmd(tools, wl, port, max(1, warmup), 0, cpu)
    run_bounded(cmd, warmup + 30, env=env)


def measure(args, tools, wl, server, tmpdir, margin=0.2):
    """One run of workload wl against a fresh server: returns a result dict (or one with
    'error')."""
    res = dict(workload=wl["id"], server=server.name)
    try:
        srv = Running(server, wl["proto"], tmpdir)
    except RuntimeError as e:
        res["error"] = str(e)
        return res
    try:
        dur, warm = args.duration, args.warmup
        if wl["kind"] == "wrk":
            warm_wrk(tools, wl, srv.port, warm, args.load_cpu)
            dur, warm = float(max(1, int(round(dur)))), 0.0
        cmd, env = load_cmd(tools, wl, srv.port, dur, warm, args.load_cpu)
        t0 = time.monotonic()
        load = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        # the CPU window sits inside the load's measured window, off its edges
        m = min(margin, dur / 10)
        scpus = cpu_list(server.cpus) if server.cpus else set()
        lcpus = {args.load_cpu} if args.load_cpu is not None else set()
        sleep_until(t0 + warm + m)
        w0, c0 = time.monotonic(), cpu_seconds(srv.pid)
        b0s, b0l, l0 = cpu_busy(scpus), cpu_busy(lcpus), cpu_seconds(load.pid)
        sleep_until(t0 + warm + dur - m)
        w1, c1 = time.monotonic(), cpu_seconds(srv.pid)
        b1s, b1l, l1 = cpu_busy(scpus), cpu_busy(lcpus), cpu_seconds(load.pid)
        # other work on the two CPUs while we measured (other processes, ksoftirqd...)
        res["foreign_server_cpu"] = max(0.0, (b1s - b0s) - (c1 - c0)) / (w1 - w0)
        res["foreign_load_cpu"] = max(0.0, (b1l - b0l) - (l1 - l0)) / (w1 - w0)
        res["load_util"] = (l1 - l0) / (w1 - w0)
        try:
            out, err = load.communicate(timeout=dur + warm + 60)
        except subprocess.TimeoutExpired:
            load.kill()
            out, err = load.communicate(timeout=10)
            err += " [killed: did not finish in time]"
        LIVE.pop(load.pid, None)
        if not srv.alive():
            res["error"] = "server died during the run: " + srv.stderr_tail()
            return res
        try:
            r = parse_load(wl, out)
        except (ValueError, KeyError, IndexError, json.JSONDecodeError) as e:
            res["error"] = "load tool failed (rc %s): %s %s" % (
                load.returncode, e, (err or "").strip()[-300:])
            return res
        res.update(r)
        window_ops = r["rate"] * (w1 - w0)
        res["cpu_us_per_op"] = (c1 - c0) / window_ops * 1e6 if window_ops > 0 else float("nan")
        res["server_util"] = (c1 - c0) / (w1 - w0)
        res["window_s"] = w1 - w0
        if r["ops"] == 0:
            res["error"] = "no operation completed: " + (err or "").strip()[-300:]
        return res
    finally:
        rc = srv.stop()
        if rc is None:
            res.setdefault("note", "did not exit within 5 s of SIGTERM")


# the calls broken out per operation (the rest is summed as "other"); only those the kernel has
# tracepoints for are asked of perf: enabling all ~350 syscall tracepoints takes perf 15 s
SYSCALL_NAMES = [
    "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg",
    "sendmmsg", "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll",
    "select", "pselect6", "accept", "accept4", "close", "shutdown", "setsockopt", "getsockopt",
    "getsockname", "getpeername", "fcntl", "ioctl", "futex", "mmap", "munmap", "mprotect",
    "madvise", "brk", "eventfd2", "timerfd_settime", "io_uring_enter", "sched_yield",
    "clock_gettime", "nanosleep", "clock_nanosleep", "rt_sigprocmask", "splice", "sendfile64",
]


def perf_syscall_events(perf):
    rc, out, _ = run_bounded([perf, "list", "syscalls:sys_enter_*"], 60)
    have = set(re.findall(r"syscalls:sys_enter_(\w+)", out))
    return [n for n in SYSCALL_NAMES if n in have]


def start_counter(tools, pid, tmpdir):
    """Attaches perf stat (disabled until it acknowledges 'enable' on its control FIFO, so
    the count starts exactly before the load) or strace -c -f to pid. Returns a handle for
    stop_counter, or raises RuntimeError."""
    if tools.perf:
        ctl, ack = os.path.join(tmpdir, "perf.ctl"), os.path.join(tmpdir, "perf.ack")
        for f in (ctl, ack):
            if os.path.exists(f):
                os.unlink(f)
            os.mkfifo(f)
        events = ["-e", "raw_syscalls:sys_enter"]
        for n in tools.perf_events:
            events += ["-e", "syscalls:sys_enter_" + n]
        err = open(os.path.join(tmpdir, "perf.err"), "w+")
        p = spawn([tools.perf, "stat", "-x,", "-D", "-1", "--control",
                   "fifo:%s,%s" % (ctl, ack)] + events + ["-p", str(pid)],
                  stdout=subprocess.DEVNULL, stderr=err)
        # O_RDWR: opening a FIFO so never blocks, whether or not perf has it open yet
        cfd, afd = os.open(ctl, os.O_RDWR), os.open(ack, os.O_RDWR | os.O_NONBLOCK)
        try:
            os.write(cfd, b"enable\n")
            import select
            deadline = time.monotonic() + 60
            got = b""
            while b"ack" not in got and time.monotonic() < deadline and p.poll() is None:
                r, _, _ = select.select([afd], [], [], 0.5)
                if r:
                    got += os.read(afd, 64)
        finally:
            os.close(cfd)
            os.close(afd)
        if b"ack" not in got:
            reap(p)
            err.seek(0)
            raise RuntimeError("perf stat did not start: " + err.read()[-300:])
        return ("perf", p, err)
    err = open(os.path.join(tmpdir, "strace.err"), "w+")
    p = spawn([tools.strace, "-c", "-f", "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and p.poll() is None:
        err.seek(0)
        if "attached" in err.read():
            return ("strace", p, err)
        time.sleep(0.05)
    reap(p)
    raise RuntimeError("strace did not attach")


def stop_counter(handle):
    """-> (total, {name: count}) counted since start_counter."""
    kind, p, err = handle
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)
    LIVE.pop(p.pid, None)
    err.seek(0)
    text = err.read()
    err.close()
    counts, total = {}, None
    for line in text.splitlines():
        if kind == "perf":
            f = line.split(",")
            if len(f) < 3 or not f[0].strip().isdigit():
                continue
            if f[2] == "raw_syscalls:sys_enter":
                total = int(f[0])
            elif f[2].startswith("syscalls:sys_enter_") and int(f[0]) > 0:
                counts[f[2][len("syscalls:sys_enter_"):]] = int(f[0])
        else:
            f = line.split()
            if (len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[3].isdigit() and
                    f[-1] != "total"):
                counts[f[-1]] = int(f[3])
    if kind == "strace" and counts:
        total = sum(counts.values())
    if total is not None and kind == "perf":
        other = total - sum(counts.values())
        if other > 0:
            counts["other"] = other
    return total, counts


def count_syscalls(args, tools, wl, server, tmpdir):
    """A separate run of the workload with the server's system calls counted from before the
    load connects until after it has gone (so connection set-up and tear-down are in, and
    every operation of the run is counted: no warmup). Returns (per_op, {name: per_op},
    method) or (None, {}, reason)."""
    if not tools.perf and not tools.strace:
        return None, {}, "neither perf nor strace available"
    method = "perf stat -e raw_syscalls:sys_enter" if tools.perf else "strace -c -f"
    try:
        srv = Running(server, wl["proto"], tmpdir)
    except RuntimeError as e:
        return None, {}, str(e)
    handle = None
    try:
        dur = args.sys_duration
        if wl["kind"] == "wrk":
            dur = float(max(1, int(round(dur))))
        cmd, env = load_cmd(tools, wl, srv.port, dur, 0.0, args.load_cpu)
        handle = start_counter(tools, srv.pid, tmpdir)
        rc, out, err = run_bounded(cmd, dur + 60, env=env)
        time.sleep(0.3)  # the server closes what the load left
        total, counts = stop_counter(handle)
        handle = None
        r = parse_load(wl, out)
        if total is None or r["ops"] <= 0:
            return None, {}, "could not count (%s)" % method
        return total / r["ops"], {k: v / r["ops"] for k, v in counts.items()}, method
    except (ValueError, KeyError, IndexError, RuntimeError, OSError,
            subprocess.TimeoutExpired) as e:
        return None, {}, "failed: %s" % e
    finally:
        if handle is not None:
            stop_counter(handle)
        srv.stop()


# ---------------------------------------------------------------------------------------------
# memory per idle connection


def idle_client(host, port, count, hold, echo_first=False):
    """Child mode (--idle-client): opens count idle connections — each after one 64-byte echo
    with echo_first — says 'ready N' on stdout, keeps them until stdin closes or hold seconds
    pass."""
    raise_nofile()
    socks = []
    deadline = time.monotonic() + 120
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect((host, port))
            if echo_first:
                s.sendall(b"x" * 64)
                got = 0
                while got < 64:
                    d = s.recv(64 - got)
                    if not d:
                        raise OSError("closed by the server during the echo")
                    got += len(d)
            socks.append(s)
    except OSError as e:
        print("error after %d connections: %s" % (len(socks), e), file=sys.stderr, flush=True)
    print("ready %d" % len(socks), flush=True)
    import select
    select.select([sys.stdin], [], [], hold)
    for s in socks:
        s.close()
    return 0


def measure_memory(args, server, tmpdir):
    """RSS delta of the echo server per idle connection, in bytes; or (None, reason)."""
    try:
        srv = Running(server, "echo", tmpdir)
    except RuntimeError as e:
        return None, str(e)
    client = None
    try:
        # one exchange first, so what a server sets up lazily is in the baseline
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"x" * 64)
            got = 0
            while got < 64:
                d = s.recv(64)
                if not d:
                    break
                got += len(d)
        time.sleep(0.3)
        base_fds = fd_count(srv.pid)
        rss0 = rss_kib(srv.pid)
        cmd = ([sys.executable, os.path.abspath(__file__), "--idle-client",
                "127.0.0.1:%d" % srv.port, str(args.idle_conns)] +
               (["--idle-echo"] if args.idle_echo else []))
        if args.load_cpu is not None:
            cmd = ["taskset", "-c", str(args.load_cpu)] + cmd
        client = spawn(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
        line = ""
        deadline = time.monotonic() + 150
        import select
        while time.monotonic() < deadline:
            r, _, _ = select.select([client.stdout], [], [], 1)
            if r:
                line = client.stdout.readline()
                break
            if client.poll() is not None:
                break
        m = re.match(r"ready (\d+)", line or "")
        if not m or int(m.group(1)) < args.idle_conns:
            return None, "client opened only %s connections: %s" % (
                m.group(1) if m else "?", client.stderr.read()[-300:] if client.poll() is not
                None else "")
        n = int(m.group(1))
        # wait until the server has accepted every connection (one descriptor each)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and fd_count(srv.pid) < base_fds + n:
            time.sleep(0.1)
        accepted = fd_count(srv.pid) - base_fds
        if accepted < n:
            return None, "server holds %d of %d connections after 60 s" % (accepted, n)
        # let it settle — cio saves the stacks of tasks parked for a second (its default
        # cio_rt_options.idle_save), so wait past that — then take the larger of two readings
        time.sleep(3.0)
        rss1 = max(rss_kib(srv.pid), rss_kib(srv.pid))
        return (rss1 - rss0) * 1024 / n, "RSS %d -> %d KiB over %d connections" % (rss0, rss1, n)
    except OSError as e:
        return None, "failed: %s" % e
    finally:
        if client is not None:
            try:
                client.stdin.close()
            except OSError:
                pass
            reap(client, term_wait=30)
        srv.stop()


# ---------------------------------------------------------------------------------------------
# micro benchmarks


def run_micro(args, tools):
    """-> dict with ctxswitch_ns, swapcontext_ns, timer_ns (and the raw outputs)."""
    res = {}
    pin = ["taskset", "-c", str(args.server_cpu)]
    if tools.ctxswitch:
        cmd = pin + [tools.ctxswitch] + (["1000000"] if args.quick else [])
        rc, out, err = run_bounded(cmd, 300)
        res["ctxswitch_out"] = out.strip() or err.strip()
        m = re.search(r"cio__coro_switch\s+([\d.]+) ns", out)
        if m:
            res["ctxswitch_ns"] = float(m.group(1))
        m = re.search(r"swapcontext\s+([\d.]+) ns", out)
        if m:
            res["swapcontext_ns"] = float(m.group(1))
    if tools.timers:
        rc, out, err = run_bounded(pin + [tools.timers, "1000000"], 600)
        res["timers_out"] = out.strip() or err.strip()
        m = re.search(r"insert \+ cancel\s+([\d.]+)", out)
        if m:
            res["timer_ns"] = float(m.group(1))
    if tools.spread:
        # both CPUs: the point is that the second task runs on the other worker
        rc, out, err = run_bounded([tools.spread] + (["3"] if args.quick else []), 600)
        res["spread_out"] = out.strip() or err.strip()
        m = re.search(r"paired median: stealing ([\d.]+)x, no_stealing ([\d.]+)x", out)
        if m:
            res["spread_ratio"] = float(m.group(1))
            res["spread_pinned_ratio"] = float(m.group(2))
    if tools.parked:
        n = "100000" if args.quick else "1000000"
        rc, out, err = run_bounded(pin + [tools.parked, n], 900)
        res["parked_out"] = out.strip() or err.strip()
        for key, label in (("parked_bytes", "the default"), ("parked_saved_bytes", "stacks saved")):
            m = re.search(r"\(%s\)\s+(\d+) B RSS \+\s+(\d+) B page tables" % label, out)
            if m:
                res[key] = float(m.group(1))
                res[key.replace("bytes", "pte")] = float(m.group(2))
        res["parked_tasks"] = int(n)
    return res


# ---------------------------------------------------------------------------------------------
# statistics and reports


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def iqr(xs):
    if len(xs) < 4:
        return (min(xs), max(xs)) if xs else (float("nan"), float("nan"))
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def pct(x):
    if x is None or x != x:
        return "—"
    x *= 100
    return "%.0f%%" % x if x >= 10 else "%.1f%%" % x


def fmt(x, digits=3):
    if x is None or x != x:
        return "—"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return "%.*g" % (digits, x)


def summarize(servers, runs, syscalls, max_foreign=0.15):
    """Per (workload, server): medians, spreads, and ratios to the floor (paired per rep:
    run i of a server against run i of the floor, they ran back to back)."""
    cells = {}
    for wl in WORKLOADS:
        floor = [r for r in runs if r["workload"] == wl["id"] and r["server"] == "epoll"]
        for s in servers:
            rs = [r for r in runs if r["workload"] == wl["id"] and r["server"] == s.name]
            good = [r for r in rs if "error" not in r]
            if not rs:
                continue
            c = dict(workload=wl["id"], server=s.name, runs=len(good),
                     failed=len(rs) - len(good),
                     errors=sum(r.get("errors", 0) for r in good),
                     noisy=sum(1 for r in good if max(r.get("foreign_server_cpu", 0),
                                                      r.get("foreign_load_cpu", 0)) > max_foreign))
            fx = [max(r.get("foreign_server_cpu", 0), r.get("foreign_load_cpu", 0)) for r in good]
            c["foreign"] = med(fx)
            for key in ("rate", "cpu_us_per_op", "p50_us", "p99_us", "server_util", "load_util",
                        "foreign_server_cpu", "foreign_load_cpu"):
                xs = [r[key] for r in good if key in r and r[key] == r[key]]
                c[key] = med(xs)
                c[key + "_min"] = min(xs) if xs else float("nan")
                c[key + "_max"] = max(xs) if xs else float("nan")
                c[key + "_q1"], c[key + "_q3"] = iqr(xs)
            ratios, tratios = [], []
            for r in good:
                f = [x for x in floor if x.get("rep") == r["rep"] and "error" not in x]
                if f and f[0]["cpu_us_per_op"] > 0:
                    ratios.append(r["cpu_us_per_op"] / f[0]["cpu_us_per_op"])
                    tratios.append(r["rate"] / f[0]["rate"])
            c["cpu_ratio"] = med(ratios)
            c["cpu_ratio_min"] = min(ratios) if ratios else float("nan")
            c["cpu_ratio_max"] = max(ratios) if ratios else float("nan")
            c["rate_ratio"] = med(tratios)
            sc = syscalls.get((wl["id"], s.name))
            c["syscalls_per_op"] = sc[0] if sc and sc[0] is not None else float("nan")
            cells[(wl["id"], s.name)] = c
    return cells


def paired(runs, wl, a, b):
    """CPU/op of server a over server b's, run by run (the same repetition: back to back)."""
    out = []
    for r in runs:
        if r["workload"] != wl or r["server"] != a or "error" in r:
            continue
        o = [x for x in runs if x["workload"] == wl and x["server"] == b and
             x.get("rep") == r.get("rep") and "error" not in x]
        if o and o[0]["cpu_us_per_op"] > 0:
            out.append(r["cpu_us_per_op"] / o[0]["cpu_us_per_op"])
    return out


def targets(cells, memory, micro, runs):
    """The issue's targets: (text, value, limit, met, unit, detail) rows; value None when not
    measured. CPU ratios are medians of the run-by-run ratios; the detail gives their
    interquartile range and in how many repetitions cio was above the other."""
    rows = []

    def cell(w, s, key):
        c = cells.get((w, s))
        return c.get(key) if c else None

    def add(text, value, limit, unit="", detail=""):
        if value is None or value != value:
            rows.append((text, None, limit, None, unit, detail))
        else:
            rows.append((text, value, limit, value <= limit, unit, detail))

    for w, name in (("echo-c100", "echo c=100"), ("http", "HTTP plain"),
                    ("http-p16", "HTTP pipelined x16")):
        for peer, lim in (("epoll", 1.00), ("tokio", 0.92), ("libuv", 0.95)):
            rs = paired(runs, w, "cio", peer)
            detail = ""
            if len(rs) >= 2:
                q = iqr(rs)
                detail = "IQR %.2f–%.2f; cio higher in %d of %d runs" % (
                    q[0], q[1], sum(1 for x in rs if x > 1), len(rs))
            add("cio %s: server CPU/op vs %s" % (name, "epoll floor" if peer == "epoll" else peer),
                med(rs) if rs else None, lim, "x", detail)
    add("cio syscalls per echoed message at c=100 vs the floor's",
        (cell("echo-c100", "cio", "syscalls_per_op") or float("nan")) /
        (cell("echo-c100", "epoll", "syscalls_per_op") or float("nan")), 1.00, "x")
    mem = memory.get("cio", (None, ""))[0]
    add("cio memory per idle connection (10k)", mem / 1024 if mem is not None else None, 1.0,
        " KiB")
    add("cio context switch", micro.get("ctxswitch_ns"), 10.0, " ns")
    add("cio two CPU-bound tasks on 2 workers vs one", micro.get("spread_ratio"), 1.3, "x")
    return rows


def write_outputs(args, servers, runs, cells, syscalls, sysbreak, memory, micro, notes, meta):
    os.makedirs(args.out, exist_ok=True)
    # raw runs
    keys = ["workload", "server", "rep", "attempt", "rate", "cpu_us_per_op", "server_util",
            "load_util", "foreign_server_cpu", "foreign_load_cpu", "p50_us", "p99_us", "ops",
            "errors", "window_s", "error", "note"]
    with open(os.path.join(args.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in runs:
            w.writerow(r)
    # per-cell summary
    ckeys = ["workload", "server", "runs", "failed", "errors", "rate", "rate_min", "rate_max",
             "rate_q1", "rate_q3", "rate_ratio", "cpu_us_per_op", "cpu_us_per_op_min",
             "cpu_us_per_op_max", "cpu_us_per_op_q1", "cpu_us_per_op_q3", "cpu_ratio",
             "cpu_ratio_min", "cpu_ratio_max", "server_util", "load_util", "foreign_server_cpu",
             "foreign_load_cpu", "syscalls_per_op", "p50_us",
             "p50_us_min", "p50_us_max", "p99_us", "p99_us_min", "p99_us_max", "value", "unit"]
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ckeys)
        for wl in WORKLOADS:
            for s in servers:
                c = cells.get((wl["id"], s.name))
                if c:
                    w.writerow([c.get(k) if not isinstance(c.get(k), float) else
                                "%.6g" % c.get(k) for k in ckeys])
        # the single figures: the same columns, the figure under "value" with its "unit"
        for s in servers:
            if s.name in memory and memory[s.name][0] is not None:
                row = {k: "" for k in ckeys}
                row.update(workload="idle-%d" % args.idle_conns, server=s.name, runs=1,
                           value="%.1f" % memory[s.name][0], unit="bytes/connection")
                w.writerow([row[k] for k in ckeys])
        for key, what, unit in (("ctxswitch_ns", "ctxswitch", "ns/switch"),
                                ("swapcontext_ns", "ctxswitch-swapcontext", "ns/switch"),
                                ("timer_ns", "timer-insert-cancel-1M", "ns/timer"),
                                ("spread_ratio", "two-cpu-tasks-2-workers", "x one task"),
                                ("spread_pinned_ratio", "two-cpu-tasks-no-stealing",
                                 "x one task")):
            if key in micro:
                row = {k: "" for k in ckeys}
                row.update(workload=what, server="cio" if "swapcontext" not in key else "glibc",
                           runs=1, value="%.2f" % micro[key], unit=unit)
                w.writerow([row[k] for k in ckeys])
    with open(os.path.join(args.out, "syscalls.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "server", "syscall", "per_op"])
        for (wid, sname), per in sorted(sysbreak.items()):
            for name, v in sorted(per.items(), key=lambda kv: -kv[1]):
                w.writerow([wid, sname, name, "%.4f" % v])

    raw = dict(runs=runs, syscalls=[[w, n, v[0], v[1]] for (w, n), v in syscalls.items()],
               sysbreak=[[w, n, b] for (w, n), b in sysbreak.items()],
               memory={k: list(v) for k, v in memory.items()}, micro=micro, notes=notes,
               meta=meta, reps=args.reps, idle_conns=args.idle_conns, idle_echo=args.idle_echo,
               max_foreign=args.max_foreign, retries=args.retries)
    with open(os.path.join(args.out, "raw.json"), "w") as f:
        json.dump(raw, f, indent=1)
    md = render_markdown(args, servers, cells, syscalls, sysbreak, memory, micro, notes, meta,
                         runs)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    m = dict(meta)
    plot(args, servers, cells, "%s, load average %s" % (
        m.get("date", ""), m.get("load average", "").split(" at start")[0]))
    return md


def render_markdown(args, servers, cells, syscalls, sysbreak, memory, micro, notes, meta,
                    runs):
    L = []
    L.append("# cio side-by-side benchmark\n")
    L.append("| | |\n|---|---|")
    for k, v in meta:
        L.append("| %s | %s |" % (k, v))
    L.append("")
    L.append("Each cell: median over the repetitions, [min–max] beside it. *CPU µs/op* is the "
             "server's utime+stime over a window inside the measured run divided by the "
             "operations completed in it (message echoed, HTTP response, or connection); "
             "*× floor* is that figure over the epoll floor's from the same repetition "
             "(median of the paired ratios); *thr × floor* compares throughput the same way. "
             "*srv CPU* / *load CPU* is how busy the server / the load tool was (100%% = one "
             "core); *other* is how much of the two benchmark CPUs other work took during the "
             "window (a run with more than %d%% was repeated, up to %d times; *noisy* counts "
             "runs kept over it). *sys/op* is system calls per "
             "operation from a separate counted run. Latency p50/p99 are the load tool's "
             "(µs).\n" % (args.max_foreign * 100, args.retries))
    for wl in WORKLOADS:
        rows = [cells.get((wl["id"], s.name)) for s in servers]
        if not any(rows):
            continue
        L.append("### %s (`%s`)\n" % (wl["title"], wl["id"]))
        L.append("| server | %ss/s | thr × floor | CPU µs/op | CPU × floor | srv CPU | load CPU "
                 "| other | sys/op | p50 µs | p99 µs | runs |" % wl["op"])
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s, c in zip(servers, rows):
            if not c:
                continue
            nruns = "%d" % c["runs"]
            if c["failed"]:
                nruns += " (%d failed)" % c["failed"]
            if c["errors"]:
                nruns += " (%d load errors)" % c["errors"]
            if c.get("noisy"):
                nruns += " (%d noisy)" % c["noisy"]
            L.append("| %s | %s [%s–%s] | %s | %s [%s–%s] | %s [%s–%s] | %s | %s | %s | %s "
                     "| %s | %s | %s |" % (
                         s.label, fmt(c["rate"]), fmt(c["rate_min"]), fmt(c["rate_max"]),
                         fmt(c["rate_ratio"], 3), fmt(c["cpu_us_per_op"]),
                         fmt(c["cpu_us_per_op_min"]), fmt(c["cpu_us_per_op_max"]),
                         fmt(c["cpu_ratio"]), fmt(c["cpu_ratio_min"]), fmt(c["cpu_ratio_max"]),
                         pct(c["server_util"]), pct(c.get("load_util")), pct(c.get("foreign")),
                         fmt(c["syscalls_per_op"]),
                         fmt(c["p50_us"]), fmt(c["p99_us"]), nruns))
        L.append("")
    # system call breakdown for the echo c=100 cell
    brk = [(s, sysbreak.get(("echo-c100", s.name))) for s in servers]
    if any(b for _, b in brk):
        L.append("### System calls per echoed message, echo c=100, by call\n")
        names = sorted({n for _, b in brk if b for n, v in b.items() if v >= 0.005})
        L.append("| server | " + " | ".join(names) + " | total |")
        L.append("|---|" + "---:|" * (len(names) + 1))
        for s, b in brk:
            if b:
                tot = syscalls.get(("echo-c100", s.name), (None,))[0]
                L.append("| %s | %s | %s |" % (s.label, " | ".join(fmt(b.get(n, 0.0)) for n in
                                                                    names), fmt(tot)))
        L.append("")
    if memory:
        L.append("### Memory per idle connection (%d idle connections%s, echo servers)\n" %
                 (args.idle_conns, ", each after one echo" if args.idle_echo else ""))
        L.append("| server | bytes per connection | KiB | how |")
        L.append("|---|---:|---:|---|")
        for s in servers:
            if s.name in memory:
                v, how = memory[s.name]
                L.append("| %s | %s | %s | %s |" % (s.label, fmt(v), fmt(v / 1024) if v is not
                                                    None else "—", how))
        L.append("")
    if micro:
        L.append("### Runtime micro benchmarks\n")
        L.append("| what | ns |")
        L.append("|---|---:|")
        if "ctxswitch_ns" in micro:
            L.append("| cio context switch (cio__coro_switch) | %.2f |" % micro["ctxswitch_ns"])
        if "swapcontext_ns" in micro:
            L.append("| glibc swapcontext, for comparison | %.2f |" % micro["swapcontext_ns"])
        if "timer_ns" in micro:
            L.append("| timer insert + cancel at 1,000,000 timers | %.1f |" % micro["timer_ns"])
        L.append("")
        if "parked_bytes" in micro:
            L.append("Tasks per process (bench/micro/parked, %d tasks parked in a sleep): %.0f B of "
                     "RSS each (+%.0f B page tables) with their stacks kept, %.0f B (+%.0f B) "
                     "with idle_save saving them.\n" % (
                         micro["parked_tasks"], micro["parked_bytes"], micro["parked_pte"],
                         micro.get("parked_saved_bytes", float("nan")),
                         micro.get("parked_saved_pte", float("nan"))))
        if "spread_ratio" in micro:
            L.append("Two CPU-bound tasks spawned by one task on a 2-worker runtime, wall time "
                     "against one task alone (bench/micro/spread, paired median): work stealing "
                     "%.3fx, no_stealing %.3fx.\n" % (micro["spread_ratio"],
                                                       micro["spread_pinned_ratio"]))
    rows = targets(cells, memory, micro, runs)
    L.append("### Targets\n")
    L.append("| target | measured | limit | | spread |")
    L.append("|---|---:|---:|---|---|")
    for text, value, limit, met, unit, detail in rows:
        if value is None:
            verdict, shown = "not measured", "—"
        else:
            shown = "%.3g%s" % (value, unit)
            verdict = "met" if met else "MISSED by %.1f%%" % ((value / limit - 1) * 100)
            if met:
                verdict += " (%.1f%% margin)" % ((1 - value / limit) * 100)
        L.append("| %s | %s | %g%s | %s | %s |" % (text, shown, limit, unit, verdict, detail))
    L.append("")
    if notes:
        L.append("### Notes\n")
        for n in notes:
            L.append("- " + n)
        L.append("")
    if os.path.exists(os.path.join(args.out, "ratios.png")) or tools_have_gnuplot():
        L.append("![server CPU per operation relative to the epoll floor](ratios.png)\n")
    return "\n".join(L)


def tools_have_gnuplot():
    return shutil.which("gnuplot") is not None


def plot(args, servers, cells, subtitle=""):
    gp = shutil.which("gnuplot")
    if not gp:
        return
    shown = [s for s in servers if s.name != "epoll"]
    wls = [wl for wl in WORKLOADS if any(cells.get((wl["id"], s.name)) for s in shown)]
    if not shown or not wls:
        return
    with tempfile.TemporaryDirectory() as td:
        dat = os.path.join(td, "ratios.dat")
        with open(dat, "w") as f:
            # per server three columns: median paired ratio, min, max (the error bar)
            for wl in wls:
                vals = []
                for s in shown:
                    c = cells.get((wl["id"], s.name))
                    for key in ("cpu_ratio", "cpu_ratio_min", "cpu_ratio_max"):
                        v = c[key] if c else float("nan")
                        vals.append("%.4f" % v if v == v else "NaN")
                f.write('"%s" %s\n' % (wl["id"], " ".join(vals)))
        png = os.path.join(args.out, "ratios.png")
        tops = [cells[(wl["id"], s.name)]["cpu_ratio_max"] for wl in wls for s in shown
                if cells.get((wl["id"], s.name))]
        ymax = max([1.2] + [t * 1.08 for t in tops if t == t])
        series = ", ".join(
            "'%s' using %d:%d:%d:xtic(1) title \"%s\"" % (dat, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i,
                                                          s.label)
            for i, s in enumerate(shown))
        script = """
set terminal pngcairo size 1100,560 font "sans,10"
set output '%s'
set title "Server CPU time per operation relative to the hand-written epoll server (lower is better)\\n%s"
set ylabel "CPU per op / epoll floor (median, bars: min-max over %d paired runs)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top vertical
set grid ytics
set yrange [0:%.2f]
set datafile missing "NaN"
plot %s, 1 with lines dt 2 lc rgb "black" title "epoll floor"
""" % (png, subtitle, args.reps, ymax, series)
        p = spawn([gp], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
        try:
            _, err = p.communicate(script, timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        LIVE.pop(p.pid, None)
        if p.returncode != 0:
            log("harness: gnuplot failed: " + (err or "").strip()[-300:])


# ---------------------------------------------------------------------------------------------
# main


def git_commit():
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return out + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def build_type(build):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", f.read(), re.M)
            return m.group(1) if m else "?"
    except OSError:
        return "?"


def wait_quiet(args):
    """Waits (up to --quiet-wait s) until other work leaves the benchmark CPUs alone: nothing
    of ours runs now, so whatever keeps them busy is someone else's. Returns the seconds
    waited."""
    cpus = {args.server_cpu} | ({args.load_cpu} if args.load_cpu is not None else set())
    t0 = time.monotonic()
    while True:
        b0, w0 = {c: cpu_busy({c}) for c in cpus}, time.monotonic()
        time.sleep(0.5)
        w1 = time.monotonic()
        busy = max((cpu_busy({c}) - b0[c]) / (w1 - w0) for c in cpus)
        if busy <= args.max_foreign / 2 or w1 - t0 >= args.quiet_wait:
            return w1 - t0
        time.sleep(2)


def guarded(fn, on_error, *a):
    """fn(*a), or on_error (a dict gets 'error') when it raises anything but a stop request:
    one broken run must not lose the others."""
    try:
        return fn(*a)
    except Stop:
        raise
    except Exception as e:  # noqa: BLE001 (anything: report it and go on)
        import traceback
        log("harness: %s failed: %s" % (fn.__name__, traceback.format_exc(limit=3)))
        if isinstance(on_error, dict):
            return dict(on_error, error="harness error: %r" % e)
        return on_error


def rerender(args):
    with open(os.path.join(args.out, "raw.json")) as f:
        raw = json.load(f)
    args.reps, args.idle_conns = raw["reps"], raw["idle_conns"]
    args.idle_echo = raw.get("idle_echo", False)
    names = {r["server"] for r in raw["runs"]} | set(raw["memory"])
    servers = [s for s in find_servers(args, 3) if s.name in names]
    syscalls = {(w, n): (v, how) for w, n, v, how in raw["syscalls"]}
    sysbreak = {(w, n): b for w, n, b in raw["sysbreak"]}
    memory = {k: tuple(v) for k, v in raw["memory"].items()}
    meta = [tuple(m) for m in raw["meta"]]
    args.max_foreign, args.retries = raw.get("max_foreign", 0.15), raw.get("retries", 2)
    cells = summarize(servers, raw["runs"], syscalls, args.max_foreign)
    print(write_outputs(args, servers, raw["runs"], cells, syscalls, sysbreak, memory,
                        raw["micro"], raw["notes"], meta))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build/bench"),
                    help="CMake build directory (Release) with tools/ and bench/")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--sys-duration", type=float, default=2.0,
                    help="seconds of the separate system call counting run")
    ap.add_argument("--idle-conns", type=int, default=10000)
    ap.add_argument("--idle-echo", action="store_true",
                    help="memory: each idle connection echoes one 64-byte message first (a "
                    "connection that was used and went idle, rather than one that never was)")
    ap.add_argument("--quick", action="store_true", help="1 repetition, 2 s runs")
    ap.add_argument("--servers", default="", help="comma-separated subset (epoll,libuv,...)")
    ap.add_argument("--workloads", default="",
                    help="comma-separated subset of " + ",".join(w["id"] for w in WORKLOADS) +
                    ",memory,micro")
    ap.add_argument("--max-foreign", type=float, default=0.15,
                    help="run again when other work took more than this share of the server's "
                    "or the load's CPU during the measured window (default 0.15)")
    ap.add_argument("--retries", type=int, default=2, help="how often, at most (default 2)")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="before running again, wait up to this many seconds for the benchmark "
                    "CPUs to be free of other work (default 120)")
    ap.add_argument("--quiet-budget", type=float, default=900,
                    help="seconds of such waiting in the whole run, at most (default 900)")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--load-cpu", type=int, default=1)
    ap.add_argument("--rerender", action="store_true",
                    help="rewrite the reports in --out from its raw.json, measuring nothing")
    ap.add_argument("--idle-client", nargs=2, metavar=("HOST:PORT", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.idle_client:
        host, port = args.idle_client[0].rsplit(":", 1)
        return idle_client(host, int(port), int(args.idle_client[1]), 300, args.idle_echo)

    if args.rerender:
        return rerender(args)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    raise_nofile()
    if args.quick:
        args.reps, args.duration, args.warmup, args.sys_duration = 1, 2.0, 0.5, 1.5
    args.build = os.path.abspath(args.build)
    notes = []
    ncpu = len(os.sched_getaffinity(0))
    if ncpu < 2:
        notes.append("only %d CPU: server and load share it (not pinned apart)" % ncpu)
        args.load_cpu = None
    if ncpu <= 2:
        notes.append("cio multi-thread variant skipped: %d CPUs, one of them for the load" % ncpu)

    servers = find_servers(args, ncpu)
    tools = Tools(args)
    wanted = set(args.workloads.split(",")) if args.workloads else None
    workloads = [wl for wl in WORKLOADS if not wanted or wl["id"] in wanted]

    la0 = loadavg()
    started = datetime.datetime.now().astimezone()
    t_start = time.monotonic()
    for s in servers:
        for proto, why in sorted(s.missing.items()):
            notes.append("%s %s server skipped: %s" % (s.label, proto, why))
            log("harness: %s %s skipped: %s" % (s.name, proto, why))
    if not tools.perf:
        notes.append("perf cannot count syscall tracepoints here; system calls counted with "
                     "strace -c -f" if tools.strace else "system calls not counted (no perf, "
                     "no strace)")

    runs, syscalls, sysbreak, memory, micro = [], {}, {}, {}, {}
    retried, waited = [0], [0.0]
    load_peak = list(la0)
    tmpdir = tempfile.mkdtemp(prefix="cio-bench-")
    try:
        for wl in workloads:
            why = tools.missing_for(wl)
            if why:
                notes.append("workload %s skipped: %s" % (wl["id"], why))
                log("harness: %s skipped: %s" % (wl["id"], why))
                continue
            active = [s for s in servers if wl["proto"] in s.cmds]
            if not active:
                continue
            log("== %s: %s (%d reps, %g s + %g s warmup)" % (wl["id"], wl["title"], args.reps,
                                                             args.duration, args.warmup))
            for rep in range(args.reps):
                for s in active:  # interleaved: A B C A B C ...
                    for attempt in range(1 + args.retries):
                        r = guarded(measure, dict(workload=wl["id"], server=s.name), args,
                                    tools, wl, s, tmpdir)
                        r["rep"], r["attempt"] = rep, attempt + 1
                        la = loadavg()
                        load_peak = [max(a, b) for a, b in zip(load_peak, la)]
                        noisy = max(r.get("foreign_server_cpu", 0), r.get("foreign_load_cpu", 0))
                        if "error" in r:
                            log("  rep %d %-9s FAILED: %s" % (rep + 1, s.name, r["error"]))
                        else:
                            log("  rep %d %-9s %10.0f %s/s  %7.3f µs/op  cpu %3.0f%%  p99 %8.0f "
                                "µs%s  (other work on the CPUs %2.0f%%/%2.0f%%, load %.2f)" % (
                                    rep + 1, s.name, r["rate"], wl["op"], r["cpu_us_per_op"],
                                    r["server_util"] * 100, r["p99_us"],
                                    "  errors %d" % r["errors"] if r["errors"] else "",
                                    r["foreign_server_cpu"] * 100, r["foreign_load_cpu"] * 100,
                                    la[0]))
                        if ("error" not in r and noisy <= args.max_foreign) or \
                                attempt == args.retries:
                            break
                        # other work took a share of a benchmark CPU: this run says little
                        log("      (other work on the benchmark CPUs: run again when quieter)")
                        retried[0] += 1
                        if waited[0] < args.quiet_budget:
                            waited[0] += wait_quiet(args)
                    runs.append(r)
            for s in active:
                per, brk, how = guarded(count_syscalls, (None, {}, "harness error"), args,
                                        tools, wl, s, tmpdir)
                syscalls[(wl["id"], s.name)] = (per, how)
                if brk:
                    sysbreak[(wl["id"], s.name)] = brk
                log("  syscalls %-9s %s" % (s.name, "%.3f per %s" % (per, wl["op"]) if per is not
                                            None else how))
            if syscalls:
                meth = {v[1] for v in syscalls.values() if v[0] is not None}
                for mth in meth:
                    note = ("system calls counted with `%s -p PID` over a separate %.1f s run "
                            "(all of it: connection set-up and tear-down included)" % (
                                mth, args.sys_duration))
                    if note not in notes:
                        notes.append(note)
        if not wanted or "memory" in wanted:
            log("== memory per idle connection (%d connections)" % args.idle_conns)
            for s in servers:
                if "echo" not in s.cmds:
                    continue
                memory[s.name] = guarded(measure_memory, (None, "harness error"), args, s,
                                         tmpdir)
                v, how = memory[s.name]
                log("  %-9s %s" % (s.name, "%.0f bytes/conn (%s)" % (v, how) if v is not None
                                   else how))
        if not wanted or "micro" in wanted:
            log("== micro benchmarks")
            micro = run_micro(args, tools)
            for k in ("ctxswitch_out", "timers_out", "spread_out", "parked_out"):
                if micro.get(k):
                    log(micro[k])
            if not tools.ctxswitch or not tools.timers:
                notes.append("micro benchmarks not built (bench/micro)")
    except Stop as e:
        log("harness: stopped by %s; killing what runs" % e)
        kill_all()
        return 130
    finally:
        kill_all()
        shutil.rmtree(tmpdir, ignore_errors=True)

    la1 = loadavg()
    load_peak = [max(a, b) for a, b in zip(load_peak, la1)]
    meta = [
        ("date", started.strftime("%Y-%m-%d %H:%M %Z")),
        ("commit", git_commit()),
        ("machine", "%s, %d CPUs, Linux %s" % (cpu_model(), os.cpu_count(), platform.release())),
        ("build", "%s (%s)" % (os.path.relpath(args.build, ROOT), build_type(args.build))),
        ("runs", "%d repetitions, interleaved; %g s measured after %g s warmup; server on CPU "
         "%s, load on CPU %s" % (args.reps, args.duration, args.warmup, args.server_cpu,
                                args.load_cpu)),
        ("load tools", "echo: cio-load (closed loop, 64 B); HTTP: wrk -t1 -c100 with "
         "bench/wrk/report.lua; churn: bench/churn/churn_client"),
        ("load average", "%.2f %.2f %.2f at start, %.2f %.2f %.2f at end, peak 1-min %.2f "
         "(other work on the machine shows here)" % (la0 + la1 + (load_peak[0],))),
        ("wall time", "%.0f s; %d runs repeated because other work took over %.0f%% of a "
         "benchmark CPU (%.0f s spent waiting for quieter CPUs first)" % (
             time.monotonic() - t_start, retried[0], args.max_foreign * 100, waited[0])),
        ("command", "`%s`" % " ".join(
            ["%s=%s" % (k, os.environ[k]) for k in ("REPS", "QUICK", "DURATION", "WARMUP",
                                                    "SERVERS", "WORKLOADS", "BUILD_DIR")
             if os.environ.get(k)] + [os.path.relpath(__file__, ROOT)] +
            [a if a != args.build else os.path.relpath(a, ROOT) for a in sys.argv[1:]])),
    ]
    cells = summarize(servers, runs, syscalls, args.max_foreign)
    md = write_outputs(args, servers, runs, cells, syscalls, sysbreak, memory, micro, notes, meta)
    print(md)
    log("harness: results in %s" % os.path.relpath(args.out, os.getcwd()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_all()

#!/usr/bin/env python3
"""counts.py: the driver of bench/counts.sh — exact counts per operation, not times.

For every workload and server it runs the server twice, each time with the same load from
counts_client (a fixed number of operations after a fixed warm-up, every connection opened
before the window and closed after it):

1. under valgrind --tool=callgrind with instrumentation off from the start; when the client
   has finished its warm-up and every answer is in (the server is idle in its poll), vgdb
   switches instrumentation on; when the measured operations are all answered, it switches
   it off and dumps. The dump holds the user-space instructions (Ir) the server executed
   for exactly those operations, all threads together; cgcount.py sums them and finds the
   atomic read-modify-write instructions among them (lock prefix, xchg with memory).
2. natively, with `perf stat -e raw_syscalls:sys_enter` (and one tracepoint per common call)
   attached but disabled, enabled and disabled at the same two points through perf's control
   FIFO: the system calls of the window. Without perf: strace -c -f attached for the window.

Before any of it, a self-test runs atomics_selftest under callgrind and checks that the
atomic count is the known one. Writes OUT/counts.md and OUT/counts.json and prints the
table. Every process it starts is killed when it ends or fails; every wait is bounded.
"""
import argparse
import datetime
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import cgcount  # noqa: E402

SERVERS = [("epoll", "epoll floor"), ("libuv", "libuv"), ("cio", "cio current-thread"),
           ("cio-uring", "cio current-thread, io_uring"),
           # not in the default set: the 2-worker servers of bench/steal.py, counted whole
           # (every thread; valgrind runs one thread at a time, so where tasks run differs
           # from a native run: these count the cost of each path, not the placement)
           ("cio-sharded", "cio 2 workers, sharded by hand"),
           ("cio-one-loop", "cio 2 workers, one accept loop")]
# extra arguments of a server (the echo tool only)
SERVER_ARGS = {"cio-sharded": ["--workers", "2"],
               "cio-one-loop": ["--workers", "2", "--one-accept-loop"]}
# extra environment of a server (cio-uring: the same program on the io_uring backend)
SERVER_ENV = {"cio-uring": {"CIO_BACKEND": "uring"}}
# name, label, protocol, requests per write
WORKLOADS = [
    ("echo-c100", "echo 64 B, 100 conns", "echo", 1),
    ("http", "HTTP keep-alive, 100 conns", "http", 1),
    ("http-p16", "HTTP pipelined x16, 100 conns", "http", 16),
]
# system calls counted one by one in the native run (the rest is "other")
SYSCALL_NAMES = [
    "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll", "accept4",
    "close", "shutdown", "futex", "clock_gettime", "mmap", "munmap", "madvise", "brk",
    "rt_sigprocmask", "sched_yield", "ioctl", "timerfd_settime", "io_uring_enter",
]

# what glibc answers from the vDSO natively; under valgrind (no vDSO) each is a system call
VDSO_FUNCS = {"clock_gettime", "__clock_gettime", "__clock_gettime64", "gettimeofday",
              "__gettimeofday", "time", "getcpu", "sched_getcpu", "clock_getres"}

LIVE = {}


class Stop(Exception):
    pass


def on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def child_setup():
    """In a child before exec: die with this script, even if it is SIGKILLed."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(cmd, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(cmd, preexec_fn=child_setup, **kw)
    LIVE[p.pid] = p
    return p


def reap(p, term_wait=30.0):
    """SIGTERM, up to term_wait seconds, then SIGKILL. -> exit status (None if killed)."""
    rc = p.poll()
    if rc is None:
        try:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=term_wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=30)
            rc = None
    LIVE.pop(p.pid, None)
    return rc


def kill_all():
    for p in list(LIVE.values()):
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
    LIVE.clear()


def run_bounded(cmd, timeout):
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        err += "\n[killed after %.0f s]" % timeout
    LIVE.pop(p.pid, None)
    return p.returncode, out, err


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Lines:
    """The lines a child writes on a pipe, read by a thread, taken with a timeout."""

    def __init__(self, pipe):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.t.start()

    def _read(self, pipe):
        for line in pipe:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def expect(self, pattern, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("timed out waiting for %s" % what)
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("%s: the process ended first" % what)
            m = re.search(pattern, line)
            if m:
                return m


def tail(path, n=400):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:].strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- servers and the load

def server_cmd(build, server, proto):
    listen = ["--listen", "127.0.0.1:0"]
    if server in ("epoll", "libuv"):
        path = os.path.join(build, "bench/peers/%s_server" % server)
        return path, [path, "--proto", proto] + listen
    env = ["%s=%s" % kv for kv in SERVER_ENV.get(server, {}).items()]
    if proto == "echo":
        path = os.path.join(build, "tools/cio-echo")
        return path, env + [path] + listen + SERVER_ARGS.get(server, ["--workers", "1"])
    path = os.path.join(build, "tools/cio-http-hello")
    # the peers keep idle connections forever: no idle timer, like them
    return path, env + [path] + listen + ["--workers", "1", "--idle-timeout", "0"]


def pin(cpu):
    if cpu is None or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpu)]


def threads_of(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return None


def run_once(a, cmd, wl, tmp, tag, wrap=(), on_start=None, on_warm=None, on_measured=None):
    """Starts the server (cmd, under wrap), runs the load with its two sync points, stops
    the server. The hooks get the server's pid. -> dict with the server's thread counts.
    Leading NAME=VALUE words of cmd are the server's extra environment."""
    _, _, proto, depth = wl
    env = dict(os.environ)
    while cmd and "=" in cmd[0] and not cmd[0].startswith("/"):
        name, _, value = cmd[0].partition("=")
        env[name] = value
        cmd = cmd[1:]
    err_path = os.path.join(tmp, tag + ".server.err")
    with open(err_path, "w") as err:
        srv = spawn(pin(a.server_cpu) + list(wrap) + cmd, stdout=subprocess.PIPE, stderr=err,
                    text=True, env=env)
    info = {}
    try:
        lines = Lines(srv.stdout)
        try:
            m = lines.expect(r"listening on 127\.0\.0\.1:(\d+)", a.start_timeout,
                             "the server's 'listening on' line")
        except RuntimeError as e:
            raise RuntimeError("%s (%s)" % (e, tail(err_path)))
        port = int(m.group(1))
        if on_start:
            on_start(srv.pid)
        ccmd = pin(a.load_cpu) + [
            a.client, "--target", "127.0.0.1:%d" % port, "--mode", proto,
            "--connections", str(a.connections), "--warmup", str(a.warmup_ops),
            "--ops", str(a.ops), "--pipeline", str(depth), "--sync",
            "--timeout", str(a.client_timeout)]
        cerr_path = os.path.join(tmp, tag + ".client.err")
        with open(cerr_path, "w") as cerr:
            cli = spawn(ccmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=cerr,
                        text=True)
        try:
            out = Lines(cli.stdout)
            try:
                out.expect(r"^warm$", a.client_timeout, "the end of the warm-up")
                info["threads_warm"] = threads_of(srv.pid)
                if on_warm:
                    on_warm(srv.pid)
                cli.stdin.write("go\n")
                cli.stdin.flush()
                out.expect(r"^measured$", a.client_timeout, "the measured operations")
                info["threads_measured"] = threads_of(srv.pid)
                if on_measured:
                    on_measured(srv.pid)
                cli.stdin.write("go\n")
                cli.stdin.flush()
                m = out.expect(r"^ok ops=(\d+)", a.client_timeout, "the client's result")
            except RuntimeError as e:
                raise RuntimeError("%s (client: %s; server: %s)" % (
                    e, tail(cerr_path), tail(err_path)))
            if int(m.group(1)) != a.ops:
                raise RuntimeError("the client ran %s operations, not %d" % (m.group(1), a.ops))
            if cli.wait(timeout=60) != 0:
                raise RuntimeError("the client failed: " + tail(cerr_path))
        finally:
            reap(cli, 5)
    finally:
        info["server_exit"] = reap(srv)
    return info


def measure_callgrind(a, cmd, wl, tmp, tag):
    """Ir, atomics and valgrind's own system-call count for the measured window."""
    prefix = os.path.join(tmp, tag + ".vgdb")
    outf = os.path.join(a.keep, tag + ".callgrind.out")
    for old in [outf] + ["%s.%d" % (outf, i) for i in range(1, 10)]:
        if os.path.exists(old):
            os.unlink(old)
    vg = [a.valgrind, "--tool=callgrind", "--instr-atstart=no", "--dump-instr=yes",
          "--compress-pos=no", "--compress-strings=no", "--collect-systime=yes",
          "--vgdb=yes", "--vgdb-prefix=" + prefix, "--callgrind-out-file=" + outf]

    def vgdb(pid, *words):
        rc, out, err = run_bounded([a.vgdb, "--vgdb-prefix=" + prefix, "--pid=%d" % pid] +
                                   list(words), 120)
        if rc != 0:
            raise RuntimeError("vgdb %s: %s" % (" ".join(words), (out + err).strip()[-300:]))

    info = run_once(a, cmd, wl, tmp, tag + ".cg", wrap=vg,
                    on_warm=lambda pid: vgdb(pid, "instrumentation", "on"),
                    on_measured=lambda pid: (vgdb(pid, "instrumentation", "off"),
                                             vgdb(pid, "dump")))
    dump = outf + ".1"
    if not os.path.exists(dump):
        raise RuntimeError("callgrind wrote no dump (%s)" % dump)
    res = cgcount.count(dump, nsites=8)
    res["vdso_calls"] = sum(v for fn, v in res.get("sysCount_by_function", {}).items()
                            if fn.split("@")[0].split("'")[0] in VDSO_FUNCS)
    res["threads"] = [info.get("threads_warm"), info.get("threads_measured")]
    res["file"] = os.path.relpath(dump, ROOT) if dump.startswith(ROOT) else dump
    if res["unknown_objects"]:
        log("    note: code in objects that could not be disassembled: %s" %
            res["unknown_objects"])
    return res


def perf_events(perf):
    rc, out, _ = run_bounded([perf, "list", "syscalls:sys_enter_*"], 60)
    have = set(re.findall(r"syscalls:sys_enter_(\w+)", out)) if rc == 0 else set()
    return [n for n in SYSCALL_NAMES if n in have]


def measure_syscalls(a, cmd, wl, tmp, tag):
    """The server's system calls in the window, natively: perf stat enabled and disabled
    through its control FIFO at the two sync points (or strace -c -f attached for it)."""
    st = {}
    if a.perf:
        ctl, ack = os.path.join(tmp, tag + ".perf.ctl"), os.path.join(tmp, tag + ".perf.ack")
        for f in (ctl, ack):
            if os.path.exists(f):
                os.unlink(f)
            os.mkfifo(f)
        errp = os.path.join(tmp, tag + ".perf.err")

        def start(pid):
            events = ["-e", "raw_syscalls:sys_enter"]
            for n in a.perf_names:
                events += ["-e", "syscalls:sys_enter_" + n]
            with open(errp, "w") as err:
                st["p"] = spawn([a.perf, "stat", "-x,", "-D", "-1", "--control",
                                 "fifo:%s,%s" % (ctl, ack)] + events + ["-p", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=err)
            # O_RDWR: opening a FIFO so never blocks, whether or not perf has it open yet
            st["ctl"] = os.open(ctl, os.O_RDWR)
            st["ack"] = os.open(ack, os.O_RDWR | os.O_NONBLOCK)

        def command(word):
            import select
            os.write(st["ctl"], (word + "\n").encode())
            got, deadline = b"", time.monotonic() + 60
            while b"ack" not in got and time.monotonic() < deadline and st["p"].poll() is None:
                r, _, _ = select.select([st["ack"]], [], [], 0.5)
                if r:
                    got += os.read(st["ack"], 64)
            if b"ack" not in got:
                raise RuntimeError("perf stat did not acknowledge '%s': %s" %
                                   (word, tail(errp)))

        try:
            run_once(a, cmd, wl, tmp, tag + ".sys", on_start=start,
                     on_warm=lambda pid: command("enable"),
                     on_measured=lambda pid: command("disable"))
        finally:
            for k in ("ctl", "ack"):
                if k in st:
                    os.close(st[k])
            if "p" in st:
                st["p"].send_signal(signal.SIGINT)
                try:
                    st["p"].wait(timeout=60)
                except subprocess.TimeoutExpired:
                    st["p"].kill()
                LIVE.pop(st["p"].pid, None)
        total, counts = None, {}
        for line in open(errp, errors="replace").read().splitlines():
            f = line.split(",")
            if len(f) < 3 or not f[0].strip().isdigit():
                continue
            if f[2] == "raw_syscalls:sys_enter":
                total = int(f[0])
            elif f[2].startswith("syscalls:sys_enter_") and int(f[0]) > 0:
                counts[f[2][len("syscalls:sys_enter_"):]] = int(f[0])
        if total is None:
            raise RuntimeError("perf stat counted nothing: " + tail(errp))
        other = total - sum(counts.values())
        if other > 0:
            counts["other"] = other
        return total, counts, "perf"
    # strace -c -f, attached for the window
    errp = os.path.join(tmp, tag + ".strace.err")

    def attach(pid):
        with open(errp, "w") as err:
            st["p"] = spawn([a.strace, "-c", "-f", "-p", str(pid)], stdout=subprocess.DEVNULL,
                            stderr=err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and st["p"].poll() is None:
            if "attached" in tail(errp, 100000):
                return
            time.sleep(0.05)
        raise RuntimeError("strace did not attach: " + tail(errp))

    def detach(pid):
        st["p"].send_signal(signal.SIGINT)
        st["p"].wait(timeout=60)
        LIVE.pop(st["p"].pid, None)

    try:
        run_once(a, cmd, wl, tmp, tag + ".sys", on_warm=attach, on_measured=detach)
    finally:
        if "p" in st:
            reap(st["p"], 5)
    counts = {}
    for line in open(errp, errors="replace").read().splitlines():
        f = line.split()
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[3].isdigit() and f[-1] != "total":
            counts[f[-1]] = int(f[3])
    if not counts:
        raise RuntimeError("strace counted nothing: " + tail(errp))
    return sum(counts.values()), counts, "strace"


# ---------------------------------------------------------------- the self-test

def selftest(a, tmp):
    """Builds atomics_selftest (program + shared library) and checks the atomic count that
    cgcount finds under callgrind against the known one. -> (found, expected)."""
    src = os.path.join(HERE, "atomics_selftest.c")
    lib = os.path.join(tmp, "libatomics_selftest.so")
    exe = os.path.join(tmp, "atomics_selftest")
    for cmd in ([a.cc, "-O2", "-shared", "-fPIC", "-DSELFTEST_LIB", "-o", lib, src],
                [a.cc, "-O2", "-o", exe, src, "-L" + tmp, "-latomics_selftest",
                 "-Wl,-rpath," + tmp]):
        rc, out, err = run_bounded(cmd, 120)
        if rc != 0:
            raise RuntimeError("self-test: %s failed: %s" % (cmd[0], err[-300:]))
    outf = os.path.join(tmp, "selftest.callgrind.out")
    n = 1000
    rc, out, err = run_bounded([a.valgrind, "--tool=callgrind", "--toggle-collect=selftest_work",
                                "--collect-atstart=no", "--dump-instr=yes",
                                "--compress-pos=no", "--compress-strings=no",
                                "--callgrind-out-file=" + outf, exe, str(n)], 120)
    if rc != 0:
        raise RuntimeError("self-test: valgrind failed: " + err[-300:])
    expected = int(out.strip())
    return cgcount.count(outf)["atomics"], expected


# ---------------------------------------------------------------- the report

def fmt(v, digits=1):
    if v is None:
        return "—"
    return "{:,.{d}f}".format(v, d=digits)


def ratio(v, floor):
    if v is None or not floor:
        return "—"
    return "%.2f×" % (v / floor)


def spread(vals, digits=1):
    """'median' or 'median [min–max]' when the repetitions differ."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, "—"
    med = statistics.median(vals)
    if len(vals) > 1 and fmt(max(vals), digits) != fmt(min(vals), digits):
        return med, "%s [%s–%s]" % (fmt(med, digits), fmt(min(vals), digits),
                                   fmt(max(vals), digits))
    return med, fmt(med, digits)


def git_commit(src):
    rc, out, _ = run_bounded(["git", "-C", src, "rev-parse", "--short=12", "HEAD"], 30)
    if rc != 0:
        return "unknown"
    commit = out.strip()
    rc, out, _ = run_bounded(["git", "-C", src, "status", "--porcelain", "--untracked-files=no"],
                             30)
    return commit + (" (with uncommitted changes)" if rc == 0 and out.strip() else "")


def build_source(build):
    """The source tree a CMake build dir was configured from, and its build type."""
    src, btype = None, "?"
    try:
        for line in open(os.path.join(build, "CMakeCache.txt"), errors="replace"):
            if line.startswith("CMAKE_HOME_DIRECTORY:"):
                src = line.split("=", 1)[1].strip()
            elif line.startswith("CMAKE_BUILD_TYPE:"):
                btype = line.split("=", 1)[1].strip() or "none"
    except OSError:
        pass
    return src, btype


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def render(a, meta, cells, selftest_res):
    L = []
    L.append("# Exact counts per operation")
    L.append("")
    L.append("Counts, not times: what the server executes for a fixed number of operations, "
             "after a warm-up, with connection set-up and tear-down outside the window. "
             "How it is measured: [bench/README.md](../README.md#exact-counts-per-operation-"
             "benchcountssh).")
    L.append("")
    for k, v in meta:
        L.append("- **%s**: %s" % (k, v))
    L.append("")
    L.append("| workload | server | instr/op | × floor | atomics/op | syscalls/op | × floor "
             "| syscalls/op, native | clock reads/op |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    for wname, wlabel, _, _ in a.workloads:
        floor = cells.get((wname, "epoll"), {})
        for sname, slabel in a.servers:
            c = cells.get((wname, sname))
            if c is None:
                continue
            if "error" in c:
                L.append("| %s | %s | %s | | | | | | |" % (wlabel, slabel, "failed: " +
                                                        c["error"][:120].replace("|", "/")))
                continue
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                wlabel, slabel, c["ir_text"], ratio(c["ir"], floor.get("ir")),
                c["atomics_text"], c["sys_text"], ratio(c["sys"], floor.get("sys")),
                c["native_text"], c["clock_text"]))
    L.append("")
    L.append("*op*: one echoed 64-byte message, or one HTTP response (a pipelined write "
             "carries 16 requests: 16 ops). *instr/op*: user-space instructions the server "
             "process (all its threads) executed in the window, under callgrind; kernel work "
             "is not in it. *atomics/op*: those of them with a lock prefix, plus xchg with a "
             "memory operand. *syscalls/op*: the system calls of the same callgrind window, "
             "less the clock reads: valgrind gives the program no vDSO, so there each "
             "clock_gettime is a system call, which natively it is not; *clock reads/op* "
             "counts them (their few vDSO instructions are not in instr/op either). Under "
             "valgrind the server is ~50× slower than the client, so it finds nearly every "
             "connection ready at each wait, and the counts nearly repeat (instr/op moves "
             "with the number of wake-ups: ~1.6%% at worst, for libuv echo, 0.25%% or less "
             "elsewhere). *syscalls/op, native*: the same window of a run without valgrind (%s); "
             "it differs in epoll_wait, whose count depends on how many events are ready per "
             "wait, i.e. on timing. Every figure is the median of the runs, [min–max] where "
             "they differ: a difference smaller than that is not a result. *× floor*: over "
             "the epoll floor's median for the same workload." % a.sys_method)
    L.append("")

    def by_call_table(title, key):
        names = []
        for c in cells.values():
            for n in c.get(key, {}):
                if n not in names and n != "other":
                    names.append(n)
        names.sort(key=lambda n: -max(c.get(key, {}).get(n, 0) for c in cells.values()))
        if any(c.get(key, {}).get("other") for c in cells.values()):
            names.append("other")
        if not names:
            return
        L.append(title)
        L.append("")
        L.append("| workload | server | " + " | ".join(names) + " |")
        L.append("|---|---|" + "--:|" * len(names))
        for wname, wlabel, _, _ in a.workloads:
            for sname, slabel in a.servers:
                c = cells.get((wname, sname))
                if not c or key not in c:
                    continue
                L.append("| %s | %s | %s |" % (wlabel, slabel, " | ".join(
                    fmt(c[key].get(n), 3) if c[key].get(n) else "" for n in names)))
        L.append("")

    by_call_table("## System calls per operation, by the libc function that made them "
                  "(callgrind window, clock reads left out)", "sys_by_call")
    by_call_table("## System calls per operation, by call (native runs, median)",
                  "native_by_call")
    # where the instructions go
    L.append("## Instructions per operation, by object")
    L.append("")
    L.append("| workload | server | by object (instr/op) | threads |")
    L.append("|---|---|---|--:|")
    for wname, wlabel, _, _ in a.workloads:
        for sname, slabel in a.servers:
            c = cells.get((wname, sname))
            if not c or "by_object" not in c:
                continue
            objs = ", ".join("%s %s" % (os.path.basename(o) or "?", fmt(v))
                             for o, v in c["by_object"].items() if v >= 0.05)
            L.append("| %s | %s | %s | %s |" % (wlabel, slabel, objs,
                                                c.get("threads") or "?"))
    L.append("")
    # atomic sites
    sites = [(w, s, c) for (w, s), c in cells.items() if c.get("sites")]
    if sites:
        L.append("## Atomic instructions, by site (per operation)")
        L.append("")
        L.append("| workload | server | object | function | address | instruction | per op |")
        L.append("|---|---|---|---|--:|---|--:|")
        wl_label = {w[0]: w[1] for w in a.workloads}
        sv_label = dict(a.servers)
        for wname, _, _, _ in a.workloads:
            for sname, _ in a.servers:
                c = cells.get((wname, sname))
                if not c or not c.get("sites"):
                    continue
                for st in c["sites"]:
                    L.append("| %s | %s | %s | `%s` | %s | `%s` | %s |" % (
                        wl_label[wname], sv_label[sname], st["object"], st["function"],
                        st["addr"], st["insn"].split("#")[0].strip(), fmt(st["per_op"], 3)))
        L.append("")
    L.append("Self-test of the atomic count (bench/counts/atomics_selftest.c under callgrind, a "
             "program and a shared library with a known number of atomics): %s." %
             selftest_res)
    L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description="exact counts per operation (bench/counts.sh)")
    ap.add_argument("--build", required=True, help="the build tree whose servers are counted")
    ap.add_argument("--client", required=True, help="the counts_client executable")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results"))
    ap.add_argument("--keep", help="where the callgrind dumps go (default BUILD/bench-counts)")
    ap.add_argument("--servers", default="epoll,libuv,cio,cio-uring")
    ap.add_argument("--workloads", default="echo-c100,http,http-p16")
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--ops", type=int, default=50000, help="operations measured")
    ap.add_argument("--warmup-ops", type=int, default=10000, help="operations before")
    ap.add_argument("--reps", type=int, default=3,
                    help="callgrind runs per cell (median and range reported)")
    ap.add_argument("--sys-reps", type=int, default=3,
                    help="native system-call runs per cell (median and range reported)")
    ap.add_argument("--no-syscalls", action="store_true", help="skip the native runs")
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--start-timeout", type=float, default=120)
    ap.add_argument("--client-timeout", type=int, default=300)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.client = os.path.abspath(a.client)
    a.keep = os.path.abspath(a.keep or os.path.join(a.build, "bench-counts"))
    if (os.cpu_count() or 1) < 2:
        a.server_cpu = a.load_cpu = None
    known_s, known_w = dict(SERVERS), {w[0]: w for w in WORKLOADS}
    want_s = a.servers.split(",")
    want_w = a.workloads.split(",")
    for s in want_s:
        if s not in known_s:
            ap.error("unknown server %s (known: %s)" % (s, ", ".join(known_s)))
    for w in want_w:
        if w not in known_w:
            ap.error("unknown workload %s (known: %s)" % (w, ", ".join(known_w)))
    # the floor first: the ratios need it
    a.servers = [(s, known_s[s]) for s, _ in SERVERS if s in want_s]
    a.workloads = [w for w in WORKLOADS if w[0] in want_w]
    for w in a.workloads:
        if a.ops % w[3] or a.warmup_ops % w[3]:
            ap.error("--ops and --warmup-ops must be multiples of %d (%s)" % (w[3], w[0]))
    a.valgrind, a.vgdb = shutil.which("valgrind"), shutil.which("vgdb")
    a.cc = shutil.which("cc") or shutil.which("gcc")
    if not a.valgrind or not a.vgdb or not shutil.which("objdump") or not a.cc:
        raise SystemExit("counts: needs valgrind (with vgdb), objdump and cc "
                         "(Debian: apt-get install valgrind binutils gcc)")
    a.perf, a.strace, a.perf_names = shutil.which("perf"), shutil.which("strace"), []
    if a.perf:
        rc, _, _ = run_bounded([a.perf, "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--",
                                "true"], 60)
        if rc == 0:
            a.perf_names = perf_events(a.perf)
        else:
            a.perf = None
    if a.no_syscalls:
        a.sys_method = "not run"
    elif a.perf:
        a.sys_method = "perf stat -e raw_syscalls:sys_enter, enabled for the window"
    elif a.strace:
        a.sys_method = "strace -c -f, attached for the window"
    else:
        a.sys_method = "not counted: neither perf nor strace"
        a.no_syscalls = True

    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.keep, exist_ok=True)
    tmp = os.path.join(a.keep, "tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    t0 = time.monotonic()
    started = datetime.datetime.now().astimezone()
    raw = {}
    try:
        log("counts: self-test of the atomic count")
        found, expected = selftest(a, tmp)
        selftest_res = "%d found, %d expected: %s" % (found, expected,
                                                      "exact" if found == expected else "WRONG")
        log("  " + selftest_res)
        if found != expected:
            raise SystemExit("counts: the atomic count is not exact on this machine; "
                             "not measuring")
        for wl in a.workloads:
            for rep in range(max(a.reps, 0 if a.no_syscalls else a.sys_reps)):
                for sname, _ in a.servers:
                    path, cmd = server_cmd(a.build, sname, wl[2])
                    r = raw.setdefault((wl[0], sname), {"cg": [], "sys": [], "errors": []})
                    if not os.access(path, os.X_OK):
                        if rep == 0:
                            r["errors"].append("not built: " + os.path.relpath(path, a.build))
                        continue
                    tag = "%s.%s.%d" % (wl[0], sname, rep)
                    if rep < a.reps:
                        t = time.monotonic()
                        try:
                            x = measure_callgrind(a, cmd, wl, tmp, tag)
                            r["cg"].append(x)
                            log("counts: %-9s %-6s callgrind: %.1f instr/op, %.3f atomics/op, "
                                "%.3f syscalls/op (%.0f s)" % (
                                    wl[0], sname, x["Ir"] / a.ops, x["atomics"] / a.ops,
                                    (x.get("sysCount", 0) - x["vdso_calls"]) / a.ops,
                                    time.monotonic() - t))
                        except RuntimeError as e:
                            r["errors"].append("callgrind: %s" % e)
                            log("counts: %-9s %-6s callgrind failed: %s" % (wl[0], sname, e))
                    if a.no_syscalls or rep >= a.sys_reps:
                        continue
                    try:
                        total, counts, how = measure_syscalls(a, cmd, wl, tmp, tag)
                        r["sys"].append({"total": total, "by_call": counts, "method": how})
                        log("counts: %-9s %-6s native:    %.3f syscalls/op (%s)" % (
                            wl[0], sname, total / a.ops, how))
                    except RuntimeError as e:
                        r["errors"].append("syscalls: %s" % e)
                        log("counts: %-9s %-6s native run failed: %s" % (wl[0], sname, e))
    except Stop as e:
        log("counts: stopped by %s" % e)
        kill_all()
        return 130
    finally:
        kill_all()

    cells = {}
    for (w, s), r in raw.items():
        c = {}
        if not r["cg"] and r["errors"]:
            c["error"] = r["errors"][0]
            cells[(w, s)] = c
            continue
        n = a.ops
        c["ir"], c["ir_text"] = spread([x["Ir"] / n for x in r["cg"]])
        c["atomics"], c["atomics_text"] = spread([x["atomics"] / n for x in r["cg"]], 3)
        c["sys"], c["sys_text"] = spread(
            [(x.get("sysCount", 0) - x["vdso_calls"]) / n for x in r["cg"]], 3)
        c["clock"], c["clock_text"] = spread([x["vdso_calls"] / n for x in r["cg"]], 3)
        c["native"], c["native_text"] = spread([x["total"] / n for x in r["sys"]], 3)
        if r["sys"]:
            calls = {k for x in r["sys"] for k in x["by_call"]}
            c["native_by_call"] = {k: statistics.median(x["by_call"].get(k, 0) / n
                                                        for x in r["sys"]) for k in calls}
        # the detail tables show the run with the median instruction count
        mid = sorted(r["cg"], key=lambda x: x["Ir"])[len(r["cg"]) // 2]
        c["sys_by_call"] = {}
        for fn, v in mid.get("sysCount_by_function", {}).items():
            name = fn.split("@")[0].split("'")[0]
            if name not in VDSO_FUNCS:
                c["sys_by_call"][name] = c["sys_by_call"].get(name, 0) + v / n
        c["by_object"] = {o: v / n for o, v in mid["Ir_by_object"].items()}
        c["threads"] = max(t for x in r["cg"] for t in x["threads"] if t is not None) \
            if any(t for x in r["cg"] for t in x["threads"]) else None
        c["sites"] = [dict(st, per_op=st["count"] / n) for st in mid["sites"]
                      if st["count"] / n >= 0.0005]
        c["errors"] = r["errors"]
        cells[(w, s)] = c

    src, btype = build_source(a.build)
    rc, vgver, _ = run_bounded([a.valgrind, "--version"], 30)
    meta = [
        ("date", started.strftime("%Y-%m-%d %H:%M %Z")),
        ("commit", "%s (build %s, %s)" % (git_commit(src) if src else "unknown",
                                          os.path.relpath(a.build, ROOT)
                                          if a.build.startswith(ROOT) else a.build, btype)),
        ("machine", "%s, %d CPUs, Linux %s, %s" % (cpu_model(), os.cpu_count(),
                                                   platform.release(),
                                                   "glibc " + platform.libc_ver()[1])),
        ("load", "counts_client, %d connections, closed loop; %d operations counted after %d "
         "warm-up operations; %d callgrind run%s and %d native run%s per cell, median "
         "[min–max] where they differ; server on CPU %s, client on CPU %s" % (
             a.connections, a.ops, a.warmup_ops, a.reps, "" if a.reps == 1 else "s",
             0 if a.no_syscalls else a.sys_reps, "" if a.sys_reps == 1 else "s",
             a.server_cpu, a.load_cpu)),
        ("tools", "%s (callgrind, --instr-atstart=no, switched on and off with vgdb); "
         "system calls: %s" % (vgver.strip(), a.sys_method)),
        ("wall time", "%.0f s" % (time.monotonic() - t0)),
    ]
    md = render(a, meta, cells, selftest_res)
    with open(os.path.join(a.out, "counts.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "counts.json"), "w") as f:
        json.dump({"meta": dict(meta), "selftest": selftest_res,
                   "cells": {"%s/%s" % k: v for k, v in cells.items()},
                   "raw": {"%s/%s" % k: v for k, v in raw.items()}}, f, indent=1,
                  sort_keys=True)
        f.write("\n")
    print(md)
    log("counts: %s/counts.md, counts.json (callgrind dumps in %s)" % (
        os.path.relpath(a.out), os.path.relpath(a.keep)))
    errors = [e for c in cells.values() for e in c.get("errors", [])] + \
        [c["error"] for c in cells.values() if "error" in c]
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_all()

#!/usr/bin/env python3
"""cgcount.py: exact counts from one callgrind output file (bench/counts.sh).

Reads a file written with --dump-instr=yes --compress-pos=no --compress-strings=no and sums
the self cost of every executed instruction (the cost line after a calls= line is the
call's inclusive cost and is skipped). It then disassembles every object that ran
(objdump -d) and finds the atomic read-modify-write instructions among the executed
addresses: any instruction with a lock prefix, and xchg with a memory operand (implicitly
locked). callgrind writes addresses relative to each object's load base, so they are the
addresses objdump prints. An executed address that objdump does not list as the start of an
instruction (a jump into the middle of one, e.g. over a lock prefix) is not counted as
atomic; such addresses are reported as "unaligned".

Usage: cgcount.py CALLGRIND_OUT [--sites N]   (or import it: count(path))
Prints a JSON object: Ir, the top functions by Ir (self cost), sysCount and system calls
by function (when collected with --collect-systime), atomics, atomics by kind, the top
atomic sites (object, function, address, instruction, count), Ir per object.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

PREFIXES = {"lock", "xacquire", "xrelease", "data16", "data32", "addr32", "rex", "rex.w",
            "rex.W", "bnd", "notrack", "cs", "ds", "es", "ss", "fs", "gs", "rep", "repz",
            "repnz", "repe", "repne"}


def parse_callgrind(path):
    """-> (events, {(ob, addr): [cost...]}, {(ob, addr): fn}, totals)"""
    events = []
    costs = defaultdict(lambda: None)
    fns = {}
    ob = fn = None
    skip_next = False
    summary = totals = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c == "0" or c.isdigit() or c in "+-*":
                if skip_next:  # the inclusive cost of the call above
                    skip_next = False
                    continue
                parts = line.split()
                if not parts[0].startswith("0x"):
                    raise SystemExit("cgcount: %s: relative positions; run callgrind with "
                                     "--dump-instr=yes --compress-pos=no" % path)
                addr = int(parts[0], 16)
                vals = [int(v) for v in parts[2:]]  # parts[1] is the line number
                key = (ob, addr)
                cur = costs[key]
                if cur is None:
                    cur = costs[key] = [0] * len(events)
                for i, v in enumerate(vals):
                    cur[i] += v
                fns.setdefault(key, fn)
                continue
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("positions:"):
                if line.split()[1:] != ["instr", "line"]:
                    raise SystemExit("cgcount: %s: need 'positions: instr line' (%s)" %
                                     (path, line))
            elif line.startswith("ob="):
                ob = line[3:]
            elif line.startswith("fn="):
                fn = line[3:]
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith("summary:"):
                summary = [int(v) for v in line.split()[1:]]
            elif line.startswith("totals:"):
                totals = [int(v) for v in line.split()[1:]]
    return events, costs, fns, totals if totals is not None else summary


INSN = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")


def atomic_kind(text):
    """'lock' / 'xchg' for an atomic RMW instruction in objdump's AT&T text, else None."""
    text = text.split("#")[0].split("<")[0].strip()
    toks = text.split()
    i = 0
    has_lock = False
    while i < len(toks) and toks[i] in PREFIXES:
        has_lock |= toks[i] == "lock"
        i += 1
    if i >= len(toks):
        return None
    if has_lock:
        return "lock"
    mnem = toks[i]
    if mnem.startswith("xchg") and i + 1 < len(toks):
        ops = " ".join(toks[i + 1:])
        if "(" in ops:
            return "xchg"
        if any(not o.strip().startswith("%") for o in ops.split(",")):
            return "xchg"  # an absolute memory operand
    return None


def disassemble(obj):
    """-> ({addr: (kind, text)} for the atomic instructions, set of instruction starts)"""
    try:
        out = subprocess.run(["objdump", "-d", "-w", "--no-show-raw-insn", obj],
                             capture_output=True, text=True, timeout=300).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    atomics, starts = {}, set()
    for line in out.splitlines():
        m = INSN.match(line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        starts.add(addr)
        kind = atomic_kind(m.group(2))
        if kind:
            atomics[addr] = (kind, " ".join(m.group(2).split()))
    return atomics, starts


def count(path, nsites=15, nfunctions=15):
    """Everything cgcount reports for one callgrind file, as a dict."""
    events, costs, fns, summary = parse_callgrind(path)
    if "Ir" not in events:
        raise SystemExit("cgcount: no Ir event in " + path)
    iri = events.index("Ir")
    sysi = events.index("sysCount") if "sysCount" in events else None
    total = [0] * len(events)
    by_obj = defaultdict(int)
    sys_by_fn = defaultdict(int)
    ir_by_fn = defaultdict(int)
    for key, c in costs.items():
        ir_by_fn[(os.path.basename(key[0] or "?"), fns.get(key) or "?")] += c[iri]
        for i, v in enumerate(c):
            total[i] += v
        by_obj[key[0]] += c[iri]
        if sysi is not None and c[sysi]:
            sys_by_fn[fns.get(key) or "?"] += c[sysi]
    if summary is not None and summary[iri] != total[iri]:
        raise SystemExit("cgcount: self costs sum to %d Ir, the file's totals say %d" %
                         (total[iri], summary[iri]))
    res = {"file": path, "Ir": total[iri], "atomics": 0, "atomics_by_kind": {},
           "unaligned_Ir": 0, "unknown_objects": {}, "Ir_by_object": {}, "sites": [],
           "top_functions": [{"object": o, "function": f, "Ir": v} for (o, f), v in
                             sorted(ir_by_fn.items(), key=lambda kv: -kv[1])[:nfunctions]]}
    if sysi is not None:
        res["sysCount"] = total[sysi]
        res["sysCount_by_function"] = dict(sorted(sys_by_fn.items(), key=lambda kv: -kv[1]))
    sites = []
    for ob in sorted(by_obj, key=lambda o: -by_obj[o]):
        res["Ir_by_object"][ob] = by_obj[ob]
        if not ob or not os.path.isfile(ob):
            if by_obj[ob]:
                res["unknown_objects"][ob or "?"] = by_obj[ob]
            continue
        atomics, starts = disassemble(ob)
        if atomics is None:
            res["unknown_objects"][ob] = by_obj[ob]
            continue
        for (o, addr), c in costs.items():
            if o != ob or c[iri] == 0:
                continue
            if addr not in starts:
                res["unaligned_Ir"] += c[iri]
            hit = atomics.get(addr)
            if hit:
                kind, text = hit
                res["atomics"] += c[iri]
                res["atomics_by_kind"][kind] = res["atomics_by_kind"].get(kind, 0) + c[iri]
                sites.append({"object": os.path.basename(ob), "function": fns.get((o, addr)),
                              "addr": "0x%x" % addr, "insn": text, "count": c[iri]})
    sites.sort(key=lambda s: -s["count"])
    res["sites"] = sites[:nsites]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--sites", type=int, default=15, help="atomic sites to list")
    a = ap.parse_args()
    json.dump(count(a.file, a.sites), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

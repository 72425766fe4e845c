#!/usr/bin/env python3
"""Per-thread CPU accounting of one run, to predict how it scales on more cores than the
machine has.

    scripts/thread_times.py [--interval S] [--cores N] -- CMD [ARGS...]

Runs CMD and samples /proc/PID/task/*/schedstat (CPU time run and time spent waiting for
a CPU, in nanoseconds, kept by the kernel per thread) every S seconds (default 0.02).
Sampling from outside needs no change to the program and works for any program (tcpdump,
argus); a thread that ends before the process loses at most its last interval, and the
table says how much CPU that left unaccounted (the process total comes from wait4).

Per thread (name from /proc/.../comm, so name threads, at most 15 characters):
  cpu_s     CPU time it ran
  wait_s    time it was ready but had no CPU (only oversubscription makes this large)
  idle_s    the rest of its life: blocked, waiting for work
  busy      cpu_s / (cpu_s + wait_s + idle_s)

And for the run:
  total CPU / busiest thread's CPU: the speed-up a machine with a core per thread could
      reach at best (the busiest thread's work cannot be shared out).
  serial fraction: the share of all CPU time spent in sample intervals where at most one
      thread wanted a CPU (ran or waited for one); Amdahl's law then bounds the speed-up
      on N cores by 1 / (f + (1 - f) / N), printed for --cores (default 16).

Only Linux. Everything goes to stderr; the command's own output is left alone.
"""

import argparse
import os
import re
import subprocess
import sys
import time


def read_tasks(pid):
    """{tid: (name, run_ns, wait_ns)} for the live threads of pid."""
    tasks = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return tasks
    for tid in tids:
        base = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{base}/schedstat") as f:
                run_ns, wait_ns, _ = f.read().split()
            with open(f"{base}/comm") as f:
                name = f.read().strip()
        except (OSError, ValueError):
            continue  # ended between the listing and the read
        tasks[int(tid)] = (name, int(run_ns), int(wait_ns))
    return tasks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--cores", type=int, default=16)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command")

    start = time.monotonic()
    child = subprocess.Popen(cmd)
    # tid -> {name, run, wait, first, last}; samples: list of (dt, {tid: (drun, dwait)})
    threads = {}
    intervals = []
    prev, prev_t = {}, start
    status = None
    while status is None:
        now = time.monotonic()
        tasks = read_tasks(child.pid)
        deltas = {}
        for tid, (name, run, wait) in tasks.items():
            t = threads.setdefault(tid, {"name": name, "run": 0, "wait": 0, "first": prev_t, "last": now})
            t.update(name=name, run=run, wait=wait, last=now)
            p = prev.get(tid, (name, 0, 0))
            deltas[tid] = (run - p[1], wait - p[2])
        intervals.append((now - prev_t, deltas))
        prev, prev_t = tasks, now
        time.sleep(args.interval)
        pid, status_raw, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            status = status_raw
    wall = time.monotonic() - start
    total_cpu = usage.ru_utime + usage.ru_stime

    report(threads, intervals, wall, total_cpu, args.cores)
    sys.exit(os.waitstatus_to_exitcode(status))


def report(threads, intervals, wall, total_cpu, cores):
    out = sys.stderr
    rows = []
    for tid, t in threads.items():
        life = max(t["last"] - t["first"], 1e-9)
        cpu, wait = t["run"] / 1e9, t["wait"] / 1e9
        idle = max(life - cpu - wait, 0.0)
        rows.append((t["name"], tid, cpu, wait, idle, cpu / max(cpu + wait + idle, 1e-9)))
    rows.sort(key=lambda r: (-r[2], r[0]))
    print(f"{'thread':<16} {'tid':>8} {'cpu_s':>8} {'wait_s':>8} {'idle_s':>8} {'busy':>6}", file=out)
    for name, tid, cpu, wait, idle, busy in rows:
        if cpu >= 0.005:
            print(f"{name:<16} {tid:>8} {cpu:>8.2f} {wait:>8.2f} {idle:>8.2f} {busy:>6.0%}", file=out)
    quiet = [r for r in rows if r[2] < 0.005]
    if quiet:
        print(f"({len(quiet)} more threads under 5 ms of CPU)", file=out)

    # By kind: the name without its trailing number.
    kinds = {}
    for name, _, cpu, *_ in rows:
        k = kinds.setdefault(re.sub(r"[-_]?\d+$", "", name), [0, 0.0, 0.0])
        k[0] += 1
        k[1] += cpu
        k[2] = max(k[2], cpu)
    print(f"\n{'kind':<16} {'threads':>8} {'cpu_s':>8} {'max_s':>8}", file=out)
    for kind, (n, cpu, top) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        print(f"{kind:<16} {n:>8} {cpu:>8.2f} {top:>8.2f}", file=out)

    sampled = sum(r[2] for r in rows)
    busiest = max((r for r in rows), key=lambda r: r[2], default=None)
    # Serial fraction: CPU spent in intervals where at most one thread wanted a CPU.
    wanting_ns = 0.5  # a thread "wants a CPU" in an interval if it ran or waited half of it
    serial = 0.0
    for dt, deltas in intervals:
        wanting = [d for d in deltas.values() if (d[0] + d[1]) / 1e9 >= wanting_ns * dt]
        if len(wanting) <= 1:
            serial += sum(d[0] for d in deltas.values()) / 1e9
    f = serial / sampled if sampled else 0.0
    print(file=out)
    print(f"wall {wall:.2f} s, CPU {total_cpu:.2f} s (sampled {sampled:.2f} s, "
          f"{max(total_cpu - sampled, 0):.2f} s in threads that ended between samples)", file=out)
    if busiest and busiest[2] > 0:
        print(f"total CPU / busiest thread ({busiest[0]}, {busiest[2]:.2f} s): "
              f"{total_cpu / busiest[2]:.2f}", file=out)
    amdahl = 1 / (f + (1 - f) / cores)
    print(f"serial fraction {f:.3f}: at most {amdahl:.1f}x on {cores} cores (Amdahl)", file=out)


if __name__ == "__main__":
    main()

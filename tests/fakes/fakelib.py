"""Shared by the fake `adb`, `tcpdump` and phone commands used by tests/collect_cli.rs.

A scenario (JSON, path in $FLOWMINE_FAKE) describes the phone and the access point. Its
moments (when a process starts or ends, when adb loses the phone) are seconds after the
fake tcpdump started capturing, or after strace attached to a pid, so that a slow machine
sees the same story. adb disconnections last a number of adb calls, not seconds.
The capture replayed and the strace logs written are a real capture and a log consistent
with it, both moved in time by the same whole number of seconds so that the capture
starts when the fake capture starts.
"""
import json
import os
import re
import struct
import time

SCENARIO = os.environ["FLOWMINE_FAKE"]
STATE = os.path.dirname(os.path.abspath(SCENARIO))


def scenario():
    with open(SCENARIO) as f:
        return json.load(f)


def read_time(name):
    try:
        with open(os.path.join(STATE, name)) as f:
            return float(f.read())
    except (OSError, ValueError):
        return None


def write_time(name, t):
    with open(os.path.join(STATE, name), "w") as f:
        f.write(repr(t))


def moment(spec):
    """Wall-clock time of a scenario moment: seconds after the capture started, after
    the app was launched (`"launch"`), or after strace attached to a pid
    (`{"after_traced": PID, "plus": SECONDS}`); None while it has not come."""
    if isinstance(spec, dict):
        base, plus = read_time(f"traced.{spec['after_traced']}"), spec.get("plus", 0.0)
    elif spec == "launch":
        base, plus = read_time("launched"), 0.0
    else:
        base, plus = read_time("capture_start"), spec
        if base is None:  # before the capture, the scenario's time is 0
            base = time.time() - plus if plus <= 0 else None
    return None if base is None else base + plus


def connected(sc):
    """adb reaches the phone unless a disconnection is on: one starts at its moment and
    lasts for `failures` adb calls (time-independent, so a slow machine sees the same)."""
    now = time.time()
    for i, d in enumerate(sc.get("disconnected", [])):
        start = moment(d["at"])
        if start is None or now < start:
            continue
        count = os.path.join(STATE, f"disconnect.{i}")
        failed = os.path.getsize(count) if os.path.exists(count) else 0
        if failed < d["failures"]:
            with open(count, "a") as f:
                f.write("x")
            return False
    return True


def alive(proc):
    """Whether a process of the scenario runs now."""
    now = time.time()
    begin, end = moment(proc.get("from", 0)), proc.get("to")
    end = None if end is None else moment(end)
    return begin is not None and begin <= now and (end is None or now < end)


def pcap_header(path):
    """(endian, first record's seconds) of a classic pcap."""
    with open(path, "rb") as f:
        head = f.read(24 + 16)
    endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    return endian, struct.unpack(endian + "I", head[24:28])[0]


def shift(sc):
    """Whole seconds added to every time of the capture and the logs."""
    _, first = pcap_header(sc["capture"])
    start = read_time("capture_start") or time.time()
    return int(start) - first


TS = re.compile(r"\b(\d{10})\.(\d{6})\b")
PID = re.compile(r"\[pid\s+(\d+)\]")


def log_segment(sc, spec):
    """The lines of a strace log between two times, moved in time, pids renumbered."""
    lo, hi, add = spec.get("from"), spec.get("until"), spec.get("pid_add", 0)
    moved, last = [], None
    with open(spec["path"]) as f:
        for line in f:
            m = TS.search(line)
            if m:
                last = float(m.group(0))
            if (lo is not None and (last is None or last < lo)) or (hi is not None and last is not None and last >= hi):
                continue
            if m:
                line = line[: m.start()] + f"{int(m.group(1)) + shift(sc)}.{m.group(2)}" + line[m.end():]
            if add:
                line = PID.sub(lambda p: p.group(0).replace(p.group(1), str(int(p.group(1)) + add)), line)
            moved.append(line)
    return moved

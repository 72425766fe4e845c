#!/usr/bin/env python3
"""The fake phone's commands, one script under each name (su, id, ps, pm, dumpsys,
getprop, date, monkey, ip, strace), answering as Android's do."""
import os
import signal
import subprocess
import sys
import time

import fakelib

sc = fakelib.scenario()
name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
if args[:1] == ["--as"]:
    name, args = args[1], args[2:]


def su():
    # su -c CMD: CMD as root.
    env = dict(os.environ, FAKE_ROOT="1")
    sys.exit(subprocess.run(["/bin/sh", "-c", args[1]], env=env).returncode)


def ident():
    print("uid=0(root) gid=0(root) groups=0(root) context=u:r:magisk:s0" if os.environ.get("FAKE_ROOT")
          else "uid=2000(shell) gid=2000(shell) groups=2000(shell) context=u:r:shell:s0")


def ps():
    print("  PID NAME")
    print("    1 init")
    print("  812 system_server")
    print(" 4990 org.thoughtcrime.securesmsx")
    for p in sc.get("processes", []):
        if fakelib.alive(p):
            print(f"{p['pid']:5} {p['name']}")


def pm():
    if args[:1] == ["path"] and args[1] in sc.get("installed", []):
        print(f"package:/data/app/{args[1]}-1/base.apk")
    else:
        sys.exit(1)


def dumpsys():
    app = args[1] if len(args) > 1 else ""
    if app in sc.get("installed", []):
        name, code = sc.get("version", ["1.0", "1"])
        print(f"Packages:\n  Package [{app}] (1a2b3c):\n    versionCode={code} minSdk=19 targetSdk=30\n    versionName={name}")


def getprop():
    print("[ro.build.version.release]: [11]")
    print("[ro.product.manufacturer]: [samsung]")
    print("[ro.product.model]: [SM-A515F]")


def date():
    print(f"{time.time() - sc.get('clock_behind', 0.0):.9f}")


def monkey():
    fakelib.write_time("launched", time.time())
    print("Events injected: 1")


def ip():
    iface = args[-1]
    if iface == "wlan0" and sc.get("phone_ip"):
        print(f"30: wlan0    inet {sc['phone_ip']}/24 brd 192.168.2.255 scope global wlan0\\       valid_lft forever")
        print("30: wlan0    inet6 fe80::1c2b:3cff:fe4d:5e6f/64 scope link \\       valid_lft forever")


def strace():
    if args == ["-V"]:
        print("strace -- version 6.6\nCopyright (c) 1991-2023 The strace developers.")
        return
    out, pid = args[args.index("-o") + 1], int(args[args.index("-p") + 1])
    proc = next((p for p in sc.get("processes", []) if p["pid"] == pid), None)
    if proc is None or not fakelib.alive(proc):
        print(f"strace: attach: ptrace(PTRACE_SEIZE, {pid}): No such process", file=sys.stderr)
        sys.exit(1)
    started = time.time()
    fakelib.write_time(f"traced.{pid}", started)
    with open(out, "w") as log:
        log.writelines(fakelib.log_segment(sc, proc["log"]))
        log.flush()
        stop = []
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        # Also ends with the session's capture: a stop signal sent before the handlers
        # were set was ignored, and nothing must outlive the test.
        while not stop and (fakelib.read_time("capture_stop") or 0) < started:
            if not fakelib.alive(proc):
                log.write(f"[pid {pid:5}] {time.time() - sc.get('clock_behind', 0.0):.6f} +++ killed by SIGKILL +++\n")
                return
            time.sleep(0.05)


{"su": su, "id": ident, "ps": ps, "pm": pm, "dumpsys": dumpsys, "getprop": getprop, "date": date,
 "monkey": monkey, "ip": ip, "strace": strace}[name]()

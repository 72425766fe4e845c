#!/usr/bin/env python3
"""Writes testdata/mirage/MIRAGE-2019/: a small folder in the layout of the published
MIRAGE-2019 dataset, for the README's experiment and tests/mirage_dataset.rs.

    .venv/bin/python testdata/mirage/make_mirage2019.py   (from the repository root)

Layout as published: one folder per device (`Nexus7_bc_ee_7b_a4_09_47`,
`Mi5_38_a4_ed_18_cc_bf`), one file per capture session named
`<unix_ts>_<package>_MIRAGE-2019_traffic_dataset_labeled_biflows.json`, each a JSON object
`"src_ip,src_port,dst_ip,dst_port,proto"` -> record with `packet_data` (the first 32
packets: src_port, dst_port, packet_dir, L4_payload_bytes, iat, TCP_win_size),
`flow_features` and `flow_metadata`, written with Python's json.dumps (so empty sets give
bare `NaN` literals, as in the dataset).

The flows are synthetic but self-consistent: every record's counters and flow_features are
computed from its whole packet list (also where the file keeps only the first 32), with
the rules of formats/features.md (scripts/feature_reference.py). Timestamps are whole
microseconds and IP lengths are payload + 40 (IPv4 and TCP headers without options), so
flowmine's reconstruction of a fully listed flow is exact. Each app has its own packet
size and timing profile; the Mi5 phone shifts them a little (another OS version), so a
model trained on the Nexus 7 scores lower on the Mi5, as in the paper. Some flows of a
session are other processes' ("background": BF_label another package, `most-common`).
"""

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from feature_reference import STATS, flow_sets, summary  # noqa: E402

OUT = ROOT / "testdata" / "mirage" / "MIRAGE-2019"
DEVICES = {
    "Nexus7_bc_ee_7b_a4_09_47": {"ip": "192.168.20.101", "shift": 0.0, "flows": 45},
    "Mi5_38_a4_ed_18_cc_bf": {"ip": "192.168.20.105", "shift": 0.15, "flows": 25},
}
# package -> (upstream payload mean, downstream payload mean, mean gap in ms, packets mean)
APPS = {
    "com.whatsapp": (180, 420, 40, 18),
    "org.telegram.messenger": (260, 900, 15, 28),
    "com.facebook.orca": (520, 300, 60, 14),
    "com.spotify.music": (90, 1300, 8, 45),
    "com.google.android.youtube": (120, 1400, 4, 60),
}
BACKGROUND = "com.google.android.gms"
SERVERS = ["216.58.205.42", "157.240.20.53", "149.154.167.91", "35.186.224.25", "172.217.23.110"]
LISTED = 32
STAT_KEYS = STATS[:8] + [f"{s[1:]}_percentile" for s in STATS[8:]]


def flow(rng, profile, shift, udp):
    """Whole-flow packet lists: times (us), directions, payload bytes, windows."""
    up_mean, down_mean, gap_ms, n_mean = profile
    n = max(1, int(rng.poisson(n_mean * (1 + shift))))
    if udp:
        n = int(rng.integers(1, 4))
    dirs = [0] + [int(rng.random() < 0.55) for _ in range(n - 1)]
    if udp:
        dirs = [0] * n  # a one-way flow: every downstream statistic is NaN
    payload = []
    for k, d in enumerate(dirs):
        if not udp and k < 3:
            payload.append(0)  # the handshake
            continue
        mean = (down_mean if d else up_mean) * (1 + shift)
        payload.append(int(min(1460, max(0, rng.normal(mean, mean / 3)))))
    gaps = rng.exponential(gap_ms * 1000 * (1 - shift / 2), size=n).astype(np.int64) + 1
    gaps[0] = 0
    times = np.cumsum(gaps) + int(rng.integers(0, 10**6))
    windows = [int(rng.integers(200, 65536)) for _ in range(n)]
    return times, dirs, payload, windows


def record(key_ports, times, dirs, payload, windows, label, labeling, udp):
    src_port, dst_port = key_ports
    header = 28 if udp else 40
    ip_len = [p + header for p in payload]
    iat = [0.0] + [(times[k] - times[k - 1]) / 1e6 for k in range(1, len(times))]
    k = min(LISTED, len(times))
    packet_data = {
        "src_port": [src_port if d == 0 else dst_port for d in dirs[:k]],
        "dst_port": [dst_port if d == 0 else src_port for d in dirs[:k]],
        "packet_dir": dirs[:k],
        "L4_payload_bytes": payload[:k],
        "iat": iat[:k],
        "TCP_win_size": windows[:k] if not udp else [0] * k,
    }
    ts_ns = np.array(times, dtype=np.int64) * 1000
    sets = flow_sets(ts_ns, np.array(dirs), np.array(ip_len, dtype=float), np.array(payload, dtype=float))
    features = {}
    for quantity in ["packet_length", "iat"]:
        features[quantity] = {}
        for name in ["biflow", "upstream", "downstream"]:
            values = summary(sets[quantity, name])
            mirage_set = name if name == "biflow" else f"{name}_flow"
            features[quantity][mirage_set] = {
                s: (float("nan") if v is None else v) for s, v in zip(STAT_KEYS, values)
            }

    def side(which):
        chosen = [i for i, d in enumerate(dirs) if which is None or d == which]
        span = (times[chosen[-1]] - times[chosen[0]]) / 1e6 if chosen else float("nan")
        return len(chosen), sum(ip_len[i] for i in chosen), sum(payload[i] for i in chosen), span

    metadata = {"BF_label": label, "BF_labeling_type": labeling}
    for prefix, which in [("BF", None), ("UF", 0), ("DF", 1)]:
        packets, ip_bytes, l4_bytes, duration = side(which)
        metadata[f"{prefix}_num_packets"] = packets
        metadata[f"{prefix}_IP_packet_bytes"] = ip_bytes
        metadata[f"{prefix}_L4_payload_bytes"] = l4_bytes
        metadata[f"{prefix}_duration"] = duration
    return {"packet_data": packet_data, "flow_features": features, "flow_metadata": metadata}


def main():
    rng = np.random.default_rng(2019)
    for d, (device, info) in enumerate(DEVICES.items()):
        folder = OUT / device
        folder.mkdir(parents=True, exist_ok=True)
        for a, (package, profile) in enumerate(APPS.items()):
            # Two capture sessions per app and device.
            for session in range(2):
                ts = 1_540_000_000 + d * 10**6 + a * 10**4 + session * 1000
                records = {}
                for i in range(info["flows"] // 2 + session * (info["flows"] % 2)):
                    background = i % 9 == 8
                    udp = i % 11 == 10
                    port = 32768 + a * 4000 + session * 2000 + i
                    server = SERVERS[(a + i) % len(SERVERS)]
                    times, dirs, payload, windows = flow(rng, profile, info["shift"], udp)
                    key = f"{info['ip']},{port},{server},{53 if udp else 443},{17 if udp else 6}"
                    label = BACKGROUND if background else package
                    labeling = "most-common" if background or i % 5 == 0 else "exact"
                    records[key] = record((port, 53 if udp else 443), times, dirs, payload, windows, label, labeling, udp)
                name = f"{ts}_{package}_MIRAGE-2019_traffic_dataset_labeled_biflows.json"
                (folder / name).write_text(json.dumps(records))
    files = sorted(OUT.glob("*/*.json"))
    print(f"{OUT}: {len(files)} files, {sum(len(json.loads(f.read_text())) for f in files)} records")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes testdata/mirage/MIRAGE-2022/: a small folder in the layout of the published
MIRAGE-2022 dataset, for tests/mirage_dataset.rs.

    .venv/bin/python testdata/mirage/make_mirage2022.py   (from the repository root)

Layout as published: `Raw_JSON/<App>/<unix_ts>_<package>_mirage2020dataset_labeled_biflows_all_packets_encryption_metadata.json`,
each a JSON object `"src_ip,src_port,dst_ip,dst_port,proto"` -> record whose `packet_data`
lists every packet of the flow (`timestamp`, `src_port`, `dst_port`, `packet_dir`,
`IP_packet_bytes`, `IP_header_bytes`, `L4_payload_bytes`, `L4_header_bytes`, `iat`,
`TCP_win_size`, `TCP_flags` as text, `L4_raw_payload`), then `flow_features` and
`flow_metadata` with the 2022 fields (`BF_device`, `BF_label_source`, `BF_sublabel`,
`BF_label_version_code/name`, `BF_activity`, `UF_/DF_MSS`, `UF_/DF_WS`), in the order of
tcbench's MIRAGE-2022 schema, written with Python's json.dumps (bare `NaN`).

Flows come from make_mirage2019.py's generator (whole lists, so flow_features and
counters cover what is listed). Timestamps are whole microseconds of epoch seconds.
TCP flags are written as eight characters `CEUAPRSF`, `-` for a flag not set.
"""

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_mirage2019 as m19  # noqa: E402

OUT = HERE / "MIRAGE-2022" / "Raw_JSON"
DEVICE = {"ip": "192.168.1.128", "mac": "a4:50:46:0c:1e:9b"}
# App folder -> (package, activity, generator profile, session start)
APPS = {
    "Discord": ("com.discord", "Chat", m19.APPS["com.whatsapp"], 1646482845),
    "Teams": ("com.microsoft.teams", "Audiocall", m19.APPS["com.spotify.music"], 1619005750),
}
FLOWS = 6
METADATA_ORDER = [
    "BF_device", "BF_label_source", "BF_label", "BF_sublabel", "BF_label_version_code",
    "BF_label_version_name", "BF_labeling_type", "BF_num_packets", "BF_IP_packet_bytes",
    "BF_L4_payload_bytes", "BF_duration", "UF_num_packets", "UF_IP_packet_bytes",
    "UF_L4_payload_bytes", "UF_duration", "UF_MSS", "UF_WS", "DF_num_packets",
    "DF_IP_packet_bytes", "DF_L4_payload_bytes", "DF_duration", "DF_MSS", "DF_WS", "BF_activity",
]
FLAG_LETTERS = "CEUAPRSF"


def flags_text(byte):
    return "".join(c if byte & (0x80 >> i) else "-" for i, c in enumerate(FLAG_LETTERS))


def tcp_flags(dirs, payload, udp):
    if udp:
        return [flags_text(0)] * len(dirs)
    out = []
    for k, p in enumerate(payload):
        byte = 0x02 if k == 0 else 0x12 if k == 1 else 0x10 | (0x08 if p else 0)
        if k == len(payload) - 1 and k > 1:
            byte |= 0x01
        out.append(flags_text(byte))
    return out


def record_2022(key_ports, times, dirs, payload, windows, label, labeling, udp, activity):
    times = [int(t) + start_us for t in times]
    r = m19.record(key_ports, times, dirs, payload, windows, label, labeling, udp)
    old = r["packet_data"]
    header = 8 if udp else 20
    packet_data = {
        "timestamp": [t / 1e6 for t in times],
        "src_port": old["src_port"],
        "dst_port": old["dst_port"],
        "packet_dir": old["packet_dir"],
        "IP_packet_bytes": [p + 20 + header for p in payload],
        "IP_header_bytes": [20] * len(payload),
        "L4_payload_bytes": old["L4_payload_bytes"],
        "L4_header_bytes": [header] * len(payload),
        "iat": old["iat"],
        "TCP_win_size": old["TCP_win_size"],
        "TCP_flags": tcp_flags(dirs, payload, udp),
        "L4_raw_payload": [[] for _ in payload],
    }
    meta = dict(r["flow_metadata"])
    meta.update({
        "BF_device": DEVICE["mac"],
        "BF_label_source": "netstate",
        "BF_sublabel": label,
        "BF_label_version_code": None,
        "BF_label_version_name": None,
        "BF_activity": activity,
        "UF_MSS": float("nan") if udp else 1460,
        "UF_WS": float("nan") if udp else 256,
        "DF_MSS": float("nan") if udp or 1 not in dirs else 1400,
        "DF_WS": float("nan") if udp or 1 not in dirs else 512,
    })
    metadata = {k: meta[k] for k in METADATA_ORDER}
    return {"packet_data": packet_data, "flow_features": r["flow_features"], "flow_metadata": metadata}


def main():
    global start_us
    rng = np.random.default_rng(2022)
    m19.LISTED = 10**9  # MIRAGE-2022 lists every packet
    for a, (folder, (package, activity, profile, ts)) in enumerate(APPS.items()):
        start_us = ts * 10**6
        records = {}
        for i in range(FLOWS):
            udp = i == FLOWS - 1
            background = i == FLOWS - 2
            port = 40000 + a * 100 + i
            server = m19.SERVERS[(a + i) % len(m19.SERVERS)]
            times, dirs, payload, windows = m19.flow(rng, profile, 0.0, udp)
            times = times - times[0] + i * 2_000_000
            key = f"{DEVICE['ip']},{port},{server},{53 if udp else 443},{17 if udp else 6}"
            label = m19.BACKGROUND if background else package
            labeling = "most-common" if background else "exact"
            ports = (port, 53 if udp else 443)
            records[key] = record_2022(ports, times, dirs, payload, windows, label, labeling, udp, activity)
        name = f"{ts}_{package}_mirage2020dataset_labeled_biflows_all_packets_encryption_metadata.json"
        (OUT / folder).mkdir(parents=True, exist_ok=True)
        (OUT / folder / name).write_text(json.dumps(records))
    files = sorted(OUT.glob("*/*.json"))
    print(f"{OUT}: {len(files)} files, {sum(len(json.loads(f.read_text())) for f in files)} records")


start_us = 0

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs a dump set through the Dask driver on local clusters of 1, 2 and 3 worker
processes and reports the speed-up over one worker and the merge's share of the time.

    cargo build --release
    cargo run --release -p flowmine-benches --bin gen-campus -- --packets 6M --split-files 24 --out-dir target/dump
    .venv/bin/python scripts/bench_distributed.py target/dump --binary target/release/flowmine --shards 6

Each worker runs its shard with `--threads 1`, so N workers use N cores: on a machine with
fewer cores than workers the figures show contention, not scaling. The merge is one task.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import distributed  # noqa: E402

from flowmine import dask as fdask  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dump", help="directory of the dump set")
    p.add_argument("--binary", default="target/release/flowmine")
    p.add_argument("--shards", type=int, default=6)
    p.add_argument("--workers", default="1,2,3", help="worker counts to run (default 1,2,3)")
    p.add_argument("--repeat", type=int, default=1, help="runs per worker count (the fastest is kept)")
    args = p.parse_args()
    rows = []
    for workers in map(int, args.workers.split(",")):
        cluster = fdask.local_cluster(workers, dashboard=False)
        client = distributed.Client(cluster)
        best = None
        for _ in range(args.repeat):
            out = Path(tempfile.mkdtemp(prefix="flowmine-bench-"))
            r = fdask.run(
                client, [args.dump], str(out / "store"), args.shards,
                options=["--threads", "1"], binary=args.binary, show_progress=False,
            )
            shutil.rmtree(out)
            best = r if best is None or r["total_s"] < best["total_s"] else best
        client.close()
        cluster.close()
        rows.append((workers, best))
    base = rows[0][1]["total_s"]
    print(f"{'workers':>7} {'total s':>8} {'shards s':>9} {'merge s':>8} {'speed-up':>8} {'merge share':>11}")
    for workers, r in rows:
        print(
            f"{workers:>7} {r['total_s']:>8.2f} {r['shards_s']:>9.2f} {r['merge_s']:>8.2f} "
            f"{base / r['total_s']:>8.2f} {r['merge_s'] / r['total_s']:>11.1%}"
        )
    print(f"packets {rows[0][1]['manifest']['packets_total']}, flows {rows[0][1]['manifest']['flows']}, shards {args.shards}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run `flowmine flows` as shards on a Dask cluster and merge them (formats/shards.md).

    # a local cluster of worker processes on this machine (bound to 127.0.0.1)
    python -m flowmine.dask DUMP/ --out STORE --shards 12 --local-workers 3
    # an existing cluster: the same, with its scheduler's address instead
    python -m flowmine.dask DUMP/ --out STORE --shards 12 --scheduler tls://sched:8786 \\
        --tls-ca-file ca.pem --tls-cert client.pem --tls-key client-key.pem

Each shard is a task running the `flowmine` binary on its worker (`flows … --shard K/N`)
into a fresh directory, renamed to `PARTS/shard-K` only once the shard finished: a task
that fails is retried (`--retries`), and a retried shard's output replaces the earlier
attempt's, so the merge never sees a shard twice. The merge is a last task. Inputs must be
visible to every worker under the same paths (shared storage, or the same copy on each
node); `PARTS` and `STORE` must be on storage shared by the workers and the merge.
Progress shows in the Dask dashboard (the task stream and progress bars) and here.

Why Dask rather than Ray: flowmine's shards are coarse, independent tasks around an
external binary, which Dask runs with nothing but pip-installed Python (no object store or
raylet daemons), its LocalCluster binds scheduler, workers and dashboard to 127.0.0.1 on
request, and remote clusters take TLS through `distributed.Security`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Optional, Sequence


def run_shard(
    binary: str,
    inputs: Sequence[str],
    options: Sequence[str],
    parts: str,
    k: int,
    n: int,
    fail_first_attempt: bool = False,
) -> str:
    """Runs shard k of n into `parts/shard-k` (replacing an earlier attempt's output)."""
    final = Path(parts) / f"shard-{k}"
    attempt = Path(parts) / f".shard-{k}.{uuid.uuid4().hex}"
    args = [binary, "flows", *inputs, "--out", str(attempt), "--quiet", "--shard", f"{k}/{n}", *options]
    done = subprocess.run(args, capture_output=True, text=True)
    if fail_first_attempt and not (Path(parts) / f".failed-{k}").exists():
        # For the tests: the first attempt dies after writing its output.
        (Path(parts) / f".failed-{k}").touch()
        raise RuntimeError(f"shard {k}: injected failure (first attempt)")
    if done.returncode not in (0, 3):
        shutil.rmtree(attempt, ignore_errors=True)
        raise RuntimeError(f"shard {k}/{n}: flowmine exited {done.returncode}: {done.stderr.strip()}")
    if final.exists():
        shutil.rmtree(final)
    os.rename(attempt, final)
    return str(final)


def merge(binary: str, shard_dirs: Sequence[str], out: str) -> dict:
    """Merges the shards into a fresh directory renamed to `out` once complete (so a
    retried merge starts clean); returns the store's manifest."""
    attempt = f"{out}.merging-{uuid.uuid4().hex}"
    done = subprocess.run([binary, "merge", *shard_dirs, "--out", attempt, "--quiet"], capture_output=True, text=True)
    if done.returncode not in (0, 3):
        shutil.rmtree(attempt, ignore_errors=True)
        raise RuntimeError(f"merge: flowmine exited {done.returncode}: {done.stderr.strip()}")
    if Path(out).exists():
        shutil.rmtree(out)
    os.rename(attempt, out)
    return json.loads((Path(out) / "manifest.json").read_text())


def run(
    client,
    inputs: Sequence[str],
    out: str,
    shards: int,
    *,
    parts: Optional[str] = None,
    options: Sequence[str] = (),
    binary: str = "flowmine",
    retries: int = 2,
    overwrite: bool = False,
    fail_first_attempt_of: Sequence[int] = (),
    show_progress: bool = True,
) -> dict:
    """Plans `shards` shards of `inputs`, runs them as tasks on `client`'s cluster, merges
    them into `out`. Returns timings in seconds and the manifest."""
    from distributed import progress

    if Path(out).exists() and any(Path(out).iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: the store directory already holds files; pass overwrite=True to replace it")
    parts = parts or f"{out}.parts"
    Path(parts).mkdir(parents=True, exist_ok=True)
    inputs = [os.path.abspath(p) for p in inputs]
    started = time.perf_counter()
    futures = client.map(
        run_shard,
        [binary] * shards,
        [inputs] * shards,
        [list(options)] * shards,
        [parts] * shards,
        range(1, shards + 1),
        [shards] * shards,
        [k in fail_first_attempt_of for k in range(1, shards + 1)],
        retries=retries,
        pure=False,
        key=[f"flowmine-shard-{k}-of-{shards}-{uuid.uuid4().hex[:8]}" for k in range(1, shards + 1)],
    )
    if show_progress:
        progress(futures)
    shard_dirs = client.gather(futures)
    # Output of attempts that died half-way (a retry wrote its own): never merged, removed.
    for leftover in Path(parts).glob(".shard-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    sharded = time.perf_counter()
    manifest = client.submit(merge, binary, shard_dirs, out, pure=False, retries=retries).result()
    merged = time.perf_counter()
    return {"shards_s": sharded - started, "merge_s": merged - sharded, "total_s": merged - started, "manifest": manifest}


def local_cluster(workers: int, threads_per_worker: int = 1, dashboard: bool = True):
    """A cluster of worker processes on this machine; scheduler, workers and dashboard
    listen on 127.0.0.1 only."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0" if dashboard else None,
        scheduler_kwargs={"dashboard": dashboard},
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flowmine.dask", description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", help="capture files or directories (same paths on every worker)")
    p.add_argument("--out", required=True, help="store directory to create (shared storage)")
    p.add_argument("--shards", type=int, required=True, help="number of shards (tasks)")
    p.add_argument("--parts", help="directory for the partial stores (default: OUT.parts)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--scheduler", help="address of an existing cluster's scheduler")
    where.add_argument("--local-workers", type=int, help="start a local cluster of this many worker processes")
    p.add_argument("--flowmine", default="flowmine", help="the flowmine binary on the workers (default: on PATH)")
    p.add_argument("--retries", type=int, default=2, help="attempts after a failed shard task (default 2)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store in --out")
    p.add_argument("--tls-ca-file", help="TLS: CA certificate of the cluster")
    p.add_argument("--tls-cert", help="TLS: this client's certificate")
    p.add_argument("--tls-key", help="TLS: this client's private key")
    args, flow_options = p.parse_known_args(argv)

    from distributed import Client, Security

    if args.scheduler:
        security = None
        if args.tls_ca_file or args.tls_cert:
            security = Security(
                tls_ca_file=args.tls_ca_file,
                tls_client_cert=args.tls_cert,
                tls_client_key=args.tls_key,
                require_encryption=True,
            )
        client = Client(args.scheduler, security=security)
        cluster = None
    else:
        cluster = local_cluster(args.local_workers)
        client = Client(cluster)
    print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
    try:
        result = run(
            client,
            args.inputs,
            args.out,
            args.shards,
            parts=args.parts,
            options=flow_options,
            binary=args.flowmine,
            retries=args.retries,
            overwrite=args.overwrite,
        )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    m = result["manifest"]
    print(
        f"\n{m['packets_total']} packets, {m['flows']} flows in {args.out}: shards {result['shards_s']:.2f} s, "
        f"merge {result['merge_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""flowmine in Python: packet captures to bi-directional flow datasets, as Polars DataFrames.

    import flowmine
    flows = flowmine.flows(["captures/"], idle_timeout=120)       # one row per bi-flow
    feats = flowmine.features(["captures/"])                      # per-flow ML features
    stored = flowmine.read_store("store/")                        # a store written by the CLI

Frames come from the Rust engine through the Arrow C stream interface (no files in
between). Damaged input is reported as a warning naming the file and byte offset (the
rest of the input is used, as on the command line); errors raise FlowmineError.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable, Iterable, Optional, Union

import polars as pl

from ._flowmine import FlowmineError
from . import _flowmine

__all__ = ["flows", "features", "read_store", "FlowmineError", "InputWarning"]

Paths = Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]
Seconds = Union[float, int, str, None]


class InputWarning(UserWarning):
    """Some input could not be used (damaged records, unsupported link type): the message
    names the file and the byte offset."""


def _paths(paths: Paths) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def _seconds(value: Seconds, name: str) -> Optional[float]:
    if value is None or value == "off":
        return None
    if isinstance(value, str):
        raise ValueError(f"{name}: seconds or 'off', not {value!r}")
    return float(value)


def _packets(value: Union[str, int]) -> Optional[int]:
    if value == "all":
        return None
    if value == "none":
        return 0
    if isinstance(value, int) and value >= 0:
        return value
    raise ValueError(f"packets: 'all', 'none' or a count, not {value!r}")


def _progress(progress: Union[bool, Callable, None]):
    """A progress callback: a bar (tqdm's notebook widget when tqdm is installed, a text
    line otherwise) for True, the caller's function, or None."""
    if progress is None or progress is False:
        return None, lambda: None
    if callable(progress):
        return progress, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = tqdm(total=0, unit="B", unit_scale=True, desc="flowmine")

        def update(done, total, packets, flows):
            bar.total = total
            bar.n = done
            bar.set_postfix(packets=packets, flows=flows, refresh=False)
            bar.refresh()

        return update, bar.close

    import sys

    def line(done, total, packets, flows):
        share = done / total if total else 1.0
        filled = int(30 * share)
        sys.stderr.write(
            f"\rflowmine [{'#' * filled}{'.' * (30 - filled)}] {share:6.1%} {packets} packets {flows} flows"
        )
        sys.stderr.flush()

    return line, lambda: sys.stderr.write("\n")


def _warn(problems) -> None:
    for path, offset, what in problems:
        warnings.warn(f"{path}: offset {offset}: {what}", InputWarning, stacklevel=3)


def _flow_options(idle_timeout, active_timeout, tcp_close, tcp_close_linger, label, threads):
    return dict(
        idle_timeout=_seconds(idle_timeout, "idle_timeout"),
        active_timeout=_seconds(active_timeout, "active_timeout"),
        tcp_close=bool(tcp_close),
        tcp_close_linger=float(tcp_close_linger),
        label=label,
        threads=int(threads),
    )


def flows(
    paths: Paths,
    *,
    idle_timeout: Seconds = 120,
    active_timeout: Seconds = 1800,
    tcp_close: bool = True,
    tcp_close_linger: float = 1.0,
    packets: Union[str, int] = "all",
    label: Optional[str] = None,
    threads: int = 0,
    progress: Union[bool, Callable, None] = True,
) -> pl.DataFrame:
    """The bi-flows of the captures in `paths` (pcap/pcapng files or directories), with the
    options of `flowmine flows` (timeouts in seconds or "off"). The rows and columns are
    those of a flow store (formats/store.md)."""
    callback, close = _progress(progress)
    try:
        stream, problems = _flowmine.flows(
            _paths(paths),
            packets=_packets(packets),
            progress=callback,
            **_flow_options(idle_timeout, active_timeout, tcp_close, tcp_close_linger, label, threads),
        )
    finally:
        close()
    _warn(problems)
    return pl.DataFrame(stream)


def features(
    source: Paths,
    *,
    keep_addresses: bool = False,
    sequence_len: Optional[int] = None,
    idle_timeout: Seconds = 120,
    active_timeout: Seconds = 1800,
    tcp_close: bool = True,
    tcp_close_linger: float = 1.0,
    label: Optional[str] = None,
    threads: int = 0,
    progress: Union[bool, Callable, None] = True,
) -> pl.DataFrame:
    """Per-flow ML features (formats/features.md) of a flow store directory, or of captures
    (files or directories: their flows are built in memory with the flow options). Addresses
    are pseudonymised unless `keep_addresses`."""
    paths = _paths(source)
    if len(paths) == 1 and os.path.isfile(os.path.join(paths[0], "manifest.json")):
        return pl.DataFrame(
            _flowmine.store_features(paths[0], keep_addresses=keep_addresses, sequence_len=sequence_len, threads=threads)
        )
    callback, close = _progress(progress)
    try:
        stream, problems = _flowmine.capture_features(
            paths,
            progress=callback,
            keep_addresses=keep_addresses,
            sequence_len=sequence_len,
            **_flow_options(idle_timeout, active_timeout, tcp_close, tcp_close_linger, label, threads),
        )
    finally:
        close()
    _warn(problems)
    return pl.DataFrame(stream)


def read_store(path: Union[str, os.PathLike]) -> pl.DataFrame:
    """Every flow row of a store written by `flowmine flows` (or `merge`)."""
    return pl.DataFrame(_flowmine.read_store(os.fspath(path)))

"""Timing helpers shared by the benchmark scripts in this folder.

The scripts import them as ``from _timing import ...``: running
``python bench/<script>.py`` puts ``bench/`` on ``sys.path``. Results are
written with :func:`tricks_lab.cache.atomic_write_json`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU, where calls are synchronous)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """The GPU's name on CUDA, else ``cpu (N threads)`` with torch's CPU thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def repeated(fn: Callable[[], object], times: int) -> Callable[[], None]:
    """A call that calls ``fn`` ``times`` times in a row: one timed run of a cheap operation."""

    def run() -> None:
        for _ in range(times):
            fn()

    return run


def time_interleaved(
    runs: Sequence[Callable[[], object]],
    device: torch.device,
    repeats: int,
    warmup: int = 2,
    *,
    statistic: Callable[[list[float]], float] = statistics.median,
) -> list[float]:
    """Seconds per call of each of ``runs``: the median (or ``statistic``) of ``repeats`` timed rounds.

    ``warmup`` untimed rounds come first (allocator, kernel caches, lazy
    initialisation). Within each round the runs take turns, one call each,
    rather than one run being timed ``repeats`` times before the next: a change
    of load on a shared machine (another job, clock or thermal throttling) then
    slows every path alike, so the ratios between paths stay comparable even
    when the absolute times drift. Each call is bracketed by
    :func:`synchronize`, so queued CUDA work counts against the run that
    queued it.
    """
    for _ in range(warmup):
        for run in runs:
            run()
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, record in zip(runs, times):
            synchronize(device)
            start = time.perf_counter()
            run()
            synchronize(device)
            record.append(time.perf_counter() - start)
    return [statistic(record) for record in times]

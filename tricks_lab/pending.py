"""Pending runs: the finished runs of parts that are not complete yet, kept beside the records.

An experiment's record (:mod:`tricks_lab.records`) holds complete parts only,
and the run cache lives on one machine. A part that takes longer than a
machine lives (the stack's longer budget: about 114 baseline-run units, close
to 3 hours on 2 cores) would otherwise be trained from its first run on every
new machine. So ``reproduce`` also writes, after each finished run,
``<results>/<profile>/pending/<experiment>.json``: each finished run of a part
not yet in the record, labelled with its part, arm and the version of its
training path (:func:`tricks_lab.experiments.training_code_version`).
Committed with the records, the file lets the next machine count those runs
as done (:class:`tricks_lab.reproduce.DoneRuns`) under the same rule as a
record's runs: same training code, same data copy. The file is removed once
every part it served is in the record.

A teacher's run is never pending: its students need the trained model, which
only the run cache keeps, so a teacher is trained again on a new machine
when a student still needs it. The book never reads pending runs: a verdict
comes from complete parts only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .cache import atomic_write_json
from .records import provenance, results_dir
from .results import Result

__all__ = ["PENDING_SCHEMA", "PendingRun", "load_pending", "pending_path", "save_pending"]

PENDING_SCHEMA = 1


@dataclass(frozen=True)
class PendingRun:
    """A finished run of ``part``/``arm``, made by the training code of version ``training_code``."""

    part: str
    arm: str
    training_code: str
    result: Result


def pending_path(experiment: str, profile: str) -> Path:
    """``<results_dir>/<profile>/pending/<experiment>.json``."""
    return results_dir() / profile / "pending" / f"{experiment}.json"


def save_pending(path: str | os.PathLike[str], experiment: str, profile: str, runs: list[PendingRun], *,
                 command: str | None = None) -> Path | None:
    """Write ``runs`` to ``path`` atomically; with no runs, remove the file. Returns the path written, or None."""
    path = Path(path)
    if not runs:
        path.unlink(missing_ok=True)
        return None
    for run in runs:
        if run.result.profile != profile:
            raise ValueError(f"a pending run of {run.part}/{run.arm} was made under profile "
                             f"{run.result.profile!r}, not {profile!r}")
    data = {
        "schema": PENDING_SCHEMA,
        "experiment": experiment,
        "profile": profile,
        "runs": [{"part": r.part, "arm": r.arm, "training_code": r.training_code, "result": r.result.to_dict()}
                 for r in runs],
        "provenance": provenance([r.result for r in runs], command, 0.0),
    }
    return atomic_write_json(path, data)


def load_pending(path: str | os.PathLike[str]) -> tuple[str, str, list[PendingRun]]:
    """Read a file written by :func:`save_pending`: (experiment, profile, runs); a malformed file is a clear error."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if data.get("schema") != PENDING_SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {PENDING_SCHEMA}")
        runs = [PendingRun(r["part"], r["arm"], r["training_code"], Result.from_dict(r["result"]))
                for r in data["runs"]]
        return data["experiment"], data["profile"], runs
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cannot read pending runs {path}: {err}") from err

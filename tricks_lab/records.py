"""Results records: a comparison as JSON, with the provenance to trust it.

A record holds every recipe, the profile, the seeds, each run's metrics and
history, and where they came from: device, torch and CUDA versions, the git
commit of the code, the data copy, wall time, the command that made it. It is
written atomically (:func:`tricks_lab.cache.atomic_write_json`). The book's
stored GPU results are such records, made by ``python -m tricks_lab compare
... --out book/results/NAME.json`` and shown by :func:`stored_results`.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .cache import atomic_write_json
from .results import Comparison, Result

SCHEMA = 1
RESULTS_ENV = "TRICKS_LAB_RESULTS"


def provenance(runs: list[Result], command: str | None, wall_seconds: float) -> dict[str, Any]:
    """Where the numbers of ``runs`` come from."""
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "devices": sorted({r.device for r in runs}),
        "precisions": sorted({r.precision for r in runs}),
        "data_sources": sorted({r.data_source for r in runs}),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "tricks_lab": __version__,
        "git_commit": _git_commit(),
        "wall_seconds": round(wall_seconds, 1),
        "train_seconds_total": round(sum(r.train_seconds for r in runs), 1),
    }


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def save_record(
    path: str | os.PathLike[str], comparison: Comparison, *, command: str | None = None,
    wall_seconds: float = 0.0,
) -> Path:
    """Write ``comparison`` and its provenance to ``path`` as JSON, atomically."""
    record = {
        "schema": SCHEMA,
        "profile": comparison.profile,
        "seeds": list(comparison.seeds),
        "summary": comparison.table(),
        "runs": {name: [r.to_dict() for r in results] for name, results in comparison.results.items()},
        "provenance": provenance([r for runs in comparison.results.values() for r in runs], command, wall_seconds),
    }
    return atomic_write_json(path, record)


@dataclass
class Record:
    """A stored comparison and its provenance."""

    path: Path
    comparison: Comparison
    provenance: dict[str, Any]

    def provenance_line(self) -> str:
        p = self.provenance
        return (f"{', '.join(p['devices'])}; {', '.join(p['precisions'])}; torch {p['torch']}"
                f" (CUDA {p['cuda']}); commit {p['git_commit'][:12]}; data: {', '.join(p['data_sources'])};"
                f" {p['created']}; {p['wall_seconds']:.0f} s wall")

    def __str__(self) -> str:
        return f"Stored results ({self.path.name}):\n{self.comparison}\nProvenance: {self.provenance_line()}"

    def _repr_html_(self) -> str:
        return (f"<p><b>Stored results</b> from <code>{html.escape(self.path.name)}</code></p>"
                f"{self.comparison._repr_html_()}"
                f"<p><small>Provenance: {html.escape(self.provenance_line())}</small></p>")


def load_record(path: str | os.PathLike[str]) -> Record:
    """Read a record written by :func:`save_record`; a malformed file is a clear error."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
        results = {name: [Result.from_dict(r) for r in runs] for name, runs in data["runs"].items()}
        comparison = Comparison(data["profile"], tuple(data["seeds"]), results)
        return Record(path, comparison, data["provenance"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cannot read results record {path}: {err}") from err


@dataclass
class MissingRecord:
    """What a chapter shows when no stored GPU result exists yet."""

    path: Path

    def __str__(self) -> str:
        return (f"No stored GPU result yet ({self.path.name} is not in the book's results folder); "
                "the numbers above are this machine's live run only.")

    def _repr_html_(self) -> str:
        return f"<p><i>{html.escape(str(self))}</i></p>"


def results_dir() -> Path:
    """The book's results folder: ``$TRICKS_LAB_RESULTS``, else ``results/`` beside the running
    notebook (the book's folder), else ``book/results`` of the current directory."""
    configured = os.environ.get(RESULTS_ENV)
    if configured:
        return Path(configured)
    for candidate in (Path("results"), Path("book") / "results"):
        if candidate.is_dir():
            return candidate
    return Path("results")


def stored_results(name: str) -> Record | MissingRecord:
    """The stored record ``<results_dir>/<name>.json``, or a :class:`MissingRecord` saying there is none."""
    path = results_dir() / f"{name}.json"
    if not path.is_file():
        return MissingRecord(path)
    return load_record(path)


# -- experiment records: one file per registry experiment and profile ---------------------------

EXPERIMENT_SCHEMA = 2


@dataclass
class PartRecord:
    """One part of a stored experiment: its comparison, kind, budget and, for a sweep, the choice.

    A sweep's ``comparison`` holds the reference and the ``chosen`` arm on
    every book seed; ``points`` holds every point of its grid on the grid
    seeds, from which the choice was made (on the validation split).
    ``teachers`` maps a distilled arm to its teacher's run (seed
    :data:`~tricks_lab.experiments.TEACHER_SEED`), where that run was at hand
    when the record was written: a teacher is trained once and kept only by
    the run cache, so a record written on another machine may lack it.
    """

    name: str
    kind: str
    budget: float
    comparison: Comparison
    chosen: str | None = None
    points: Comparison | None = None
    teachers: dict[str, Result] = field(default_factory=dict)

    def comparisons(self) -> list[Comparison]:
        """The part's comparison, then its sweep points where it has them."""
        return [self.comparison] if self.points is None else [self.comparison, self.points]


@dataclass
class ExperimentRecord:
    """A stored experiment (``<results>/<profile>/<experiment>.json``): its parts and provenance.

    ``training_code`` maps ``part/arm`` to the version of that arm's training
    path when its runs were made (:func:`tricks_lab.experiments.training_code_version`);
    :attr:`stale_arms` lists the arms whose code has moved on since.
    """

    path: Path
    experiment: str
    profile: str
    parts: dict[str, PartRecord]
    training_code: dict[str, str]
    provenance: dict[str, Any]

    @property
    def stale_arms(self) -> list[str]:
        """``part/arm`` of every arm whose training path has changed since its runs were made."""
        from .experiments import training_code_version, training_modules

        stale = []
        for part in self.parts.values():
            for comparison in part.comparisons():
                for arm, runs in comparison.results.items():
                    key = f"{part.name}/{arm}"
                    if key not in stale and \
                            self.training_code.get(key) != training_code_version(training_modules(runs[0].recipe)):
                        stale.append(key)
        return stale

    @property
    def stale(self) -> bool:
        return bool(self.stale_arms)

    def provenance_line(self) -> str:
        p = self.provenance
        return (f"{', '.join(p['devices'])}; {', '.join(p['precisions'])}; torch {p['torch']}; "
                f"commit {p['git_commit'][:12]}; "
                f"data: {', '.join(p['data_sources'])}; {p['created']}; "
                f"{p['train_seconds_total'] / 3600:.2f} CPU/GPU hours of training")


def save_experiment_record(
    path: str | os.PathLike[str], experiment: str, profile: str, parts: list[PartRecord], *,
    command: str | None = None, wall_seconds: float = 0.0, versions: dict[str, str] | None = None,
) -> Path:
    """Write the stored parts of ``experiment`` under ``profile``, with provenance, atomically.

    Each ``part/arm`` is labelled with today's version of its training path,
    except those ``versions`` names: the arms of parts kept from an earlier
    record, whose runs were made by the code of their day.
    """
    from .experiments import training_code_version, training_modules

    if not parts:
        raise ValueError("an experiment record needs at least one complete part")
    training_code = {f"{p.name}/{arm}": training_code_version(training_modules(runs[0].recipe))
                     for p in parts for comparison in p.comparisons() for arm, runs in comparison.results.items()}
    training_code.update({teacher_code_key(p.name, arm): training_code_version(training_modules(run.recipe))
                          for p in parts for arm, run in p.teachers.items()})
    training_code.update(versions or {})
    record = {
        "schema": EXPERIMENT_SCHEMA,
        "experiment": experiment,
        "profile": profile,
        "training_code": training_code,
        "parts": {p.name: _part_json(p) for p in parts},
        "provenance": provenance([r for p in parts for c in p.comparisons() for runs in c.results.values()
                                  for r in runs], command, wall_seconds),
    }
    return atomic_write_json(path, record)


def _comparison_json(comparison: Comparison) -> dict[str, Any]:
    return {"paired": comparison.paired, "seeds": list(comparison.seeds), "summary": comparison.table(),
            "runs": {arm: [r.to_dict() for r in runs] for arm, runs in comparison.results.items()}}


def _comparison_from_json(profile: str, data: dict[str, Any]) -> Comparison:
    results = {arm: [Result.from_dict(r) for r in runs] for arm, runs in data["runs"].items()}
    return Comparison(profile, tuple(data["seeds"]), results, paired=data["paired"])


def teacher_code_key(part: str, arm: str) -> str:
    """The ``training_code`` key of the teacher of ``part``'s distilled ``arm``."""
    return f"{part}/teacher of {arm}"


def _part_json(part: PartRecord) -> dict[str, Any]:
    data = {"kind": part.kind, "budget": part.budget, "chosen": part.chosen, **_comparison_json(part.comparison)}
    if part.points is not None:
        data["points"] = _comparison_json(part.points)
    if part.teachers:
        data["teachers"] = {arm: run.to_dict() for arm, run in part.teachers.items()}
    return data


def load_experiment_record(path: str | os.PathLike[str]) -> ExperimentRecord:
    """Read a record written by :func:`save_experiment_record`; a malformed file is a clear error."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if data.get("schema") != EXPERIMENT_SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {EXPERIMENT_SCHEMA}")
        parts = {}
        for name, part in data["parts"].items():
            points = None if "points" not in part else _comparison_from_json(data["profile"], part["points"])
            teachers = {arm: Result.from_dict(run) for arm, run in part.get("teachers", {}).items()}
            parts[name] = PartRecord(name, part["kind"], part["budget"],
                                     _comparison_from_json(data["profile"], part), part.get("chosen"), points,
                                     teachers)
        return ExperimentRecord(path, data["experiment"], data["profile"], parts, data["training_code"],
                                data["provenance"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cannot read experiment record {path}: {err}") from err


def experiment_record_path(experiment: str, profile: str) -> Path:
    """``<results_dir>/<profile>/<experiment>.json``."""
    return results_dir() / profile / f"{experiment}.json"


def stored_experiment(experiment: str, profile: str = "lab") -> ExperimentRecord | MissingRecord:
    """The stored record of ``experiment`` under ``profile``, or a :class:`MissingRecord`."""
    path = experiment_record_path(experiment, profile)
    if not path.is_file():
        return MissingRecord(path)
    return load_experiment_record(path)

"""``python -m tricks_lab reproduce``: run what is missing of the registry's experiments, write their records.

:func:`plan` lists the runs an experiment (or all of them) needs under a
profile, in campaign order (:func:`tricks_lab.registry.all_parts`: every
chapter's main comparison first, then the longer budgets, then grids and
sweeps), without duplicates (the baseline is shared) and with the teachers
first. :func:`reproduce` trains what the run cache lacks, ``jobs`` runs at a
time (each in its own process with ``threads`` threads: on a 2-core CPU two
single-threaded runs train about 1.2-1.3x the images per second of one
two-threaded run), prints a progress line per run with an ETA, and rewrites
an experiment's record (``book/results/<profile>/<experiment>.json``,
atomically) each time one of its parts becomes complete. Every run is cached
as soon as it finishes, so an interrupted campaign loses at most the runs in
progress and resumes where it stopped.

The run cache lives on one machine; the committed records travel with the
repository, and so do the pending runs (:mod:`tricks_lab.pending`): after
each run, the finished runs of the experiment's incomplete parts are written
to ``book/results/<profile>/pending/<experiment>.json``. A run that a record
or a pending file holds counts as done (:class:`DoneRuns`) when its arm's
training-code version is today's and its data copy is this one, so a fresh
clone on a new machine trains only what neither has. Rewriting a
record never drops a part: one that cannot be rebuilt from today's runs (its
code has moved on) is kept as it was, with its old version, and shows as
stale.

A sweep part runs its points on :data:`~tricks_lab.registry.GRID_SEEDS`
seeds, chooses the arm with the best mean validation accuracy (never the
test accuracy), then runs the chosen arm, and the reference, on the rest of
:data:`~tricks_lab.registry.BOOK_SEEDS`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from .experiments import (
    TEACHER_SEED,
    cached_result,
    profile_data,
    run,
    run_key,
    training_code_version,
    training_modules,
)
from .profiles import Profile, resolve_profile
from .recipe import BASELINE, Recipe
from .pending import PendingRun, load_pending, pending_path, save_pending
from .records import (
    PartRecord,
    experiment_record_path,
    load_experiment_record,
    results_dir,
    save_experiment_record,
    teacher_code_key,
)
from .registry import (
    BOOK_SEEDS,
    EXPERIMENTS,
    GPU_PROFILES,
    KINDS,
    Experiment,
    Part,
    all_parts,
    experiment_for,
    kinds_for,
)
from .results import Comparison, Result

__all__ = ["DoneRuns", "Task", "choose_on_validation", "plan", "reproduce", "run_cost", "write_pending"]


@dataclass(frozen=True)
class Task:
    """One run to have: ``recipe`` with ``seed``, needed by ``experiment``/``part``/``arm``."""

    experiment: str
    part: str
    arm: str
    recipe: Recipe
    seed: int

    def label(self) -> str:
        return f"{self.experiment}/{self.part} {self.arm!r} seed {self.seed}"

    @property
    def is_teacher(self) -> bool:
        return self.arm.startswith(TEACHER_PREFIX)


TEACHER_PREFIX = "teacher of "


class DoneRuns:
    """The runs already made under a profile: the committed records, the pending runs, then the run cache.

    A record's run counts when the training-code version stored for its
    ``part/arm`` is today's version of that recipe's training path and its
    data copy is this machine's: exactly the runs whose cache key would be
    the same today. A pending run (:mod:`tricks_lab.pending`) counts under
    the same rule, with the version stored beside it. The records and
    pending files are read once; the cache is asked each time, so runs
    finished during a campaign count at once.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.recorded: dict[str, Result] = {}
        self.pending: dict[str, Result] = {}
        folder = results_dir() / profile.name
        if not folder.is_dir():
            return
        self._source = profile_data(profile).source
        self._versions: dict[tuple[str, ...], str] = {}
        for path in sorted(folder.glob("*.json")):
            record = load_experiment_record(path)  # a malformed record is a loud error, not a skip
            for part in record.parts.values():
                for comparison in part.comparisons():
                    for arm, runs in comparison.results.items():
                        if self._current(runs[0].recipe, record.training_code.get(f"{part.name}/{arm}")):
                            self._add(self.recorded, runs)
                for arm, teacher in part.teachers.items():
                    if self._current(teacher.recipe, record.training_code.get(teacher_code_key(part.name, arm))):
                        self._add(self.recorded, [teacher])  # metrics only: a student to train needs the cache
        for path in sorted((folder / "pending").glob("*.json")):
            _, _, pending = load_pending(path)  # malformed: a loud error, as a record
            for run_ in pending:
                if self._current(run_.result.recipe, run_.training_code):
                    self._add(self.pending, [run_.result])

    def _current(self, recipe: Recipe, version: str | None) -> bool:
        modules = training_modules(recipe)
        if modules not in self._versions:  # one fingerprint per module set, not per arm
            self._versions[modules] = training_code_version(modules)
        return version == self._versions[modules]

    def _add(self, into: dict[str, Result], runs: list[Result]) -> None:
        for result in runs:
            if result.data_source == self._source:
                into.setdefault(run_key(result.recipe, self.profile, result.seed), result)

    def get(self, recipe: Recipe, seed: int) -> Result | None:
        """The run of ``recipe`` with ``seed``: from a current record, else a pending file, else the cache; or None.

        The record comes first so that a run shared by several records (the
        baseline) has one value across the book: the same run trained again
        on another machine agrees only to float rounding at the first steps
        (kernels differ), and training amplifies that to a different final
        accuracy. A pending run comes before the cache for the same reason.
        """
        key = run_key(recipe, self.profile, seed)
        for held in (self.recorded, self.pending):
            if key in held:
                return held[key]
        return cached_result(recipe, self.profile, seed)

    def missing(self, tasks: list[Task]) -> list[Task]:
        """The tasks still to train, in order: the runs nobody has, and the teachers they need.

        A teacher is needed as a model, which only the run cache keeps; it is
        trained only when a student still to train uses it.
        """
        students = [t for t in tasks if not t.is_teacher and self.get(t.recipe, t.seed) is None]
        needed = {run_key(t.recipe.teacher, self.profile, TEACHER_SEED) for t in students
                  if t.recipe.teacher is not None}
        return [t for t in tasks if t in students or (
            t.is_teacher and run_key(t.recipe, self.profile, t.seed) in needed
            and cached_result(t.recipe, self.profile, t.seed) is None)]


def run_cost(recipe: Recipe) -> float:
    """A run's cost in baseline runs: epochs relative to the baseline's times the width multiplier squared.

    A convolution's cost grows with the square of its width; the estimate
    ignores augmentation work (AutoAugment's per-image operations cost more
    on a CPU) and the ResNets' other shapes.
    """
    return recipe.epochs / BASELINE.epochs * recipe.width_multiplier**2


def _part_tasks(experiment: Experiment, part: Part, profile: Profile, chosen: str | None) -> list[Task]:
    recipes = part.recipes
    tasks = [Task(experiment.name, part.name, arm, recipe, seed)
             for arm, recipe in recipes.items() for seed in part.seeds_for(profile.name)]
    if part.kind == "sweep" and chosen is not None:
        extra = range(len(part.seeds), BOOK_SEEDS)
        for arm in dict.fromkeys((part.reference, chosen)):
            tasks += [Task(experiment.name, part.name, arm, recipes[arm], seed) for seed in extra]
    return tasks


def plan(names: Sequence[str], profile: str | Profile, kinds: Sequence[str] | None = None,
         done: DoneRuns | None = None) -> list[Task]:
    """The runs the named experiments need (``"all"`` for every one), in campaign order, each once.

    The teachers' runs (seed :data:`~tricks_lab.experiments.TEACHER_SEED`)
    come first: a teacher is one long run its students wait on, so started
    first it trains beside the other arms instead of leaving a job idle at
    the end of the campaign. Sweeps include their chosen
    arm's extra seeds once the sweep's points are ``done`` (default: the
    run cache and the committed records).
    """
    profile = resolve_profile(profile)
    done = DoneRuns(profile) if done is None else done
    kinds = kinds_for(profile.name) if kinds is None else kinds
    wanted = {e.name for e in EXPERIMENTS} if "all" in names else {experiment_for(n).name for n in names}
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kinds must be among {KINDS}, got {kind!r}")
    teachers: list[Task] = []
    students: list[Task] = []
    seen: set[str] = set()
    for experiment, part in all_parts():
        if experiment.name not in wanted or part.kind not in kinds:
            continue
        if profile.name in GPU_PROFILES and not part.on_gpu:
            continue
        for task in _part_tasks(experiment, part, profile, _chosen(part, profile, done)):
            if task.recipe.teacher is not None:
                teacher = Task(task.experiment, task.part, f"{TEACHER_PREFIX}{task.arm}", task.recipe.teacher,
                               TEACHER_SEED)
                key = run_key(teacher.recipe, profile, TEACHER_SEED)
                if key not in seen:
                    seen.add(key)
                    teachers.append(teacher)
            key = run_key(task.recipe, profile, task.seed)
            if key not in seen:
                seen.add(key)
                students.append(task)
    return teachers + students


def choose_on_validation(comparison: Comparison, reference: str) -> str | None:
    """The non-reference arm with the best mean validation accuracy (None if an arm lacks one)."""
    best, best_mean = None, -math.inf
    for arm in comparison.results:
        if arm == reference:
            continue
        values = list(comparison.accuracies(arm, "val").values())
        if not values:
            return None
        mean = sum(values) / len(values)
        if mean > best_mean:
            best, best_mean = arm, mean
    return best


def _collect(part: Part, profile: Profile, seeds: Sequence[int], arms: Sequence[str],
             done: DoneRuns) -> Comparison | None:
    recipes = part.recipes
    results: dict[str, list[Result]] = {}
    for arm in arms:
        runs = [done.get(recipes[arm], seed) for seed in seeds]
        if any(r is None for r in runs):
            return None
        results[arm] = runs  # type: ignore[assignment]
    return Comparison(profile.name, tuple(seeds), results, paired=part.paired)


def _points(part: Part, profile: Profile, done: DoneRuns) -> Comparison | None:
    return _collect(part, profile, part.seeds, list(part.recipes), done)


def _chosen(part: Part, profile: Profile, done: DoneRuns) -> str | None:
    if part.kind != "sweep":
        return None
    points = _points(part, profile, done)
    return None if points is None else choose_on_validation(points, part.reference)


def part_record(part: Part, profile: Profile, done: DoneRuns | None = None) -> PartRecord | None:
    """The part's comparison from the ``done`` runs, or None while a run is missing.

    A sweep's record holds every point on the grid seeds (``points``), plus
    the chosen arm and the reference on all
    :data:`~tricks_lab.registry.BOOK_SEEDS` (as the part's comparison).
    """
    done = DoneRuns(profile) if done is None else done
    if part.kind != "sweep":
        comparison = _collect(part, profile, part.seeds_for(profile.name), list(part.recipes), done)
        if comparison is None:
            return None
        return PartRecord(part.name, part.kind, part.budget, comparison, teachers=_teachers(part, comparison, done))
    points = _points(part, profile, done)
    if points is None:
        return None
    chosen = choose_on_validation(points, part.reference)
    if chosen is None:
        return None
    full = _collect(part, profile, tuple(range(BOOK_SEEDS)), list(dict.fromkeys((part.reference, chosen))), done)
    if full is None:
        return None
    return PartRecord(part.name, part.kind, part.budget, full, chosen, points, _teachers(part, points, done))


def _teachers(part: Part, comparison: Comparison, done: DoneRuns) -> dict[str, Result]:
    """The teacher runs at hand of the comparison's distilled arms (a teacher no longer cached is left out)."""
    recipes = part.recipes
    return {arm: run for arm in comparison.results
            if (teacher := recipes[arm].teacher) is not None and (run := done.get(teacher, TEACHER_SEED)) is not None}


def _stored_parts(experiment: Experiment, profile: Profile) -> list[Part]:
    """The parts of ``experiment`` that a record under ``profile`` holds."""
    return [part for part in experiment.parts
            if part.kind in kinds_for(profile.name) and (part.on_gpu or profile.name not in GPU_PROFILES)]


def write_record(experiment: Experiment, profile: Profile, *, command: str | None = None,
                 wall_seconds: float = 0.0, done: DoneRuns | None = None) -> Path | None:
    """(Re)write ``experiment``'s record with every complete part; None if it would hold none.

    A part of the existing record that today's runs cannot rebuild (its
    training code has changed since) is kept as it was, with its versions.
    """
    done = DoneRuns(profile) if done is None else done
    path = experiment_record_path(experiment.name, profile.name)
    parts = {record.name: record for part in _stored_parts(experiment, profile)
             if (record := part_record(part, profile, done)) is not None}
    kept: dict[str, str] = {}
    if path.is_file():
        earlier = load_experiment_record(path)
        for name, old in earlier.parts.items():
            if name not in parts:
                parts[name] = old
                kept.update({key: version for key, version in earlier.training_code.items()
                             if key.startswith(f"{name}/")})
    if not parts:
        return None
    ordered = [parts[p.name] for p in experiment.parts if p.name in parts]
    return save_experiment_record(path, experiment.name, profile.name, ordered, command=command,
                                  wall_seconds=wall_seconds, versions=kept)


def write_pending(experiment: Experiment, profile: Profile, *, command: str | None = None,
                  done: DoneRuns | None = None) -> Path | None:
    """(Re)write ``experiment``'s pending runs: the finished runs of its incomplete parts (see :mod:`tricks_lab.pending`).

    A run a current record already holds (the shared baseline) is not
    repeated. With nothing pending, the file is removed and None returned.
    """
    done = DoneRuns(profile) if done is None else done
    runs: list[PendingRun] = []
    seen: set[str] = set()
    for part in _stored_parts(experiment, profile):
        if part_record(part, profile, done) is not None:
            continue
        for task in _part_tasks(experiment, part, profile, _chosen(part, profile, done)):
            key = run_key(task.recipe, profile, task.seed)
            if key in seen or key in done.recorded or (result := done.get(task.recipe, task.seed)) is None:
                continue
            seen.add(key)
            version = training_code_version(training_modules(task.recipe))
            runs.append(PendingRun(part.name, task.arm, version, result))
    return save_pending(pending_path(experiment.name, profile.name), experiment.name, profile.name, runs,
                        command=command)


def _write_progress(experiment: Experiment, profile: Profile, command: str, started: float,
                    done: DoneRuns) -> Path | None:
    """Rewrite ``experiment``'s record and its pending runs; the record's path, if it has one."""
    path = write_record(experiment, profile, command=command, wall_seconds=time.perf_counter() - started, done=done)
    write_pending(experiment, profile, command=command, done=done)
    return path


def _train(task: Task, profile: Profile) -> Result:
    return run(task.recipe, profile, task.seed, keep_model=False, progress=False)


class _InProcess:
    """The executor of ``jobs=1``: runs each task when submitted, in this process."""

    def submit(self, fn: Callable[..., Result], *args: object) -> Future[Result]:
        future: Future[Result] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as err:  # handed to the caller through the future, as a pool would
            future.set_exception(err)
        return future

    def __enter__(self) -> "_InProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["TRICKS_LAB_QUIET"] = "1"


def reproduce(
    names: Sequence[str],
    profile: str | Profile,
    *,
    jobs: int = 1,
    threads: int | None = None,
    kinds: Sequence[str] | None = None,
    dry_run: bool = False,
    out: Callable[[str], None] = print,
) -> list[Path]:
    """Train what the named experiments lack under ``profile`` and write their records (see the module).

    ``kinds``: the parts to run (default: :func:`~tricks_lab.registry.kinds_for` the profile).
    Returns the records written. With ``dry_run``, prints the plan and its
    estimated cost (from the cached runs' times) and trains nothing.
    """
    profile = resolve_profile(profile)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    command = " ".join(["python -m tricks_lab reproduce", *names, "--profile", profile.name])
    started = time.perf_counter()
    written: list[Path] = []
    done = DoneRuns(profile)
    for round_ in range(2):  # a second round runs the seeds of the sweeps' chosen arms
        tasks = plan(names, profile, kinds, done)
        missing = done.missing(tasks)
        per_unit = _seconds_per_unit(tasks, done)
        units = sum(run_cost(t.recipe) for t in missing)
        estimate = "unknown (no run done to time)" if per_unit is None else \
            f"{units * per_unit / 3600:.2f} hours at {per_unit:.0f} s per baseline run"
        out(f"{profile.name}: {len(tasks)} runs planned, {len(tasks) - len(missing)} done (recorded, pending or cached), "
            f"{len(missing)} to train ({units:.1f} baseline-run units; {estimate}); "
            f"{jobs} job(s) x {threads} thread(s)")
        if dry_run:
            for task in missing:
                out(f"  {task.label()}: {run_cost(task.recipe):.2f} units")
            return written
        if not missing and round_ == 1:
            break
        written += [p for p in _execute(missing, profile, jobs, threads, per_unit, out, command, started, done)
                    if p not in written]
    for experiment in {e.name: e for e in EXPERIMENTS}.values():
        if "all" in names or experiment.name in {experiment_for(n).name for n in names}:
            path = _write_progress(experiment, profile, command, started, done)
            if path is not None and path not in written:
                written.append(path)
    return written


def _seconds_per_unit(tasks: list[Task], done: DoneRuns) -> float | None:
    timed = [(r.train_seconds, run_cost(t.recipe)) for t in tasks if (r := done.get(t.recipe, t.seed)) is not None]
    if not timed:
        return None
    return sum(s for s, _ in timed) / sum(u for _, u in timed)


def _execute(tasks: list[Task], profile: Profile, jobs: int, threads: int, per_unit: float | None,
             out: Callable[[str], None], command: str, started: float, done: DoneRuns) -> list[Path]:
    written: list[Path] = []
    if not tasks:
        return written
    by_name = {e.name: e for e in EXPERIMENTS}
    pending = list(tasks)
    remaining_units = sum(run_cost(t.recipe) for t in pending)
    done_units, trained, total = 0.0, 0, len(pending)
    teachers = {run_key(t.recipe, profile, t.seed) for t in pending if t.is_teacher}
    pool_context = _InProcess() if jobs == 1 else ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads,))
    with pool_context as pool:
        running: dict[Future[Result], Task] = {}
        while pending or running:
            for task in list(pending):
                if len(running) >= jobs:
                    break
                needs = task.recipe.teacher
                if needs is not None and run_key(needs, profile, 0) in teachers and \
                        cached_result(needs, profile, 0) is None:
                    continue  # its teacher is still training
                pending.remove(task)
                running[pool.submit(_train, task, profile)] = task
            if not running:
                raise RuntimeError("no runnable task: a teacher is missing from the plan")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                result = future.result()  # a failed run stops the campaign loudly; finished runs stay cached
                trained += 1
                done_units += run_cost(task.recipe)
                remaining_units -= run_cost(task.recipe)
                elapsed = time.perf_counter() - started
                rate = elapsed / done_units if per_unit is None else per_unit / jobs
                state = (f"diverged at step {result.history.diverged_step}" if result.diverged
                         else f"test {100 * result.test_acc:.2f}%"
                         + ("" if result.val_acc is None else f", val {100 * result.val_acc:.2f}%"))
                out(f"[{trained}/{total}] {task.label()}: {state}, {result.train_seconds:.0f} s; "
                    f"ETA {_duration(remaining_units * rate)}")
                sys.stdout.flush()
                path = _write_progress(by_name[task.experiment], profile, command, started, done)
                if path is not None and path not in written:
                    written.append(path)
    return written


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"

"""The registry, `reproduce` end to end on a tiny profile, experiment records, and the committed records."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from pathlib import Path

import pytest

from fakes import TINY, fake_result
from tricks_lab import registry, reproduce as reproduce_module
from tricks_lab.__main__ import main
from tricks_lab.cache import cache_root
from tricks_lab.experiments import training_code_version, training_modules
from tricks_lab.pending import PendingRun, load_pending, pending_path, save_pending
from tricks_lab.profiles import PROFILES
from tricks_lab.recipe import BASELINE, Recipe
from tricks_lab.records import load_experiment_record, stored_experiment, MissingRecord
from tricks_lab.registry import EXPERIMENTS, Experiment, Part, experiment_for, scaled_budget

BOOK = Path(__file__).resolve().parent.parent / "book"
RESULTS = BOOK / "results"
QUICK = BASELINE.replace(epochs=8)  # 1 epoch under TINY's epoch_scale 1/8
TINY_HELD = replace(TINY, name="tiny", holdout_per_class=5, evaluations=1)


# -- the registry -------------------------------------------------------------------------------


def test_every_chapter_has_an_experiment_and_every_experiment_a_chapter() -> None:
    chapters = sorted(p.stem for p in BOOK.glob("[0-9][0-9]_*.ipynb"))
    covered = sorted(c for e in EXPERIMENTS for c in e.chapters)
    assert covered == chapters
    assert len({e.name for e in EXPERIMENTS}) == len(EXPERIMENTS)
    assert experiment_for("09_mixup") is experiment_for("04_ricap") is experiment_for("mixing")
    with pytest.raises(KeyError, match="no experiment or chapter called 'nope'"):
        experiment_for("nope")


def test_parts_have_the_seed_counts_their_kind_promises() -> None:
    for experiment in EXPERIMENTS:
        for part in experiment.parts:
            if part.kind in ("grid", "sweep"):
                assert part.seeds == tuple(range(registry.GRID_SEEDS))
            elif len(part.arms) == 1:
                assert part.seeds == tuple(range(registry.BASELINE_SEEDS))
            else:
                assert part.seeds == tuple(range(registry.BOOK_SEEDS))
            assert registry.BOOK_SEEDS >= 5
            if part.kind == "longer":
                assert part.budget >= 3
            if part.kind == "sweep":
                assert len(part.arms) >= 3  # a reference and at least two points to choose from


def test_the_baseline_is_shared_by_every_main_part_that_has_it() -> None:
    references = {e.name: p.recipes[p.reference] for e in EXPERIMENTS for p in e.parts if p.kind == "main"}
    assert sum(r == BASELINE for r in references.values()) >= 10


def test_scaled_budget_lengthens_the_student_and_its_teacher() -> None:
    student = BASELINE.replace(teacher=BASELINE.replace(epochs=32))
    longer = scaled_budget(student, 3.0)
    assert longer.epochs == 48 and longer.teacher.epochs == 96
    assert scaled_budget(student, 1.0) is student
    with pytest.raises(ValueError, match="budget must be > 0"):
        scaled_budget(student, 0.0)


def test_bad_parts_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Part("p", "huge", (("a", BASELINE),))
    with pytest.raises(ValueError, match="arm names must be distinct"):
        Part("p", "main", (("a", BASELINE), ("a", BASELINE)))
    with pytest.raises(ValueError, match="live arms"):
        Part("p", "main", (("a", BASELINE),), live=("b",))


def test_the_stack_adds_then_removes_one_trick_at_a_time() -> None:
    stack = experiment_for("12_bag_of_tricks")
    added, removed = stack.part("added"), stack.part("removed")
    assert [name for name, _ in added.arms][0] == "baseline"
    assert removed.arms[0][1] == added.arms[-1][1]  # the full stack
    full = removed.arms[0][1]
    for (name, recipe), (_, step) in zip(removed.arms[1:], added.arms[1:]):
        assert recipe != full and name.startswith("- ")


def test_each_refinement_changes_one_field_of_the_residual_net() -> None:
    refinements = experiment_for("12_bag_of_tricks").part("refinements")
    reference = refinements.recipes[refinements.reference]
    assert refinements.reference == "residual net" and reference == BASELINE.replace(model="fastnet_residual")
    changed = {name: {f.name for f in fields(Recipe) if getattr(recipe, f.name) != getattr(reference, f.name)}
               for name, recipe in refinements.arms[1:]}
    assert changed == {
        "plain fast net": {"model"},
        "+ zero-gamma": {"zero_init_residual"},
        "+ no bias decay": {"no_bias_decay"},
        "heavy-ball momentum": {"nesterov"},
        "+ colour jitter + PCA lighting": {"color_jitter", "pca_lighting"},
    }
    assert refinements.recipes["plain fast net"] == BASELINE  # its runs are the book's shared baseline


# -- reproduce, end to end on a tiny profile -----------------------------------------------------


@pytest.fixture
def tiny_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, real_cifar10) -> list[str]:
    """One tiny experiment with a main part and a sweep, 2 book seeds, 1 grid seed; results in tmp_path."""
    experiment = Experiment("tiny", ("tiny",), "does it run?", (
        Part("main", "main", (("baseline", QUICK), ("smoothing", QUICK.replace(label_smoothing=0.1)))),
        Part("eps", "sweep", (("baseline", QUICK), ("eps 0.05", QUICK.replace(label_smoothing=0.05)),
                              ("eps 0.2", QUICK.replace(label_smoothing=0.2)))),
    ))
    monkeypatch.setattr(registry, "EXPERIMENTS", (experiment,))
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS", (experiment,))
    monkeypatch.setattr(registry, "BOOK_SEEDS", 2)
    monkeypatch.setattr(reproduce_module, "BOOK_SEEDS", 2)
    monkeypatch.setattr(registry, "GRID_SEEDS", 1)
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    trained: list[str] = []
    real_train = reproduce_module._train

    def counting_train(task, profile):
        trained.append(task.label())
        return real_train(task, profile)

    monkeypatch.setattr(reproduce_module, "_train", counting_train)
    return trained


@pytest.mark.slow
def test_reproduce_runs_what_is_missing_writes_the_record_and_resumes(tiny_registry, tmp_path: Path) -> None:
    lines: list[str] = []
    written = reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, out=lines.append)
    # main: 2 arms x 2 seeds; sweep: 3 points x 1 seed, of which the baseline's seed 0 is shared,
    # then the chosen point's seed 1 (the baseline's seed 1 is shared with main)
    assert len(tiny_registry) == 4 + 2 + 1
    assert any(line.startswith("[1/") and "ETA" in line for line in lines)
    path = tmp_path / "tiny" / "tiny.json"
    assert written == [path]
    record = load_experiment_record(path)
    assert record.profile == "tiny" and set(record.parts) == {"main", "eps"}
    sweep = record.parts["eps"]
    assert sweep.chosen in ("eps 0.05", "eps 0.2")
    assert sweep.comparison.seeds == (0, 1) and set(sweep.comparison.results) == {"baseline", sweep.chosen}
    main_part = record.parts["main"]
    assert [r.seed for r in main_part.comparison.results["smoothing"]] == [0, 1]
    assert all(r.val_acc is not None for runs in main_part.comparison.results.values() for r in runs)
    assert not record.stale
    assert sweep.points is not None and sweep.points.seeds == (0,)
    assert set(sweep.points.results) == {"baseline", "eps 0.05", "eps 0.2"}
    # a second call finds everything cached: nothing is trained, the record is rewritten
    tiny_registry.clear()
    reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, out=lines.append)
    assert tiny_registry == []


def _without_run_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new machine: the run cache is empty, only the committed records exist."""
    monkeypatch.setattr(reproduce_module, "cached_result", lambda recipe, profile, seed: None)


def _recorded_then_new_machine(trained: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               edit: Callable[[dict], None] = lambda raw: None) -> tuple[Path, dict]:
    """Run the tiny campaign, let ``edit`` change its record, then forget the run cache."""
    reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, out=lambda line: None)
    path = tmp_path / "tiny" / "tiny.json"
    raw = json.loads(path.read_text())
    edit(raw)
    path.write_text(json.dumps(raw))
    trained.clear()
    _without_run_cache(monkeypatch)
    return path, raw


@pytest.mark.slow
def test_a_fresh_machine_trains_nothing_that_a_current_record_holds(
        tiny_registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = _recorded_then_new_machine(tiny_registry, tmp_path, monkeypatch)
    lines: list[str] = []
    assert reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, out=lines.append) == [path]
    assert tiny_registry == []
    assert lines[0].startswith("tiny: 7 runs planned, 7 done (recorded, pending or cached), 0 to train")
    after = json.loads(path.read_text())
    assert after["parts"] == before["parts"] and after["training_code"] == before["training_code"]


@pytest.mark.slow
def test_a_run_of_stale_code_is_trained_again_and_its_part_is_kept_meanwhile(
        tiny_registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, raw = _recorded_then_new_machine(
        tiny_registry, tmp_path, monkeypatch, lambda raw: raw["training_code"].update({"main/smoothing": "made-by-older-code"}))
    lines: list[str] = []
    reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, dry_run=True, out=lines.append)
    assert lines[1:] == [f"  tiny/main 'smoothing' seed {seed}: 0.50 units" for seed in (0, 1)]
    # rewriting the record for the sweep alone keeps the stale main part as it was, still stale
    reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, kinds=["sweep"], out=lambda line: None)
    assert tiny_registry == []
    record = load_experiment_record(path)
    assert list(record.parts) == ["main", "eps"]
    assert record.training_code["main/smoothing"] == "made-by-older-code"
    assert record.stale_arms == ["main/smoothing"]
    kept = record.parts["main"].comparison.results["smoothing"]
    assert [r.to_dict() for r in kept] == raw["parts"]["main"]["runs"]["smoothing"]


def test_a_record_run_counts_only_with_todays_code_and_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_cifar10) -> None:
    from tricks_lab.records import PartRecord, experiment_record_path, save_experiment_record
    from tricks_lab.results import Comparison, History, Result

    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    _without_run_cache(monkeypatch)
    source = reproduce_module.profile_data(TINY_HELD).source

    def made(recipe, seed: int, data_source: str = source) -> Result:
        history = History(epoch=[1], train_loss=[1.0], train_acc=[0.5], test_acc=[0.5], lr=[0.1], seconds=[1.0])
        return Result(recipe=recipe, profile="tiny", seed=seed, test_acc=0.5, history=history,
                      train_seconds=1.0, wall_seconds=1.0, data_source=data_source, device="cpu",
                      precision="fp32", val_acc=0.5)

    smoothing = QUICK.replace(label_smoothing=0.1)
    results = {"baseline": [made(QUICK, 0)], "smoothing": [made(smoothing, 0)],
               "other data": [made(QUICK, 1, data_source="another copy")]}
    part = PartRecord("main", "main", 1.0, Comparison("tiny", (0,), results))
    save_experiment_record(experiment_record_path("tiny", "tiny"), "tiny", "tiny", [part],
                           versions={"main/smoothing": "made-by-older-code"})
    done = reproduce_module.DoneRuns(TINY_HELD)
    assert done.get(QUICK, 0) is not None and done.get(QUICK, 0).test_acc == 0.5
    assert done.get(smoothing, 0) is None  # its code has changed since
    assert done.get(QUICK, 1) is None  # made from another copy of the data


def test_a_teacher_run_is_recorded_with_its_part_and_counts_on_the_next_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_cifar10) -> None:
    from tricks_lab.experiments import run_key

    teacher = QUICK.replace(epochs=16)
    student = QUICK.replace(teacher=teacher)
    experiment = Experiment("taught", ("taught",), "does the record keep the teacher?", (
        Part("main", "main", (("alone", QUICK), ("taught", student))),))
    monkeypatch.setattr(registry, "BOOK_SEEDS", 1)
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    source = reproduce_module.profile_data(TINY_HELD).source
    cache = {run_key(recipe, TINY_HELD, 0): replace(fake_result(recipe, 0, acc, profile="tiny"), data_source=source)
             for recipe, acc in ((QUICK, 0.5), (student, 0.55), (teacher, 0.6))}
    monkeypatch.setattr(reproduce_module, "cached_result",
                        lambda recipe, profile, seed: cache.get(run_key(recipe, profile, seed)))

    path = reproduce_module.write_record(experiment, TINY_HELD)
    record = load_experiment_record(path)
    assert record.parts["main"].teachers["taught"].test_acc == 0.6
    assert set(record.parts["main"].teachers) == {"taught"}
    assert record.training_code["main/teacher of taught"] == training_code_version(training_modules(teacher))

    cache.clear()  # the next machine: only the record is left
    assert reproduce_module.DoneRuns(TINY_HELD).get(teacher, 0).test_acc == 0.6
    reproduce_module.write_record(experiment, TINY_HELD)
    assert load_experiment_record(path).parts["main"].teachers["taught"].test_acc == 0.6

    raw = json.loads(path.read_text())
    raw["training_code"]["main/teacher of taught"] = "made-by-older-code"
    path.write_text(json.dumps(raw))
    assert reproduce_module.DoneRuns(TINY_HELD).get(teacher, 0) is None  # its code has changed since
    reproduce_module.write_record(experiment, TINY_HELD)
    assert load_experiment_record(path).parts["main"].teachers == {}  # the students stay, the teacher is not claimed


class _MachineGone(Exception):
    """The session's end, in the middle of a campaign."""


@contextlib.contextmanager
def _machine_that_trained_nothing(tmp_path: Path) -> Iterator[Path]:
    """Hide the session's cached runs for a test: yields the run cache's folder, empty; restores it after."""
    runs = cache_root() / "runs"
    hidden = tmp_path / "runs-of-other-tests"
    if runs.exists():
        shutil.move(runs, hidden)
    try:
        yield runs
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        if hidden.exists():
            shutil.move(hidden, runs)


@pytest.mark.slow
def test_an_interrupted_part_goes_on_from_its_pending_runs_on_the_next_machine(
        tiny_registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting_train = reproduce_module._train

    def train_two_then_stop(task, profile):
        if len(tiny_registry) == 2:
            raise _MachineGone
        return counting_train(task, profile)

    monkeypatch.setattr(reproduce_module, "_train", train_two_then_stop)
    with _machine_that_trained_nothing(tmp_path) as runs:
        with pytest.raises(_MachineGone):
            reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, out=lambda line: None)
        record_path, pending_file = tmp_path / "tiny" / "tiny.json", tmp_path / "tiny" / "pending" / "tiny.json"
        assert not record_path.exists()  # no part is complete: nothing for the book yet
        experiment, profile, pending = load_pending(pending_file)
        assert (experiment, profile) == ("tiny", "tiny")
        assert [(r.part, r.arm, r.result.seed) for r in pending] == [("main", "baseline", 0), ("main", "baseline", 1)]
        shutil.rmtree(runs)  # a new machine: only the repository's files are left
        monkeypatch.setattr(reproduce_module, "_train", counting_train)
        tiny_registry.clear()
        lines: list[str] = []
        reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, out=lines.append)
    assert lines[0].startswith("tiny: 6 runs planned, 2 done (recorded, pending or cached), 4 to train")
    # main's 2 smoothing runs, the sweep's 2 points, then its chosen point's seed 1: no baseline again
    assert len(tiny_registry) == 5 and not any("'baseline'" in label for label in tiny_registry)
    record = load_experiment_record(record_path)
    kept = record.parts["main"].comparison.results["baseline"]
    assert [r.to_dict() for r in kept] == [r.result.to_dict() for r in pending]
    assert set(record.parts) == {"main", "eps"} and not pending_file.exists()


def test_a_pending_run_counts_only_with_todays_code_and_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_cifar10) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    _without_run_cache(monkeypatch)
    source = reproduce_module.profile_data(TINY_HELD).source
    today = training_code_version(training_modules(QUICK))

    def pending(seed: int, version: str = today, data_source: str = source) -> PendingRun:
        return PendingRun("main", "baseline", version, replace(
            fake_result(QUICK, seed, 0.5, profile="tiny"), data_source=data_source))

    save_pending(pending_path("tiny", "tiny"), "tiny", "tiny",
                 [pending(0), pending(1, version="made-by-older-code"), pending(2, data_source="another copy")])
    done = reproduce_module.DoneRuns(TINY_HELD)
    assert done.get(QUICK, 0) is not None and done.get(QUICK, 0).test_acc == 0.5
    assert done.get(QUICK, 1) is None  # its code has changed since
    assert done.get(QUICK, 2) is None  # made from another copy of the data


@pytest.mark.slow
def test_the_sweep_chooses_on_validation_not_on_test(tiny_registry) -> None:
    reproduce_module.reproduce(["tiny"], TINY_HELD, jobs=1, kinds=["sweep"], out=lambda line: None)
    part = registry.EXPERIMENTS[0].part("eps")
    points = reproduce_module._collect(part, TINY_HELD, (0,), list(part.recipes), reproduce_module.DoneRuns(TINY_HELD))
    val = {arm: points.accuracies(arm, "val")[0] for arm in ("eps 0.05", "eps 0.2")}
    assert reproduce_module.choose_on_validation(points, "baseline") == max(val, key=val.get)


def test_teachers_are_planned_first_so_no_job_waits_on_them(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, real_cifar10) -> None:
    teacher = QUICK.replace(epochs=16)
    experiment = Experiment("taught", ("taught",), "does the teacher come first?", (
        Part("main", "main", (("baseline", QUICK), ("smoothing", QUICK.replace(label_smoothing=0.1)),
                              ("distilled", QUICK.replace(teacher=teacher)))),
    ))
    monkeypatch.setattr(registry, "EXPERIMENTS", (experiment,))
    monkeypatch.setattr(reproduce_module, "EXPERIMENTS", (experiment,))
    monkeypatch.setattr(registry, "BOOK_SEEDS", 2)
    monkeypatch.setattr(reproduce_module, "BOOK_SEEDS", 2)
    monkeypatch.setattr(reproduce_module, "cached_result", lambda recipe, profile, seed: None)
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))  # no records: every run is missing
    tasks = reproduce_module.plan(["taught"], TINY_HELD)
    assert [t.is_teacher for t in tasks] == [True] + [False] * 6
    assert tasks[0].recipe == teacher and tasks[-1].arm == "distilled"


def test_dry_run_lists_the_missing_runs_and_trains_nothing(tiny_registry, tmp_path: Path) -> None:
    lines: list[str] = []
    assert reproduce_module.reproduce(["tiny"], TINY_HELD, dry_run=True, out=lines.append) == []
    assert lines[0].startswith("tiny: 6 runs planned, 0 done (recorded, pending or cached), 6 to train")
    assert len(lines) == 7 and tiny_registry == []


def test_the_command_line_reproduce_rejects_an_unknown_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "nope", "--profile", "smoke", "--dry-run"]) == 2
    assert "no experiment or chapter called 'nope'" in capsys.readouterr().err


def test_a_missing_record_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    missing = stored_experiment("03_label_smoothing", "lab")
    assert isinstance(missing, MissingRecord) and "03_label_smoothing.json" in str(missing)


# -- the committed records ----------------------------------------------------------------------


def _committed() -> list[Path]:
    return sorted(RESULTS.glob("*/*.json"))


@pytest.mark.parametrize("path", _committed(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_record_matches_its_registry_entry(path: Path) -> None:
    record = load_experiment_record(path)
    assert record.profile == path.parent.name and record.profile in PROFILES
    experiment = experiment_for(record.experiment)
    assert path.stem == experiment.name
    for name, stored in record.parts.items():
        part = experiment.part(name)
        assert stored.kind == part.kind and stored.budget == part.budget
        recipes = part.recipes
        for arm, runs in stored.comparison.results.items():
            assert arm in recipes, f"{path.name}/{name}: arm {arm!r} is not in the registry"
            assert all(r.recipe == recipes[arm] and r.profile == record.profile for r in runs)
            assert [r.seed for r in runs] == list(stored.comparison.seeds)
        if part.kind == "sweep":
            assert stored.chosen in recipes and list(stored.comparison.seeds) == list(range(registry.BOOK_SEEDS))
        else:
            assert list(stored.comparison.results) == list(recipes)
            assert stored.comparison.seeds == part.seeds
    raw = json.loads(path.read_text())
    assert raw["provenance"]["git_commit"] and raw["training_code"]


@pytest.mark.parametrize("name", ["smoke", "lab", "short", "full"])
def test_sizes_match_the_loader_of_every_profile(name: str, real_cifar10) -> None:
    from tricks_lab.experiments import make_loaders, profile_data
    from tricks_lab.sizes import run_steps, steps_per_epoch, train_size
    from tricks_lab.build import scaled_batch_size, scaled_epochs

    profile = replace(PROFILES[name], device="cpu")  # the sizes do not depend on the device
    recipe = BASELINE.replace(batch_size=384)
    loader, _ = make_loaders(recipe, profile, seed=0)
    assert train_size(profile) == len(profile_data(profile).train_images)
    assert steps_per_epoch(scaled_batch_size(recipe, profile), train_size(profile)) == len(loader)
    assert run_steps(recipe, profile) == scaled_epochs(recipe, profile) * len(loader)


def _committed_pending() -> list[Path]:
    return sorted(RESULTS.glob("*/pending/*.json"))


@pytest.mark.parametrize("path", _committed_pending(), ids=lambda p: f"{p.parent.parent.name}/pending/{p.name}")
def test_every_committed_pending_run_belongs_to_a_part_its_record_lacks(path: Path) -> None:
    experiment_name, profile, runs = load_pending(path)
    assert profile == path.parent.parent.name and profile in PROFILES and runs
    experiment = experiment_for(experiment_name)
    assert path.stem == experiment.name
    record = stored_experiment(experiment.name, profile)
    complete = set() if isinstance(record, MissingRecord) else set(record.parts) - {
        arm.split("/")[0] for arm in record.stale_arms}
    for run in runs:
        recipes = experiment.part(run.part).recipes
        assert run.part not in complete, f"{path.name}: {run.part} is complete in the record, yet still pending"
        assert run.result.recipe == recipes[run.arm] and run.result.profile == profile

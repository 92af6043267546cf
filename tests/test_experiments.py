"""Recipe, profiles, run/compare with the cache, statistics, records and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from fakes import TINY
from tricks_lab import experiments
from tricks_lab.__main__ import main, parse_variant
from tricks_lab.build import make_hooks, make_loss, scaled_batch_size, scaled_lr
from tricks_lab.cache import atomic_write_json
from tricks_lab.profiles import PROFILES, resolve_profile
from tricks_lab.recipe import BASELINE, Recipe
from tricks_lab.records import MissingRecord, load_record, save_record, stored_results
from tricks_lab.results import Comparison, History, Result
from tricks_lab.stats import summarize, welch_interval

QUICK = BASELINE.replace(epochs=16)  # 2 epochs under TINY's epoch_scale 1/8


# -- recipe and profiles ------------------------------------------------------


def test_recipe_validates_every_field_with_a_clear_message() -> None:
    cases = {
        "model": ("vgg", "model must be one of"), "epochs": (0, "epochs must be >= 1"),
        "lr": (-0.1, "lr must be > 0"), "label_smoothing": (1.0, r"label_smoothing must be in \[0.0, 1.0\)"),
        "mixing": ("cutup", "mixing must be one of"), "milestones": ((0.7, 0.2), "milestones must be increasing"),
        "warmup_epochs": (16.0, "warmup_epochs must be in"), "momentum": (1.0, "momentum must be in"),
    }
    for field, (value, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            BASELINE.replace(**{field: value})


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("field", ["lr", "weight_decay", "label_smoothing", "mixing_concentration"])
def test_recipe_rejects_non_finite_values(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        BASELINE.replace(**{field: value})


def test_recipe_round_trips_through_dict_and_cli_overrides() -> None:
    recipe = BASELINE.with_overrides(["lr=0.2", "milestones=0.3,0.6", "lr_reference_batch=256",
                                      "nesterov=false", "mixing=mixup"]).replace(teacher=BASELINE)
    assert (recipe.lr, recipe.milestones, recipe.nesterov, recipe.mixing) == (0.2, (0.3, 0.6), False, "mixup")
    assert recipe.effective_lr == pytest.approx(0.2 * 512 / 256)
    assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
    with pytest.raises(ValueError, match="lr expects float, got 'fast'"):
        BASELINE.with_overrides(["lr=fast"])
    with pytest.raises(ValueError, match="cannot set 'speed=3'"):
        BASELINE.with_overrides(["speed=3"])
    with pytest.raises(ValueError, match="unknown recipe fields"):
        Recipe.from_dict({"speed": 3})


def test_profiles_scale_data_model_and_epochs_not_the_tricks(monkeypatch) -> None:
    smoke = PROFILES["smoke"]
    assert scaled_batch_size(BASELINE, smoke) == 128
    assert scaled_lr(BASELINE, smoke) == pytest.approx(0.1)  # the linear rule, 0.4 x 128/512
    assert make_loss(BASELINE.replace(label_smoothing=0.1)).smoothing == 0.1
    monkeypatch.setenv("TRICKS_LAB_PROFILE", "smoke")
    assert resolve_profile("auto").name == "smoke"
    monkeypatch.setenv("TRICKS_LAB_PROFILE", "huge")
    with pytest.raises(ValueError, match="TRICKS_LAB_PROFILE must be one of"):
        resolve_profile("auto")
    with pytest.raises(ValueError, match="profile must be one of"):
        resolve_profile("medium")


def test_hooks_follow_the_recipe_in_stage_order() -> None:
    recipe = BASELINE.replace(augment="autoaugment", occlusion="cutout", mixing="mixup")
    stages = [hook.stage for hook in make_hooks(recipe)]
    assert stages == ["uint8", "float", "float"]
    assert make_hooks(BASELINE) == []


# -- statistics ----------------------------------------------------------------


def test_welch_interval_agrees_with_scipy() -> None:
    x, y = [0.91, 0.93, 0.92, 0.94], [0.90, 0.905, 0.91]
    d = welch_interval(x, y)
    result = scipy_stats.ttest_ind(x, y, equal_var=False)
    ci = result.confidence_interval(0.95)
    assert d.low == pytest.approx(ci.low) and d.high == pytest.approx(ci.high)
    assert d.significant == (result.pvalue < 0.05)
    assert summarize([1.0, 3.0]).std == pytest.approx(math.sqrt(2))
    assert math.isnan(welch_interval([0.9], [0.8]).low)


# -- run, cache, compare, records ---------------------------------------------


@pytest.fixture
def tiny_data(real_cifar10):
    return real_cifar10


def test_run_trains_caches_and_reuses(tiny_data, isolated_cache: Path) -> None:
    first = experiments.run(QUICK, TINY, seed=0)
    assert not first.cached and first.model is not None
    assert first.history.epoch == [1, 2] and 0.0 <= first.test_acc <= 1.0
    assert first.data_source == "cifar10-jpeg.zip (JPEG q75 copy)"
    again = experiments.run(QUICK, TINY, seed=0)
    assert again.cached and again.test_acc == first.test_acc and again.history == first.history
    for p_first, p_again in zip(first.model.parameters(), again.model.parameters()):
        assert p_first.equal(p_again)
    other_seed = experiments.run(QUICK, TINY, seed=1, keep_model=False)
    assert not other_seed.cached and other_seed.model is None


def test_same_seed_recomputed_gives_the_same_run(tiny_data) -> None:
    a = experiments.run(QUICK, TINY, seed=3, cache=False)
    b = experiments.run(QUICK, TINY, seed=3, cache=False)
    assert a.history.step_loss == b.history.step_loss and a.test_acc == b.test_acc


def test_compare_and_records_round_trip(tiny_data, tmp_path: Path, monkeypatch) -> None:
    comparison = experiments.compare({"baseline": QUICK, "smooth": QUICK.replace(label_smoothing=0.1)},
                                     seeds=(0, 1), profile=TINY)
    rows = comparison.rows()
    assert comparison.paired  # same seeds: the paired interval
    assert [r.name for r in rows] == ["baseline", "smooth"] and rows[0].paired is None and rows[0].welch is None
    accs = [r.test_acc for r in comparison.results["smooth"]]
    base = [r.test_acc for r in comparison.results["baseline"]]
    assert rows[1].welch.estimate == pytest.approx(sum(accs) / 2 - sum(base) / 2)
    assert comparison.paired_differences("smooth") == pytest.approx({0: accs[0] - base[0], 1: accs[1] - base[1]})
    ci = scipy_stats.ttest_rel(accs, base).confidence_interval(0.95)
    assert (rows[1].paired.low, rows[1].paired.high) == pytest.approx((ci.low, ci.high))
    assert rows[1].difference(paired=True) is rows[1].paired and rows[0].diverged == rows[1].diverged == 0
    assert all(r.val_acc is None for r in comparison.results["smooth"])  # TINY holds no validation split
    assert "baseline" in str(comparison) and "<table>" in comparison._repr_html_()
    path = save_record(tmp_path / "results" / "demo.json", comparison, command="test")
    record = load_record(path)
    assert record.comparison.table() == comparison.table()
    assert record.provenance["data_sources"] == ["cifar10-jpeg.zip (JPEG q75 copy)"]
    assert record.provenance["command"] == "test" and record.provenance["torch"]
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path / "results"))
    assert stored_results("demo").comparison.table() == comparison.table()
    missing = stored_results("nothing-here")
    assert isinstance(missing, MissingRecord) and "No stored GPU result yet" in str(missing)


def test_interrupted_compare_resumes_from_cached_runs(tiny_data, monkeypatch) -> None:
    experiments.run(QUICK, TINY, seed=0, keep_model=False)
    calls = []
    original = experiments.fit
    monkeypatch.setattr(experiments, "fit", lambda *a, **k: calls.append(1) or original(*a, **k))
    experiments.compare({"baseline": QUICK}, seeds=(0, 1), profile=TINY)
    assert len(calls) == 1  # seed 0 came from the cache


def test_atomic_write_never_leaves_a_half_written_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    atomic_write_json(path, {"ok": 1})
    with pytest.raises(ValueError):
        atomic_write_json(path, {"bad": float("nan")})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_malformed_record_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"schema": 1, "runs": ')
    with pytest.raises(ValueError, match="cannot read results record .*broken.json"):
        load_record(path)


def test_batch_larger_than_the_data_is_a_clear_error(tiny_data) -> None:
    with pytest.raises(ValueError, match=r"batch_size=256 .* larger than the 200 training images"):
        experiments.run(BASELINE.replace(batch_size=4096), TINY, seed=0)


# -- the command line -----------------------------------------------------------


def test_parse_variant() -> None:
    known = {"teacher": BASELINE.replace(model="resnet20")}
    name, recipe = parse_variant("student: label_smoothing=0.1 teacher=teacher milestones=0.4,0.8", known)
    assert name == "student" and recipe.teacher == known["teacher"]
    assert recipe.label_smoothing == 0.1 and recipe.milestones == (0.4, 0.8)
    assert parse_variant("baseline", {})[1] == BASELINE
    with pytest.raises(ValueError, match="must name an earlier variant"):
        parse_variant("s: teacher=nobody", {})


@pytest.mark.slow
def test_cli_end_to_end_on_the_smoke_profile(tiny_data, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(PROFILES, "smoke", TINY)  # same code path, smaller data
    out = tmp_path / "cli.json"
    code = main(["compare", "--profile", "smoke", "--seeds", "0-1", "--variant", "baseline",
                 "--variant", "short: epochs=8", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "baseline" in printed and "short" in printed and "record written" in printed
    record = load_record(out)
    assert record.comparison.seeds == (0, 1) and list(record.comparison.results) == ["baseline", "short"]
    assert record.comparison.recipes["short"].epochs == 8
    assert main(["compare", "--variant", "x: lr=fast"]) == 2
    assert "lr expects float" in capsys.readouterr().err


# -- validation split, divergence ---------------------------------------------------------------

HELD_OUT = dataclasses.replace(TINY, name="tiny-held-out", holdout_per_class=10)


def test_the_validation_split_is_held_out_of_the_training_set(tiny_data) -> None:
    data = experiments.profile_data(HELD_OUT)
    assert len(data.val_images) == 100 and np.bincount(data.val_labels).tolist() == [10] * 10
    assert len(data.train_images) == 200 and len(data.test_images) == 100
    train_rows = {image.tobytes() for image in data.train_images}
    assert not any(image.tobytes() in train_rows for image in data.val_images)
    assert experiments.profile_data(HELD_OUT).val_labels is data.val_labels  # fixed: the same split every run
    result = experiments.run(QUICK, HELD_OUT, seed=0, cache=False, keep_model=False)
    assert result.val_acc is not None and 0.0 <= result.val_acc <= 1.0 and math.isfinite(result.test_acc)


def test_a_diverged_run_is_counted_apart_and_never_averaged(tiny_data, isolated_cache: Path) -> None:
    huge = QUICK.replace(lr=1e12)
    comparison = experiments.compare({"baseline": QUICK, "huge lr": huge}, seeds=(0, 1), profile=TINY)
    diverged = comparison.results["huge lr"]
    for result in diverged:
        assert result.diverged and result.history.diverged_step >= 1 and math.isnan(result.test_acc)
        assert len(result.history.step_loss) == result.history.diverged_step
        assert result.history.epoch[-1] <= 2
    base, row = comparison.rows()
    assert (base.diverged, row.diverged) == (0, 2) and row.accuracy is None and row.paired is None
    assert comparison.accuracies("huge lr") == {} and comparison.paired_differences("huge lr") == {}
    line = comparison.table()[1]
    assert (line["diverged"], line["seeds"], line["acc %"]) == ("2", "0", "n/a")
    assert "diverged" in comparison.caption()
    # JSON (strict: no NaN) and back, also through the run cache
    text = json.dumps(diverged[0].to_dict(), allow_nan=False)
    back = Result.from_dict(json.loads(text))
    assert back.diverged and back.history.diverged_step == diverged[0].history.diverged_step
    assert math.isnan(back.test_acc) and back.val_acc is None
    cached = experiments.run(huge, TINY, seed=0, keep_model=False)
    assert cached.cached and cached.diverged and math.isnan(cached.test_acc)


def test_a_partly_diverged_recipe_averages_only_its_finished_seeds() -> None:
    def result(recipe: Recipe, seed: int, acc: float, diverged: bool = False) -> Result:
        history = History(epoch=[1], train_loss=[1.0], train_acc=[0.5], test_acc=[acc], lr=[0.1], seconds=[1.0],
                          step_loss=[1.0], step_lr=[0.1], diverged_step=3 if diverged else None)
        return Result(recipe, "tiny", seed, acc, history, 1.0, 2.0, "data", "CPU", "fp32")

    trick = QUICK.replace(lr=0.8)
    comparison = Comparison("tiny", (0, 1, 2, 3), {
        "baseline": [result(QUICK, s, a) for s, a in enumerate([0.60, 0.62, 0.58, 0.61])],
        "trick": [result(trick, 0, 0.63), result(trick, 1, float("nan"), diverged=True),
                  result(trick, 2, 0.60), result(trick, 3, 0.64)],
    })
    row = comparison.rows()[1]
    assert row.diverged == 1 and row.accuracy.n == 3
    assert row.accuracy.mean == pytest.approx((0.63 + 0.60 + 0.64) / 3)  # not (... + 0.10) / 4
    assert comparison.paired_differences("trick") == pytest.approx({0: 0.03, 2: 0.02, 3: 0.03})
    ci = scipy_stats.ttest_rel([0.63, 0.60, 0.64], [0.60, 0.58, 0.61]).confidence_interval(0.95)
    assert (row.paired.low, row.paired.high) == pytest.approx((ci.low, ci.high))
    assert comparison.table()[1]["diverged"] == "1"


# -- paired runs: the same seed, the same initial weights and batches ---------------------------


class _Captured(Exception):
    pass


def _start_of_run(recipe: Recipe, seed: int, monkeypatch) -> tuple[dict, list]:
    """The initial weights and the first epoch's batches that experiments.run hands to fit."""
    seen = {}

    def capture(model, train_loader, **kwargs):
        seen["weights"] = {k: v.clone() for k, v in model.state_dict().items()}
        seen["batches"] = [(x.clone(), y.clone()) for x, y in train_loader]
        raise _Captured

    monkeypatch.setattr(experiments, "fit", capture)
    with pytest.raises(_Captured):
        experiments.run(recipe, TINY, seed=seed, cache=False)
    return seen["weights"], seen["batches"]


def test_same_seed_gives_the_same_initial_weights_and_batches_whatever_the_loss_schedule_optimizer(
    tiny_data, monkeypatch
) -> None:
    variants = [QUICK.replace(label_smoothing=0.1), QUICK.replace(schedule="cosine"),
                QUICK.replace(optimizer="adam", lr=1e-3), QUICK.replace(no_bias_decay=True, warmup_epochs=2.0)]
    weights, batches = _start_of_run(QUICK, 2, monkeypatch)
    for recipe in variants:
        other_weights, other_batches = _start_of_run(recipe, 2, monkeypatch)
        assert all(torch.equal(weights[k], other_weights[k]) for k in weights)
        assert len(other_batches) == len(batches)
        assert all(torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in zip(batches, other_batches))
    other_seed_weights, other_seed_batches = _start_of_run(QUICK, 3, monkeypatch)
    assert not all(torch.equal(weights[k], other_seed_weights[k]) for k in weights)
    assert not torch.equal(batches[0][0], other_seed_batches[0][0])


def test_a_hook_leaves_the_initial_weights_and_the_data_order_of_the_baseline(tiny_data, monkeypatch) -> None:
    weights, batches = _start_of_run(QUICK, 4, monkeypatch)
    cutout_weights, cutout_batches = _start_of_run(QUICK.replace(occlusion="cutout", cutout_length=8), 4, monkeypatch)
    assert all(torch.equal(weights[k], cutout_weights[k]) for k in weights)
    for (x, y), (u, v) in zip(batches, cutout_batches):
        assert torch.equal(y, v)  # the same images in the same order...
        changed = (x != u).any(dim=1)  # ...and the pixels differ only inside each image's hole
        assert changed.any() and int(changed.flatten(1).sum(1).max()) <= 8 * 8

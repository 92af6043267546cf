"""Recipe, profiles, run/compare with the cache, statistics, records and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats as scipy_stats

from fakes import TINY
from tricks_lab import experiments
from tricks_lab.__main__ import main, parse_variant
from tricks_lab.build import make_hooks, make_loss, scaled_batch_size, scaled_lr
from tricks_lab.cache import atomic_write_json
from tricks_lab.profiles import PROFILES, resolve_profile
from tricks_lab.recipe import BASELINE, Recipe
from tricks_lab.records import MissingRecord, load_record, save_record, stored_results
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
    assert [r.name for r in rows] == ["baseline", "smooth"] and rows[0].difference is None
    accs = [r.test_acc for r in comparison.results["smooth"]]
    base = [r.test_acc for r in comparison.results["baseline"]]
    assert rows[1].difference.estimate == pytest.approx(sum(accs) / 2 - sum(base) / 2)
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

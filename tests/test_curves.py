"""Grids and sweeps drawn along their hyperparameter: axes read from the recipes, paired contrasts per x."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest

from tricks_lab import curves
from tricks_lab.records import PartRecord, experiment_record_path, save_experiment_record
from tricks_lab.registry import EXPERIMENTS, Part, experiment_for
from tricks_lab.reproduce import choose_on_validation
from tricks_lab.results import Comparison
from tricks_lab.stats import paired_interval

from fakes import fake_result

matplotlib.use("Agg")


def _grid_parts() -> list[tuple[str, Part]]:
    return [(e.name, p) for e in EXPERIMENTS for p in e.parts if p.kind in ("grid", "sweep")]


def _comparison(part: Part, accuracy, seeds=(0, 1, 2)) -> Comparison:
    """Every arm of ``part`` on ``seeds``; ``accuracy(arm_index, seed)`` gives (test, val)."""
    return Comparison("lab", tuple(seeds), {
        arm: [fake_result(recipe, s, *accuracy(i, s)) for s in seeds]
        for i, (arm, recipe) in enumerate(part.recipes.items())})


def _record(part: Part, comparison: Comparison) -> PartRecord:
    if part.kind == "sweep":
        chosen = choose_on_validation(comparison, part.reference)
        kept = {arm: comparison.results[arm] for arm in (part.reference, chosen)}
        return PartRecord(part.name, part.kind, part.budget, Comparison("lab", comparison.seeds, kept), chosen,
                          comparison)
    return PartRecord(part.name, part.kind, part.budget, comparison)


@pytest.mark.parametrize(("experiment", "part"), _grid_parts(), ids=lambda v: getattr(v, "name", v))
def test_every_grid_and_sweep_puts_each_arm_once_on_each_of_its_lines(experiment: str, part: Part) -> None:
    axis = curves.axis_for(experiment, part.name)
    lines = curves._lines(_comparison(part, lambda i, s: (0.6, 0.6)), axis)
    placed = {arm for points in lines.values() for _, arm in points}
    assert set(part.recipes) - placed <= {part.reference}, "only the reference may sit off every line"
    assert lines, "a grid without a line draws nothing"


def test_the_warmup_grid_has_both_lines_at_every_learning_rate() -> None:
    part = experiment_for("01_warmup").part("lr_grid")
    lines = curves._lines(_comparison(part, lambda i, s: (0.6, 0.6)), curves.axis_for("01_warmup", "lr_grid"))
    assert sorted(lines) == sorted(["no warmup", curves.WARMUP_LINE])
    assert [x for x, _ in lines["no warmup"]] == [x for x, _ in lines[curves.WARMUP_LINE]] == [1, 2, 4, 8]


def test_the_batch_512_baseline_is_the_shared_point_of_the_fixed_and_scaled_lines() -> None:
    part = experiment_for("02_linear_scaling").part("batch_grid")
    lines = curves._lines(_comparison(part, lambda i, s: (0.6, 0.6)), curves.axis_for("02_linear_scaling",
                                                                                          "batch_grid"))
    assert (512.0, part.reference) in lines["fixed lr"] and (512.0, part.reference) in lines["scaled lr"]
    assert [x for x, _ in lines["scaled lr + warmup"]] == [1024, 4096]


def test_two_arms_at_one_x_of_a_line_is_an_error() -> None:
    part = experiment_for("06_cutout").part("length")
    axis = curves.Axis("x", lambda r: 1.0, lambda r: ("line",))
    with pytest.raises(ValueError, match="two arms at one x"):
        curves._lines(_comparison(part, lambda i, s: (0.6, 0.6)), axis)


def test_a_contrast_is_the_paired_interval_at_each_shared_x() -> None:
    part = experiment_for("01_warmup").part("lr_grid")
    rng = np.random.default_rng(0)
    table = {(i, s): (float(rng.uniform(0.5, 0.7)), 0.6) for i in range(len(part.arms)) for s in range(3)}
    stored = _record(part, _comparison(part, lambda i, s: table[(i, s)]))
    axis = curves.axis_for("01_warmup", "lr_grid")
    rows = curves.contrast_rows(stored, axis, curves.WARMUP_LINE, "no warmup")
    assert [row.x for row in rows] == [1, 2, 4, 8]
    index = {arm: i for i, arm in enumerate(part.recipes)}
    for row in rows:
        mine = [table[(index[row.arm], s)][0] for s in range(3)]
        theirs = [table[(index[row.against_arm], s)][0] for s in range(3)]
        assert row.difference == paired_interval(mine, theirs)
        assert part.recipes[row.arm].warmup_epochs > 0 and part.recipes[row.against_arm].warmup_epochs == 0
    with pytest.raises(KeyError, match="no series 'cosine'"):
        curves.contrast_rows(stored, axis, "cosine", "no warmup")


def test_the_same_arm_on_both_lines_is_not_contrasted_with_itself() -> None:
    part = experiment_for("02_linear_scaling").part("batch_grid")
    stored = _record(part, _comparison(part, lambda i, s: (0.6 + 0.01 * s, 0.6)))
    rows = curves.contrast_rows(stored, curves.axis_for("02_linear_scaling", "batch_grid"), "scaled lr", "fixed lr")
    assert [row.x for row in rows] == [128, 256, 1024, 4096]


def test_a_sweep_figure_draws_every_point_and_rings_the_choice_on_validation() -> None:
    part = experiment_for("06_cutout").part("length")
    stored = _record(part, _comparison(part, lambda i, s: (0.60 + 0.01 * i, 0.60 + 0.02 * i + 0.001 * s)))
    assert stored.chosen == "cutout 24"
    fig = curves.curve_figure(stored, curves.axis_for("06_cutout", "length"))
    validation, test = fig.axes
    (line,) = [c for c in validation.containers]  # one errorbar container: the Cutout line
    xs, ys = line.lines[0].get_data()
    assert list(xs) == [0, 8, 16, 24]
    assert np.allclose(ys, [100 * (0.60 + 0.02 * i + 0.001) for i in range(4)])
    assert "chosen: cutout 24" in [c.get_label() for c in validation.collections]
    assert "chosen: cutout 24" not in [c.get_label() for c in test.collections]  # chosen on validation only
    assert validation.get_xlabel() == test.get_xlabel() == "Cutout hole side (pixels; 0 = no hole)"
    assert validation.get_ylabel() == "accuracy (%)"


def test_a_missing_part_draws_nothing_and_its_contrast_says_so(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    assert curves.show_curve("01_warmup", "lr_grid") is None
    assert curves.contrast_markdown("01_warmup", "lr_grid", curves.WARMUP_LINE, "no warmup") == \
        "*The `lr_grid` part is not measured yet.*"


def test_a_stored_grid_reads_back_as_a_contrast_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    part = experiment_for("01_warmup").part("lr_grid")
    warm = {arm for arm, r in part.recipes.items() if r.warmup_epochs > 0}
    comparison = _comparison(part, lambda i, s: (0.60 + (0.02 if list(part.recipes)[i] in warm else 0.0)
                                                 + 0.001 * s * i, 0.6))
    save_experiment_record(experiment_record_path("01_warmup", "lab"), "01_warmup", "lab", [_record(part, comparison)])
    table = curves.contrast_markdown("01_warmup", "lr_grid", curves.WARMUP_LINE, "no warmup").splitlines()
    assert len(table) == 2 + 4
    assert all("| better |" in row for row in table[2:])
    assert curves.show_curve("01_warmup", "lr_grid") is not None


def test_a_part_without_an_axis_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no axis for part 'main' of '01_warmup'"):
        curves.axis_for("01_warmup", "main")

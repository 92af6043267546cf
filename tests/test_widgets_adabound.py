"""The AdaBound chapter's helpers and figures: the closing step, run lengths, the band
figure and explorer, and the step-size trace of a real (tiny) run."""

from __future__ import annotations

import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt

from fakes import TINY
from tricks_lab import experiments
from tricks_lab.optim import bounds
from tricks_lab.recipe import BASELINE
from tricks_lab.widgets.adabound import (
    StepSizeTrace,
    band_closing_step,
    band_explorer,
    band_figure,
    run_steps,
    step_size_figure,
    trace_step_sizes,
)

ADABOUND = BASELINE.replace(optimizer="adabound", lr=1e-3, final_lr=0.1, lr_reference_batch=128)


def assert_labelled(fig: plt.Figure) -> None:
    axes = [ax for ax in fig.axes if ax.has_data() and ax.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)


@pytest.mark.parametrize("gamma", [1e-4, 1e-3, 0.05])
@pytest.mark.parametrize("tolerance", [0.01, 0.1, 0.5])
def test_band_closing_step_is_where_both_bounds_are_within_tolerance(gamma: float, tolerance: float) -> None:
    step = band_closing_step(gamma, tolerance)
    lower, upper = bounds(step, 1.0, gamma)
    assert upper == pytest.approx(1 + tolerance, rel=1e-12) and lower >= 1 - tolerance
    _, earlier_upper = bounds(step * 0.99, 1.0, gamma)
    assert earlier_upper > 1 + tolerance


def test_band_closing_step_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="gamma must be > 0"):
        band_closing_step(0.0)
    with pytest.raises(ValueError, match=r"tolerance must be in \(0.0, 1.0\)"):
        band_closing_step(1e-3, tolerance=1.0)


def test_run_steps_counts_full_batches_times_epochs_even_for_gpu_profiles() -> None:
    assert run_steps(BASELINE, "smoke") == 8 * (2_500 // 128)
    # no GPU needed to count; 5,000 training images are held out for validation
    assert run_steps(BASELINE, "short") == 16 * (45_000 // 512)
    assert run_steps(BASELINE, "full") == 160 * (45_000 // 512)
    assert run_steps(BASELINE, "lab") == 4 * (45_000 // 128)
    assert run_steps(BASELINE, TINY) == 2 * (200 // 32)
    with pytest.raises(TypeError, match="recipe must be a Recipe"):
        run_steps("baseline")  # type: ignore[arg-type]


def test_run_steps_is_the_length_of_the_runs_training_loader(real_cifar10) -> None:
    """Counted without data, checked against the loaders experiments.run makes (validation held out)."""
    from tricks_lab.build import scaled_epochs
    from tricks_lab.profiles import PROFILES

    held_out = dataclasses.replace(TINY, train_per_class=None, holdout_per_class=5)  # 49,950 images
    for profile in (PROFILES["smoke"], held_out):
        train_loader, _ = experiments.make_loaders(BASELINE, profile, seed=0)
        assert run_steps(BASELINE, profile) == scaled_epochs(BASELINE, profile) * len(train_loader)


def test_band_figure_draws_each_gamma_and_marks_runs() -> None:
    fig = band_figure(0.1, gammas=(1e-3, 1e-2), runs={"smoke": 152, "short": 1552})
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    for gamma in ("0.001", "0.01"):
        assert f"γ = {gamma}: upper bound" in labels and f"γ = {gamma}: lower bound" in labels
    assert "final_lr = 0.1" in labels
    assert [t.get_text().strip() for t in ax.texts] == ["smoke", "short"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "iteration" in ax.get_xlabel() and "step size" in ax.get_ylabel()
    assert_labelled(fig)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"final_lr": 0.0}, "final_lr must be > 0"),
        ({"gammas": ()}, "gammas must hold at least one gamma"),
        ({"gammas": (1e-3, -1.0)}, r"gammas\[1\] must be > 0"),
        ({"runs": {"bad": 0}}, r"runs\['bad'\] must be > 0"),
    ],
)
def test_band_figure_rejects_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        band_figure(**kwargs)


def test_band_explorer_builds() -> None:
    widget = band_explorer({"smoke": 152})
    sliders = widget.children[0].children
    assert [s.description for s in sliders] == ["final_lr", "gamma"]
    plt.close("all")


def synthetic_trace() -> StepSizeTrace:
    edges = np.linspace(-6, 2, 41)
    counts = np.zeros((3, 40))
    counts[:, 15:25] = 0.1
    lower, upper = (b.numpy() for b in bounds(torch.arange(1.0, 31.0), 0.1, 0.1))
    return StepSizeTrace(BASELINE.replace(optimizer="adabound"), "tiny", 0, np.array([10, 20, 30]), edges,
                         counts, np.array([0.0, 0.01, 0.02]), np.zeros(3), lower, upper, np.ones(30))


def test_step_size_figure_builds_labels_and_says_when_nothing_is_clipped() -> None:
    fig = step_size_figure(synthetic_trace())
    hist, fractions = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert "step size" in hist.get_ylabel() and "iteration" in hist.get_xlabel()
    assert "(%)" in fractions.get_ylabel()
    labels = [line.get_label() for line in fractions.get_lines()]
    assert "cut to the upper bound (none at any snapshot)" in labels
    assert "raised to the lower bound" in labels
    assert_labelled(fig)
    with pytest.raises(TypeError, match="trace must be a StepSizeTrace"):
        step_size_figure("trace")  # type: ignore[arg-type]


def test_trace_rejects_recipes_it_cannot_trace() -> None:
    with pytest.raises(ValueError, match="recipe.optimizer must be 'adabound' or 'amsbound'"):
        trace_step_sizes(BASELINE, TINY)
    with pytest.raises(ValueError, match="log10_range"):
        trace_step_sizes(ADABOUND, TINY, log10_range=(2.0, -2.0))


@pytest.mark.parametrize("optimizer", ["adabound", "amsbound"])
def test_trace_is_the_run_of_the_comparison_seen_epoch_by_epoch(real_cifar10, optimizer: str) -> None:
    """Same loaders, seed and objects as experiments.run: identical losses; the histograms
    count every element once; the band is bounds() at the scheduled final_lr."""
    recipe = ADABOUND.replace(optimizer=optimizer, epochs=32)  # 4 epochs under TINY
    trace = trace_step_sizes(recipe, TINY, seed=1, progress=False)
    result = experiments.run(recipe, TINY, seed=1, cache=False, progress=False, keep_model=False)
    np.testing.assert_array_equal(trace.train_loss, result.history.step_loss)
    steps = run_steps(recipe, TINY)
    assert list(trace.steps) == [steps // 4 * k for k in (1, 2, 3, 4)]
    np.testing.assert_allclose(trace.counts.sum(axis=1), 1.0)
    assert np.all((trace.below >= 0) & (trace.below + trace.above <= 1))
    final_lrs = 0.1 * np.asarray(result.history.step_lr) / result.history.step_lr[0]
    lower, upper = (b.numpy() for b in bounds(torch.arange(1.0, steps + 1, dtype=torch.float64), 1.0, recipe.bound_gamma))
    np.testing.assert_allclose(trace.lower, lower * final_lrs * 32 / 128, rtol=1e-12)  # TINY: batch 32
    np.testing.assert_allclose(trace.upper, upper * final_lrs * 32 / 128, rtol=1e-12)
    assert math.isclose(trace.lower[0], bounds(1.0, 0.1 * 32 / 128, recipe.bound_gamma)[0])

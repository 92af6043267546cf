"""tricks_lab.widgets.schedules: the lr curves drawn are the trainer's, figures are labelled."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib import pyplot as plt

from fakes import TINY
from tricks_lab import experiments
from tricks_lab.build import make_lr_scheduler
from tricks_lab.profiles import PROFILES
from tricks_lab.recipe import BASELINE
from tricks_lab.schedules import SHAPES, lr_curve, make_schedule
from tricks_lab.widgets.schedules import (
    _explorer_figure,
    early_loss_figure,
    lr_curves_figure,
    recipe_lr_curve,
    schedule_explorer,
    schedule_figure,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled(fig) -> None:
    """Every plotting axes has a y label; the bottom one (x shared above it) an x label."""
    plotting = [ax for ax in fig.axes if ax.get_lines()]
    assert plotting and plotting[-1].get_xlabel()
    for ax in plotting:
        assert ax.get_ylabel(), f"unlabelled axes: {ax}"


def test_recipe_lr_curve_is_build_make_lr_scheduler_stepped_per_iteration() -> None:
    """Smoke: 2,500 images, batch 128 -> 19 iterations an epoch, 8 epochs; warmup 2 epochs x 0.5 = 19 steps."""
    recipe = BASELINE.replace(lr=0.8, warmup_epochs=2.0, schedule="cosine")
    curve, steps_per_epoch = recipe_lr_curve(recipe, "smoke")
    assert steps_per_epoch == 19 and len(curve) == 8 * 19
    expected = lr_curve(lambda opt: make_lr_scheduler(recipe, PROFILES["smoke"], opt, 19), 8 * 19, base_lr=0.2)
    assert curve == expected
    assert curve[0] == 0.0 and curve[19] == pytest.approx(0.2) and curve[-1] == 0.0
    assert all(b > a for a, b in zip(curve[:19], curve[1:20]))


@pytest.mark.slow
def test_recipe_lr_curve_matches_the_lr_a_real_run_used(real_cifar10) -> None:
    """The widget draws what the trainer ran: history.step_lr of a run == recipe_lr_curve."""
    recipe = BASELINE.replace(epochs=16, warmup_epochs=4.0, schedule="cosine", lr=0.8)
    result = experiments.run(recipe, TINY, seed=0, cache=False, keep_model=False)
    curve, _ = recipe_lr_curve(recipe, TINY)
    assert result.history.step_lr == pytest.approx(curve, abs=1e-12)


def test_schedule_figure_draws_the_linear_scaling_rule_and_the_warmup() -> None:
    fig = schedule_figure(0.1, 1024, 240, "cosine", epochs=16)
    _labelled(fig)
    ax = fig.axes[0]
    solid, dashed = ax.get_lines()[:2]
    ys = solid.get_ydata()
    assert len(ys) == 16 * (50_000 // 1024)
    assert max(ys) == pytest.approx(0.1 * 1024 / 256) == pytest.approx(ys[240])
    assert ys[0] == 0.0 and dashed.get_ydata()[0] == pytest.approx(0.4)
    assert "0.1 x 1024 / 256 = 0.4" in ax.get_title()
    expected = lr_curve(lambda opt: make_schedule(opt, "cosine", len(ys), warmup_steps=240), len(ys), 0.4)
    assert list(ys) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["linear", "constant"])
def test_schedule_figure_every_shape_and_mode(shape: str, mode: str) -> None:
    fig = schedule_figure(0.2, 512, 97, shape, warmup_mode=mode, start_factor=0.1, epochs=4)
    _labelled(fig)
    ys = fig.axes[0].get_lines()[0].get_ydata()
    assert ys[0] == pytest.approx(0.04) and ys[97] == pytest.approx(0.4)


def test_schedule_figure_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="base_lr must be > 0"):
        schedule_figure(0.0)
    with pytest.raises(ValueError, match="shape must be one of"):
        schedule_figure(shape="exp")
    with pytest.raises(ValueError, match="batch_size must be <= train_size=1000"):
        schedule_figure(batch_size=2048, train_size=1000)
    with pytest.raises(ValueError, match=r"warmup_steps must be <= 94 \(16 epochs of 6 iterations"):
        schedule_figure(batch_size=8192, warmup_steps=2000, epochs=16)


def test_explorer_caps_the_warmup_and_shows_errors_as_text() -> None:
    fig = _explorer_figure(0.1, 8192, 2000, "cosine", "linear", 0.0, 16)  # 6 x 16 = 96 iterations
    ys = fig.axes[0].get_lines()[0].get_ydata()
    assert len(ys) == 96 and list(ys).index(max(ys)) == 94
    message = _explorer_figure(0.1, 512, 100, "cosine", "constant", 0.0, 16)
    assert "start_factor must be in (0, 1] for mode 'constant'" in message.axes[0].texts[0].get_text()
    assert schedule_explorer() is not None
    with pytest.raises(ValueError, match="batch_size must be one of"):
        schedule_explorer(batch_size=100)


def test_lr_curves_figure_and_its_errors() -> None:
    fig = lr_curves_figure({"a": [0.1, 0.2], "b": [0.2, 0.1]}, steps_per_epoch=2, log=True)
    _labelled(fig)
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="curves must hold at least one curve"):
        lr_curves_figure({}, 2)
    with pytest.raises(ValueError, match="steps_per_epoch must be >= 1"):
        lr_curves_figure({"a": [0.1]}, 0)


@pytest.mark.slow
def test_early_loss_figure_shows_every_seed(real_cifar10) -> None:
    quick = BASELINE.replace(epochs=16)
    comparison = experiments.compare({"base": quick, "warm": quick.replace(warmup_epochs=4.0)},
                                     seeds=(0, 1), profile=TINY)
    fig = early_loss_figure(comparison, iterations=5)
    _labelled(fig)
    loss_ax, lr_ax = fig.axes
    assert len([line for line in loss_ax.get_lines() if len(line.get_xdata()) == 5]) == 4
    assert lr_ax.get_lines()[2].get_ydata()[0] == 0.0
    with pytest.raises(TypeError, match="comparison must be a Comparison"):
        early_loss_figure({"base": []})

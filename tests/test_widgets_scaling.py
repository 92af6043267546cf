"""tricks_lab.widgets.scaling: the chapter's figures build, with labelled axes; the sweep's arms."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib import pyplot as plt

from tricks_lab.recipe import BASELINE
from tricks_lab.results import Comparison, History, Result
from tricks_lab.widgets.scaling import (
    ARMS,
    accuracy_vs_batch_figure,
    accuracy_vs_time_figure,
    gradient_variance_figure,
    least_squares_problem,
    scaling_explorer,
    scaling_rule_figure,
    sweep_arm,
)


def _labelled(fig) -> None:
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)


def _result(recipe, seed: int, acc: float, seconds: float) -> Result:
    history = History(epoch=[1], train_loss=[1.0], train_acc=[0.5], test_acc=[acc], lr=[0.1],
                      seconds=[seconds], step_loss=[1.0], step_lr=[0.1])
    return Result(recipe, "smoke", seed, acc, history, seconds, seconds + 1, "test data", "CPU (test)", "fp32")


def _sweep() -> Comparison:
    recipes = {
        "B=512": BASELINE,
        "fixed B=2048": BASELINE.replace(batch_size=2048),
        "scaled B=2048": BASELINE.replace(batch_size=2048, lr_reference_batch=512),
        "warmup B=2048": BASELINE.replace(batch_size=2048, lr_reference_batch=512, warmup_epochs=2.0),
        "scaled B=128": BASELINE.replace(batch_size=128, lr_reference_batch=512),
    }
    results = {name: [_result(r, s, 0.5 + 0.01 * i + 0.002 * s, 10.0 / (1 + i)) for s in (0, 1)]
               for i, (name, r) in enumerate(recipes.items())}
    return Comparison("smoke", (0, 1), results)


def test_toy_figures_build_with_labelled_axes() -> None:
    problem = least_squares_problem(n=256, dim=8)
    _labelled(gradient_variance_figure(problem, batch_sizes=(1, 8, 64), draws=10))
    fig = scaling_rule_figure(base_lr=0.05, base_batch=8, epochs=1.0, batch_sizes=(4, 16, 256), seeds=(0,),
                              problem=problem)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    _labelled(fig)
    with pytest.raises(ValueError, match="batch_sizes must be non-empty and <= n=256"):
        scaling_rule_figure(batch_sizes=(512,), problem=problem)


def test_sweep_arms_follow_the_recipe_fields() -> None:
    assert sweep_arm(BASELINE) == ARMS  # the reference point belongs to every arm
    assert sweep_arm(BASELINE.replace(batch_size=128)) == ("fixed lr",)
    assert sweep_arm(BASELINE.replace(batch_size=128, lr_reference_batch=512)) == ("scaled lr",)
    warm = BASELINE.replace(batch_size=4096, lr_reference_batch=512, warmup_epochs=2.0)
    assert sweep_arm(warm) == ("scaled lr + warmup",)
    with pytest.raises(ValueError, match="must also set lr_reference_batch"):
        sweep_arm(BASELINE.replace(warmup_epochs=1.0))


def test_experiment_figures_draw_one_line_per_arm() -> None:
    sweep = _sweep()
    fig = accuracy_vs_batch_figure(sweep)
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() in ARMS]
    assert [line.get_label() for line in lines] == list(ARMS)
    assert len(lines[1].get_xdata()) == 3  # scaled lr: 128, 512 (the baseline), 2048
    assert "smoke trains with 0.25 x it" in fig.axes[0].get_xlabel()
    _labelled(fig)
    fig = accuracy_vs_time_figure(sweep)
    assert "CPU (test)" in fig.axes[0].get_title()
    _labelled(fig)
    with pytest.raises(TypeError, match="comparison must be a Comparison"):
        accuracy_vs_batch_figure({"x": []})


def test_explorer_builds() -> None:
    pytest.importorskip("ipywidgets")
    box = scaling_explorer()
    assert len(box.children) == 2
    plt.close("all")

"""tricks_lab.widgets.scaling: the chapter's figures build, with labelled axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib import pyplot as plt

from tricks_lab.widgets.scaling import (
    gradient_variance_figure,
    least_squares_problem,
    scaling_explorer,
    scaling_rule_figure,
)


def _labelled(fig) -> None:
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)


def test_toy_figures_build_with_labelled_axes() -> None:
    problem = least_squares_problem(n=256, dim=8)
    _labelled(gradient_variance_figure(problem, batch_sizes=(1, 8, 64), draws=10))
    fig = scaling_rule_figure(base_lr=0.05, base_batch=8, epochs=1.0, batch_sizes=(4, 16, 256), seeds=(0,),
                              problem=problem)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    _labelled(fig)
    with pytest.raises(ValueError, match="batch_sizes must be non-empty and <= n=256"):
        scaling_rule_figure(batch_sizes=(512,), problem=problem)


def test_explorer_builds() -> None:
    pytest.importorskip("ipywidgets")
    box = scaling_explorer()
    assert len(box.children) == 2
    plt.close("all")

"""The loss chapters' figures build, label their axes and reject bad arguments; explorers build."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib import pyplot as plt

from tricks_lab.metrics import logit_gap, reliability_diagram
from tricks_lab.widgets.losses import (
    logit_gap_figure,
    reliability_figure,
    smoothing_explorer,
    smoothing_figure,
    t_squared_figure,
    temperature_explorer,
    temperature_figure,
)

LOGITS = torch.tensor([9.0, 6.0, 3.0, 1.0, 0.0, -1.0, 2.0, -2.0, 0.5, -0.5])


def assert_labelled(fig: plt.Figure) -> None:
    axes = [ax for ax in fig.axes if ax.has_data()]
    assert axes
    for ax in axes:
        assert ax.get_xlabel() or ax.get_shared_x_axes().get_siblings(ax) != [ax], "x axis unlabelled"
    assert any(ax.get_ylabel() for ax in axes)
    plt.close(fig)


def predictions(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(200, 10, generator=g) * 2, torch.randint(0, 10, (200,), generator=g)


@pytest.mark.parametrize(("eps", "k"), [(0.1, 10), (0.0, 2), (0.45, 100)])
def test_smoothing_figure(eps: float, k: int) -> None:
    fig = smoothing_figure(eps, k)
    left, right = fig.axes
    assert "target probability" in left.get_ylabel() and "nats" in right.get_ylabel()
    assert "logit gap" in right.get_xlabel()
    assert_labelled(fig)


def test_smoothing_figure_marks_the_optimal_gap() -> None:
    fig = smoothing_figure(0.1, 10)
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    assert "optimal gap 4.51" in labels  # log(1 + 10 * 0.9 / 0.1)
    plt.close(fig)


def test_reliability_and_gap_figures() -> None:
    logits, labels = predictions()
    diagrams = {"a": reliability_diagram(torch.softmax(logits, 1), labels),
                "b": reliability_diagram(torch.softmax(logits / 4, 1), labels)}
    fig = reliability_figure(diagrams, title="test")
    assert "ECE" in fig.axes[0].get_title()
    assert_labelled(fig)
    fig = logit_gap_figure({"a": logit_gap(logits), "b": logit_gap(logits / 4)}, {"b": 4.5})
    assert "logit gap" in fig.axes[0].get_xlabel()
    assert_labelled(fig)


def test_temperature_figures() -> None:
    assert_labelled(temperature_figure(LOGITS, 4.0, [f"c{i}" for i in range(10)]))
    fig = t_squared_figure(temperatures=(1.0, 10.0, 100.0))
    scaled, plain = (line.get_ydata() for line in fig.axes[0].get_lines()[:2])
    assert max(scaled) / min(scaled) < 2 and plain[0] / plain[-1] > 1000
    assert_labelled(fig)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: smoothing_figure(1.0), ValueError, "smoothing must be in"),
        (lambda: smoothing_figure(0.1, 1), ValueError, "num_classes must be >= 2"),
        (lambda: reliability_figure({}), ValueError, "diagrams must be a non-empty mapping"),
        (lambda: reliability_figure({"a": 1}), TypeError, "must be a ReliabilityDiagram"),
        (lambda: logit_gap_figure({"a": torch.ones(3)}, {"b": 1.0}), ValueError, "optimal_gaps names"),
        (lambda: logit_gap_figure({"a": torch.ones(2, 2)}), ValueError, "1-D tensor"),
        (lambda: temperature_figure(LOGITS, 0.0), ValueError, "temperature must be > 0"),
        (lambda: temperature_figure(LOGITS, 2.0, ["a"]), ValueError, "class_names must name all 10"),
        (lambda: temperature_figure(torch.ones(1)), ValueError, "at least 2 class logits"),
        (lambda: t_squared_figure(temperatures=()), ValueError, "temperatures must not be empty"),
    ],
)
def test_figures_reject_bad_arguments(call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()
    plt.close("all")


def test_explorers_build() -> None:
    pytest.importorskip("ipywidgets")
    assert smoothing_explorer() is not None
    assert temperature_explorer(LOGITS) is not None
    plt.close("all")

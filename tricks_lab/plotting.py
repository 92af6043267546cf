"""Figures the chapters share: image grids, learning curves, seed spreads.

Every figure labels its axes with units (images in pixels, time in seconds,
accuracy in percent) and returns the ``matplotlib`` Figure, so a notebook can
show it and a test can inspect it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

try:
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "tricks_lab.plotting draws with matplotlib, which is not installed: "
        'pip install "tricks_lab[plots]" (training needs neither matplotlib nor ipywidgets)'
    ) from error

from .results import Comparison
from .loader import CIFAR10_MEAN, CIFAR10_STD

__all__ = ["image_grid", "learning_curves", "seed_spread", "to_display"]


def to_display(images: torch.Tensor | np.ndarray, normalized: bool = False) -> np.ndarray:
    """Images as uint8 ``(N, H, W, C)`` for ``imshow``: accepts NCHW or NHWC, uint8 or normalised float."""
    array = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4:
        raise ValueError(f"images must be 4-D, got shape {array.shape}")
    if array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(0, 2, 3, 1)
    if normalized:
        array = (array * np.asarray(CIFAR10_STD) + np.asarray(CIFAR10_MEAN)) * 255.0
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def image_grid(
    images: torch.Tensor | np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    normalized: bool = False,
    title: str | None = None,
    scale: float = 1.1,
) -> Figure:
    """A grid of images with optional per-image titles."""
    pixels = to_display(images, normalized)
    n = len(pixels)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(pixels[i], interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def learning_curves(comparison: Comparison, steps_smoothing: int = 5) -> Figure:
    """Training loss per iteration, test accuracy per epoch and lr per iteration, one colour a recipe.

    Thin lines are single seeds; the loss is a moving average over
    ``steps_smoothing`` iterations.
    """
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(13, 3.6))
    for colour, (name, results) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4,
                                       comparison.results.items()):
        for i, result in enumerate(results):
            label = name if i == 0 else None
            loss = np.convolve(result.history.step_loss, np.ones(steps_smoothing) / steps_smoothing, mode="valid")
            ax_loss.plot(loss, color=colour, alpha=0.7, lw=1, label=label)
            epochs = np.asarray(result.history.epoch)
            accs = np.asarray(result.history.test_acc) * 100
            keep = ~np.isnan(accs)
            ax_acc.plot(epochs[keep], accs[keep], "o-", color=colour, alpha=0.7, ms=3, label=label)
            ax_lr.plot(result.history.step_lr, color=colour, alpha=0.7, lw=1, label=label)
    ax_loss.set(xlabel="iteration", ylabel="training loss (moving average)", title="Training loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    ax_lr.set(xlabel="iteration", ylabel="learning rate", title="Learning rate")
    ax_loss.legend(fontsize=8)
    fig.suptitle(f"profile {comparison.profile}, seeds {list(comparison.seeds)}", fontsize=9)
    return fig


def seed_spread(comparisons: Comparison | Mapping[str, Comparison], title: str | None = None) -> Figure:
    """Final test accuracy of every seed (dots) with mean and one standard deviation (bar) per recipe."""
    if isinstance(comparisons, Comparison):
        comparisons = {"": comparisons}
    entries = [(f"{group} {name}".strip(), [r.test_acc * 100 for r in results])
               for group, comparison in comparisons.items() for name, results in comparison.results.items()]
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(entries), 3.4))
    for x, (name, accs) in enumerate(entries):
        accs_array = np.asarray(accs)
        ax.scatter(np.full(len(accs), x) + np.linspace(-0.08, 0.08, len(accs)), accs_array, s=18, zorder=3)
        std = accs_array.std(ddof=1) if len(accs) > 1 else 0.0
        ax.errorbar(x + 0.25, accs_array.mean(), yerr=std, fmt="s", color="black", capsize=4, ms=4)
    ax.set_xticks(range(len(entries)), [name for name, _ in entries], rotation=20, ha="right")
    ax.set(ylabel="test accuracy (%)", title=title or "Seeds (dots) and mean ± std (black)")
    return fig

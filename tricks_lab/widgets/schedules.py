"""The learning-rate chapters' figures and explorer (01 warmup, 08 cosine decay).

Every curve here is the one the trainer would use: :func:`recipe_lr_curve`
builds the schedule of a :class:`~tricks_lab.recipe.Recipe` with
:func:`tricks_lab.build.make_lr_scheduler` (the same call as a training run) and
reads its lr at every iteration with :func:`tricks_lab.schedules.lr_curve`,
without training. :func:`schedule_figure` draws one such curve from the four
knobs of the explorer (base lr, batch size, warmup steps, decay shape), and
:func:`schedule_explorer` wires it to sliders. :func:`early_loss_figure` shows
the training loss of the first iterations of a comparison (the spikes that
warmup is meant to remove).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from .._validation import check_choice, check_positive, check_positive_int, check_probability
from ..data import SPLIT_SIZES
from ..build import make_lr_scheduler, scaled_batch_size, scaled_epochs, scaled_lr
from ..results import Comparison
from ..profiles import PROFILES, Profile
from ..recipe import BASELINE, Recipe
from ..schedules import SHAPES, WARMUP_MODES, lr_curve
from ..sizes import steps_per_epoch as epoch_steps
from ..sizes import train_size as profile_train_size
from . import explorer

__all__ = [
    "BATCH_SIZES",
    "CIFAR10_TRAIN_SIZE",
    "early_loss_figure",
    "lr_curves_figure",
    "recipe_lr_curve",
    "schedule_explorer",
    "schedule_figure",
]

CIFAR10_TRAIN_SIZE = SPLIT_SIZES["train"]
"""Training images of CIFAR-10: the explorer's epoch length is ``floor(50,000 / batch size)`` iterations."""

BATCH_SIZES: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
"""The batch sizes the explorer offers."""


def _profile(profile: str | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    check_choice("profile", profile, tuple(PROFILES))
    return PROFILES[profile]


def recipe_lr_curve(
    recipe: Recipe, profile: str | Profile = "short", train_size: int | None = None
) -> tuple[list[float], int]:
    """The lr of every iteration of ``recipe`` under ``profile``, and the iterations per epoch.

    With ``S = floor(N / B)`` iterations an epoch (``N`` training images,
    ``B`` the profile's batch; the last incomplete batch is dropped, as the
    training loader does) and ``E`` the profile's epochs, this is
    ``[eta_0, ..., eta_{E S - 1}]`` of the scheduler that
    :func:`tricks_lab.build.make_lr_scheduler` gives a run, read without training
    (:func:`tricks_lab.schedules.lr_curve`). ``train_size`` defaults to the
    profile's training set (2,500 images under ``smoke``, 50,000 otherwise).
    The profile is only used for its scales, so ``"short"`` and ``"full"``
    work without a GPU.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    resolved = _profile(profile)
    if train_size is None:
        train_size = profile_train_size(resolved)
    check_positive_int("train_size", train_size)
    batch = scaled_batch_size(recipe, resolved)
    if batch > train_size:
        raise ValueError(f"batch size {batch} (under profile {resolved.name!r}) must be <= train_size={train_size}")
    steps_per_epoch = epoch_steps(batch, train_size)
    total = scaled_epochs(recipe, resolved) * steps_per_epoch
    curve = lr_curve(lambda optimizer: make_lr_scheduler(recipe, resolved, optimizer, steps_per_epoch), total,
                     base_lr=scaled_lr(recipe, resolved))
    return curve, steps_per_epoch


def lr_curves_figure(
    curves: Mapping[str, Sequence[float]],
    steps_per_epoch: int,
    *,
    title: str | None = None,
    log: bool = False,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
) -> Figure:
    """Several lr curves ``eta_t`` against the iteration ``t`` (bottom axis) and the epoch ``t / S`` (top axis).

    ``curves`` maps a label to the lr of every iteration (e.g. from
    :func:`recipe_lr_curve` or :func:`tricks_lab.schedules.lr_curve`);
    ``styles`` optionally maps a label to matplotlib line keywords; ``log`` uses
    a logarithmic lr axis.
    """
    if not curves:
        raise ValueError("curves must hold at least one curve")
    check_positive_int("steps_per_epoch", steps_per_epoch)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for label, lrs in curves.items():
        ax.plot(np.arange(len(lrs)), np.asarray(lrs, dtype=float), label=label,
                **({"lw": 1.6} | dict((styles or {}).get(label, {}))))
    ax.set(xlabel="iteration", ylabel="learning rate", title=title or "Learning rate per iteration")
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    top = ax.secondary_xaxis("top", functions=(lambda t: t / steps_per_epoch, lambda e: e * steps_per_epoch))
    top.set_xlabel("epoch")
    ax.legend(fontsize=8)
    return fig


def schedule_figure(
    base_lr: float = 0.1,
    batch_size: int = 1024,
    warmup_steps: int = 240,
    shape: str = "cosine",
    *,
    warmup_mode: str = "linear",
    start_factor: float = 0.0,
    epochs: int = 16,
    min_lr_factor: float = 0.0,
    milestones: tuple[float, ...] = (0.5, 0.75),
    base_batch_size: int = 256,
    train_size: int = CIFAR10_TRAIN_SIZE,
) -> Figure:
    """The lr curve of one run: the linear scaling rule, a warmup, then a decay shape.

    The peak lr is Goyal et al. (2017)'s rule ``eta = base_lr * batch_size /
    base_batch_size`` ("Accurate, Large Minibatch SGD: Training ImageNet in 1
    Hour"). The run has ``S = floor(train_size / batch_size)`` iterations an
    epoch and ``E S`` in all; the first ``W = warmup_steps`` warm up
    (``warmup_mode``: linear from ``start_factor * eta``, or constant at
    ``start_factor * eta``), the rest decay with ``shape`` (``cosine``,
    ``linear`` to ``min_lr_factor * eta``; ``step``, 10x at the fractions
    ``milestones`` of training; ``constant``). It is the curve a
    :class:`~tricks_lab.recipe.Recipe` with these fields trains with (see
    :func:`recipe_lr_curve`); the same shape without warmup is drawn dashed.
    """
    check_positive("base_lr", base_lr)
    check_positive_int("batch_size", batch_size)
    check_positive_int("warmup_steps", warmup_steps, allow_zero=True)
    check_choice("shape", shape, SHAPES)
    check_choice("warmup_mode", warmup_mode, WARMUP_MODES)
    check_probability("start_factor", start_factor)
    check_positive_int("epochs", epochs)
    check_positive_int("base_batch_size", base_batch_size)
    check_positive_int("train_size", train_size)
    if batch_size > train_size:
        raise ValueError(f"batch_size must be <= train_size={train_size}, got {batch_size!r}")
    steps_per_epoch = epoch_steps(batch_size, train_size)
    longest = epochs * steps_per_epoch - (2 if shape in ("cosine", "linear") else 1)
    if warmup_steps > longest:
        raise ValueError(
            f"warmup_steps must be <= {longest} ({epochs} epochs of {steps_per_epoch} iterations, "
            f"minus the {shape} decay's last step(s)), got {warmup_steps!r}"
        )
    recipe = BASELINE.replace(
        batch_size=batch_size, lr=base_lr, lr_reference_batch=base_batch_size, epochs=epochs, schedule=shape,
        milestones=tuple(milestones), min_lr_factor=min_lr_factor, warmup_epochs=warmup_steps / steps_per_epoch,
        warmup_mode=warmup_mode, warmup_start_factor=start_factor,
    )
    curve, _ = recipe_lr_curve(recipe, "short", train_size)
    curves = {f"{shape} with {warmup_steps} {warmup_mode} warmup steps" if warmup_steps else shape: curve}
    styles: dict[str, dict[str, Any]] = {}
    if warmup_steps:
        plain, _ = recipe_lr_curve(recipe.replace(warmup_epochs=0.0), "short", train_size)
        curves[f"{shape} without warmup"] = plain
        styles[f"{shape} without warmup"] = {"ls": "--", "lw": 1.0, "color": "0.55"}
    peak = recipe.effective_lr
    fig = lr_curves_figure(
        curves, steps_per_epoch, styles=styles,
        title=(f"peak lr = {base_lr:g} x {batch_size} / {base_batch_size} = {peak:.3g}; "
               f"{steps_per_epoch} iterations/epoch, {epochs * steps_per_epoch} in all"),
    )
    if warmup_steps:
        fig.axes[0].axvspan(0, warmup_steps, color="tab:orange", alpha=0.08, lw=0)
    return fig


def schedule_explorer(
    base_lr: float = 0.1,
    batch_size: int = 1024,
    warmup_steps: int = 240,
    shape: str = "cosine",
    epochs: int = 16,
) -> Any:
    """Sliders for the base lr (per 256 images), batch size, warmup steps, warmup mode and start
    factor, and a menu for the decay shape, above :func:`schedule_figure`.

    The warmup is capped at the run's length minus two iterations (the title
    says what was drawn); an invalid combination shows its error message in
    place of the figure.
    """
    import ipywidgets as widgets

    check_choice("batch_size", batch_size, BATCH_SIZES)
    check_positive_int("epochs", epochs)

    def draw(base_lr: float, batch_size: int, warmup_steps: int, shape: str, warmup_mode: str,
             start_factor: float) -> Figure:
        return _explorer_figure(base_lr, batch_size, warmup_steps, shape, warmup_mode, start_factor, epochs)

    return explorer(
        draw,
        base_lr=widgets.FloatLogSlider(base_lr, base=10, min=-3, max=0, step=0.05,
                                       description="lr per 256", readout_format=".3g"),
        batch_size=widgets.SelectionSlider(options=list(BATCH_SIZES), value=batch_size, description="batch size"),
        warmup_steps=widgets.IntSlider(warmup_steps, 0, 2000, step=10, description="warmup steps"),
        shape=widgets.Dropdown(options=list(SHAPES), value=shape, description="decay"),
        warmup_mode=widgets.Dropdown(options=list(WARMUP_MODES), value="linear", description="warmup"),
        start_factor=widgets.FloatSlider(0.0, min=0.0, max=1.0, step=0.05, description="start factor"),
    )


def _explorer_figure(base_lr: float, batch_size: int, warmup_steps: int, shape: str, warmup_mode: str,
                     start_factor: float, epochs: int) -> Figure:
    """:func:`schedule_figure` with the warmup capped to fit the run, or the error message as a figure."""
    total = epochs * epoch_steps(batch_size, CIFAR10_TRAIN_SIZE)
    try:
        return schedule_figure(base_lr, batch_size, max(0, min(warmup_steps, total - 2)), shape,
                               warmup_mode=warmup_mode, start_factor=start_factor, epochs=epochs)
    except ValueError as err:
        return _message_figure(str(err))


def _message_figure(message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 1.2))
    ax.axis("off")
    ax.text(0.0, 0.5, message, wrap=True, fontsize=9, va="center")
    return fig


def early_loss_figure(comparison: Comparison, iterations: int | None = None) -> Figure:
    """Training loss (top) and lr (bottom) of the first ``iterations`` iterations of every run.

    One colour a recipe, one thin line a seed, no smoothing: a spike is one
    iteration's loss. The dashed line is ``ln 10``, the loss of a uniform
    guess over CIFAR-10's ten classes; a run whose loss sits there has stopped
    learning. ``iterations`` defaults to the first three epochs.
    """
    if not isinstance(comparison, Comparison):
        raise TypeError(f"comparison must be a Comparison, got {type(comparison).__name__}")
    first = next(iter(comparison.results.values()))[0].history
    steps_per_epoch = max(1, len(first.step_loss) // max(1, len(first.epoch)))
    if iterations is None:
        iterations = min(len(first.step_loss), 3 * steps_per_epoch)
    check_positive_int("iterations", iterations)
    fig, (ax_loss, ax_lr) = plt.subplots(2, 1, figsize=(8, 5.2), sharex=True, height_ratios=(2.2, 1))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (name, results) in zip(colours * 4, comparison.results.items()):
        for i, result in enumerate(results):
            loss = np.asarray(result.history.step_loss[:iterations])
            lrs = np.asarray(result.history.step_lr[:iterations])
            ax_loss.plot(loss, color=colour, lw=1, alpha=0.8, label=name if i == 0 else None)
            ax_lr.plot(lrs, color=colour, lw=1.2, alpha=0.8, label=name if i == 0 else None)
    ax_loss.axhline(math.log(10), color="0.4", ls="--", lw=0.8, label="ln 10 (uniform guess)")
    ax_loss.set(ylabel="training loss (per iteration)",
                title=f"The first {iterations} iterations, every seed (profile {comparison.profile})")
    ax_lr.set(xlabel="iteration", ylabel="learning rate")
    ax_lr.set_ylim(bottom=0)
    for ax in (ax_loss, ax_lr):
        for epoch in range(steps_per_epoch, iterations, steps_per_epoch):
            ax.axvline(epoch, color="0.8", lw=0.6, zorder=0)
    ax_loss.legend(fontsize=8)
    return fig

"""The AdaBound chapter's figures and explorer: the band of step sizes, and what it
clips during a real run.

AdaBound (Luo, Xiong, Liu and Sun, 2019, "Adaptive Gradient Methods with
Dynamic Bound of Learning Rate") clips Adam's per-element step size into
``[lower(t), upper(t)]`` (:func:`tricks_lab.optim.bounds`), a band that closes
on ``final_lr`` as the iteration count ``t`` grows:

- :func:`band_closing_step` and :func:`run_steps` say when the band has closed
  and how many iterations a run has, so a figure can put both on one axis;
- :func:`band_figure` draws the band for several ``gamma``, :func:`band_explorer`
  puts ``final_lr`` and ``gamma`` on sliders;
- :func:`trace_step_sizes` trains a recipe's run with
  ``AdaBound(track_clipping=True)`` and keeps, after each epoch (a
  :class:`~tricks_lab.strategy.Callback`), the histogram of the unclipped step
  sizes; :func:`step_size_figure` draws it against the band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .._validation import check_in_range, check_positive, check_positive_int
from ..profiles import PROFILES, Profile, resolve_profile
from ..recipe import Recipe
from ..strategy import Callback, TrainState
from . import explorer

__all__ = [
    "StepSizeTrace",
    "band_closing_step",
    "band_explorer",
    "band_figure",
    "run_steps",
    "step_size_figure",
    "trace_step_sizes",
]

def band_closing_step(gamma: float, tolerance: float = 0.1) -> float:
    """The iteration from which both AdaBound bounds lie within ``tolerance``
    (a fraction) of ``final_lr`` (Luo et al., 2019)::

        upper(t) / final_lr - 1 = 1 / (gamma t)        <= tolerance  <=>  t >= 1 / (gamma tolerance)
        1 - lower(t) / final_lr = 1 / (gamma t + 1)    <= tolerance  <=>  t >= (1 / tolerance - 1) / gamma

    so ``t = 1 / (gamma * tolerance)`` (the upper bound is the slower one),
    whatever ``final_lr``: ten thousand iterations for ``gamma = 1e-3`` and 10%.
    """
    check_positive("gamma", gamma)
    check_in_range("tolerance", tolerance, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    return 1.0 / (gamma * tolerance)


def run_steps(recipe: Recipe, profile: str | Profile = "auto") -> int:
    """Optimizer steps (iterations) of ``recipe``'s run under ``profile``: its
    scaled epochs times the full batches of the profile's CIFAR-10 training set
    (what remains after the validation split is held out, or the profile's
    class-balanced subset of it; the training loader drops the last, partial
    batch). Counted without loading the data."""
    from ..sizes import run_steps as steps

    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    # A named profile is looked up without resolving it, so a CPU machine can count a GPU run.
    profile = PROFILES[profile] if isinstance(profile, str) and profile in PROFILES else resolve_profile(profile)
    return steps(recipe, profile)


def band_figure(
    final_lr: float = 0.1,
    gammas: Sequence[float] = (1e-3,),
    runs: Mapping[str, int] | None = None,
    max_step: float | None = None,
    tolerance: float = 0.1,
) -> Figure:
    """The band ``[lower(t), upper(t)]`` against the iteration ``t`` (log-log), one
    colour per ``gamma``, with ``final_lr`` dashed and, per ``gamma``, a dot where
    the band has closed to within ``tolerance`` (:func:`band_closing_step`).
    ``runs`` maps labels to run lengths in iterations, drawn as vertical lines.
    """
    check_positive("final_lr", final_lr)
    gammas = [float(g) for g in gammas]
    if not gammas:
        raise ValueError("gammas must hold at least one gamma")
    for index, gamma in enumerate(gammas):
        check_positive(f"gammas[{index}]", gamma)
    runs = dict(runs or {})
    for label, steps in runs.items():
        check_positive(f"runs[{label!r}]", steps)
    closing = [band_closing_step(g, tolerance) for g in gammas]
    if max_step is None:
        max_step = 10 ** np.ceil(np.log10(max([*closing, *runs.values()]) * 3))
    check_positive("max_step", max_step)
    from ..optim import bounds

    steps = np.logspace(0, np.log10(max(max_step, 10.0)), 400)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, gamma, close in zip(colours * 4, gammas, closing):
        lower, upper = bounds(torch.as_tensor(steps, dtype=torch.float64), final_lr, gamma)
        ax.fill_between(steps, lower.numpy(), upper.numpy(), color=colour, alpha=0.12, lw=0)
        ax.plot(steps, upper.numpy(), color=colour, lw=1.6, label=f"γ = {gamma:g}: upper bound")
        ax.plot(steps, lower.numpy(), color=colour, lw=1.6, ls="-.", label=f"γ = {gamma:g}: lower bound")
        if close <= steps[-1]:
            ax.plot([close], [final_lr * (1 + tolerance)], "o", color=colour, ms=5)
    ax.axhline(final_lr, color="black", ls="--", lw=1, label=f"final_lr = {final_lr:g}")
    for style, (label, length) in zip(["-", "--", ":", "-."] * 4, runs.items()):
        ax.axvline(length, color="0.35", ls=style, lw=1)
        ax.text(length, final_lr * 1e-3, f" {label}", rotation=90, va="bottom", ha="right", fontsize=8, color="0.25")
    ax.set(xscale="log", yscale="log", xlim=(1, steps[-1]), ylim=(final_lr * 1e-4, final_lr * 1e4),
           xlabel="iteration t (optimizer steps)", ylabel="step size bound (learning-rate units)",
           title=f"AdaBound's band closes on final_lr (dots: within {tolerance:.0%})")
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    return fig


def band_explorer(runs: Mapping[str, int] | None = None) -> Any:
    """Log sliders for ``final_lr`` and ``gamma`` redrawing :func:`band_figure`
    (with the run lengths ``runs`` marked)."""
    import ipywidgets as widgets

    return explorer(
        lambda final_lr, gamma: band_figure(final_lr, (gamma,), runs, max_step=1e6),
        final_lr=widgets.FloatLogSlider(0.1, base=10, min=-3, max=0, step=0.25, description="final_lr"),
        gamma=widgets.FloatLogSlider(1e-3, base=10, min=-5, max=0, step=0.25, description="gamma"),
    )


@dataclass(frozen=True)
class StepSizeTrace:
    """What AdaBound's clipping did during one run, seen after each epoch.

    ``steps``: the iteration of each snapshot (an epoch's last step);
    ``edges``: ``log10`` edges of the histogram bins; ``counts[i]``: the
    fraction of all parameter elements whose unclipped (Adam) step size fell
    in each bin at snapshot ``i`` (elements outside the edges are counted in
    the first or last bin); ``below``/``above``: fractions raised to the lower
    bound / cut to the upper bound at each snapshot; ``lower``/``upper``: the
    band at every iteration ``1..T`` of the run (it follows the scheduled lr);
    ``train_loss``: the mean training loss of every iteration.
    """

    recipe: Recipe
    profile: str
    seed: int
    steps: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    below: np.ndarray
    above: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    train_loss: np.ndarray


def trace_step_sizes(
    recipe: Recipe,
    profile: str | Profile = "auto",
    seed: int = 0,
    *,
    log10_range: tuple[float, float] = (-7.0, 3.0),
    bins: int = 80,
    progress: bool | None = None,
) -> StepSizeTrace:
    """Train ``recipe`` (``optimizer`` "adabound" or "amsbound") under ``profile``
    with ``seed`` as :func:`tricks_lab.experiments.run` builds it (the same
    loaders, the same initial weights from the ``"init"`` stream, the same
    optimizer and schedule: the same run), in one :func:`tricks_lab.train.fit`
    call with the optimizer's ``track_clipping`` on; a callback histograms,
    after every epoch, the unclipped step sizes
    ``lr sqrt(1 - beta2^t) / ((1 - beta1^t)(sqrt(v_t) + eps))`` of all
    parameter elements (:meth:`tricks_lab.optim.AdaBound.step_sizes`). Not
    cached; no test-set evaluation.
    """
    from ..build import make_loss, make_lr_scheduler, make_model, make_optimizer, scaled_epochs
    from ..experiments import make_loaders
    from ..loader import stream_seed
    from ..optim import AdaBound, bounds
    from ..precision import resolve_precision
    from ..train import fit

    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    if recipe.optimizer not in ("adabound", "amsbound"):
        raise ValueError(f"recipe.optimizer must be 'adabound' or 'amsbound', got {recipe.optimizer!r}")
    if recipe.teacher is not None:
        raise ValueError("trace_step_sizes does not train a teacher; use a recipe without one")
    check_positive_int("seed", seed, allow_zero=True)
    check_positive_int("bins", bins)
    low, high = log10_range
    if not low < high:
        raise ValueError(f"log10_range must be (low, high) with low < high, got {log10_range!r}")
    profile = resolve_profile(profile)
    train_loader, _ = make_loaders(recipe, profile, seed)
    torch.manual_seed(stream_seed(seed, "init"))
    model = make_model(recipe, profile)
    optimizer = make_optimizer(recipe, profile, model)
    if not isinstance(optimizer, AdaBound):  # both names build an AdaBound (AMSBound subclasses it)
        raise TypeError(f"expected an AdaBound optimizer, got {type(optimizer).__name__}")
    optimizer.track_clipping = True
    scheduler = make_lr_scheduler(recipe, profile, optimizer, len(train_loader))
    snapshots = _StepSizeSnapshots(optimizer, np.linspace(low, high, bins + 1))
    history = fit(model, train_loader, epochs=scaled_epochs(recipe, profile), optimizer=optimizer,
                  scheduler=scheduler, loss_fn=make_loss(recipe, model), callbacks=[snapshots],
                  precision=resolve_precision("auto", train_loader.device), progress=progress,
                  description=f"trace seed {seed}")
    group = optimizer.param_groups[0]
    iterations = torch.arange(1, len(history.step_lr) + 1, dtype=torch.float64)
    final_lrs = group["final_lr"] * torch.as_tensor(history.step_lr, dtype=torch.float64) / group["base_lr"]
    lower, upper = bounds(iterations, 1.0, group["gamma"])
    return StepSizeTrace(
        recipe=recipe, profile=profile.name, seed=seed, steps=np.asarray(snapshots.steps),
        edges=snapshots.edges, counts=np.asarray(snapshots.counts), below=np.asarray(snapshots.below),
        above=np.asarray(snapshots.above), lower=(lower * final_lrs).numpy(), upper=(upper * final_lrs).numpy(),
        train_loss=np.asarray(history.step_loss),
    )


class _StepSizeSnapshots(Callback):
    """After each epoch: the histogram of the unclipped step sizes and the clipped fractions."""

    def __init__(self, optimizer: Any, edges: np.ndarray) -> None:
        self.optimizer = optimizer
        self.edges = edges
        self.steps: list[int] = []
        self.counts: list[np.ndarray] = []
        self.below: list[float] = []
        self.above: list[float] = []

    def on_epoch_end(self, state: TrainState) -> None:
        optimizer = self.optimizer
        params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        sizes = torch.cat([optimizer.step_sizes(p).adam.detach().float().flatten().cpu() for p in params])
        low, high = float(self.edges[0]), float(self.edges[-1])
        logs = sizes.clamp_min(1e-30).log10().clamp(low, high).numpy()
        hist, _ = np.histogram(logs, bins=self.edges)
        self.counts.append(hist / logs.size)
        fraction_below, fraction_above = optimizer.clipping_fractions()
        self.below.append(fraction_below)
        self.above.append(fraction_above)
        self.steps.append(state.step)


def step_size_figure(trace: StepSizeTrace, title: str | None = None) -> Figure:
    """Left: the histogram of unclipped step sizes after each epoch (a column per
    epoch, colour = fraction of parameter elements) under the band of every
    iteration; right: the fractions raised to the lower bound and cut to the
    upper bound, in percent on a log axis (a fraction that stays zero is said
    in the legend, since a log axis cannot show it)."""
    if not isinstance(trace, StepSizeTrace):
        raise TypeError(f"trace must be a StepSizeTrace, got {type(trace).__name__}")
    fig, (ax_hist, ax_frac) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
    x_edges = np.concatenate([[0], trace.steps])
    occupied = np.flatnonzero(trace.counts.sum(axis=0))
    first = max(occupied[0] - 8, 0) if occupied.size else 0
    last = min(occupied[-1] + 9, len(trace.edges) - 1) if occupied.size else len(trace.edges) - 1
    y_edges = 10.0 ** trace.edges
    shown = np.ma.masked_equal(trace.counts.T, 0.0)
    mesh = ax_hist.pcolormesh(x_edges, y_edges, shown, cmap="viridis",
                              norm=LogNorm(vmin=max(shown.min(), 1e-6), vmax=shown.max()))
    fig.colorbar(mesh, ax=ax_hist, label="fraction of parameter elements")
    iterations = np.arange(1, len(trace.lower) + 1)
    ax_hist.plot(iterations, trace.upper, color="tab:red", lw=1.5, label="upper bound")
    ax_hist.plot(iterations, trace.lower, color="tab:orange", lw=1.5, label="lower bound")
    ax_hist.set(yscale="log", xlim=(0, trace.steps[-1]), ylim=(y_edges[first], y_edges[last]),
                xlabel="iteration t (each column: the last step of an epoch)",
                ylabel="Adam's step size before clipping (lr units)",
                title="Unclipped step sizes of all parameters, and the band")
    ax_hist.grid(False)  # the grid would hatch the histogram
    ax_hist.legend(fontsize=8, loc="lower left")
    for values, marker, label in ((trace.below, "o-", "raised to the lower bound"),
                                  (trace.above, "s-", "cut to the upper bound")):
        percent = 100 * np.asarray(values, dtype=float)
        if not percent.any():
            label += " (none at any snapshot)"
        ax_frac.plot(trace.steps, np.where(percent > 0, percent, np.nan), marker, ms=3, label=label)
    ax_frac.set(yscale="log", ylim=(1e-3, 100), xlim=(0, trace.steps[-1] * 1.03), xlabel="iteration t",
                ylabel="clipped parameter elements (%)", title="How many step sizes the band clips")
    ax_frac.legend(fontsize=8, loc="lower right")
    fig.suptitle(title or f"{trace.recipe.optimizer}, profile {trace.profile}, seed {trace.seed}", fontsize=9)
    return fig

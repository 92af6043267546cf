"""Accuracy along a hyperparameter: the figure and the paired contrasts of a stored grid or sweep.

A grid (chapter 01's learning rates with and without warmup) or a sweep
(chapter 06's hole sizes) asks how accuracy moves along one hyperparameter.
:func:`tricks_lab.verdicts.show_part` tables its arms; this module puts them
on their axis:

- :data:`AXES` says, per part, which recipe field is the x axis and to which
  line (series) each arm belongs. Both are read from the arms' stored recipes,
  so the figure cannot disagree with the record on what an arm was;
- :func:`curve_figure` draws mean +/- sd over seeds at each point, on the
  validation split (where a sweep chooses, the choice ringed) and on the test
  split, with the part's reference arm as a band (lines sharing an x are
  moved apart a little, so their error bars stay visible);
- :func:`contrast_rows` and :func:`contrast_markdown` give the paired
  difference between two series at each x (e.g. warmup minus no warmup at
  each learning rate) with its 95% interval and a verdict word.

A sweep's figure uses its ``points`` (every point, on the grid seeds), not its
comparison (the reference and the chosen point on all book seeds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .records import PartRecord
from .recipe import BASELINE, Recipe
from .registry import HE_LR, WARMUP_EPOCHS, experiment_for
from .results import Comparison, verdict
from .stats import Difference, paired_interval, summarize

__all__ = ["AXES", "Axis", "ContrastRow", "axis_for", "contrast_markdown", "contrast_rows", "curve_figure",
           "show_curve"]


@dataclass(frozen=True)
class Axis:
    """Where a part's arms sit: ``value(recipe)`` on the x axis, ``series(recipe)`` the lines through it.

    An arm may lie on several lines (the batch-512 baseline is both the
    fixed-lr and the scaled-lr line's point at 512) or on none (an arm
    without the trick is drawn only as the reference band).
    """

    label: str
    value: Callable[[Recipe], float]
    series: Callable[[Recipe], tuple[str, ...]]
    log2: bool = False

    def __repr__(self) -> str:  # the functions' reprs would be memory addresses
        return f"Axis({self.label!r}{', log2' if self.log2 else ''})"


WARMUP_LINE = f"{WARMUP_EPOCHS:g}-epoch linear warmup"


def _warmup_series(recipe: Recipe) -> tuple[str, ...]:
    return (WARMUP_LINE,) if recipe.warmup_epochs > 0 else ("no warmup",)


def _batch_series(recipe: Recipe) -> tuple[str, ...]:
    if recipe.lr_reference_batch is None:
        return ("fixed lr", "scaled lr") if recipe.batch_size == BASELINE.batch_size else ("fixed lr",)
    return ("scaled lr + warmup",) if recipe.warmup_epochs > 0 else ("scaled lr",)


AXES: dict[tuple[str, str], Axis] = {
    ("01_warmup", "lr_grid"): Axis(
        f"peak lr, in multiples of {HE_LR:g} (0.1 per 128 images)", lambda r: r.lr / HE_LR, _warmup_series,
        log2=True),
    ("02_linear_scaling", "batch_grid"): Axis(
        "batch size (images)", lambda r: float(r.batch_size), _batch_series, log2=True),
    ("03_label_smoothing", "epsilon"): Axis(
        "label smoothing epsilon", lambda r: r.label_smoothing, lambda r: ("label smoothing",)),
    ("mixing", "mixup_alpha"): Axis(
        "mixup's Beta(alpha, alpha) concentration alpha", lambda r: r.mixing_concentration,
        lambda r: ("mixup",) if r.mixing == "mixup" else ()),
    ("05_distillation", "temperature"): Axis(
        "distillation temperature T", lambda r: r.distill_temperature,
        lambda r: () if r.teacher is None else (f"alpha = {r.distill_alpha:g}",), log2=True),
    ("06_cutout", "length"): Axis(
        "Cutout hole side (pixels; 0 = no hole)",
        lambda r: float(r.cutout_length) if r.occlusion == "cutout" else 0.0, lambda r: ("Cutout",)),
}
"""The axis of every grid and sweep part of the registry, by ``(experiment, part)``."""


def axis_for(experiment: str, part: str) -> Axis:
    """The :class:`Axis` of ``part`` of ``experiment`` (a chapter name selects its experiment)."""
    key = (experiment_for(experiment).name, part)
    if key not in AXES:
        raise KeyError(f"no axis for part {part!r} of {key[0]!r}; parts with one: {sorted(AXES)}")
    return AXES[key]


def _along(stored: PartRecord) -> Comparison:
    """The runs a curve draws: a sweep's every point, a grid's comparison."""
    return stored.points if stored.points is not None else stored.comparison


def _lines(comparison: Comparison, axis: Axis) -> dict[str, list[tuple[float, str]]]:
    """Series name -> ``(x, arm)`` in increasing x."""
    lines: dict[str, list[tuple[float, str]]] = {}
    for arm, recipe in comparison.recipes.items():
        for name in axis.series(recipe):
            lines.setdefault(name, []).append((axis.value(recipe), arm))
    for name, points in lines.items():
        xs = [x for x, _ in points]
        if len(set(xs)) != len(xs):
            raise ValueError(f"series {name!r} has two arms at one x: {sorted(points)}")
        points.sort()
    return lines


def _mean_sd(comparison: Comparison, arm: str, split: str) -> tuple[float, float] | None:
    """Mean and sample sd (0 for one seed) of ``arm``'s accuracy on ``split``, in percent; None without runs."""
    accuracies = list(comparison.accuracies(arm, split).values())
    if not accuracies:
        return None
    s = summarize(accuracies)
    return 100 * s.mean, 0.0 if math.isnan(s.std) else 100 * s.std


def _dodge(x: float, line: int, lines: int, axis: Axis, xs: list[float]) -> float:
    """``x`` moved sideways by 1.5% of the axis' span per line, so that the lines' error bars do not hide each other."""
    shift = 0.015 * (line - (lines - 1) / 2)
    if axis.log2:
        return x * 2 ** (shift * math.log2(xs[-1] / xs[0]))
    return x + shift * (xs[-1] - xs[0])


def curve_figure(stored: PartRecord, axis: Axis, title: str | None = None) -> Any:
    """Mean +/- sd accuracy (%) of each arm at its x, one line per series; validation left, test right.

    The reference arm (the part's first) is the grey band (mean +/- sd) in
    both panels; a sweep's chosen arm is ringed in the validation panel, the
    split it was chosen on.
    """
    from matplotlib import pyplot as plt

    comparison = _along(stored)
    lines = _lines(comparison, axis)
    xs = sorted({x for points in lines.values() for x, _ in points})
    fig, panels = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, split, name in zip(panels, ("val", "test"), ("validation", "test")):
        reference = _mean_sd(comparison, comparison.baseline, split)
        if reference is not None:
            mean, sd = reference
            ax.axhspan(mean - sd, mean + sd, color="0.85", zorder=0, label=f"{comparison.baseline} (mean +/- sd)")
            ax.axhline(mean, color="0.5", lw=1, zorder=1)
        for k, (line, points) in enumerate(lines.items()):
            drawn = [(x, _mean_sd(comparison, arm, split)) for x, arm in points]
            drawn = [(_dodge(x, k, len(lines), axis, xs), m) for x, m in drawn if m is not None]
            ax.errorbar([x for x, _ in drawn], [m for _, (m, _) in drawn], yerr=[sd for _, (_, sd) in drawn],
                        marker="o", capsize=3, label=line, zorder=3)
        chosen = None if stored.chosen is None else _mean_sd(comparison, stored.chosen, split)
        if split == "val" and chosen is not None:
            recipe = comparison.recipes[stored.chosen]
            k = next(k for k, points in enumerate(lines.values()) if stored.chosen in dict(map(reversed, points)))
            ax.scatter([_dodge(axis.value(recipe), k, len(lines), axis, xs)], [chosen[0]], s=260,
                       facecolors="none", edgecolors="black", zorder=4, label=f"chosen: {stored.chosen}")
        if axis.log2:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.minorticks_off()
        ax.set_xlabel(axis.label)
        ax.set_title(f"{name} accuracy", fontsize=10)
        ax.grid(alpha=0.3)
    panels[0].set_ylabel("accuracy (%)")
    panels[1].legend(fontsize=8, loc="best")
    seeds = sorted({s for runs in comparison.results.values() for s in (r.seed for r in runs)})
    fig.suptitle(title or f"{stored.name}: mean +/- sd over seeds {seeds}, profile {comparison.profile}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def show_curve(experiment: str, part: str, profile: str = "lab") -> PartRecord | None:
    """Display :func:`curve_figure` of a stored part; nothing when it is missing.

    The missing part is announced by :func:`tricks_lab.verdicts.show_part`,
    once per page, so this stays silent.
    """
    from matplotlib import pyplot as plt

    from .verdicts import load_part

    axis = axis_for(experiment, part)
    stored = load_part(experiment, part, profile)
    if stored is None:
        return None
    curve_figure(stored, axis)
    plt.show()
    return stored


@dataclass(frozen=True)
class ContrastRow:
    """At one x: ``line`` minus ``against``, paired over the seeds both finished (None with fewer than two)."""

    x: float
    arm: str
    against_arm: str
    difference: Difference | None
    seeds: tuple[int, ...]


def contrast_rows(stored: PartRecord, axis: Axis, line: str, against: str, split: str = "test") -> list[ContrastRow]:
    """The paired difference ``line - against`` at every x where both series have an arm.

    Raises ``KeyError`` for a series the part does not have.
    """
    comparison = _along(stored)
    lines = _lines(comparison, axis)
    for name in (line, against):
        if name not in lines:
            raise KeyError(f"no series {name!r} in {stored.name!r}; series: {sorted(lines)}")
    other = dict(lines[against])
    rows = []
    for x, arm in lines[line]:
        if x not in other or other[x] == arm:
            continue
        mine, theirs = comparison.accuracies(arm, split), comparison.accuracies(other[x], split)
        seeds = tuple(sorted(set(mine) & set(theirs)))
        d = paired_interval([mine[s] for s in seeds], [theirs[s] for s in seeds]) if len(seeds) >= 2 else None
        rows.append(ContrastRow(x, arm, other[x], d, seeds))
    return rows


def contrast_markdown(experiment: str, part: str, line: str, against: str, profile: str = "lab") -> str:
    """A Markdown table of :func:`contrast_rows` on the test split (a note when the part is not stored yet)."""
    from .verdicts import NOT_MEASURED, load_part

    axis = axis_for(experiment, part)
    stored = load_part(experiment, part, profile)
    if stored is None:
        return f"*The `{part}` part is {NOT_MEASURED}.*"
    out = [f"| {axis.label} | {line} - {against} (points) | 95% paired interval | verdict | seeds |",
           "|---|---|---|---|---|"]
    for row in contrast_rows(stored, axis, line, against):
        if row.difference is None:
            out.append(f"| {row.x:g} | n/a | n/a | too few seeds | {len(row.seeds)} |")
            continue
        d = row.difference
        out.append(f"| {row.x:g} | {100 * d.estimate:+.2f} | [{100 * d.low:+.2f}, {100 * d.high:+.2f}] | "
                   f"{verdict(d)} | {len(row.seeds)} |")
    return "\n".join(out)

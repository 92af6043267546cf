"""Figures and explorers of the loss chapters: label smoothing (03) and distillation (05).

Pure drawing functions (``*_figure``) return a ``matplotlib`` Figure with
labelled axes; the ``*_explorer`` functions wire them to sliders (see
:func:`tricks_lab.widgets.explorer`). Every number drawn comes from the
package's own losses and metrics, so a figure shows what the book trains with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from .._validation import check_positive, check_positive_int
from ..losses import (
    LabelSmoothingCrossEntropy,
    _check_smoothing,
    distillation_kl,
    distillation_loss,
    optimal_logit_gap,
    smooth_targets,
)
from ..metrics import ReliabilityDiagram
from . import explorer

__all__ = [
    "logit_gap_figure",
    "reliability_figure",
    "smoothing_explorer",
    "smoothing_figure",
    "t_squared_figure",
    "temperature_explorer",
    "temperature_figure",
]

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _check_nonempty_mapping(name: str, value: Any) -> None:
    if not isinstance(value, Mapping) or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty mapping of name -> data, got {value!r}")


# --- label smoothing -------------------------------------------------------------------------


def smoothing_figure(smoothing: float = 0.1, num_classes: int = 10, max_gap: float | None = None) -> Figure:
    """Smoothed targets and the loss they define, for ``eps = smoothing`` and ``K = num_classes``.

    Left: the target distribution of a sample of class 0 under the one-hot
    target and both conventions of :func:`tricks_lab.losses.smooth_targets`
    (``"uniform"``: ``1 - eps + eps/K`` and ``eps/K``, Szegedy et al. 2016;
    ``"others"``: ``1 - eps`` and ``eps/(K-1)``, as the seeds print it).
    Right: the loss ``-sum_k q_k log softmax(z)_k`` of logits
    ``z = (g, 0, ..., 0)`` against the logit gap ``g``, computed by
    :class:`tricks_lab.losses.LabelSmoothingCrossEntropy`; dashed lines mark
    the minimising gap :func:`tricks_lab.losses.optimal_logit_gap`. Plain
    cross entropy keeps decreasing as ``g`` grows; a smoothed loss has a
    finite minimum.
    """
    _check_smoothing(smoothing)
    check_positive_int("num_classes", num_classes)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 for smoothing to spread mass, got {num_classes}")
    gaps = {c: optimal_logit_gap(smoothing, num_classes, c) for c in ("uniform", "others")}
    if max_gap is None:
        finite = [g for g in gaps.values() if math.isfinite(g)]
        max_gap = min(30.0, max(12.0, 1.5 * max(finite, default=0.0)))
    check_positive("max_gap", max_gap)
    fig, (ax_q, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1.2]})

    label = torch.zeros(1, dtype=torch.int64)
    shown = min(num_classes, 12)
    classes = np.arange(shown)
    width = 0.27
    one_hot = F.one_hot(label, num_classes)[0].double().numpy()
    series = [("one-hot (plain CE)", one_hot, "0.6")]
    for colour, convention in zip(_COLOURS, ("uniform", "others")):
        q = smooth_targets(label, num_classes, smoothing, convention)[0].double().numpy()
        text = f"'{convention}': {q[0]:.4g} on class 0, {q[1]:.4g} on each other"
        series.append((text, q, colour))
    for i, (text, q, colour) in enumerate(series):
        ax_q.bar(classes + (i - 1) * width, q[:shown], width, color=colour, label=text)
    ax_q.set_xticks(classes, [str(k) for k in classes])
    suffix = f" (first {shown} of {num_classes})" if shown < num_classes else ""
    ax_q.set_yscale("symlog", linthresh=1e-3, linscale=0.5)
    ax_q.set(xlabel=f"class k{suffix}; true class y = 0", ylabel="target probability $q_k$ (log scale)",
             title=f"Targets, $\\varepsilon$ = {smoothing:g}, K = {num_classes}", ylim=(0, 12))
    ax_q.legend(fontsize=7, loc="upper right")

    g = torch.linspace(0.0, max_gap, 300, dtype=torch.float64)
    logits = torch.zeros(len(g), num_classes, dtype=torch.float64)
    logits[:, 0] = g
    labels = torch.zeros(len(g), dtype=torch.int64)
    plain = LabelSmoothingCrossEntropy(0.0, reduction="none")(logits, labels)
    ax_loss.plot(g, plain, color="0.4", label="plain cross entropy (minimum at $g \\to \\infty$)")
    for colour, convention in zip(_COLOURS, ("uniform", "others")):
        loss = LabelSmoothingCrossEntropy(smoothing, convention, reduction="none")(logits, labels)
        ax_loss.plot(g, loss, color=colour, label=f"smoothed, '{convention}'")
        if math.isfinite(gaps[convention]) and gaps[convention] <= max_gap:
            ax_loss.axvline(gaps[convention], color=colour, ls="--", lw=1,
                            label=f"optimal gap {gaps[convention]:.2f}")
    ax_loss.set(xlabel="logit gap $g = z_y - z_j$ (every wrong class j alike)",
                ylabel="loss per sample (nats)", title="Loss against the logit gap", ylim=(0, None))
    ax_loss.legend(fontsize=7)
    return fig


def smoothing_explorer() -> Any:
    """Sliders for the smoothing ``eps`` and the number of classes ``K`` over :func:`smoothing_figure`."""
    import ipywidgets as widgets

    return explorer(
        lambda smoothing, num_classes: smoothing_figure(smoothing, num_classes),
        smoothing=widgets.FloatSlider(0.1, min=0.0, max=0.5, step=0.01, description="epsilon"),
        num_classes=widgets.IntSlider(10, min=2, max=100, description="K classes"),
    )


def reliability_figure(diagrams: Mapping[str, ReliabilityDiagram], title: str | None = None) -> Figure:
    """Reliability diagrams side by side, one per entry, with the share of samples per bin below.

    Top: the accuracy of each confidence bin (bars) against the diagonal a
    calibrated model follows, with the gap to the bin's mean confidence
    hatched (as drawn by Guo, Pleiss, Sun & Weinberger 2017, "On Calibration
    of Modern Neural Networks"); the title gives the expected calibration
    error ``sum_b (n_b/N) |acc_b - conf_b|``. Bottom: the share of samples in
    each bin. Empty bins are left blank.
    """
    _check_nonempty_mapping("diagrams", diagrams)
    for name, diagram in diagrams.items():
        if not isinstance(diagram, ReliabilityDiagram):
            raise TypeError(f"diagrams[{name!r}] must be a ReliabilityDiagram, got {type(diagram).__name__}")
    n = len(diagrams)
    fig, axes = plt.subplots(2, n, figsize=(3.6 * n + 0.4, 5.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.2]}, sharex=True)
    for i, (name, diagram) in enumerate(diagrams.items()):
        ax, ax_count = axes[0, i], axes[1, i]
        edges = diagram.bin_edges.double().cpu().numpy()
        centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        accuracy = diagram.accuracy.double().cpu().numpy()
        confidence = diagram.confidence.double().cpu().numpy()
        count = diagram.count.cpu().numpy()
        occupied = count > 0
        ax.bar(centres[occupied], accuracy[occupied], widths[occupied], color="tab:blue",
               edgecolor="white", label="accuracy in bin")
        low = np.minimum(accuracy, confidence)[occupied]
        ax.bar(centres[occupied], np.abs(confidence - accuracy)[occupied], widths[occupied], bottom=low,
               color="none", edgecolor="tab:red", hatch="//", lw=0.6, label="gap to mean confidence")
        ax.plot([0, 1], [0, 1], color="0.3", ls="--", lw=1, label="calibrated")
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy in bin" if i == 0 else None,
               title=f"{name}\nECE = {100 * float(diagram.ece):.2f} % (N = {int(count.sum())})")
        if i == 0:
            ax.legend(fontsize=7, loc="upper left")
        share = 100 * count / max(1, count.sum())
        ax_count.bar(centres, share, widths, color="0.5", edgecolor="white")
        ax_count.set(xlabel="confidence (top softmax probability)",
                     ylabel="share of images (%)" if i == 0 else None)
    if title:
        fig.suptitle(title)
    return fig


def logit_gap_figure(
    gaps: Mapping[str, torch.Tensor], optimal_gaps: Mapping[str, float] | None = None, bins: int = 40
) -> Figure:
    """Histograms of per-sample logit gaps (:func:`tricks_lab.metrics.logit_gap`), one per entry.

    The gap is the top logit minus the mean of the others. Plain cross
    entropy rewards an ever larger gap; label smoothing has a finite optimum
    (:func:`tricks_lab.losses.optimal_logit_gap`), drawn as a dashed line for
    the entries named in ``optimal_gaps`` (Mueller, Kornblith & Hinton 2019,
    "When does label smoothing help?").
    """
    _check_nonempty_mapping("gaps", gaps)
    check_positive_int("bins", bins)
    optimal_gaps = dict(optimal_gaps or {})
    unknown = sorted(set(optimal_gaps) - set(gaps))
    if unknown:
        raise ValueError(f"optimal_gaps names {unknown}, which are not among gaps: {sorted(gaps)}")
    arrays = {}
    for name, values in gaps.items():
        if not isinstance(values, torch.Tensor) or values.ndim != 1 or values.numel() == 0:
            raise ValueError(f"gaps[{name!r}] must be a non-empty 1-D tensor of per-sample gaps")
        arrays[name] = values.detach().double().cpu().numpy()
    finite = [g for g in optimal_gaps.values() if math.isfinite(g)]
    top = max([float(a.max()) for a in arrays.values()] + finite) * 1.05
    edges = np.linspace(0.0, top, bins + 1)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for colour, (name, values) in zip(_COLOURS * 4, arrays.items()):
        ax.hist(values, edges, histtype="step", lw=1.6, color=colour,
                label=f"{name}: median {np.median(values):.2f}")
        if name in optimal_gaps and math.isfinite(optimal_gaps[name]):
            ax.axvline(optimal_gaps[name], color=colour, ls="--", lw=1,
                       label=f"{name}: optimal gap {optimal_gaps[name]:.2f}")
    ax.set(xlabel="logit gap: top logit minus the mean of the other logits",
           ylabel="test images per bin", title="Logit gaps on the test set")
    ax.legend(fontsize=7)
    return fig


# --- distillation ----------------------------------------------------------------------------


def _check_logit_vector(logits: Any) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 1 or logits.numel() < 2:
        raise ValueError("logits must be a 1-D tensor of at least 2 class logits, got "
                         f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}")
    return logits.detach().double().cpu()


def temperature_figure(
    logits: torch.Tensor, temperature: float = 4.0, class_names: Sequence[str] | None = None
) -> Figure:
    """A teacher's softened distribution ``softmax(r / T)`` and its entropy against ``T``.

    Left: the probabilities of one image's logits ``r`` at ``T = 1`` (outline)
    and at ``temperature`` (bars); a higher ``T`` lifts the small
    probabilities, the "dark knowledge" of Hinton, Vinyals & Dean 2015,
    "Distilling the Knowledge in a Neural Network". Right: the entropy of
    ``softmax(r / T)`` in nats from ``T = 0.5`` to ``50``, rising towards
    ``log K`` (the uniform distribution).
    """
    r = _check_logit_vector(logits)
    check_positive("temperature", temperature)
    k = len(r)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"class_names must name all {k} classes, got {len(names)}")
    fig, (ax_p, ax_h) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    p1 = torch.softmax(r, dim=0).numpy()
    pt = torch.softmax(r / temperature, dim=0).numpy()
    x = np.arange(k)
    ax_p.bar(x, pt, 0.7, color="tab:orange", label=f"T = {temperature:.3g}")
    ax_p.bar(x, p1, 0.7, color="none", edgecolor="0.2", lw=1.2, label="T = 1")
    ax_p.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
    ax_p.set(xlabel="class", ylabel="probability softmax(r / T)", ylim=(0, 1.05),
             title="The teacher's softened distribution")
    ax_p.legend(fontsize=8)
    temperatures = np.geomspace(0.5, 50.0, 200)
    entropy = [float(-(torch.softmax(r / t, 0) * torch.log_softmax(r / t, 0)).sum()) for t in temperatures]
    ax_h.plot(temperatures, entropy, color="tab:orange")
    here = float(-(torch.softmax(r / temperature, 0) * torch.log_softmax(r / temperature, 0)).sum())
    ax_h.plot([temperature], [here], "o", color="tab:orange", label=f"T = {temperature:.3g}: {here:.2f} nats")
    ax_h.axhline(math.log(k), color="0.4", ls="--", lw=1, label=f"uniform: log K = {math.log(k):.2f} nats")
    ax_h.set_xscale("log")
    ax_h.set(xlabel="temperature T (log scale)", ylabel="entropy of softmax(r / T) (nats)",
             title="Softening grows with T", ylim=(0, math.log(k) * 1.1))
    ax_h.legend(fontsize=8)
    return fig


def temperature_explorer(logits: torch.Tensor, class_names: Sequence[str] | None = None) -> Any:
    """A log-scale temperature slider over :func:`temperature_figure` for one image's logits."""
    import ipywidgets as widgets

    _check_logit_vector(logits)
    return explorer(
        lambda temperature: temperature_figure(logits, temperature, class_names),
        temperature=widgets.FloatLogSlider(4.0, base=10, min=-0.3, max=1.7, step=0.05, description="T"),
    )


def t_squared_figure(
    temperatures: Sequence[float] = tuple(np.geomspace(1.0, 100.0, 25)), num_classes: int = 10, seed: int = 0
) -> Figure:
    """Gradient norm of the distillation term against ``T``, with and without the ``T^2`` factor.

    For random student logits ``z`` and teacher logits ``r`` (64 samples,
    standard deviation 3, seeded), the norm of ``d/dz`` of
    ``KL(softmax(r/T) || softmax(z/T))`` falls as ``1/T^2`` at high ``T``;
    multiplied by ``T^2`` (:func:`tricks_lab.losses.distillation_loss` with
    ``alpha = 1``) it levels off, so the balance with the hard-label term
    does not depend on ``T`` (Hinton, Vinyals & Dean 2015).
    """
    check_positive_int("num_classes", num_classes)
    check_positive_int("seed", seed, allow_zero=True)
    temperatures = [float(t) for t in temperatures]
    if not temperatures:
        raise ValueError("temperatures must not be empty")
    for t in temperatures:
        check_positive("temperature", t)
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(64, num_classes, generator=g, dtype=torch.float64) * 3
    teacher = torch.randn(64, num_classes, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, num_classes, (64,), generator=g)

    def grad_norm(loss_of: Any) -> float:
        z = student.clone().requires_grad_()
        (grad,) = torch.autograd.grad(loss_of(z), z)
        return float(grad.norm())

    plain = [grad_norm(lambda z: distillation_kl(z, teacher, t)) for t in temperatures]
    scaled = [grad_norm(lambda z: distillation_loss(z, teacher, labels, temperature=t, alpha=1.0)) for t in temperatures]
    hard = grad_norm(lambda z: F.cross_entropy(z, labels))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.loglog(temperatures, scaled, "o-", ms=3, color="tab:orange", label="$T^2$ KL (what we train with)")
    ax.loglog(temperatures, plain, "s-", ms=3, color="tab:blue", label="KL without $T^2$")
    ax.axhline(hard, color="0.4", ls="--", lw=1, label="hard-label cross entropy")
    ax.set(xlabel="temperature T (log scale)", ylabel="gradient norm $\\|\\partial L / \\partial z\\|$ (batch of 64)",
           title="Why the distillation term is multiplied by $T^2$")
    ax.legend(fontsize=8)
    return fig

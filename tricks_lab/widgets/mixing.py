"""Figures and explorers of the mixing chapters: RICAP (04) and mixup with CutMix (09).

Every figure mixes with the package's own appliers (:func:`tricks_lab.mixing.apply_mixup`,
:func:`~tricks_lab.mixing.apply_cutmix`, :func:`~tricks_lab.mixing.apply_ricap`) and draws
its random parameters with the package's samplers, on images normalised as the training
loader does (mixing is a ``"float"`` hook, applied after normalisation); images are shown
un-normalised. Since normalisation ``x -> (x - m) / s`` is affine and every op's weights sum
to 1, mixing before or after it gives the same batch.

- mixup (Zhang et al., 2018) and CutMix (Yun et al., 2019): :func:`lambda_distribution_figure`,
  :func:`mixup_pair_figure`, :func:`cutmix_lambda_figure`, :func:`mixup_explorer`.
- RICAP (Takahashi et al., 2018): :func:`ricap_figure`, :func:`ricap_beta_figure`,
  :func:`ricap_explorer`.
- Shared: :func:`mixed_grid_figure` (a grid of mixed batches). How an arm's gap to the
  baseline moves with the budget is :func:`tricks_lab.verdicts.gap_change_sentence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy import stats as scipy_stats

from .._validation import check_choice, check_in_range, check_positive, check_positive_int
from ..hooks import sample_uniform_int
from ..mixing import (
    CutMixParams,
    MixupParams,
    RicapParams,
    apply_cutmix,
    apply_mixup,
    apply_ricap,
    cutmix,
    cutmix_boxes,
    mixup,
    ricap,
    ricap_patch_boxes,
    sample_cutmix,
    sample_ricap,
    sample_symmetric_beta,
)
from ..plotting import to_display
from . import explorer
from .augmentation import normalised_batch

__all__ = [
    "METHODS",
    "cutmix_lambda_figure",
    "lambda_distribution_figure",
    "mixed_grid_figure",
    "mixup_explorer",
    "mixup_pair_figure",
    "ricap_beta_figure",
    "ricap_boundary_law",
    "ricap_explorer",
    "ricap_figure",
]

METHODS = ("mixup", "cutmix", "ricap")
PATCH_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange")
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _generator(seed: int) -> torch.Generator:
    check_positive_int("seed", seed, allow_zero=True)
    return torch.Generator().manual_seed(seed)


def _check_labels(labels: Sequence[int] | np.ndarray | torch.Tensor, n: int, classes: Sequence[str]) -> torch.Tensor:
    if len(classes) == 0:
        raise ValueError("classes must name at least one class")
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.int64).reshape(-1)
    if labels_t.shape != (n,):
        raise ValueError(f"labels must hold one label per image ({n}), got shape {tuple(labels_t.shape)}")
    if bool(((labels_t < 0) | (labels_t >= len(classes))).any()):
        raise ValueError(f"labels must lie in [0, {len(classes) - 1}], got {labels_t.tolist()}")
    return labels_t


def _describe_target(target: torch.Tensor, classes: Sequence[str], top: int = 2) -> str:
    """``"0.62 cat\\n0.38 dog"``: the ``top`` largest entries of a soft target."""
    values, indices = target.topk(min(top, len(target)))
    parts = [f"{v:.2f} {classes[i]}" for v, i in zip(values.tolist(), indices.tolist()) if v > 5e-3]
    return "\n".join(parts)


def _beta_pdf(x: np.ndarray, concentration: float) -> np.ndarray:
    return scipy_stats.beta.pdf(x, concentration, concentration)


# --------------------------------------------------------------------------- mixup and CutMix


def lambda_distribution_figure(
    alphas: Sequence[float] = (0.1, 0.2, 0.4, 1.0, 2.0, 8.0), samples: int = 20000, seed: int = 0
) -> Figure:
    """mixup's ``lambda ~ Beta(alpha, alpha)`` (Zhang et al., 2018) for several ``alpha``.

    Left: the density ``lambda^(alpha-1) (1-lambda)^(alpha-1) / B(alpha, alpha)`` (lines)
    and a histogram of ``samples`` draws of :func:`tricks_lab.mixing.sample_symmetric_beta`
    (steps), on a log axis. Right: how mixed a mixed image is, the cumulative distribution
    of the dominant image's share ``max(lambda, 1 - lambda)``; its mean is in the legend.
    Small ``alpha`` puts most draws near 0 or 1 (little mixing), ``alpha = 1`` is uniform,
    large ``alpha`` concentrates at 1/2.
    """
    if len(alphas) == 0:
        raise ValueError("alphas must name at least one alpha")
    for alpha in alphas:
        check_positive("alpha", alpha)
    check_positive_int("samples", samples)
    generator = _generator(seed)
    fig, (ax_pdf, ax_cdf) = plt.subplots(1, 2, figsize=(12, 3.9), layout="constrained")
    grid = np.linspace(0.002, 0.998, 499)
    bins = np.linspace(0, 1, 41)
    for colour, alpha in zip(_COLOURS * 3, alphas):
        lam = sample_symmetric_beta(alpha, samples, generator=generator).double().numpy()
        ax_pdf.hist(lam, bins=bins, density=True, histtype="step", color=colour, alpha=0.6)
        ax_pdf.plot(grid, _beta_pdf(grid, alpha), color=colour, lw=1.5, label=f"$\\alpha$ = {alpha:g}")
        share = np.sort(np.maximum(lam, 1 - lam))
        ax_cdf.plot(share, np.arange(1, len(share) + 1) / len(share), color=colour,
                    label=f"$\\alpha$ = {alpha:g}: mean share {share.mean():.2f}")
    ax_pdf.set_yscale("log")
    ax_pdf.set(xlabel="$\\lambda$ (weight of the sample's own image)", ylabel="probability density (log scale)",
               title="$\\lambda \\sim$ Beta($\\alpha$, $\\alpha$): density (lines), our draws (steps)",
               ylim=(0.05, 30))
    ax_pdf.legend(fontsize=8, ncols=2)
    ax_cdf.set(xlabel="dominant image's share max($\\lambda$, 1 - $\\lambda$)", ylabel="fraction of draws <= x",
               title=f"How mixed is a mixed image ({samples} draws each)", xlim=(0.5, 1.0))
    ax_cdf.legend(fontsize=8)
    return fig


def mixup_pair_figure(
    image_a: np.ndarray,
    image_b: np.ndarray,
    label_a: int,
    label_b: int,
    classes: Sequence[str],
    alpha: float = 1.0,
    lam: float = 0.7,
    seed: int = 0,
) -> Figure:
    """One pair mixed by mixup and by CutMix at the same ``lambda``, against ``Beta(alpha, alpha)``.

    Top: image A, mixup ``lambda A + (1 - lambda) B`` (Zhang et al., 2018), CutMix (Yun et
    al., 2019: a box of B with sides ``floor(side sqrt(1 - lambda))`` at a centre drawn with
    ``seed``, clipped, pasted into A; its target weight is recomputed from the clipped box),
    image B. Bottom left: the density of ``Beta(alpha, alpha)`` with ``lambda`` marked and
    the probability that a draw is at least this mixed, ``P(|lambda' - 1/2| <= |lambda - 1/2|)``.
    Bottom right: the soft targets both ops train on.
    """
    check_positive("alpha", alpha)
    check_in_range("lam", lam, 0.0, 1.0)
    batch = normalised_batch(np.stack([np.asarray(image_a), np.asarray(image_b)]))
    labels = _check_labels([label_a, label_b], 2, classes)
    num_classes = len(classes)
    _, _, height, width = batch.shape
    pair = torch.tensor([1, 0])
    lam_t = torch.tensor([lam], dtype=torch.float32)
    both = torch.ones(2, dtype=torch.bool)
    mixed, mixup_targets = apply_mixup(batch, labels, MixupParams(pair, lam_t, both), num_classes=num_classes)
    boxes = cutmix_boxes(lam_t, height, width, generator=_generator(seed))
    x1, y1, x2, y2 = boxes[0].tolist()
    cut_lam = 1.0 - (x2 - x1) * (y2 - y1) / (height * width)
    params = CutMixParams(pair, boxes, lam_t, torch.tensor([cut_lam], dtype=torch.float32), both)
    pasted, cutmix_targets = apply_cutmix(batch, labels, params, num_classes=num_classes)

    fig = plt.figure(figsize=(11, 6.2), layout="constrained")
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 1])
    shown = [(batch[0], f"A: {classes[label_a]}"), (mixed[0], f"mixup, $\\lambda$ = {lam:.2f}"),
             (pasted[0], f"CutMix, $\\lambda$ = {cut_lam:.2f} after clipping"), (batch[1], f"B: {classes[label_b]}")]
    for col, (image, title) in enumerate(shown):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(to_display(image[None], normalized=True)[0], interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        if col == 2:
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor="yellow", lw=1.2))

    ax_pdf = fig.add_subplot(grid[1, :2])
    xs = np.linspace(0.001, 0.999, 999)
    pdf = _beta_pdf(xs, alpha)
    half = abs(lam - 0.5)
    cdf = scipy_stats.beta(alpha, alpha).cdf
    at_least = float(cdf(0.5 + half) - cdf(0.5 - half))
    ax_pdf.plot(xs, pdf, color="tab:blue", label=f"Beta({alpha:.3g}, {alpha:.3g}) density")
    inside = np.abs(xs - 0.5) <= half
    ax_pdf.fill_between(xs, 0, pdf, where=inside, color="tab:blue", alpha=0.2,
                        label=f"at least as mixed: P = {at_least:.2f}")
    ax_pdf.axvline(lam, color="black", ls="--", lw=1, label=f"$\\lambda$ = {lam:.2f}")
    top = float(np.quantile(pdf, 0.98)) * 1.3
    ax_pdf.set(xlabel="$\\lambda$ (weight of image A)", ylabel="probability density", ylim=(0, max(top, 1.5)),
               title=f"How likely is this $\\lambda$ under $\\alpha$ = {alpha:.3g}?")
    ax_pdf.legend(fontsize=8, loc="upper center")

    ax_t = fig.add_subplot(grid[1, 2:])
    involved = sorted({label_a, label_b})
    x = np.arange(len(involved))
    ax_t.bar(x - 0.2, mixup_targets[0, involved].numpy(), 0.4, color="tab:purple", label="mixup target")
    ax_t.bar(x + 0.2, cutmix_targets[0, involved].numpy(), 0.4, color="tab:olive", label="CutMix target")
    ax_t.set_xticks(x, [classes[i] for i in involved])
    ax_t.set(xlabel="class", ylabel="target probability", ylim=(0, 1.05), title="Soft targets of the mixed image")
    ax_t.legend(fontsize=8)
    return fig


def cutmix_lambda_figure(alpha: float = 1.0, size: int = 32, samples: int = 20000, seed: int = 0) -> Figure:
    """CutMix's drawn ``lambda`` against the ``lambda`` of the box actually pasted (Yun et al., 2019).

    :func:`tricks_lab.mixing.sample_cutmix` draws ``lambda ~ Beta(alpha, alpha)``, a box
    of sides ``floor(side sqrt(1 - lambda))`` centred uniformly, clips it to the image and
    recomputes ``lambda = 1 - |box| / (H W)``. Left: recomputed against drawn ``lambda`` for
    ``samples`` boxes on ``size x size`` images; right: both distributions. Clipping only
    shrinks the box, so the recomputed ``lambda`` is never below the drawn one.
    """
    check_positive("alpha", alpha)
    check_positive_int("size", size)
    check_positive_int("samples", samples)
    params = sample_cutmix(samples, size, size, alpha, mode="elem", generator=_generator(seed))
    drawn = params.sampled_lam.double().numpy()
    actual = params.lam.double().numpy()
    fig, (ax_s, ax_h) = plt.subplots(1, 2, figsize=(11, 3.9), layout="constrained")
    shown = slice(0, min(samples, 3000))
    ax_s.scatter(drawn[shown], actual[shown], s=3, alpha=0.4, color="tab:blue")
    ax_s.plot([0, 1], [0, 1], color="black", lw=1, ls="--", label="no clipping")
    ax_s.set(xlabel="drawn $\\lambda$", ylabel="$\\lambda$ of the pasted box (the target weight)",
             title=f"Clipping shrinks the box ({min(samples, 3000)} of {samples} draws)")
    ax_s.legend(fontsize=8)
    bins = np.linspace(0, 1, 41)
    weights = np.full(samples, 1 / samples)
    ax_h.hist(drawn, bins=bins, weights=weights, alpha=0.5, label=f"drawn: mean {drawn.mean():.3f}")
    ax_h.hist(actual, bins=bins, weights=weights, alpha=0.5, label=f"after clipping: mean {actual.mean():.3f}")
    ax_h.set(xlabel="$\\lambda$ (share of the image left in place)", ylabel="fraction of draws",
             title=f"CutMix, $\\alpha$ = {alpha:g}, {size} x {size} images")
    ax_h.legend(fontsize=8)
    return fig


def mixup_explorer(
    image_a: np.ndarray, image_b: np.ndarray, label_a: int, label_b: int, classes: Sequence[str]
) -> Any:
    """Sliders for ``alpha`` (log scale), ``lambda`` and the CutMix box's seed over :func:`mixup_pair_figure`."""
    import ipywidgets as widgets

    return explorer(
        lambda alpha, lam, seed: mixup_pair_figure(image_a, image_b, label_a, label_b, classes, alpha, lam, seed),
        alpha=widgets.FloatLogSlider(1.0, base=10, min=-1.5, max=1.0, step=0.05, description="alpha"),
        lam=widgets.FloatSlider(0.7, min=0.0, max=1.0, step=0.01, description="lambda"),
        seed=widgets.IntSlider(0, 0, 20, description="box seed"),
    )


# --------------------------------------------------------------------------- RICAP


def ricap_boundary_law(beta: float, size: int) -> np.ndarray:
    """``P(w = k)``, ``k = 0..size``, for RICAP's boundary ``w = round(size B)``, ``B ~ Beta(beta, beta)``
    (Takahashi et al., 2018, sec. 3.1): ``F((k + 1/2) / size) - F((k - 1/2) / size)`` with
    ``F`` the Beta CDF clipped to ``[0, 1]``. :func:`tricks_lab.mixing.sample_ricap`
    follows this law (``tests/test_mixing.py::test_ricap_boundary_is_round_w_times_beta``).
    """
    check_positive("beta", beta)
    check_positive_int("size", size)
    edges = np.clip((np.arange(size + 2) - 0.5) / size, 0.0, 1.0)
    return np.diff(scipy_stats.beta.cdf(edges, beta, beta))


def _ricap_params_at(boundary: tuple[int, int], height: int, width: int, generator: torch.Generator) -> RicapParams:
    """RICAP parameters for 4 images with a given boundary: crop origins drawn as the sampler does
    (uniform over the positions where each crop fits), output 0 made of images 0, 1, 2, 3."""
    w, h = boundary
    check_in_range("boundary w", w, 0, width)
    check_in_range("boundary h", h, 0, height)
    boundary_t = torch.tensor([int(w), int(h)])
    patch_boxes = ricap_patch_boxes(boundary_t, height, width)
    sizes = patch_boxes[:, 2:] - patch_boxes[:, :2]
    extent = torch.tensor([width, height])
    corners = sample_uniform_int(extent - sizes, generator=generator)
    permutations = torch.stack([torch.roll(torch.arange(4), -k) for k in range(4)])
    weights = (sizes.prod(dim=1).double() / (width * height)).to(torch.float32)
    return RicapParams(boundary_t, patch_boxes, torch.cat([corners, corners + sizes], 1), permutations, weights,
                       torch.ones(4, dtype=torch.bool))


def ricap_figure(
    images: np.ndarray | torch.Tensor,
    labels: Sequence[int] | np.ndarray,
    classes: Sequence[str],
    beta: float = 0.3,
    boundary: tuple[int, int] | None = None,
    seed: int = 0,
) -> Figure:
    """RICAP on four images (Takahashi et al., 2018): the boundary, the four crops, the patched image.

    Top: the four source images, each with its crop ``k`` outlined (size ``w_k x h_k``,
    origin uniform over where it fits). Bottom, from the left: the patched image, with
    the boundary ``(w, h)`` dashed and each patch's target weight ``w_k h_k / (W H)``;
    the law of the boundary position, ``w = round(W B)``, ``B ~ Beta(beta, beta)``
    (:func:`ricap_boundary_law`), with ``w`` and ``h`` marked; the soft target. With
    ``boundary=None`` the boundary is drawn from ``Beta(beta, beta)`` with ``seed``, which
    also places the crops.
    """
    check_positive("beta", beta)
    batch = normalised_batch(images)
    if batch.shape[0] != 4:
        raise ValueError(f"images must hold exactly 4 images, got {batch.shape[0]}")
    labels_t = _check_labels(labels, 4, classes)
    _, _, height, width = batch.shape
    generator = _generator(seed)
    if boundary is None:
        boundary = tuple(sample_ricap(4, height, width, beta, generator=generator).boundary.tolist())
    params = _ricap_params_at(boundary, height, width, generator)
    patched, targets = apply_ricap(batch, labels_t, params, num_classes=len(classes))
    w, h = params.boundary.tolist()

    fig = plt.figure(figsize=(12, 6.6), layout="constrained")
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.15])
    sources = to_display(batch, normalized=True)
    for k in range(4):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(sources[k], interpolation="nearest")
        cx, cy, cx2, cy2 = params.crop_boxes[k].tolist()
        wk, hk = cx2 - cx, cy2 - cy
        if wk > 0 and hk > 0:
            ax.add_patch(Rectangle((cx - 0.5, cy - 0.5), wk, hk, fill=False, edgecolor=PATCH_COLOURS[k], lw=2))
        ax.set_title(f"patch {k}: {wk} x {hk} px of {classes[int(labels_t[k])]}", fontsize=9,
                     color=PATCH_COLOURS[k])
        ax.axis("off")

    ax_out = fig.add_subplot(grid[1, 0])
    ax_out.imshow(to_display(patched[:1], normalized=True)[0], interpolation="nearest")
    for k, (px, py, px2, py2) in enumerate(params.patch_boxes.tolist()):
        wk, hk = px2 - px, py2 - py
        if wk > 0 and hk > 0:
            ax_out.add_patch(Rectangle((px - 0.5, py - 0.5), wk, hk, fill=False, edgecolor=PATCH_COLOURS[k], lw=2))
            ax_out.text(px + wk / 2 - 0.5, py + hk / 2 - 0.5, f"{params.weights[k]:.2f}", ha="center",
                        va="center", fontsize=8, color="white",
                        bbox={"facecolor": PATCH_COLOURS[k], "alpha": 0.7, "pad": 1, "lw": 0})
    ax_out.axvline(w - 0.5, color="white", ls="--", lw=1)
    ax_out.axhline(h - 0.5, color="white", ls="--", lw=1)
    ax_out.set_title(f"patched: boundary (w, h) = ({w}, {h}) px", fontsize=9)
    ax_out.set(xlabel="x (pixel)", ylabel="y (pixel)")

    ax_law = fig.add_subplot(grid[1, 1:3])
    law = ricap_boundary_law(beta, max(width, height))
    ks = np.arange(len(law))
    ax_law.bar(ks, law, color="0.6", width=0.8, label=f"P(boundary = k), $\\beta$ = {beta:.3g}")
    ax_law.axvline(w, color="tab:purple", lw=2, label=f"w = {w}")
    ax_law.axvline(h, color="tab:cyan", lw=2, ls="--", label=f"h = {h}")
    ax_law.set(xlabel="boundary position (pixels from the left / top)", ylabel="probability",
               title="w = round(W B), h = round(H B'), B, B' ~ Beta($\\beta$, $\\beta$)")
    ax_law.legend(fontsize=8, loc="upper center")

    ax_t = fig.add_subplot(grid[1, 3])
    involved = sorted(set(labels_t.tolist()))
    ax_t.bar(np.arange(len(involved)), targets[0, involved].numpy(), color="tab:purple")
    ax_t.set_xticks(np.arange(len(involved)), [classes[i] for i in involved], rotation=30, ha="right")
    ax_t.set(xlabel="class", ylabel="target probability", ylim=(0, 1.05), title="Soft target (area shares)")
    return fig


def ricap_beta_figure(
    betas: Sequence[float] = (0.1, 0.3, 1.0, 3.0), size: int = 32, samples: int = 20000, seed: int = 0
) -> Figure:
    """What RICAP's ``beta`` does (Takahashi et al., 2018): where the boundary falls, how mixed the target is.

    Left: the law of the boundary ``w = round(size B)``, ``B ~ Beta(beta, beta)``
    (:func:`ricap_boundary_law`). Right: the cumulative distribution of the largest patch's
    share of the target, ``max_k w_k h_k / (W H)``, from ``samples`` boundaries drawn with
    :func:`tricks_lab.mixing.sample_symmetric_beta` by the sampler's formula; the legend gives
    the share of draws with an empty patch (a boundary on an edge). Small ``beta`` pushes the
    boundary to the edges, so one image dominates; large ``beta`` centres it, four equal patches.
    """
    if len(betas) == 0:
        raise ValueError("betas must name at least one beta")
    for beta in betas:
        check_positive("beta", beta)
    check_positive_int("size", size)
    check_positive_int("samples", samples)
    generator = _generator(seed)
    fig, (ax_law, ax_share) = plt.subplots(1, 2, figsize=(12, 3.9), layout="constrained")
    ks = np.arange(size + 1)
    for colour, beta in zip(_COLOURS * 3, betas):
        ax_law.plot(ks, ricap_boundary_law(beta, size), "o-", ms=3, color=colour, label=f"$\\beta$ = {beta:g}")
        w, h = torch.round(sample_symmetric_beta(beta, 2 * samples, generator=generator).double() * size).long().view(2, -1)
        areas = torch.stack([w * h, (size - w) * h, w * (size - h), (size - w) * (size - h)]).double() / size**2
        largest = np.sort(areas.max(0).values.numpy())
        empty = float((areas == 0).any(0).double().mean())
        ax_share.plot(largest, np.arange(1, samples + 1) / samples, color=colour,
                      label=f"$\\beta$ = {beta:g}: mean {largest.mean():.2f}, empty patch in {100 * empty:.0f}%")
    ax_law.set_yscale("log")
    ax_law.set(xlabel=f"boundary position w (pixels, image of {size})", ylabel="probability (log scale)",
               title="Where the boundary falls")
    ax_law.legend(fontsize=8)
    ax_share.set(xlabel="largest patch's share of the target, max$_k$ w$_k$h$_k$/(WH)",
                 ylabel="fraction of draws <= x", xlim=(0.25, 1.0),
                 title=f"How mixed the target is ({samples} draws each)")
    ax_share.legend(fontsize=8)
    return fig


def ricap_explorer(images: np.ndarray | torch.Tensor, labels: Sequence[int] | np.ndarray,
                   classes: Sequence[str]) -> Any:
    """Sliders for ``beta`` (log scale), the boundary ``(w, h)`` and the crops' seed over :func:`ricap_figure`."""
    import ipywidgets as widgets

    _, _, height, width = normalised_batch(images).shape
    return explorer(
        lambda beta, w, h, seed: ricap_figure(images, labels, classes, beta, (w, h), seed),
        beta=widgets.FloatLogSlider(0.3, base=10, min=-1.5, max=1.0, step=0.05, description="beta"),
        w=widgets.IntSlider(width // 2, 0, width, description="w (px)"),
        h=widgets.IntSlider(height // 3, 0, height, description="h (px)"),
        seed=widgets.IntSlider(0, 0, 20, description="crop seed"),
    )


# --------------------------------------------------------------------------- shared


def mixed_grid_figure(
    images: np.ndarray | torch.Tensor,
    labels: Sequence[int] | np.ndarray,
    classes: Sequence[str],
    method: str = "mixup",
    values: Sequence[float] = (1.0,),
    seed: int = 0,
) -> Figure:
    """A batch mixed by ``method`` once per value of its parameter, one row per value.

    ``method`` is ``"mixup"`` (``values`` are ``alpha``; one ``lambda`` per batch, as the
    training hook does), ``"cutmix"`` (``alpha``; one box per batch) or ``"ricap"``
    (``beta``), applied by :func:`tricks_lab.mixing.mixup`, :func:`~tricks_lab.mixing.cutmix`
    or :func:`~tricks_lab.mixing.ricap` with a generator seeded with ``seed`` for every row.
    The first row is the batch itself; every mixed image is titled with the two (RICAP:
    three) largest entries of its soft target.
    """
    check_choice("method", method, METHODS)
    if len(values) == 0:
        raise ValueError("values must name at least one parameter value")
    for value in values:
        check_positive("alpha" if method != "ricap" else "beta", value)
    batch = normalised_batch(images)
    n = batch.shape[0]
    labels_t = _check_labels(labels, n, classes)
    k = len(classes)
    rows = [(batch, [classes[int(y)] for y in labels_t], "the batch")]
    symbol = "$\\beta$" if method == "ricap" else "$\\alpha$"
    for value in values:
        generator = _generator(seed)
        if method == "mixup":
            mixed, targets = mixup(batch, labels_t, value, num_classes=k, generator=generator)
        elif method == "cutmix":
            mixed, targets = cutmix(batch, labels_t, value, num_classes=k, generator=generator)
        else:
            mixed, targets = ricap(batch, labels_t, value, num_classes=k, generator=generator)
        top = 3 if method == "ricap" else 2
        rows.append((mixed, [_describe_target(t, classes, top) for t in targets], f"{symbol} = {value:g}"))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n + 0.6, 1.6 * len(rows) + 0.4), squeeze=False,
                             layout="constrained")
    for r, (row_images, titles, name) in enumerate(rows):
        pixels = to_display(row_images, normalized=True)
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(pixels[c], interpolation="nearest")
            ax.set_title(titles[c], fontsize=6.5)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=9)
    names = {"mixup": "mixup", "cutmix": "CutMix", "ricap": "RICAP"}
    fig.suptitle(f"{names[method]}: each row the batch above mixed with another {symbol} (same seed {seed});"
                 " titles: the soft target", fontsize=9)
    return fig

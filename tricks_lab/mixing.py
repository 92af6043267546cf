"""Batch-level mixing: mixup, CutMix and RICAP, with soft targets out.

Each op takes a batch ``(images, labels)`` on any device, labels as int64
class indices ``(N,)`` (``num_classes`` then required) or float soft targets
``(N, K)``, and returns ``(mixed_images, soft_targets)``. Training on the
soft targets with a soft-target cross entropy,
``-(t * logits.log_softmax(1)).sum(1).mean()``, equals the papers' weighted
sums of hard-label cross entropies, because the cross entropy is linear in the
target.

As in ``torchvision.transforms.v2`` (``make_params`` / ``transform``), every
op is a sampler that draws a few small parameter tensors (a permutation,
lambdas, boxes, a boundary) from an optional ``torch.Generator``, and a
deterministic ``apply_*`` function that applies them to a batch:
:func:`sample_mixup_params` and :func:`apply_mixup`,
:func:`sample_cutmix_params` and :func:`apply_cutmix`,
:func:`sample_ricap_params` and :func:`apply_ricap`. The parameters are
frozen dataclasses of small tensors that a notebook can plot.

The classes :class:`Mixup`, :class:`CutMix` and :class:`RICAP` are loader
hooks (``stage = "float"``, see :mod:`tricks_lab.transforms`) that apply an op
to each sample with probability ``p``, drawn once per sample.

The RICAP snippet that circulates in blog posts (and in this book's seed
texts) cannot run as printed, and each of its three bugs hides a rule of the
paper that this module follows and its tests check:

1. *Wrong variable name.* The loop reads its labels from ``target`` while the
   batch's labels are bound to ``targets``. The labels of patch ``k`` must be
   those of the very images its pixels were cropped from, i.e. the labels
   gathered with the same permutation as the pixels.
2. *Patching inside the crop loop.* The indentation of the loop body is lost,
   so the patching (which needs all four crops) and the per-patch bookkeeping
   (labels and weights of each ``k``) end up on the wrong side of the loop.
   The paper crops and records all four patches, then patches them once; the
   target sums four terms, one per patch.
3. *A dict overwriting the list.* ``w_ = {}`` rebinds the list of the four
   patch widths to an empty dict, which the loop then uses for both the widths
   and the label weights. The widths ``(w, W - w, w, W - w)`` and the weights
   ``w_k h_k / (W H)`` are different quantities and both are needed.

(The snippet also names the height axis ``I_x``; its crops are consistent
with that, so it is confusing but not wrong.) The seeds' mixup snippet is
right, but draws lambda from NumPy's global generator, which a
``torch.manual_seed`` does not reproduce; here every draw comes from the
``torch.Generator`` passed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import torch

from ._validation import (
    check_choice,
    check_image_batch,
    check_labels,
    check_positive,
    check_positive_int,
    check_probability,
)
from .transforms import Stage

MixMode = Literal["batch", "elem"]
MIX_MODES: tuple[MixMode, ...] = ("batch", "elem")


# ----------------------------------------------------------------------------
# Shared pieces: Beta draws, permutations, soft targets, per-sample selection
# ----------------------------------------------------------------------------


def sample_symmetric_beta(
    concentration: float,
    size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw ``size`` values of ``Beta(a, a)`` with ``a = concentration``, as float32.

    ``Beta(a, a) = X / (X + Y)`` with ``X, Y ~ Gamma(a)`` independent. For a
    small ``a`` the Gamma draws underflow, so they are taken in log space with
    the boost ``Gamma(a) = Gamma(a + 1) U^(1/a)``, ``U ~ Uniform(0, 1]``
    (Marsaglia and Tsang, 2000, "A Simple Method for Generating Gamma
    Variables"): ``lambda = sigmoid(log X - log Y)``. This stays exact as
    ``a -> 0``, where ``Beta(a, a)`` tends to a fair coin on ``{0, 1}``.
    """
    check_positive("concentration", concentration)
    check_positive_int("size", size)
    device = _sampling_device(generator, device)
    shape = torch.full((2, size), concentration + 1.0, dtype=torch.float32, device=device)
    # torch._standard_gamma is the Gamma sampler torch.distributions uses; it takes a generator.
    boosted = torch._standard_gamma(shape, generator=generator)
    uniform = 1.0 - torch.rand((2, size), generator=generator, device=device)
    log_gamma = boosted.log() + uniform.log() / concentration
    return torch.sigmoid(log_gamma[0] - log_gamma[1])


def sample_permutation(
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A uniform random permutation of ``range(batch_size)``: sample ``i`` pairs with ``perm[i]``."""
    check_positive_int("batch_size", batch_size)
    device = _sampling_device(generator, device)
    return torch.randperm(batch_size, generator=generator, device=device)


def sample_selection(
    batch_size: int,
    p: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """One ``Bernoulli(p)`` coin per sample, ``(batch_size,)`` bool: which samples get mixed."""
    check_positive_int("batch_size", batch_size)
    check_probability("p", p)
    device = _sampling_device(generator, device)
    return torch.rand(batch_size, generator=generator, device=device) < p


def soft_targets(
    labels: torch.Tensor, num_classes: int | None, batch_size: int
) -> torch.Tensor:
    """Validate labels and return them as soft targets ``(batch_size, K)``.

    Class indices ``y`` become one-hot rows ``e_y`` (float32); float soft
    targets pass through, and ``num_classes`` may then be left out.
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    num_classes = _resolve_num_classes(labels, num_classes)
    check_labels("labels", labels, num_classes, batch_size)
    if labels.is_floating_point():
        return labels
    return torch.nn.functional.one_hot(labels.long(), num_classes).to(torch.float32)


def _resolve_num_classes(labels: torch.Tensor, num_classes: int | None) -> int:
    if num_classes is not None:
        check_positive_int("num_classes", num_classes)
        return num_classes
    if labels.is_floating_point() and labels.ndim == 2:
        return labels.shape[1]
    raise ValueError(
        "num_classes is required when labels are class indices, got num_classes=None"
    )


def _sampling_device(
    generator: torch.Generator | None, device: torch.device | str | None
) -> torch.device:
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")


def _check_permutation(name: str, permutation: torch.Tensor, batch_size: int) -> None:
    if not isinstance(permutation, torch.Tensor) or permutation.dtype != torch.int64:
        found = permutation.dtype if isinstance(permutation, torch.Tensor) else type(permutation).__name__
        raise TypeError(f"{name} must be an int64 tensor, got {found}")
    if permutation.shape != (batch_size,):
        raise ValueError(
            f"{name} must have shape ({batch_size},), got {tuple(permutation.shape)}"
        )


def _check_per_sample(name: str, values: torch.Tensor, batch_size: int) -> None:
    """Require one value per batch (leading size 1) or one per sample (leading size N)."""
    if values.shape[0] not in (1, batch_size):
        raise ValueError(
            f"{name} must have leading size 1 (one per batch) or {batch_size} (one per sample), "
            f"got shape {tuple(values.shape)}"
        )


def _mix_targets(targets: torch.Tensor, permutation: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """``lam_i t_i + (1 - lam_i) t_perm(i)``, with ``lam`` of shape ``(1,)`` or ``(N,)``."""
    weight = lam.to(device=targets.device, dtype=targets.dtype).view(-1, 1)
    return torch.lerp(targets.index_select(0, permutation), targets, weight)


# ----------------------------------------------------------------------------
# mixup
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MixupParams:
    """Parameters of one mixup draw.

    ``permutation`` ``(N,)``: sample ``i`` is mixed with sample ``permutation[i]``.
    ``lam`` ``(1,)`` in mode ``"batch"`` (one lambda for the batch) or ``(N,)``
    in mode ``"elem"``: the weight of each sample's own image and target.
    """

    permutation: torch.Tensor
    lam: torch.Tensor


def sample_mixup_params(
    batch_size: int,
    alpha: float,
    mode: MixMode = "batch",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> MixupParams:
    """Draw a pairing permutation and ``lambda ~ Beta(alpha, alpha)`` (Zhang et al., 2018,
    "mixup: Beyond Empirical Risk Minimization").

    Mode ``"batch"`` draws one lambda for the whole batch, as the paper does;
    ``"elem"`` draws one per sample.
    """
    check_positive_int("batch_size", batch_size)
    check_positive("alpha", alpha)
    check_choice("mode", mode, MIX_MODES)
    permutation = sample_permutation(batch_size, generator, device)
    lam = sample_symmetric_beta(alpha, 1 if mode == "batch" else batch_size, generator, device)
    return MixupParams(permutation=permutation, lam=lam)


def apply_mixup(
    images: torch.Tensor,
    labels: torch.Tensor,
    params: MixupParams,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each sample with its partner: ``x~_i = lam_i x_i + (1 - lam_i) x_perm(i)`` and
    ``y~_i = lam_i y_i + (1 - lam_i) y_perm(i)`` (Zhang et al., 2018, "mixup: Beyond
    Empirical Risk Minimization", eq. 1).

    ``images`` must be floating point; the output keeps their dtype. The targets
    use lambda rounded to the images' dtype, so they weigh exactly what the pixels do.
    """
    check_image_batch("images", images)
    if not images.is_floating_point():
        raise TypeError(f"images must be floating point for mixup, got dtype {images.dtype}")
    batch_size = images.shape[0]
    targets = soft_targets(labels, num_classes, batch_size)
    _check_permutation("params.permutation", params.permutation, batch_size)
    _check_per_sample("params.lam", params.lam, batch_size)
    permutation = params.permutation.to(images.device)
    pixel_lam = params.lam.to(device=images.device, dtype=images.dtype)
    # index_select gathers several times faster than images[permutation] on CPU; the
    # in-place lerp (partner + lam (own - partner), exact at lam = 0 and 1) saves a buffer.
    mixed = images.index_select(0, permutation).lerp_(images, pixel_lam.view(-1, 1, 1, 1))
    return mixed, _mix_targets(targets, permutation, pixel_lam)


def mixup(
    images: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    num_classes: int | None = None,
    mode: MixMode = "batch",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """mixup (Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization"):
    ``lambda ~ Beta(alpha, alpha)``, ``x~ = lambda x_i + (1 - lambda) x_j``,
    ``y~ = lambda y_i + (1 - lambda) y_j``, ``j`` a random permutation of the batch.

    Returns ``(mixed_images, soft_targets)``. See :func:`sample_mixup_params`
    for ``mode`` and :func:`apply_mixup` for the application.
    """
    check_image_batch("images", images)
    params = sample_mixup_params(images.shape[0], alpha, mode, generator, images.device)
    return apply_mixup(images, labels, params, num_classes)


# ----------------------------------------------------------------------------
# CutMix
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CutMixParams:
    """Parameters of one CutMix draw.

    ``permutation`` ``(N,)``: sample ``i`` receives a box from ``permutation[i]``.
    ``boxes`` int64 ``(1, 4)`` (mode ``"batch"``) or ``(N, 4)`` (``"elem"``):
    ``(x1, y1, x2, y2)``, the pasted region ``[y1, y2) x [x1, x2)``, clipped to the image.
    ``sampled_lam``: the lambdas drawn from ``Beta(alpha, alpha)``.
    ``lam``: ``1 - box area / (H W)``, the fraction of each image left in place,
    recomputed after clipping; it is the weight of the sample's own target.
    """

    permutation: torch.Tensor
    boxes: torch.Tensor
    sampled_lam: torch.Tensor
    lam: torch.Tensor


def sample_cutmix_params(
    batch_size: int,
    height: int,
    width: int,
    alpha: float,
    mode: MixMode = "batch",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> CutMixParams:
    """Draw CutMix boxes (Yun et al., 2019, "CutMix: Regularization Strategy to Train Strong
    Classifiers with Localizable Features", sec. 3.1).

    ``lambda ~ Beta(alpha, alpha)``; the box has sides ``r_w = floor(W sqrt(1 - lambda))``
    and ``r_h = floor(H sqrt(1 - lambda))``, its centre ``(r_x, r_y)`` uniform over the
    pixels, and is clipped to the image; the returned ``lam`` is recomputed from the
    clipped box, ``1 - (x2 - x1)(y2 - y1) / (W H)``, so the targets match the pixels.
    Mode ``"batch"`` draws one box for the batch (the paper); ``"elem"`` one per sample.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("height", height)
    check_positive_int("width", width)
    check_positive("alpha", alpha)
    check_choice("mode", mode, MIX_MODES)
    count = 1 if mode == "batch" else batch_size
    permutation = sample_permutation(batch_size, generator, device)
    sampled_lam = sample_symmetric_beta(alpha, count, generator, device)
    boxes = cutmix_boxes(sampled_lam, height, width, generator)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lam = 1.0 - area.to(torch.float32) / (height * width)
    return CutMixParams(permutation=permutation, boxes=boxes, sampled_lam=sampled_lam, lam=lam)


def cutmix_boxes(
    lam: torch.Tensor, height: int, width: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Boxes ``(x1, y1, x2, y2)`` of sides ``floor(side sqrt(1 - lam))`` at uniform centres, clipped."""
    cut_ratio = torch.sqrt(1.0 - lam)
    sizes = torch.stack(
        [torch.floor(width * cut_ratio), torch.floor(height * cut_ratio)], dim=1
    ).long()
    extent = torch.tensor([width, height], device=lam.device)
    centres = sample_uniform_int(extent - 1, (lam.shape[0], 2), generator)
    low = centres - sizes // 2
    high = low + sizes
    zero = torch.zeros_like(extent)
    return torch.cat([low.clamp(zero, extent), high.clamp(zero, extent)], dim=1)


def sample_uniform_int(
    high: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator | None
) -> torch.Tensor:
    """Integers uniform on ``{0, ..., high}`` (``high`` broadcast against ``shape``), int64."""
    uniform = torch.rand(shape, generator=generator, device=high.device, dtype=torch.float64)
    return torch.minimum(torch.floor(uniform * (high + 1)).long(), high)


def apply_cutmix(
    images: torch.Tensor,
    labels: torch.Tensor,
    params: CutMixParams,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste box ``B_i`` of image ``perm(i)`` into image ``i``:
    ``x~_i = M_i * x_i + (1 - M_i) * x_perm(i)``, ``M_i`` zero on the box, and
    ``y~_i = lam_i y_i + (1 - lam_i) y_perm(i)`` with ``lam_i = 1 - |B_i| / (W H)``
    (Yun et al., 2019, "CutMix: Regularization Strategy to Train Strong Classifiers
    with Localizable Features", eq. 1).

    Works for any image dtype (pixels are copied, never blended).
    """
    check_image_batch("images", images)
    batch_size, _, height, width = images.shape
    targets = soft_targets(labels, num_classes, batch_size)
    _check_permutation("params.permutation", params.permutation, batch_size)
    _check_per_sample("params.boxes", params.boxes, batch_size)
    _check_per_sample("params.lam", params.lam, batch_size)
    _check_boxes(params.boxes, height, width)
    permutation = params.permutation.to(images.device)
    if params.boxes.shape[0] == 1:
        mixed = _paste_one_box(images, permutation, params.boxes[0].tolist())
    else:
        mixed = _paste_boxes(images, permutation, params.boxes.to(images.device))
    return mixed, _mix_targets(targets, permutation, params.lam)


def _check_boxes(boxes: torch.Tensor, height: int, width: int) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.dtype != torch.int64:
        raise ValueError(
            f"params.boxes must be an int64 tensor of shape (n, 4), got {boxes.dtype} "
            f"{tuple(boxes.shape)}"
        )
    x1, y1, x2, y2 = boxes.unbind(1)
    inside = (0 <= x1) & (x1 <= x2) & (x2 <= width) & (0 <= y1) & (y1 <= y2) & (y2 <= height)
    if not bool(inside.all()):
        raise ValueError(
            f"params.boxes must satisfy 0 <= x1 <= x2 <= {width} and 0 <= y1 <= y2 <= {height}, "
            f"got {boxes[~inside][0].tolist()}"
        )


def _paste_one_box(
    images: torch.Tensor, permutation: torch.Tensor, box: list[int]
) -> torch.Tensor:
    """One box for the batch: two slice copies, no full-batch gather."""
    x1, y1, x2, y2 = box
    mixed = images.clone()
    mixed[:, :, y1:y2, x1:x2] = images[:, :, y1:y2, x1:x2].index_select(0, permutation)
    return mixed


def _paste_boxes(images: torch.Tensor, permutation: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """One box per sample: ``keep = max(row outside box, column outside box)``, then a select.

    Float images select in place with ``partner.lerp_(own, keep)``, exact for a 0/1
    ``keep`` and, with no second batch-sized buffer, a few times faster than
    ``torch.where`` on CPU; other dtypes use ``torch.where``.
    """
    _, _, height, width = images.shape
    rows = torch.arange(height, device=images.device).view(1, 1, height, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, 1, width)
    x1, y1, x2, y2 = (edge.view(-1, 1, 1, 1) for edge in boxes.unbind(1))
    outside_rows = (rows < y1) | (rows >= y2)
    outside_cols = (cols < x1) | (cols >= x2)
    partners = images.index_select(0, permutation)
    if images.is_floating_point():
        keep = torch.maximum(outside_rows.to(images.dtype), outside_cols.to(images.dtype))
        return partners.lerp_(images, keep)
    return torch.where(outside_rows | outside_cols, images, partners)


def cutmix(
    images: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    num_classes: int | None = None,
    generator: torch.Generator | None = None,
    mode: MixMode = "batch",
) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al., 2019, "CutMix: Regularization Strategy to Train Strong
    Classifiers with Localizable Features"): paste a box of area fraction about
    ``1 - lambda``, ``lambda ~ Beta(alpha, alpha)``, from a paired image, with
    ``y~ = lam y_i + (1 - lam) y_j`` and ``lam`` recomputed from the clipped box.

    Returns ``(mixed_images, soft_targets)``. See :func:`sample_cutmix_params`
    for the boxes and ``mode`` and :func:`apply_cutmix` for the application.
    """
    check_image_batch("images", images)
    batch_size, _, height, width = images.shape
    params = sample_cutmix_params(
        batch_size, height, width, alpha, mode, generator, images.device
    )
    return apply_cutmix(images, labels, params, num_classes)


# ----------------------------------------------------------------------------
# RICAP
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RicapParams:
    """Parameters of one RICAP draw; patch ``k`` is 0 top-left, 1 top-right,
    2 bottom-left, 3 bottom-right.

    ``boundary`` int64 ``(2,)``: ``(w, h)``, where the four patches meet.
    ``sizes`` int64 ``(4, 2)``: ``(w_k, h_k)``, i.e. ``(w, h), (W - w, h), (w, H - h),
    (W - w, H - h)``.
    ``crop_origins`` int64 ``(4, 2)``: ``(x_k, y_k)``, top-left corner of crop ``k``
    in its source image, uniform on ``[0, W - w_k] x [0, H - h_k]``.
    ``permutations`` int64 ``(4, N)``: patch ``k`` of output ``i`` comes from image
    ``permutations[k, i]``.
    ``weights`` float32 ``(4,)``: ``w_k h_k / (W H)``, the target weight of patch ``k``.
    """

    boundary: torch.Tensor
    sizes: torch.Tensor
    crop_origins: torch.Tensor
    permutations: torch.Tensor
    weights: torch.Tensor


def ricap_patch_sizes(boundary: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sizes ``(w_k, h_k)`` of the four patches, ``(4, 2)``, for a boundary ``(w, h)``:
    ``(w, h), (W - w, h), (w, H - h), (W - w, H - h)`` (Takahashi et al., 2018, "RICAP:
    Random Image Cropping and Patching Data Augmentation for Deep CNNs", sec. 3.1).
    """
    check_positive_int("height", height)
    check_positive_int("width", width)
    w, h = boundary[0], boundary[1]
    widths = torch.stack([w, width - w, w, width - w])
    heights = torch.stack([h, h, height - h, height - h])
    return torch.stack([widths, heights], dim=1)


def ricap_patch_positions(boundary: torch.Tensor) -> torch.Tensor:
    """Top-left corners ``(x, y)`` of the four patches in the output, ``(4, 2)``:
    ``(0, 0), (w, 0), (0, h), (w, h)`` for a boundary ``(w, h)``."""
    w, h = boundary[0], boundary[1]
    zero = torch.zeros_like(w)
    return torch.stack([torch.stack([zero, zero]), torch.stack([w, zero]),
                        torch.stack([zero, h]), torch.stack([w, h])])


def sample_ricap_params(
    batch_size: int,
    height: int,
    width: int,
    beta: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> RicapParams:
    """Draw RICAP's boundary, crops and pairings (Takahashi et al., 2018, "RICAP: Random
    Image Cropping and Patching Data Augmentation for Deep CNNs", sec. 3.1).

    ``w = round(W Beta(beta, beta))``, ``h = round(H Beta(beta, beta))``; for each of the
    four patches an independent permutation of the batch and a crop origin uniform over
    the positions where the crop fits; weights ``w_k h_k / (W H)``, which sum to 1.
    A zero-size patch is legal and gets weight 0. One boundary and one origin per patch
    for the whole batch, as in the paper.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("height", height)
    check_positive_int("width", width)
    check_positive("beta", beta)
    device = _sampling_device(generator, device)
    extent = torch.tensor([width, height], device=device)
    fractions = sample_symmetric_beta(beta, 2, generator, device)
    boundary = torch.round(fractions.double() * extent).long()
    sizes = ricap_patch_sizes(boundary, height, width)
    crop_origins = sample_uniform_int(extent - sizes, (4, 2), generator)
    permutations = torch.stack([sample_permutation(batch_size, generator, device) for _ in range(4)])
    weights = (sizes.prod(dim=1).double() / (width * height)).to(torch.float32)
    return RicapParams(
        boundary=boundary,
        sizes=sizes,
        crop_origins=crop_origins,
        permutations=permutations,
        weights=weights,
    )


def apply_ricap(
    images: torch.Tensor,
    labels: torch.Tensor,
    params: RicapParams,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch four crops into one image per sample and mix the targets by area:
    output patch ``k`` of sample ``i`` is ``x_{perm_k(i)}[y_k : y_k + h_k, x_k : x_k + w_k]``,
    and ``y~_i = sum_k (w_k h_k / (W H)) y_{perm_k(i)}`` (Takahashi et al., 2018, "RICAP:
    Random Image Cropping and Patching Data Augmentation for Deep CNNs", eq. 1-2).

    Works for any image dtype (pixels are copied, never blended).
    """
    check_image_batch("images", images)
    batch_size, _, height, width = images.shape
    targets = soft_targets(labels, num_classes, batch_size)
    _check_ricap_params(params, batch_size, height, width)
    permutations = params.permutations.to(images.device)
    patched = torch.empty_like(images)
    positions = ricap_patch_positions(params.boundary).tolist()
    crops = zip(positions, params.crop_origins.tolist(), params.sizes.tolist(), permutations)
    for (px, py), (cx, cy), (w_k, h_k), permutation in crops:
        crop = images[:, :, cy:cy + h_k, cx:cx + w_k]
        patched[:, :, py:py + h_k, px:px + w_k] = crop.index_select(0, permutation)
    weights = params.weights.to(device=targets.device, dtype=targets.dtype)
    sources = targets.index_select(0, permutations.to(targets.device).flatten())
    mixed_targets = (weights.view(4, 1, 1) * sources.view(4, batch_size, -1)).sum(0)
    return patched, mixed_targets


def _check_ricap_params(params: RicapParams, batch_size: int, height: int, width: int) -> None:
    if params.permutations.shape != (4, batch_size) or params.permutations.dtype != torch.int64:
        raise ValueError(
            f"params.permutations must be int64 of shape (4, {batch_size}), got "
            f"{params.permutations.dtype} {tuple(params.permutations.shape)}"
        )
    w, h = params.boundary.tolist()
    if not (0 <= w <= width and 0 <= h <= height):
        raise ValueError(
            f"params.boundary must lie in [0, {width}] x [0, {height}] for these images, "
            f"got {(w, h)}"
        )
    if not torch.equal(params.sizes.cpu(), ricap_patch_sizes(params.boundary.cpu(), height, width)):
        raise ValueError(
            f"params.sizes must be the patch sizes of boundary {(w, h)} in a {width}x{height} "
            f"image, got {params.sizes.tolist()}"
        )
    ends = params.crop_origins.cpu() + params.sizes.cpu()
    if bool((params.crop_origins.cpu() < 0).any()) or bool((ends > torch.tensor([width, height])).any()):
        raise ValueError(
            f"params.crop_origins must keep every crop inside a {width}x{height} image, "
            f"got origins {params.crop_origins.tolist()} for sizes {params.sizes.tolist()}"
        )


def ricap(
    images: torch.Tensor,
    labels: torch.Tensor,
    beta: float,
    num_classes: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RICAP (Takahashi et al., 2018, "RICAP: Random Image Cropping and Patching Data
    Augmentation for Deep CNNs"): a boundary ``(w, h)`` with ``w = round(W Beta(beta, beta))``
    splits the output into four patches, each cropped from an independently shuffled
    batch; the targets are mixed in proportion to the patch areas.

    Returns ``(mixed_images, soft_targets)``. See :func:`sample_ricap_params` and
    :func:`apply_ricap`.
    """
    check_image_batch("images", images)
    batch_size, _, height, width = images.shape
    params = sample_ricap_params(batch_size, height, width, beta, generator, images.device)
    return apply_ricap(images, labels, params, num_classes)


# ----------------------------------------------------------------------------
# Loader hooks
# ----------------------------------------------------------------------------


class Mixing(ABC):
    """Base of the mixing hooks: a :class:`tricks_lab.transforms.BatchTransform` at the
    ``"float"`` stage that returns soft targets.

    Each sample is mixed with probability ``p``, one ``Bernoulli(p)`` coin per sample
    (drawn once, so the rate is ``p``, not ``p**2``): a sample not selected keeps its
    image and its one-hot target, ``x~_i = s_i mix(x)_i + (1 - s_i) x_i``. Selected
    samples may still take their partners from the whole batch.
    """

    stage: Stage = "float"

    def __init__(self, num_classes: int, p: float) -> None:
        check_positive_int("num_classes", num_classes)
        check_probability("p", p)
        self.num_classes = num_classes
        self.p = p

    @abstractmethod
    def mix(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix the whole batch; ``targets`` are soft ``(N, num_classes)``."""

    def __call__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loader hook: ``(images, targets, generator) -> (images, soft_targets)``."""
        check_image_batch("images", images)
        targets = soft_targets(targets, self.num_classes, images.shape[0])
        if self.p == 0.0:
            return images, targets
        if self.p == 1.0:
            return self.mix(images, targets, generator)
        selected = sample_selection(images.shape[0], self.p, generator, images.device)
        mixed_images, mixed_targets = self.mix(images, targets, generator)
        return (
            torch.where(selected.view(-1, 1, 1, 1), mixed_images, images),
            torch.where(selected.view(-1, 1), mixed_targets, targets),
        )


class Mixup(Mixing):
    """mixup as a loader hook (Zhang et al., 2018, "mixup: Beyond Empirical Risk
    Minimization"): ``x~ = lambda x_i + (1 - lambda) x_j``, ``lambda ~ Beta(alpha, alpha)``,
    applied to each sample with probability ``p``. See :func:`mixup`.
    """

    def __init__(self, alpha: float, num_classes: int, p: float = 1.0, mode: MixMode = "batch") -> None:
        check_positive("alpha", alpha)
        check_choice("mode", mode, MIX_MODES)
        super().__init__(num_classes, p)
        self.alpha = alpha
        self.mode = mode

    def mix(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return mixup(images, targets, self.alpha, self.num_classes, self.mode, generator)

    def __repr__(self) -> str:
        return (
            f"Mixup(alpha={self.alpha!r}, num_classes={self.num_classes!r}, p={self.p!r}, "
            f"mode={self.mode!r})"
        )


class CutMix(Mixing):
    """CutMix as a loader hook (Yun et al., 2019, "CutMix: Regularization Strategy to Train
    Strong Classifiers with Localizable Features"): a box of area fraction ``1 - lambda``,
    ``lambda ~ Beta(alpha, alpha)``, pasted from a paired image, applied to each sample with
    probability ``p``. See :func:`cutmix`.
    """

    def __init__(self, alpha: float, num_classes: int, p: float = 1.0, mode: MixMode = "batch") -> None:
        check_positive("alpha", alpha)
        check_choice("mode", mode, MIX_MODES)
        super().__init__(num_classes, p)
        self.alpha = alpha
        self.mode = mode

    def mix(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return cutmix(images, targets, self.alpha, self.num_classes, generator, self.mode)

    def __repr__(self) -> str:
        return (
            f"CutMix(alpha={self.alpha!r}, num_classes={self.num_classes!r}, p={self.p!r}, "
            f"mode={self.mode!r})"
        )


class RICAP(Mixing):
    """RICAP as a loader hook (Takahashi et al., 2018, "RICAP: Random Image Cropping and
    Patching Data Augmentation for Deep CNNs"): four crops patched at a boundary
    ``(round(W Beta(beta, beta)), round(H Beta(beta, beta)))``, targets mixed by area,
    applied to each sample with probability ``p``. See :func:`ricap`.
    """

    def __init__(self, beta: float, num_classes: int, p: float = 1.0) -> None:
        check_positive("beta", beta)
        super().__init__(num_classes, p)
        self.beta = beta

    def mix(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return ricap(images, targets, self.beta, self.num_classes, generator)

    def __repr__(self) -> str:
        return f"RICAP(beta={self.beta!r}, num_classes={self.num_classes!r}, p={self.p!r})"

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
lambdas, boxes, a boundary, which samples are mixed) from an optional
``torch.Generator``, and a deterministic ``apply_*`` function that applies
them to a batch, with the same signatures for the three ops::

    sample_<op>(n, [height, width,] concentration, *, p=1.0, [mode=...,] generator=None, device=None)
    apply_<op>(images, targets, params, *, num_classes=None)
    <op>(images, targets, concentration, *, num_classes=None, p=1.0, [mode=...,] generator=None)

(:func:`sample_mixup` / :func:`apply_mixup` / :func:`mixup`, :func:`sample_cutmix` /
:func:`apply_cutmix` / :func:`cutmix`, :func:`sample_ricap` / :func:`apply_ricap` /
:func:`ricap`). The parameters are frozen dataclasses of small tensors that a
notebook can plot; boxes are ``(x1, y1, x2, y2)``, half-open, torchvision's XYXY.

The classes :class:`Mixup`, :class:`CutMix` and :class:`RICAP` are loader
hooks (``stage = "float"``, :class:`tricks_lab.hooks.Hook`) that mix each sample
with probability ``p``, one coin per sample, drawn once. They check their
arguments when built and run unchecked, synchronisation-free kernels on every
batch. :data:`MIXINGS` maps the recipe's names to them; each is called as
``factory(concentration, num_classes, p=p)``.

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

from dataclasses import dataclass
from typing import Any, Literal

import torch

from ._validation import (
    check_choice,
    check_image_batch,
    check_positive,
    check_positive_int,
    check_probability,
    check_targets,
)
from .hooks import Hook, Stage, sample_coin, sample_uniform_int, sampling_device

__all__ = [
    "MIXINGS",
    "MIX_MODES",
    "RICAP",
    "CutMix",
    "CutMixParams",
    "MixMode",
    "Mixing",
    "Mixup",
    "MixupParams",
    "RicapParams",
    "apply_cutmix",
    "apply_mixup",
    "apply_ricap",
    "cutmix",
    "cutmix_boxes",
    "mixup",
    "ricap",
    "ricap_patch_boxes",
    "sample_cutmix",
    "sample_mixup",
    "sample_permutation",
    "sample_ricap",
    "sample_symmetric_beta",
    "soft_targets",
]

MixMode = Literal["batch", "elem"]
MIX_MODES: tuple[MixMode, ...] = ("batch", "elem")


# ----------------------------------------------------------------------------
# Shared pieces: Beta draws, permutations, soft targets
# ----------------------------------------------------------------------------


def sample_symmetric_beta(
    concentration: float,
    size: int,
    *,
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
    return _beta(concentration, size, generator, sampling_device(generator, device))


def _beta(concentration: float, size: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    shape = torch.full((2, size), concentration + 1.0, dtype=torch.float32, device=device)
    # torch._standard_gamma is the Gamma sampler torch.distributions uses; it takes a generator.
    boosted = torch._standard_gamma(shape, generator=generator)
    uniform = 1.0 - torch.rand((2, size), generator=generator, device=device)
    log_gamma = boosted.log() + uniform.log() / concentration
    return torch.sigmoid(log_gamma[0] - log_gamma[1])


def sample_permutation(
    n: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A uniform random permutation of ``range(n)``: sample ``i`` pairs with ``perm[i]``."""
    check_positive_int("n", n)
    return torch.randperm(n, generator=generator, device=sampling_device(generator, device))


def soft_targets(targets: torch.Tensor, num_classes: int | None, n: int) -> torch.Tensor:
    """Validate targets and return them as soft targets ``(n, K)``.

    Class indices ``y`` become one-hot rows ``e_y`` (float32); float soft
    targets pass through, and ``num_classes`` may then be left out. The label
    range is checked on the CPU only (elsewhere it would wait for the device).
    """
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    num_classes = _resolve_num_classes(targets, num_classes)
    check_targets("targets", targets, num_classes, n)
    return _as_soft(targets, num_classes)


def _as_soft(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Unchecked one-hot (float32) of class indices; soft targets pass through. No sync."""
    if targets.is_floating_point():
        return targets
    one_hot = torch.zeros(targets.shape[0], num_classes, dtype=torch.float32, device=targets.device)
    return one_hot.scatter_(1, targets.view(-1, 1), 1.0)


def _resolve_num_classes(targets: torch.Tensor, num_classes: int | None) -> int:
    if num_classes is not None:
        check_positive_int("num_classes", num_classes)
        return num_classes
    if targets.is_floating_point() and targets.ndim == 2:
        return targets.shape[1]
    raise ValueError("num_classes is required when targets are class indices, got num_classes=None")


def _check_sampler(n: int, concentration_name: str, concentration: float, p: float) -> None:
    check_positive_int("n", n)
    check_positive(concentration_name, concentration)
    check_probability("p", p)


def _check_mixing_images(images: Any, *, floating: bool = False, op: str = "") -> None:
    check_image_batch("images", images)
    if floating and not images.is_floating_point():
        raise TypeError(f"images must be floating point for {op}, got dtype {images.dtype}")


def _check_tensor(name: str, value: Any, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {value.dtype}")
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")


def _check_per_sample(name: str, values: Any, n: int, tail: tuple[int, ...], dtype: torch.dtype) -> None:
    """Require one value per batch (leading size 1) or one per sample (leading size n)."""
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(values).__name__}")
    if values.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {values.dtype}")
    if values.ndim != 1 + len(tail) or values.shape[0] not in (1, n) or tuple(values.shape[1:]) != tail:
        raise ValueError(
            f"{name} must have shape (1, ...) (one per batch) or ({n}, ...) (one per sample) with "
            f"trailing shape {tail}, got {tuple(values.shape)}"
        )


def _mix_targets(targets: torch.Tensor, permutation: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """``lam_i t_i + (1 - lam_i) t_perm(i)``, with ``lam`` of shape ``(1,)`` or ``(N,)``."""
    weight = lam.to(device=targets.device, dtype=targets.dtype).view(-1, 1)
    return torch.lerp(targets.index_select(0, permutation), targets, weight)


def _selected_weight(lam: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Per-sample weight of the own image: ``lam_i`` where selected, 1 (no mixing) elsewhere."""
    return torch.where(selected, lam.to(selected.device), 1.0)


# ----------------------------------------------------------------------------
# mixup
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MixupParams:
    """Parameters of one mixup draw for ``N`` samples.

    ``permutation`` int64 ``(N,)``: sample ``i`` is mixed with sample ``permutation[i]``.
    ``lam`` float32 ``(1,)`` (mode ``"batch"``, one lambda for the batch) or ``(N,)``
    (``"elem"``): the weight of each sample's own image and target.
    ``selected`` bool ``(N,)``: which samples are mixed (the per-sample coin ``p``);
    the others keep their image and target (as if ``lam_i = 1``).
    """

    permutation: torch.Tensor
    lam: torch.Tensor
    selected: torch.Tensor


def sample_mixup(
    n: int,
    alpha: float,
    *,
    p: float = 1.0,
    mode: MixMode = "batch",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> MixupParams:
    """Draw the coins, a pairing permutation and ``lambda ~ Beta(alpha, alpha)`` (Zhang et al.,
    2018, "mixup: Beyond Empirical Risk Minimization").

    Each sample is selected with probability ``p`` (no draw when ``p = 1``). Mode
    ``"batch"`` draws one lambda for the whole batch, as the paper does; ``"elem"``
    one per sample. Drawn on ``device`` (default: the generator's, else the CPU).
    """
    _check_sampler(n, "alpha", alpha, p)
    check_choice("mode", mode, MIX_MODES)
    return _sample_mixup(n, alpha, p, mode, generator, sampling_device(generator, device))


def _sample_mixup(
    n: int, alpha: float, p: float, mode: str, generator: torch.Generator | None, device: torch.device
) -> MixupParams:
    selected = sample_coin(n, p, generator=generator, device=device)
    permutation = torch.randperm(n, generator=generator, device=device)
    lam = _beta(alpha, 1 if mode == "batch" else n, generator, device)
    return MixupParams(permutation=permutation, lam=lam, selected=selected)


def apply_mixup(
    images: torch.Tensor,
    targets: torch.Tensor,
    params: MixupParams,
    *,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each selected sample with its partner: ``x~_i = lam_i x_i + (1 - lam_i) x_perm(i)``
    and ``y~_i = lam_i y_i + (1 - lam_i) y_perm(i)`` (Zhang et al., 2018, "mixup: Beyond
    Empirical Risk Minimization", eq. 1); unselected samples are returned as they are.

    ``images`` must be floating point; the output keeps their dtype. The targets
    use lambda rounded to the images' dtype, so they weigh exactly what the pixels do.
    """
    _check_mixing_images(images, floating=True, op="mixup")
    n = images.shape[0]
    soft = soft_targets(targets, num_classes, n)
    if not isinstance(params, MixupParams):
        raise TypeError(f"params must be MixupParams, got {type(params).__name__}")
    _check_tensor("params.permutation", params.permutation, (n,), torch.int64)
    _check_per_sample("params.lam", params.lam, n, (), torch.float32)
    _check_tensor("params.selected", params.selected, (n,), torch.bool)
    return _apply_mixup(images, soft, params)


def _apply_mixup(
    images: torch.Tensor, targets: torch.Tensor, params: MixupParams
) -> tuple[torch.Tensor, torch.Tensor]:
    permutation = params.permutation.to(images.device)
    weight = _selected_weight(params.lam, params.selected).to(device=images.device, dtype=images.dtype)
    # index_select gathers several times faster than images[permutation] on CPU; the
    # in-place lerp (partner + lam (own - partner), exact at lam = 0 and 1) saves a buffer.
    mixed = images.index_select(0, permutation).lerp_(images, weight.view(-1, 1, 1, 1))
    return mixed, _mix_targets(targets, permutation.to(targets.device), weight)


def mixup(
    images: torch.Tensor,
    targets: torch.Tensor,
    alpha: float,
    *,
    num_classes: int | None = None,
    p: float = 1.0,
    mode: MixMode = "batch",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """mixup (Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization"):
    ``lambda ~ Beta(alpha, alpha)``, ``x~ = lambda x_i + (1 - lambda) x_j``,
    ``y~ = lambda y_i + (1 - lambda) y_j``, ``j`` a random permutation of the batch.

    Returns ``(mixed_images, soft_targets)``: :func:`sample_mixup` on the images'
    device, then :func:`apply_mixup`.
    """
    _check_mixing_images(images, floating=True, op="mixup")
    params = sample_mixup(images.shape[0], alpha, p=p, mode=mode, generator=generator, device=images.device)
    return apply_mixup(images, targets, params, num_classes=num_classes)


# ----------------------------------------------------------------------------
# CutMix
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CutMixParams:
    """Parameters of one CutMix draw for ``N`` samples.

    ``permutation`` int64 ``(N,)``: sample ``i`` receives a box from ``permutation[i]``.
    ``boxes`` int64 ``(1, 4)`` (mode ``"batch"``) or ``(N, 4)`` (``"elem"``):
    ``(x1, y1, x2, y2)``, the pasted region ``[x1, x2) x [y1, y2)``, clipped to the image.
    ``sampled_lam`` float32: the lambdas drawn from ``Beta(alpha, alpha)``.
    ``lam`` float32: ``1 - box area / (H W)``, the fraction of each image left in place,
    recomputed after clipping; it is the weight of the sample's own target.
    ``selected`` bool ``(N,)``: which samples get a box (the per-sample coin ``p``).
    """

    permutation: torch.Tensor
    boxes: torch.Tensor
    sampled_lam: torch.Tensor
    lam: torch.Tensor
    selected: torch.Tensor


def sample_cutmix(
    n: int,
    height: int,
    width: int,
    alpha: float,
    *,
    p: float = 1.0,
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
    Each sample is selected with probability ``p`` (no draw when ``p = 1``).
    """
    _check_sampler(n, "alpha", alpha, p)
    check_positive_int("height", height)
    check_positive_int("width", width)
    check_choice("mode", mode, MIX_MODES)
    return _sample_cutmix(n, height, width, alpha, p, mode, generator, sampling_device(generator, device))


def _sample_cutmix(
    n: int, height: int, width: int, alpha: float, p: float, mode: str,
    generator: torch.Generator | None, device: torch.device,
) -> CutMixParams:
    selected = sample_coin(n, p, generator=generator, device=device)
    permutation = torch.randperm(n, generator=generator, device=device)
    sampled_lam = _beta(alpha, 1 if mode == "batch" else n, generator, device)
    boxes = cutmix_boxes(sampled_lam, height, width, generator=generator)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lam = 1.0 - area.to(torch.float32) / (height * width)
    return CutMixParams(permutation=permutation, boxes=boxes, sampled_lam=sampled_lam, lam=lam,
                        selected=selected)


def cutmix_boxes(
    lam: torch.Tensor, height: int, width: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Boxes ``(x1, y1, x2, y2)`` of sides ``floor(side sqrt(1 - lam))`` at uniform centres, clipped.

    One box per entry of ``lam``, ``(len(lam), 4)`` int64, on ``lam``'s device (Yun et al.,
    2019, "CutMix", sec. 3.1).
    """
    cut_ratio = torch.sqrt(1.0 - lam)
    sizes = torch.stack([torch.floor(width * cut_ratio), torch.floor(height * cut_ratio)], dim=1).long()
    extent = torch.tensor([width, height], device=lam.device)
    centres = sample_uniform_int((extent - 1).expand(lam.shape[0], 2), generator=generator)
    low = centres - sizes // 2
    high = low + sizes
    zero = torch.zeros_like(extent)
    return torch.cat([low.clamp(zero, extent), high.clamp(zero, extent)], dim=1)


def apply_cutmix(
    images: torch.Tensor,
    targets: torch.Tensor,
    params: CutMixParams,
    *,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste box ``B_i`` of image ``perm(i)`` into each selected image ``i``:
    ``x~_i = M_i * x_i + (1 - M_i) * x_perm(i)``, ``M_i`` zero on the box, and
    ``y~_i = lam_i y_i + (1 - lam_i) y_perm(i)`` with ``lam_i = 1 - |B_i| / (W H)``
    (Yun et al., 2019, "CutMix: Regularization Strategy to Train Strong Classifiers
    with Localizable Features", eq. 1). Unselected samples are returned as they are.

    Works for any image dtype (pixels are copied, never blended).
    """
    _check_mixing_images(images)
    n, _, height, width = images.shape
    soft = soft_targets(targets, num_classes, n)
    if not isinstance(params, CutMixParams):
        raise TypeError(f"params must be CutMixParams, got {type(params).__name__}")
    _check_tensor("params.permutation", params.permutation, (n,), torch.int64)
    _check_per_sample("params.boxes", params.boxes, n, (4,), torch.int64)
    _check_per_sample("params.lam", params.lam, n, (), torch.float32)
    _check_tensor("params.selected", params.selected, (n,), torch.bool)
    _check_boxes("params.boxes", params.boxes, height, width)
    return _apply_cutmix(images, soft, params)


def _apply_cutmix(
    images: torch.Tensor, targets: torch.Tensor, params: CutMixParams
) -> tuple[torch.Tensor, torch.Tensor]:
    device = images.device
    permutation = params.permutation.to(device)
    selected = params.selected.to(device)
    boxes = torch.where(selected.view(-1, 1), params.boxes.to(device), 0)
    mixed = _paste_boxes(images, permutation, boxes)
    lam = _selected_weight(params.lam, params.selected)
    return mixed, _mix_targets(targets, permutation.to(targets.device), lam)


def _check_boxes(name: str, boxes: torch.Tensor, height: int, width: int) -> None:
    """Require ``0 <= x1 <= x2 <= W`` and ``0 <= y1 <= y2 <= H`` (reads the boxes on the host)."""
    x1, y1, x2, y2 = boxes.reshape(-1, 4).cpu().unbind(1)
    inside = (0 <= x1) & (x1 <= x2) & (x2 <= width) & (0 <= y1) & (y1 <= y2) & (y2 <= height)
    if not bool(inside.all()):
        bad = boxes.reshape(-1, 4).cpu()[~inside][0].tolist()
        raise ValueError(
            f"{name} must satisfy 0 <= x1 <= x2 <= {width} and 0 <= y1 <= y2 <= {height} "
            f"(x1, y1, x2, y2), got {bad}"
        )


def _paste_boxes(images: torch.Tensor, permutation: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Paste box ``i`` (one row of ``boxes`` per sample, or one for all) of ``perm(i)`` into ``i``.

    ``keep = max(row outside box, column outside box)``, then a select: float images
    select in place with ``partner.lerp_(own, keep)``, exact for a 0/1 ``keep`` and,
    with no second batch-sized buffer, a few times faster than ``torch.where`` on CPU;
    other dtypes use ``torch.where``. No host synchronisation.
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
    targets: torch.Tensor,
    alpha: float,
    *,
    num_classes: int | None = None,
    p: float = 1.0,
    mode: MixMode = "batch",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al., 2019, "CutMix: Regularization Strategy to Train Strong
    Classifiers with Localizable Features"): paste a box of area fraction about
    ``1 - lambda``, ``lambda ~ Beta(alpha, alpha)``, from a paired image, with
    ``y~ = lam y_i + (1 - lam) y_j`` and ``lam`` recomputed from the clipped box.

    Returns ``(mixed_images, soft_targets)``: :func:`sample_cutmix` on the images'
    device, then :func:`apply_cutmix`.
    """
    _check_mixing_images(images)
    n, _, height, width = images.shape
    params = sample_cutmix(n, height, width, alpha, p=p, mode=mode, generator=generator, device=images.device)
    return apply_cutmix(images, targets, params, num_classes=num_classes)


# ----------------------------------------------------------------------------
# RICAP
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RicapParams:
    """Parameters of one RICAP draw for ``N`` samples; patch ``k`` is 0 top-left,
    1 top-right, 2 bottom-left, 3 bottom-right.

    ``boundary`` int64 ``(2,)``: the point ``(w, h)`` where the four patches meet.
    ``patch_boxes`` int64 ``(4, 4)``: ``(x1, y1, x2, y2)`` of patch ``k`` in the output,
    ``(0, 0, w, h), (w, 0, W, h), (0, h, w, H), (w, h, W, H)``.
    ``crop_boxes`` int64 ``(4, 4)``: ``(x1, y1, x2, y2)`` of crop ``k`` in its source
    image, of the patch's size, its corner uniform over the positions where it fits.
    ``permutations`` int64 ``(4, N)``: patch ``k`` of output ``i`` comes from image
    ``permutations[k, i]``.
    ``weights`` float32 ``(4,)``: ``w_k h_k / (W H)``, the target weight of patch ``k``.
    ``selected`` bool ``(N,)``: which samples are patched (the per-sample coin ``p``).
    """

    boundary: torch.Tensor
    patch_boxes: torch.Tensor
    crop_boxes: torch.Tensor
    permutations: torch.Tensor
    weights: torch.Tensor
    selected: torch.Tensor


def ricap_patch_boxes(boundary: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The four patches ``(x1, y1, x2, y2)``, ``(4, 4)``, for a boundary ``(w, h)``:
    ``(0, 0, w, h), (w, 0, W, h), (0, h, w, H), (w, h, W, H)`` (Takahashi et al., 2018,
    "RICAP: Random Image Cropping and Patching Data Augmentation for Deep CNNs", sec. 3.1).
    """
    check_positive_int("height", height)
    check_positive_int("width", width)
    return _patch_boxes(boundary, height, width)


def _patch_boxes(boundary: torch.Tensor, height: int, width: int) -> torch.Tensor:
    w, h = boundary[0], boundary[1]
    zero = torch.zeros_like(w)
    big_w, big_h = torch.full_like(w, width), torch.full_like(h, height)
    return torch.stack([torch.stack([zero, zero, w, h]), torch.stack([w, zero, big_w, h]),
                        torch.stack([zero, h, w, big_h]), torch.stack([w, h, big_w, big_h])])


def sample_ricap(
    n: int,
    height: int,
    width: int,
    beta: float,
    *,
    p: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> RicapParams:
    """Draw RICAP's boundary, crops and pairings (Takahashi et al., 2018, "RICAP: Random
    Image Cropping and Patching Data Augmentation for Deep CNNs", sec. 3.1).

    ``w = round(W Beta(beta, beta))``, ``h = round(H Beta(beta, beta))``; for each of the
    four patches a crop corner uniform over the positions where the crop fits and an
    independent permutation of the batch; weights ``w_k h_k / (W H)``, which sum to 1.
    A zero-size patch is legal and gets weight 0. One boundary and one crop per patch
    for the whole batch, as in the paper. Each sample is selected with probability ``p``.
    """
    _check_sampler(n, "beta", beta, p)
    check_positive_int("height", height)
    check_positive_int("width", width)
    return _sample_ricap(n, height, width, beta, p, generator, sampling_device(generator, device))


def _sample_ricap(
    n: int, height: int, width: int, beta: float, p: float,
    generator: torch.Generator | None, device: torch.device,
) -> RicapParams:
    selected = sample_coin(n, p, generator=generator, device=device)
    extent = torch.tensor([width, height], device=device)
    fractions = _beta(beta, 2, generator, device)
    boundary = torch.round(fractions.double() * extent).long()
    patch_boxes = _patch_boxes(boundary, height, width)
    sizes = patch_boxes[:, 2:] - patch_boxes[:, :2]
    corners = sample_uniform_int(extent - sizes, generator=generator)
    permutations = torch.stack([torch.randperm(n, generator=generator, device=device) for _ in range(4)])
    weights = (sizes.prod(dim=1).double() / (width * height)).to(torch.float32)
    return RicapParams(boundary=boundary, patch_boxes=patch_boxes, crop_boxes=torch.cat([corners, corners + sizes], 1),
                       permutations=permutations, weights=weights, selected=selected)


def apply_ricap(
    images: torch.Tensor,
    targets: torch.Tensor,
    params: RicapParams,
    *,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch four crops into each selected sample and mix the targets by area:
    output patch ``k`` of sample ``i`` is crop ``k`` of ``x_{perm_k(i)}``, and
    ``y~_i = sum_k (w_k h_k / (W H)) y_{perm_k(i)}`` (Takahashi et al., 2018, "RICAP:
    Random Image Cropping and Patching Data Augmentation for Deep CNNs", eq. 1-2).
    Unselected samples are returned as they are.

    Works for any image dtype (pixels are copied, never blended).
    """
    _check_mixing_images(images)
    n, _, height, width = images.shape
    soft = soft_targets(targets, num_classes, n)
    _check_ricap_params(params, n, height, width)
    return _apply_ricap(images, soft, params)


def _apply_ricap(
    images: torch.Tensor, targets: torch.Tensor, params: RicapParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """One gather: each output pixel reads its source image and pixel. No host synchronisation."""
    n, channels, height, width = images.shape
    device = images.device
    w, h = params.boundary.to(device).unbind(0)
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    patch = (2 * (rows >= h).long()).view(-1, 1) + (cols >= w).long().view(1, -1)  # (H, W): k
    shift = (params.crop_boxes[:, :2] - params.patch_boxes[:, :2]).to(device)  # (4, 2): (dx, dy)
    source_pixel = (rows.view(-1, 1) + shift[patch, 1]) * width + cols.view(1, -1) + shift[patch, 0]
    own = torch.arange(n, device=device)
    selected = params.selected.to(device).view(n, 1, 1)
    source_image = params.permutations.to(device)[patch].permute(2, 0, 1)  # (N, H, W)
    pixel = rows.view(-1, 1) * width + cols.view(1, -1)
    index = torch.where(selected, source_image * (channels * height * width) + source_pixel,
                        own.view(n, 1, 1) * (channels * height * width) + pixel)
    index = index.unsqueeze(1) + (torch.arange(channels, device=device) * (height * width)).view(1, -1, 1, 1)
    patched = images.reshape(-1).index_select(0, index.reshape(-1)).view_as(images)
    weights = params.weights.to(device=targets.device, dtype=targets.dtype)
    sources = targets.index_select(0, params.permutations.to(targets.device).flatten())
    mixed_targets = (weights.view(4, 1, 1) * sources.view(4, n, -1)).sum(0)
    mixed_targets = torch.where(params.selected.to(targets.device).view(-1, 1), mixed_targets, targets)
    return patched, mixed_targets


def _check_ricap_params(params: Any, n: int, height: int, width: int) -> None:
    if not isinstance(params, RicapParams):
        raise TypeError(f"params must be RicapParams, got {type(params).__name__}")
    _check_tensor("params.boundary", params.boundary, (2,), torch.int64)
    _check_tensor("params.patch_boxes", params.patch_boxes, (4, 4), torch.int64)
    _check_tensor("params.crop_boxes", params.crop_boxes, (4, 4), torch.int64)
    _check_tensor("params.permutations", params.permutations, (4, n), torch.int64)
    _check_tensor("params.weights", params.weights, (4,), torch.float32)
    _check_tensor("params.selected", params.selected, (n,), torch.bool)
    w, h = params.boundary.tolist()
    if not (0 <= w <= width and 0 <= h <= height):
        raise ValueError(
            f"params.boundary must lie in [0, {width}] x [0, {height}] for these images, got {(w, h)}"
        )
    expected = _patch_boxes(params.boundary.cpu(), height, width)
    if not torch.equal(params.patch_boxes.cpu(), expected):
        raise ValueError(
            f"params.patch_boxes must be the patches of boundary {(w, h)} in a {width}x{height} "
            f"image, {expected.tolist()}, got {params.patch_boxes.tolist()}"
        )
    _check_boxes("params.crop_boxes", params.crop_boxes, height, width)
    crop_sizes = params.crop_boxes[:, 2:].cpu() - params.crop_boxes[:, :2].cpu()
    if not torch.equal(crop_sizes, expected[:, 2:] - expected[:, :2]):
        raise ValueError(
            f"params.crop_boxes must have the sizes of the patches {expected.tolist()}, "
            f"got {params.crop_boxes.tolist()}"
        )


def ricap(
    images: torch.Tensor,
    targets: torch.Tensor,
    beta: float,
    *,
    num_classes: int | None = None,
    p: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RICAP (Takahashi et al., 2018, "RICAP: Random Image Cropping and Patching Data
    Augmentation for Deep CNNs"): a boundary ``(w, h)`` with ``w = round(W Beta(beta, beta))``
    splits the output into four patches, each cropped from an independently shuffled
    batch; the targets are mixed in proportion to the patch areas.

    Returns ``(mixed_images, soft_targets)``: :func:`sample_ricap` on the images'
    device, then :func:`apply_ricap`.
    """
    _check_mixing_images(images)
    n, _, height, width = images.shape
    params = sample_ricap(n, height, width, beta, p=p, generator=generator, device=images.device)
    return apply_ricap(images, targets, params, num_classes=num_classes)


# ----------------------------------------------------------------------------
# Loader hooks
# ----------------------------------------------------------------------------


class Mixing(Hook):
    """Base of the mixing hooks: a :class:`tricks_lab.hooks.Hook` at the ``"float"`` stage
    that returns soft targets ``(N, num_classes)``.

    Each sample is mixed with probability ``p``, one ``Bernoulli(p)`` coin per sample
    (drawn once, so the rate is ``p``, not ``p**2``): a sample not selected keeps its
    image and its one-hot target. Selected samples may still take their partners from
    the whole batch. Arguments are checked here, once; every batch runs the unchecked,
    synchronisation-free sampler and applier. All three are built the same way,
    ``cls(concentration, num_classes, p=p)``, as :data:`MIXINGS` does.
    """

    stage: Stage = "float"
    concentration_name = "concentration"

    def __init__(self, concentration: float, num_classes: int, *, p: float = 1.0) -> None:
        check_positive(self.concentration_name, concentration)
        check_positive_int("num_classes", num_classes)
        check_probability("p", p)
        self.concentration = concentration
        self.num_classes = num_classes
        self.p = p

    def transform(self, images: torch.Tensor, targets: torch.Tensor, params: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self._apply(images, _as_soft(targets, self.num_classes), params)

    def _options(self) -> dict[str, Any]:
        return {self.concentration_name: self.concentration, "num_classes": self.num_classes, "p": self.p}


class _PairMixing(Mixing):
    """mixup and CutMix: a Beta(alpha, alpha) lambda and a partner per sample, ``mode`` per batch or sample."""

    concentration_name = "alpha"

    def __init__(self, alpha: float, num_classes: int, *, p: float = 1.0, mode: MixMode = "batch") -> None:
        super().__init__(alpha, num_classes, p=p)
        check_choice("mode", mode, MIX_MODES)
        self.mode = mode

    @property
    def alpha(self) -> float:
        """The Beta concentration ``alpha``."""
        return self.concentration

    def _options(self) -> dict[str, Any]:
        return {**super()._options(), "mode": self.mode}


class Mixup(_PairMixing):
    """mixup as a loader hook (Zhang et al., 2018, "mixup: Beyond Empirical Risk
    Minimization"): ``x~ = lambda x_i + (1 - lambda) x_j``, ``lambda ~ Beta(alpha, alpha)``,
    applied to each sample with probability ``p``. See :func:`mixup`.
    """

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> MixupParams:
        return _sample_mixup(images.shape[0], self.alpha, self.p, self.mode, generator, images.device)

    _apply = staticmethod(_apply_mixup)


class CutMix(_PairMixing):
    """CutMix as a loader hook (Yun et al., 2019, "CutMix: Regularization Strategy to Train
    Strong Classifiers with Localizable Features"): a box of area fraction ``1 - lambda``,
    ``lambda ~ Beta(alpha, alpha)``, pasted from a paired image, applied to each sample with
    probability ``p``. See :func:`cutmix`.
    """

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> CutMixParams:
        n, _, height, width = images.shape
        return _sample_cutmix(n, height, width, self.alpha, self.p, self.mode, generator, images.device)

    _apply = staticmethod(_apply_cutmix)


class RICAP(Mixing):
    """RICAP as a loader hook (Takahashi et al., 2018, "RICAP: Random Image Cropping and
    Patching Data Augmentation for Deep CNNs"): four crops patched at a boundary
    ``(round(W Beta(beta, beta)), round(H Beta(beta, beta)))``, targets mixed by area,
    applied to each sample with probability ``p``. See :func:`ricap`.
    """

    concentration_name = "beta"

    def __init__(self, beta: float, num_classes: int, *, p: float = 1.0) -> None:
        super().__init__(beta, num_classes, p=p)

    @property
    def beta(self) -> float:
        """The Beta concentration ``beta``."""
        return self.concentration

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> RicapParams:
        n, _, height, width = images.shape
        return _sample_ricap(n, height, width, self.beta, self.p, generator, images.device)

    _apply = staticmethod(_apply_ricap)


MIXINGS: dict[str, type[Mixing]] = {"mixup": Mixup, "cutmix": CutMix, "ricap": RICAP}
"""The recipe's ``mixing`` names -> hook factories, each called as
``factory(concentration, num_classes, p=p)`` (``concentration`` is mixup's and
CutMix's ``alpha``, RICAP's ``beta``)."""

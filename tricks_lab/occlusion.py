"""Occlusion augmentations: Cutout and Random Erasing, per-sample and batched.

Both tricks hide a rectangle of the training image so the network cannot rely
on one discriminative part and must use the context as well.

- Cutout (DeVries & Taylor, 2017, "Improved Regularization of Convolutional
  Neural Networks with Cutout", arXiv:1708.04552): ``n_holes`` squares of side
  ``length`` centred at uniformly drawn pixels, clipped at the border.
- Random Erasing (Zhong, Zheng, Kang, Li & Yang, 2020, "Random Erasing Data
  Augmentation", AAAI): with probability ``p`` one rectangle of random area
  fraction and aspect ratio, filled with noise or a constant.

The randomness is split as in ``torchvision.transforms.v2``, with the same
signatures as every augmentation of the package::

    sample_cutout(n, height, width, length, *, n_holes=1, p=1.0, ..., generator=None, device=None)
    sample_random_erasing(n, height, width, *, p=0.5, scale=..., ..., generator=None, device=None)
    occlude(images, params)            # = apply_cutout = apply_random_erasing

The samplers return :class:`OcclusionParams` (``CutoutParams``,
``RandomErasingParams``): boxes in torchvision's XYXY layout, which images are
occluded, the fill, and the noise of a random fill, drawn for the occluded
pixels only. :func:`cutout` and :func:`random_erasing` chain the two on a whole
``(N, C, H, W)`` batch on its device, every image with its own box and coin;
:class:`CutoutHook` and :class:`RandomErasingHook` are the loader hooks
(:data:`OCCLUSIONS`), and :class:`Cutout` and :class:`RandomErasing` the
per-image ``torchvision.transforms.v2`` transforms.

The fill lives in the space of the tensor it is given. In the loader's
``"float"`` stage (after normalisation) a fill of 0 is the dataset mean::

    CutoutHook(8, stage="float")

whereas filling a normalised tensor with the raw mean pixel (0.4914, ...), as
the Random Erasing reference code does, puts ``mean + std * mean`` in raw
pixel units into the hole: not the mean at all.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform

from ._validation import check_choice, check_image_batch, check_positive, check_positive_int, check_probability
from .hooks import STAGES, Hook, Stage, check_one_shape, sample_coin, sample_uniform_int, sampling_device, v2_image_inputs
from .per_image import transform_one

__all__ = [
    "FILL_MODES",
    "OCCLUSIONS",
    "Cutout",
    "CutoutHook",
    "CutoutParams",
    "Fill",
    "OcclusionParams",
    "RandomErasing",
    "RandomErasingHook",
    "RandomErasingParams",
    "apply_cutout",
    "apply_random_erasing",
    "cutout",
    "occlude",
    "random_erasing",
    "sample_cutout",
    "sample_random_erasing",
]

Fill = float | Sequence[float] | str
"""A fill: a number, a per-channel sequence, ``"random"`` or ``"mean"``."""

FILL_MODES: tuple[str, ...] = ("random", "mean")
UINT8_MAX = 255
PAPER_SCALE = (0.02, 0.4)
PAPER_RATIO = (0.3, 1 / 0.3)


@dataclass(frozen=True)
class OcclusionParams:
    """Per-sample rectangles to occlude and what to fill them with, as drawn by a sampler.

    ``boxes`` int64 ``(N, K, 4)``: ``(x1, y1, x2, y2)`` of K boxes per image,
    half-open (columns ``x1 <= x < x2``, rows ``y1 <= y < y2``, torchvision's
    XYXY) and always inside ``[0, width] x [0, height]``.
    ``selected`` bool ``(N,)``: whether image n is occluded at all (its coin came
    up and, for Random Erasing, a box was found). Boxes of images not selected
    are left in for plotting but have no effect.
    ``fill``: the fill spec (a number, per-channel numbers, ``"mean"`` or ``"random"``).
    ``noise``: for ``fill="random"``, the fill values of the occluded pixels, flat,
    box after box (image-major, then hole, channel, row, column); else ``None``.
    """

    boxes: torch.Tensor
    selected: torch.Tensor
    height: int
    width: int
    fill: Fill = 0.0
    noise: torch.Tensor | None = None

    @property
    def heights(self) -> torch.Tensor:
        """Box heights ``y2 - y1``, int64 ``(N, K)``."""
        return self.boxes[..., 3] - self.boxes[..., 1]

    @property
    def widths(self) -> torch.Tensor:
        """Box widths ``x2 - x1``, int64 ``(N, K)``."""
        return self.boxes[..., 2] - self.boxes[..., 0]

    @property
    def areas(self) -> torch.Tensor:
        """Box areas in pixels ``heights * widths``, int64 ``(N, K)``."""
        return self.heights * self.widths

    @property
    def area_fractions(self) -> torch.Tensor:
        """Box areas over the image area ``h w / (H W)``, float ``(N, K)``."""
        return self.areas.float() / (self.height * self.width)

    @property
    def aspect_ratios(self) -> torch.Tensor:
        """Aspect ratios ``h / w`` (Random Erasing's ``r_e``), float ``(N, K)``; NaN for empty boxes."""
        return self.heights.float() / self.widths.float()

    def mask(self) -> torch.Tensor:
        """Occluded pixels, bool ``(N, 1, H, W)``: the union of an image's boxes where selected.

        ``mask[n, 0, y, x] = any_k (selected[n] and x1 <= x < x2 and y1 <= y < y2)``,
        built from one row test ``(N, K, H)`` and one column test ``(N, K, W)``.
        """
        return _box_mask(self.boxes, self.selected, self.height, self.width)


class CutoutParams(OcclusionParams):
    """:class:`OcclusionParams` drawn by :func:`sample_cutout` (``K = n_holes``)."""


class RandomErasingParams(OcclusionParams):
    """:class:`OcclusionParams` drawn by :func:`sample_random_erasing` (``K = 1``)."""


# --------------------------------------------------------------------------- samplers


def sample_cutout(
    n: int,
    height: int,
    width: int,
    length: int,
    *,
    n_holes: int = 1,
    p: float = 1.0,
    inside: bool = False,
    fill: Fill = 0.0,
    channels: int = 3,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> CutoutParams:
    """Draw Cutout holes for a batch: ``(N, n_holes, 4)`` boxes, a coin per image, the noise.

    Clipped (default, DeVries & Taylor 2017): the centre ``(cx, cy)`` is uniform
    over all ``W x H`` pixels, edges included, and the hole is
    ``[cx - length // 2, cx - length // 2 + length)`` (likewise in y) clipped to
    the image, so a hole near the border is smaller than ``length^2``. The hole
    is exactly ``length`` wide for odd and even lengths alike (for even lengths
    the centre pixel has ``length // 2`` rows above it and ``length // 2 - 1``
    below); the paper's code uses ``[cy - length // 2, cy + length // 2)``,
    which silently drops one row and column when ``length`` is odd.

    ``inside=True`` (the variant of some fast CIFAR loaders): the top-left corner
    is uniform in ``[0, W - length] x [0, H - length]``, so every hole is exactly
    ``length x length`` and lies wholly inside. This is a different distribution:
    the border pixels are covered less often and the mean occluded area is larger.

    Each image is occluded with probability ``p`` (all its holes or none; no draw
    at ``p = 1``). Holes may overlap (a later hole's noise wins). ``channels`` and
    ``dtype`` are those of the images, needed for ``fill="random"`` only.
    """
    _check_size(n, height, width, channels, dtype)
    check_positive_int("length", length)
    check_positive_int("n_holes", n_holes)
    check_probability("p", p)
    _check_flag("inside", inside)
    _check_fill_spec("fill", fill, channels, dtype)
    if inside and length > min(height, width):
        raise ValueError(f"length must be <= min(height, width) = {min(height, width)} with inside=True, got {length}")
    device = sampling_device(generator, device)
    return _sample_cutout(n, height, width, length, n_holes, p, inside, fill, channels, dtype, generator, device)


def _sample_cutout(
    n: int, height: int, width: int, length: int, n_holes: int, p: float, inside: bool, fill: Fill,
    channels: int, dtype: torch.dtype, generator: torch.Generator | None, device: torch.device,
) -> CutoutParams:
    shape = (n, n_holes)
    if inside:
        y1 = torch.randint(0, height - length + 1, shape, generator=generator, device=device)
        x1 = torch.randint(0, width - length + 1, shape, generator=generator, device=device)
        y2, x2 = y1 + length, x1 + length
    else:
        cy = torch.randint(0, height, shape, generator=generator, device=device)
        cx = torch.randint(0, width, shape, generator=generator, device=device)
        y1, y2 = _clipped_span(cy, length, height)
        x1, x2 = _clipped_span(cx, length, width)
    boxes = torch.stack([x1, y1, x2, y2], dim=-1)
    selected = sample_coin(n, p, generator=generator, device=device)
    bound = min(length, height) * min(length, width)
    noise = _sample_noise(boxes, selected, fill, channels, dtype, bound, generator)
    return CutoutParams(boxes, selected, height, width, fill, noise)


def sample_random_erasing(
    n: int,
    height: int,
    width: int,
    *,
    p: float = 0.5,
    scale: tuple[float, float] = PAPER_SCALE,
    ratio: tuple[float, float] = PAPER_RATIO,
    log_ratio: bool = True,
    max_attempts: int = 10,
    value: Fill = "random",
    channels: int = 3,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> RandomErasingParams:
    """Draw one Random Erasing rectangle per image (Zhong et al. 2020): ``(N, 1, 4)`` boxes.

    Per attempt: area fraction ``s ~ U(scale)``, aspect ratio ``r`` log-uniform
    in ``ratio`` (``log r ~ U(log r1, log r2)``, torchvision's convention) or
    uniform with ``log_ratio=False`` (the paper and its reference code), then
    ``h = round(sqrt(s H W r))``, ``w = round(sqrt(s H W / r))``. The attempt is
    kept if ``h < H`` and ``w < W``; the first of ``max_attempts`` kept attempts
    is used (all attempts are drawn at once and the first valid one selected,
    the same distribution as torchvision's loop), and its top-left corner is
    uniform over ``[0, W - w] x [0, H - h]``. With no valid attempt the image is
    left unchanged (its box is ``(0, 0, 0, 0)``); ``selected`` is the coin
    ``u < p`` and a box found. With ``value="random"`` the noise is drawn for the
    erased pixels only (on an accelerator, for an upper bound on them, so the
    host never waits for the device).

    The uniform ratio is not symmetric in ``h`` and ``w``: with ``ratio=(0.3,
    1/0.3)`` about 77% of the boxes are taller than wide; ``log_ratio`` makes
    tall and wide equally likely. (The paper's Algorithm 1 instead draws a point
    and rejects boxes that overflow it, which favours small boxes; like the
    reference code and torchvision we draw the size first, then the position.)
    """
    _check_size(n, height, width, channels, dtype)
    check_probability("p", p)
    s_low, s_high = _check_pair("scale", scale, low=0.0, high=1.0)
    r_low, r_high = _check_ratio(ratio)
    _check_flag("log_ratio", log_ratio)
    check_positive_int("max_attempts", max_attempts)
    _check_fill_spec("value", value, channels, dtype)
    device = sampling_device(generator, device)
    return _sample_random_erasing(n, height, width, p, (s_low, s_high), (r_low, r_high), log_ratio,
                                  max_attempts, value, channels, dtype, generator, device)


def _sample_random_erasing(
    n: int, height: int, width: int, p: float, scale: tuple[float, float], ratio: tuple[float, float],
    log_ratio: bool, max_attempts: int, value: Fill, channels: int, dtype: torch.dtype,
    generator: torch.Generator | None, device: torch.device,
) -> RandomErasingParams:
    (s_low, s_high), (r_low, r_high) = scale, ratio
    shape = (n, max_attempts)
    fraction = _uniform(shape, s_low, s_high, generator, device)
    if log_ratio:
        aspect = torch.exp(_uniform(shape, math.log(r_low), math.log(r_high), generator, device))
    else:
        aspect = _uniform(shape, r_low, r_high, generator, device)
    area = fraction * (height * width)
    heights = torch.round(torch.sqrt(area * aspect)).long()
    widths = torch.round(torch.sqrt(area / aspect)).long()
    valid = (heights < height) & (widths < width)
    first = valid.long().argmax(dim=1, keepdim=True)
    found = valid.any(dim=1)
    h = torch.where(found, heights.gather(1, first).squeeze(1), 0)
    w = torch.where(found, widths.gather(1, first).squeeze(1), 0)
    corner = sample_uniform_int(torch.stack([width - w, height - h], dim=1), generator=generator)
    corner = torch.where(found.view(-1, 1), corner, 0)
    x1, y1 = corner.unbind(1)
    boxes = torch.stack([x1, y1, x1 + w, y1 + h], dim=-1)[:, None]
    selected = sample_coin(n, p, generator=generator, device=device) & found
    # h w <= A + (h + w) / 2 + 1/4 with A <= s_high H W, h < H, w < W: a bound for the noise.
    bound = min((height - 1) * (width - 1), math.floor(s_high * height * width + 0.5 * (height + width)) + 1)
    noise = _sample_noise(boxes, selected, value, channels, dtype, max(bound, 1), generator)
    return RandomErasingParams(boxes, selected, height, width, value, noise)


def _sample_noise(
    boxes: torch.Tensor, selected: torch.Tensor, fill: Fill, channels: int, dtype: torch.dtype,
    bound: int, generator: torch.Generator | None,
) -> torch.Tensor | None:
    """The random fill of the occluded pixels, flat, box after box; ``None`` for other fills.

    ``N(0, 1)`` on float images (torchvision's choice: unit-variance noise in
    normalised space) and uniform integers in ``[0, 255]`` on uint8 (the paper's
    random values). On the CPU exactly the selected boxes' pixels are drawn (the
    count is read for free); elsewhere ``bound`` pixels per box, so nothing waits
    for the device.
    """
    if not (isinstance(fill, str) and fill == "random"):
        return None
    device = boxes.device
    if device.type == "cpu":
        count = int(_box_sizes(boxes, selected, channels).sum())
    else:
        count = boxes.shape[0] * boxes.shape[1] * channels * bound
    if dtype == torch.uint8:
        return torch.randint(0, UINT8_MAX + 1, (count,), generator=generator, device=device, dtype=torch.uint8)
    return torch.randn(count, generator=generator, device=device).to(dtype)


def _box_sizes(boxes: torch.Tensor, selected: torch.Tensor, channels: int) -> torch.Tensor:
    """Noise values each box takes, ``C h w`` where selected else 0, int64 ``(N, K)``."""
    areas = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return areas * channels * selected.view(-1, 1)


# --------------------------------------------------------------------------- applier


def occlude(images: torch.Tensor, params: OcclusionParams) -> torch.Tensor:
    """Apply drawn boxes and fill: ``out = where(mask, fill, images)``, a new tensor.

    ``mask`` is :meth:`OcclusionParams.mask`; the fill is the params' number,
    per-channel numbers, each image's own per-channel mean ``mean_{y,x} x[n, c]``
    (``"mean"``, rounded on uint8; the dataset mean is the number 0 after
    normalisation) or the drawn noise (``"random"``), cast to the images' dtype,
    so bf16, fp16 and uint8 batches stay in their dtype. The fill replaces the
    pixels, unlike the Cutout reference code, which multiplies by a float32 mask
    (so 0 is the only fill, and a bf16 or fp16 image comes back as float32). The
    input is never modified in place (the Random Erasing reference code writes
    into it). Also exported as ``apply_cutout`` and ``apply_random_erasing``.
    """
    check_image_batch("images", images)
    _check_image_dtype(images)
    if not isinstance(params, OcclusionParams):
        raise TypeError(f"params must be OcclusionParams, got {type(params).__name__}")
    n, channels, h, w = images.shape
    if params.boxes.ndim != 3 or params.boxes.shape[0] != n or params.boxes.shape[2] != 4 or (
        params.height, params.width) != (h, w):
        raise ValueError(
            f"params were drawn for {params.boxes.shape[0]} images of {params.height}x{params.width}, "
            f"got images of shape {tuple(images.shape)}"
        )
    _check_fill_spec("params.fill", params.fill, channels, images.dtype)
    if isinstance(params.fill, str) and params.fill == "random":
        if not isinstance(params.noise, torch.Tensor) or params.noise.dtype != images.dtype:
            raise ValueError(f"params.noise must be a tensor of the images' dtype {images.dtype} for a random fill")
        needed = int(_box_sizes(params.boxes, params.selected, channels).sum())
        if params.noise.numel() < needed:
            raise ValueError(
                f"params.noise holds {params.noise.numel()} values, the boxes need {needed}: were the params "
                f"drawn for {channels}-channel images?"
            )
    return _occlude(images, params)


apply_cutout = occlude
apply_random_erasing = occlude


_SLICE_MAX_BOXES = 4
"""Up to this many boxes with parameters on the CPU (the per-image transforms), fill by slicing."""


def _occlude(images: torch.Tensor, params: OcclusionParams) -> torch.Tensor:
    """Unchecked :func:`occlude`; no host synchronisation (boxes on the CPU are read for free)."""
    if params.boxes.device.type == "cpu" and params.boxes.shape[0] * params.boxes.shape[1] <= _SLICE_MAX_BOXES:
        return _occlude_by_slicing(images, params)
    device = images.device
    boxes = params.boxes.to(device)
    selected = params.selected.to(device)
    fill = params.fill
    if isinstance(fill, str) and fill == "random":
        if boxes.shape[1] == 1 and device.type == "cpu":
            # One box per image: the erased pixels in memory order are the flat noise's order.
            mask = _box_mask(boxes, selected, params.height, params.width).expand_as(images)
            return images.masked_scatter(mask, params.noise.to(device))
        return _occlude_with_noise(images, boxes, selected, params.noise.to(device))
    mask = _box_mask(boxes, selected, params.height, params.width)
    if isinstance(fill, str):  # "mean"
        value = _round_if_integer(images.float().mean(dim=(2, 3), keepdim=True), images.dtype)
    else:
        value = torch.tensor(_fill_numbers(fill), device=device).view(1, -1, 1, 1).to(images.dtype)
    return torch.where(mask, value, images)


def _occlude_by_slicing(images: torch.Tensor, params: OcclusionParams) -> torch.Tensor:
    """A few boxes known on the host: copy the images, then assign each box's fill to its slice."""
    out = images.clone()
    _fill_slices(out, params)
    return out


def _fill_slices(out: torch.Tensor, params: OcclusionParams) -> None:
    """Fill ``out`` ``(N, C, H, W)`` in place, box by box: the same result as the masked path
    (noise in the same flat layout, later holes win)."""
    channels = out.shape[1]
    fill = params.fill
    offset = 0
    for i, (image_boxes, selected) in enumerate(zip(params.boxes.tolist(), params.selected.tolist())):
        if not selected:
            continue
        if isinstance(fill, str) and fill == "mean":  # the image's own mean, before any hole
            mean = _round_if_integer(out[i].float().mean(dim=(1, 2), keepdim=True), out.dtype)
        for x1, y1, x2, y2 in image_boxes:
            if x2 <= x1 or y2 <= y1:
                continue
            if isinstance(fill, str) and fill == "random":
                size = channels * (y2 - y1) * (x2 - x1)
                value = params.noise[offset : offset + size].view(channels, y2 - y1, x2 - x1).to(out.device)
                offset += size
            elif isinstance(fill, str):
                value = mean
            elif isinstance(fill, Sequence):
                value = _fill_tensor(tuple(_fill_numbers(fill)), out.dtype, out.device).view(-1, 1, 1)
            else:
                value = fill
            out[i, :, y1:y2, x1:x2] = value


@functools.lru_cache(maxsize=64)
def _fill_tensor(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(values, device=device).to(dtype)


def _occlude_with_noise(
    images: torch.Tensor, boxes: torch.Tensor, selected: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """Fill box ``k`` of image ``n`` with its slice of the flat noise, pixel ``(c, y, x)`` at
    ``offset[n, k] + (c h + y - y1) w + x - x1``; later holes win where holes overlap."""
    n, channels, height, width = images.shape
    device = images.device
    sizes = _box_sizes(boxes, selected, channels)
    offsets = (sizes.flatten().cumsum(0) - sizes.flatten()).view_as(sizes)
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    channel = torch.arange(channels, device=device).view(1, -1, 1, 1)
    in_rows, in_cols = _box_tests(boxes, selected, height, width)
    out = images
    last = max(noise.numel() - 1, 0)
    for k in range(boxes.shape[1]):
        x1, y1, x2, y2 = (edge.view(-1, 1, 1, 1) for edge in boxes[:, k].unbind(-1))
        box_w, box_h = x2 - x1, y2 - y1
        local = ((channel * box_h + rows.view(1, 1, -1, 1) - y1) * box_w + cols.view(1, 1, 1, -1) - x1)
        index = (offsets[:, k].view(-1, 1, 1, 1) + local).clamp_(0, last)
        mask = (in_rows[:, k, :, None] & in_cols[:, k, None, :]).unsqueeze(1)
        values = noise.take(index) if noise.numel() else images
        out = torch.where(mask, values, out)
    return out if out is not images else images.clone()


def _box_mask(boxes: torch.Tensor, selected: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """bool ``(N, 1, H, W)``: the union of each selected image's boxes."""
    in_rows, in_cols = _box_tests(boxes, selected, height, width)
    return (in_rows[..., :, None] & in_cols[..., None, :]).any(dim=1, keepdim=True)


def _box_tests(
    boxes: torch.Tensor, selected: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, K, H)`` rows inside each box (and the image selected), ``(N, K, W)`` columns inside."""
    device = boxes.device
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    x1, y1, x2, y2 = boxes.unbind(-1)
    in_rows = (rows >= y1[..., None]) & (rows < y2[..., None]) & selected.to(device)[:, None, None]
    in_cols = (cols >= x1[..., None]) & (cols < x2[..., None])
    return in_rows, in_cols


# --------------------------------------------------------------------------- batched ops


def cutout(
    images: torch.Tensor,
    length: int,
    *,
    n_holes: int = 1,
    p: float = 1.0,
    inside: bool = False,
    fill: Fill = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cutout (DeVries & Taylor 2017) on a whole ``(N, C, H, W)`` batch, per-sample randomness.

    ``out = occlude(images, sample_cutout(N, H, W, length, ...))``: every image
    gets its own ``n_holes`` squares of side ``length`` (clipped at the border, or
    wholly inside with ``inside=True``; see :func:`sample_cutout`) and its own
    coin with probability ``p``. Vectorised with masks, on the images' device and
    in their dtype. After normalisation the default fill 0 is the dataset mean.
    """
    check_image_batch("images", images)
    _check_image_dtype(images)
    n, c, h, w = images.shape
    params = sample_cutout(n, h, w, length, n_holes=n_holes, p=p, inside=inside, fill=fill, channels=c,
                           dtype=images.dtype, generator=generator, device=images.device)
    return _occlude(images, params)


def random_erasing(
    images: torch.Tensor,
    *,
    p: float = 0.5,
    scale: tuple[float, float] = PAPER_SCALE,
    ratio: tuple[float, float] = PAPER_RATIO,
    log_ratio: bool = True,
    max_attempts: int = 10,
    value: Fill = "random",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random Erasing (Zhong et al. 2020) on a whole ``(N, C, H, W)`` batch, per-sample randomness.

    ``out = occlude(images, sample_random_erasing(N, H, W, ...))``: each image is
    erased with probability ``p`` by its own rectangle with area fraction
    ``~ U(scale)`` and aspect ratio ``h/w`` log-uniform in ``ratio`` (uniform with
    ``log_ratio=False``), see :func:`sample_random_erasing`. Unlike
    ``torchvision.transforms.v2.RandomErasing`` applied to a batch, which draws one
    box and one coin for all images, every image has its own.
    """
    check_image_batch("images", images)
    _check_image_dtype(images)
    n, c, h, w = images.shape
    params = sample_random_erasing(n, h, w, p=p, scale=scale, ratio=ratio, log_ratio=log_ratio,
                                   max_attempts=max_attempts, value=value, channels=c, dtype=images.dtype,
                                   generator=generator, device=images.device)
    return _occlude(images, params)


# --------------------------------------------------------------------------- loader hooks


class _OcclusionHook(Hook):
    """Shared hook plumbing: arguments checked once; per batch, the unchecked sampler and applier."""

    def __init__(self, stage: Stage) -> None:
        check_choice("stage", stage, STAGES)
        self.stage: Stage = stage

    def transform(self, images: torch.Tensor, targets: torch.Tensor, params: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return _occlude(images, params), targets


class CutoutHook(_OcclusionHook):
    """Cutout (DeVries & Taylor, 2017, "Improved Regularization of Convolutional Neural
    Networks with Cutout") as a loader hook: :func:`cutout` on every batch.

    At the default ``"float"`` stage (after normalisation) the fill 0 is the
    dataset mean. A numeric fill must suit the stage's dtype (integers in
    ``[0, 255]`` at ``"uint8"``).
    """

    def __init__(
        self, length: int, *, n_holes: int = 1, p: float = 1.0, inside: bool = False, fill: Fill = 0.0,
        stage: Stage = "float",
    ) -> None:
        super().__init__(stage)
        check_positive_int("length", length)
        check_positive_int("n_holes", n_holes)
        check_probability("p", p)
        _check_flag("inside", inside)
        _check_fill_spec("fill", fill, None, torch.uint8 if stage == "uint8" else torch.float32)
        self.length, self.n_holes, self.p, self.inside, self.fill = length, n_holes, p, inside, fill

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> CutoutParams:
        n, c, h, w = images.shape
        if self.inside and self.length > min(h, w):
            raise ValueError(f"length must be <= min(height, width) = {min(h, w)} with inside=True, got {self.length}")
        return _sample_cutout(n, h, w, self.length, self.n_holes, self.p, self.inside, self.fill, c,
                              images.dtype, generator, images.device)

    def _options(self) -> dict[str, Any]:
        return {"length": self.length, "n_holes": self.n_holes, "p": self.p, "inside": self.inside,
                "fill": self.fill, "stage": self.stage}


class RandomErasingHook(_OcclusionHook):
    """Random Erasing (Zhong, Zheng, Kang, Li & Yang, 2020, "Random Erasing Data
    Augmentation") as a loader hook: :func:`random_erasing` on every batch.

    Defaults are the paper's (``p = 0.5``, ``scale = (0.02, 0.4)``, ``ratio =
    (0.3, 1/0.3)``, random values), with torchvision's log-uniform ratio.
    """

    def __init__(
        self, *, p: float = 0.5, scale: tuple[float, float] = PAPER_SCALE,
        ratio: tuple[float, float] = PAPER_RATIO, log_ratio: bool = True, max_attempts: int = 10,
        value: Fill = "random", stage: Stage = "float",
    ) -> None:
        super().__init__(stage)
        check_probability("p", p)
        self.scale = _check_pair("scale", scale, low=0.0, high=1.0)
        self.ratio = _check_ratio(ratio)
        _check_flag("log_ratio", log_ratio)
        check_positive_int("max_attempts", max_attempts)
        _check_fill_spec("value", value, None, torch.uint8 if stage == "uint8" else torch.float32)
        self.p, self.log_ratio, self.max_attempts, self.value = p, log_ratio, max_attempts, value

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> RandomErasingParams:
        n, c, h, w = images.shape
        return _sample_random_erasing(n, h, w, self.p, self.scale, self.ratio, self.log_ratio, self.max_attempts,
                                      self.value, c, images.dtype, generator, images.device)

    def _options(self) -> dict[str, Any]:
        return {"p": self.p, "scale": self.scale, "ratio": self.ratio, "log_ratio": self.log_ratio,
                "max_attempts": self.max_attempts, "value": self.value, "stage": self.stage}


OCCLUSIONS: dict[str, type[_OcclusionHook]] = {"cutout": CutoutHook, "random_erasing": RandomErasingHook}
"""The recipe's ``occlusion`` names -> hook classes. ``CutoutHook(length, n_holes=...)``
and ``RandomErasingHook(p=...)`` take their own options; every other option has the
paper's default."""


# --------------------------------------------------------------------------- v2 transforms


def _is_image_tensor(inpt: Any) -> bool:
    """Plain tensors, ``tv_tensors.Image`` and ``tv_tensors.Video``: what the transforms occlude."""
    if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)):
        return True
    return isinstance(inpt, torch.Tensor) and not isinstance(inpt, tv_tensors.TVTensor)


class _OcclusionTransform(Transform):
    """Shared v2 plumbing: draw boxes for every image of the input, then :func:`occlude`.

    An input of shape ``(..., C, H, W)`` is seen as ``M = prod(...)`` images,
    each with its own box (torchvision's RandomErasing draws one for all). All
    image inputs of one call must have the same shape (one draw serves them
    all); other inputs (labels, bounding boxes, masks) pass through; PIL images
    are refused. Draws come from the global RNG, like every torchvision transform.
    """

    _transformed_types = (_is_image_tensor,)

    def forward(self, *inputs: Any) -> Any:
        """torchvision's ``Transform.forward``, with a short path for the usual single image tensor."""
        if len(inputs) == 1 and _is_image_tensor(inputs[0]):
            return transform_one(self, inputs[0])
        return super().forward(*inputs)

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        shapes = set()
        for inpt in v2_image_inputs(flat_inputs):
            if isinstance(inpt, PIL.Image.Image):
                raise TypeError(f"{type(self).__name__} takes tensors (..., C, H, W); convert PIL images first "
                                "(e.g. v2.PILToTensor())")
            if _is_image_tensor(inpt):
                if inpt.ndim < 3:
                    raise ValueError(f"image must have shape (..., C, H, W), got {tuple(inpt.shape)}")
                _check_image_dtype(inpt)
                shapes.add(tuple(inpt.shape))
        check_one_shape(type(self).__name__, shapes)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        images = next(iter(v2_image_inputs(flat_inputs)), None)
        if images is None:
            return {"params": None}
        shape = images.shape
        count = math.prod(shape[:-3])
        return {"params": self._sample(count, shape[-3], shape[-2], shape[-1], images.dtype, images.device)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        drawn = params["params"]
        if drawn is None:
            return inpt
        plain = inpt.as_subclass(torch.Tensor)
        if drawn.boxes.device.type == "cpu" and drawn.boxes.shape[0] * drawn.boxes.shape[1] <= _SLICE_MAX_BOXES:
            out = plain.clone(memory_format=torch.contiguous_format)
            _fill_slices(out.view(-1, *plain.shape[-3:]), drawn)
        else:
            out = _occlude(plain.reshape(-1, *plain.shape[-3:]), drawn).reshape(plain.shape)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    def _sample(self, count: int, channels: int, height: int, width: int, dtype: torch.dtype,
                device: torch.device) -> OcclusionParams:
        raise NotImplementedError


_ONE_COIN = {True: torch.tensor([True]), False: torch.tensor([False])}
"""``selected`` of a one-image draw, shared (params are never written to): one tensor less per call."""


def _host_noise(fill: Fill, size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    if not (isinstance(fill, str) and fill == "random"):
        return None
    if dtype == torch.uint8:
        return torch.randint(0, UINT8_MAX + 1, (size,), dtype=torch.uint8, device=device)
    return torch.randn(size, device=device).to(dtype)


def _host_cutout(height: int, width: int, length: int, n_holes: int, p: float, inside: bool, fill: Fill,
                 channels: int, dtype: torch.dtype, device: torch.device) -> CutoutParams:
    """:func:`sample_cutout` for one image, drawn on the host from torch's global RNG in one call.

    The same law as the batched sampler (centre or corner uniform, coin ``u < p``),
    without its per-call tensor overhead: what keeps the per-image transform fast.
    """
    u = torch.rand(2 * n_holes + 1).tolist()
    boxes, area = [], 0
    for k in range(n_holes):
        if inside:
            y1 = min(math.floor(u[2 * k] * (height - length + 1)), height - length)
            x1 = min(math.floor(u[2 * k + 1] * (width - length + 1)), width - length)
            y2, x2 = y1 + length, x1 + length
        else:
            cy, cx = min(math.floor(u[2 * k] * height), height - 1), min(math.floor(u[2 * k + 1] * width), width - 1)
            y1, y2 = max(cy - length // 2, 0), min(cy - length // 2 + length, height)
            x1, x2 = max(cx - length // 2, 0), min(cx - length // 2 + length, width)
        boxes.append([x1, y1, x2, y2])
        area += (x2 - x1) * (y2 - y1)
    selected = p >= 1.0 or u[-1] < p
    noise = _host_noise(fill, channels * area if selected else 0, dtype, device)
    return CutoutParams(torch.tensor([boxes]), _ONE_COIN[selected], height, width, fill, noise)


def _host_random_erasing(height: int, width: int, p: float, scale: tuple[float, float],
                         ratio: tuple[float, float], log_ratio: bool, max_attempts: int, value: Fill,
                         channels: int, dtype: torch.dtype, device: torch.device) -> RandomErasingParams:
    """:func:`sample_random_erasing` for one image, drawn on the host from torch's global RNG in one
    call: the same law (first valid attempt, uniform corner, coin ``u < p``)."""
    u = torch.rand(2 * max_attempts + 3).tolist()
    (s_low, s_high), (r_low, r_high) = scale, ratio
    if log_ratio:
        r_low, r_high = math.log(r_low), math.log(r_high)
    h = w = 0
    for a in range(max_attempts):
        area = (s_low + (s_high - s_low) * u[2 * a]) * (height * width)
        aspect = r_low + (r_high - r_low) * u[2 * a + 1]
        aspect = math.exp(aspect) if log_ratio else aspect
        h, w = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if h < height and w < width:
            break
    else:
        h = w = 0
    found = h > 0 or w > 0
    x1 = min(math.floor(u[-3] * (width - w + 1)), width - w) if found else 0
    y1 = min(math.floor(u[-2] * (height - h + 1)), height - h) if found else 0
    selected = found and u[-1] < p
    noise = _host_noise(value, channels * h * w if selected else 0, dtype, device)
    return RandomErasingParams(torch.tensor([x1, y1, x1 + w, y1 + h]).view(1, 1, 4), _ONE_COIN[selected],
                               height, width, value, noise)


class Cutout(_OcclusionTransform):
    """Cutout (DeVries & Taylor, 2017, "Improved Regularization of Convolutional
    Neural Networks with Cutout") as a ``torchvision.transforms.v2`` transform.

    With probability ``p`` occlude ``n_holes`` squares of side ``length``,
    centred at uniform pixels and clipped at the border (or wholly inside with
    ``inside=True``), filled with ``fill`` (see :func:`sample_cutout`). Put it
    after ``Normalize`` so the default fill 0 is the dataset mean, as in the
    paper's pipeline.

    Beside torchvision's transforms: tensors only (PIL refused); a numeric fill
    on a uint8 image must be an integer in ``[0, 255]`` (refused, not truncated);
    a batch ``(..., C, H, W)`` gets one hole draw per image; not scriptable.
    """

    def __init__(
        self, length: int, n_holes: int = 1, fill: Fill = 0.0, p: float = 1.0, inside: bool = False
    ) -> None:
        super().__init__()
        check_positive_int("length", length)
        check_positive_int("n_holes", n_holes)
        _check_fill_spec("fill", fill, None, None)
        check_probability("p", p)
        _check_flag("inside", inside)
        self.length, self.n_holes, self.fill, self.p, self.inside = length, n_holes, fill, p, inside

    def _sample(self, count: int, channels: int, height: int, width: int, dtype: torch.dtype,
                device: torch.device) -> OcclusionParams:
        _check_fill_spec("fill", self.fill, channels, dtype)
        if self.inside and self.length > min(height, width):
            raise ValueError(
                f"length must be <= min(height, width) = {min(height, width)} with inside=True, got {self.length}")
        if count == 1:
            return _host_cutout(height, width, self.length, self.n_holes, self.p, self.inside, self.fill,
                                channels, dtype, device)
        return _sample_cutout(count, height, width, self.length, self.n_holes, self.p, self.inside, self.fill,
                              channels, dtype, None, device)


class RandomErasing(_OcclusionTransform):
    """Random Erasing (Zhong, Zheng, Kang, Li & Yang, 2020, "Random Erasing Data
    Augmentation") as a ``torchvision.transforms.v2`` transform.

    With probability ``p`` erase one rectangle with area fraction ``~ U(scale)``
    and aspect ratio log-uniform in ``ratio`` (uniform with
    ``log_ratio=False``, as the paper), drawn in at most ``max_attempts`` tries,
    filled with ``value`` (see :func:`sample_random_erasing`).

    Differences from ``torchvision.transforms.v2.RandomErasing``, which a user
    swapping classes should know:

    - defaults are the paper's: ``scale=(0.02, 0.4)`` (torchvision: ``(0.02, 0.33)``)
      and ``value="random"`` (torchvision: ``0``);
    - a fractional fill on a uint8 image is refused with a ``ValueError``
      (torchvision truncates it);
    - tensors only (PIL refused), and a batch ``(..., C, H, W)`` gets one box per
      image (torchvision: one box for all);
    - ``"mean"`` fill, ``log_ratio`` and ``max_attempts`` options; no ``inplace``;
    - not scriptable (``torch.jit.script`` is not supported).
    """

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = PAPER_SCALE,
        ratio: tuple[float, float] = PAPER_RATIO,
        value: Fill = "random",
        log_ratio: bool = True,
        max_attempts: int = 10,
    ) -> None:
        super().__init__()
        check_probability("p", p)
        self.scale = _check_pair("scale", scale, low=0.0, high=1.0)
        self.ratio = _check_ratio(ratio)
        _check_fill_spec("value", value, None, None)
        _check_flag("log_ratio", log_ratio)
        check_positive_int("max_attempts", max_attempts)
        self.p, self.value, self.log_ratio, self.max_attempts = p, value, log_ratio, max_attempts

    def _sample(self, count: int, channels: int, height: int, width: int, dtype: torch.dtype,
                device: torch.device) -> OcclusionParams:
        _check_fill_spec("value", self.value, channels, dtype)
        if count == 1:
            return _host_random_erasing(height, width, self.p, self.scale, self.ratio, self.log_ratio,
                                        self.max_attempts, self.value, channels, dtype, device)
        return _sample_random_erasing(count, height, width, self.p, self.scale, self.ratio, self.log_ratio,
                                      self.max_attempts, self.value, channels, dtype, None, device)


# --------------------------------------------------------------------------- helpers


def _clipped_span(centre: torch.Tensor, length: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    start = centre - length // 2
    return start.clamp(0, size), (start + length).clamp(0, size)


def _uniform(
    shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=device)


def _round_if_integer(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return values.round().to(dtype) if dtype == torch.uint8 else values.to(dtype)


def _check_size(n: int, height: int, width: int, channels: int, dtype: Any) -> None:
    check_positive_int("n", n)
    check_positive_int("height", height)
    check_positive_int("width", width)
    check_positive_int("channels", channels)
    if not isinstance(dtype, torch.dtype) or not (dtype.is_floating_point or dtype == torch.uint8):
        raise TypeError(f"dtype must be a floating-point torch.dtype or torch.uint8, got {dtype!r}")


def _check_image_dtype(images: torch.Tensor) -> None:
    if not (images.is_floating_point() or images.dtype == torch.uint8):
        raise TypeError(f"images must be floating point or uint8, got {images.dtype}")


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")


def _check_pair(name: str, pair: Any, *, low: float, high: float) -> tuple[float, float]:
    """A pair ``(a, b)`` of real numbers (``TypeError`` otherwise) with ``low <= a <= b <= high``."""
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        raise TypeError(f"{name} must be a sequence of two numbers (min, max), got {type(pair).__name__} {pair!r}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in pair):
        raise TypeError(f"{name} must hold two real numbers, got {pair!r}")
    a, b = float(pair[0]), float(pair[1])
    if not (low <= a <= b <= high):
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}, got {pair!r}")
    return a, b


def _check_ratio(ratio: Any) -> tuple[float, float]:
    low, high = _check_pair("ratio", ratio, low=0.0, high=math.inf)
    check_positive("ratio[0]", low)
    if math.isinf(high):
        raise ValueError(f"ratio must be finite, got {ratio!r}")
    return low, high


FILL_HELP = "a number, a per-channel sequence of numbers, 'random' or 'mean'"


def _fill_numbers(value: float | Sequence[float]) -> list[float]:
    return [float(v) for v in value] if isinstance(value, Sequence) else [float(value)]


def _check_fill_spec(name: str, value: Any, channels: int | None, dtype: torch.dtype | None) -> None:
    """A fill is a finite number, a non-empty sequence of them, ``"random"`` or ``"mean"``;
    with ``channels`` one number per channel, with a uint8 ``dtype`` integers in [0, 255]."""
    if isinstance(value, str):
        if value not in FILL_MODES:
            raise ValueError(f"{name} must be {FILL_HELP}; got {value!r}")
        return
    if isinstance(value, Sequence) and len(value) == 0:
        raise ValueError(f"{name} as a sequence must hold one number per channel, got {value!r}")
    raw = list(value) if isinstance(value, Sequence) else [value]
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be {FILL_HELP}; got {value!r}")
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if channels is not None and isinstance(value, Sequence) and len(value) not in (1, channels):
        raise ValueError(f"{name} must hold {channels} numbers (one per channel), got {len(value)}: {value!r}")
    if dtype == torch.uint8 and any(v != int(v) or not 0 <= v <= UINT8_MAX for v in raw):
        raise ValueError(
            f"{name} must be integers in [0, {UINT8_MAX}] for uint8 images, got {value!r}; "
            "occlude after normalisation (the 'float' stage) for a float fill"
        )

"""Occlusion augmentations: Cutout and Random Erasing, per-sample and batched.

Both tricks hide a rectangle of the training image so the network cannot rely
on one discriminative part and must use the context as well.

- Cutout (DeVries & Taylor, 2017, "Improved Regularization of Convolutional
  Neural Networks with Cutout", arXiv:1708.04552): ``n_holes`` squares of side
  ``length`` centred at uniformly drawn pixels, clipped at the border.
- Random Erasing (Zhong, Zheng, Kang, Li & Yang, 2020, "Random Erasing Data
  Augmentation", AAAI): with probability ``p`` one rectangle of random area
  fraction and aspect ratio, filled with noise or a constant.

The randomness is split as in ``torchvision.transforms.v2``: the samplers
:func:`sample_cutout_boxes`, :func:`sample_erasing_boxes` and
:func:`sample_fill` draw the per-sample parameters (boxes, coin flips, noise),
and :func:`occlude` applies given parameters to a batch deterministically.
:func:`cutout_batch` and :func:`random_erasing_batch` chain the two on a whole
``(N, C, H, W)`` batch on its device, every image with its own box and coin;
:class:`Cutout` and :class:`RandomErasing` are the per-sample v2 transforms.

The fill lives in the space of the tensor it is given. In the loader's
``"float"`` stage (after normalisation) a fill of 0 is the dataset mean::

    ImageHook(cutout_batch, stage="float", length=8)

whereas filling a normalised tensor with the raw mean pixel (0.4914, ...), as
the Random Erasing reference code does, puts ``mean + std * mean`` in raw
pixel units into the hole: not the mean at all.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform

from ._validation import (
    check_image_batch,
    check_increasing_pair,
    check_positive,
    check_positive_int,
    check_probability,
)

__all__ = [
    "Cutout",
    "OcclusionBoxes",
    "RandomErasing",
    "cutout_batch",
    "occlude",
    "random_erasing_batch",
    "sample_cutout_boxes",
    "sample_erasing_boxes",
    "sample_fill",
]

Fill = float | Sequence[float] | str
"""A fill: a number, a per-channel sequence, ``"random"`` or ``"mean"``."""

FILL_MODES: tuple[str, ...] = ("random", "mean")
UINT8_MAX = 255


@dataclass(frozen=True)
class OcclusionBoxes:
    """Per-sample rectangles to occlude, as drawn by a sampler.

    ``boxes`` is int64 ``(N, K, 4)`` holding ``(y0, x0, y1, x1)`` of K boxes per
    image, half-open (rows ``y0 <= y < y1``, columns ``x0 <= x < x1``) and
    always inside ``[0, height] x [0, width]``; ``applied`` is bool ``(N,)``:
    whether image n is occluded at all (its coin flip came up and, for Random
    Erasing, a box was found). Boxes of images not applied are left in for
    plotting but have no effect.
    """

    boxes: torch.Tensor
    applied: torch.Tensor
    height: int
    width: int

    @property
    def heights(self) -> torch.Tensor:
        """Box heights ``y1 - y0``, int64 ``(N, K)``."""
        return self.boxes[..., 2] - self.boxes[..., 0]

    @property
    def widths(self) -> torch.Tensor:
        """Box widths ``x1 - x0``, int64 ``(N, K)``."""
        return self.boxes[..., 3] - self.boxes[..., 1]

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
        """Occluded pixels, bool ``(N, 1, H, W)``: the union of an image's boxes where applied.

        ``mask[n, 0, y, x] = any_k (applied[n] and y0 <= y < y1 and x0 <= x < x1)``,
        built from one row test ``(N, K, H)`` and one column test ``(N, K, W)``.
        """
        device = self.boxes.device
        rows = torch.arange(self.height, device=device)
        cols = torch.arange(self.width, device=device)
        y0, x0, y1, x1 = self.boxes.unbind(-1)
        in_rows = (rows >= y0[..., None]) & (rows < y1[..., None]) & self.applied[:, None, None]
        in_cols = (cols >= x0[..., None]) & (cols < x1[..., None])
        return (in_rows[..., :, None] & in_cols[..., None, :]).any(dim=1, keepdim=True)


# --------------------------------------------------------------------------- samplers


def sample_cutout_boxes(
    batch_size: int,
    height: int,
    width: int,
    length: int,
    n_holes: int = 1,
    p: float = 1.0,
    inside: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> OcclusionBoxes:
    """Draw Cutout holes for a batch: ``(N, n_holes, 4)`` boxes and a coin per image.

    Clipped (default, DeVries & Taylor 2017): the centre ``(cy, cx)`` is uniform
    over all ``H x W`` pixels, edges included, and the hole is
    ``[cy - length // 2, cy - length // 2 + length)`` (likewise in x) clipped to
    the image, so a hole near the border is smaller than ``length^2``. The hole
    is exactly ``length`` wide for odd and even lengths alike (for even lengths
    the centre pixel has ``length // 2`` rows above it and ``length // 2 - 1``
    below); the paper's code uses ``[cy - length // 2, cy + length // 2)``,
    which silently drops one row and column when ``length`` is odd.

    ``inside=True`` (the variant of some fast CIFAR loaders): the top-left corner
    is uniform in ``[0, H - length] x [0, W - length]``, so every hole is exactly
    ``length x length`` and lies wholly inside. This is a different distribution:
    the border pixels are covered less often and the mean occluded area is larger.

    Each image is occluded with probability ``p`` (all its holes or none).
    Holes may overlap. Draws come from ``generator`` (on ``device``) or the global RNG.
    """
    _check_image_size(batch_size, height, width)
    check_positive_int("length", length)
    check_positive_int("n_holes", n_holes)
    check_probability("p", p)
    _check_flag("inside", inside)
    if inside and length > min(height, width):
        raise ValueError(
            f"length must be <= min(height, width) = {min(height, width)} with inside=True, got {length}"
        )
    shape = (batch_size, n_holes)
    if inside:
        y0 = torch.randint(0, height - length + 1, shape, generator=generator, device=device)
        x0 = torch.randint(0, width - length + 1, shape, generator=generator, device=device)
        y1, x1 = y0 + length, x0 + length
    else:
        cy = torch.randint(0, height, shape, generator=generator, device=device)
        cx = torch.randint(0, width, shape, generator=generator, device=device)
        y0, y1 = _clipped_span(cy, length, height)
        x0, x1 = _clipped_span(cx, length, width)
    applied = _coin_flips(batch_size, p, generator, device)
    return OcclusionBoxes(torch.stack([y0, x0, y1, x1], dim=-1), applied, height, width)


def sample_erasing_boxes(
    batch_size: int,
    height: int,
    width: int,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 1 / 0.3),
    log_ratio: bool = True,
    max_attempts: int = 10,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> OcclusionBoxes:
    """Draw one Random Erasing rectangle per image (Zhong et al. 2020): ``(N, 1, 4)`` boxes.

    Per attempt: area fraction ``s ~ U(scale)``, aspect ratio ``r`` log-uniform
    in ``ratio`` (``log r ~ U(log r1, log r2)``, torchvision's convention) or
    uniform with ``log_ratio=False`` (the paper and its reference code), then
    ``h = round(sqrt(s H W r))``, ``w = round(sqrt(s H W / r))``. The attempt is
    kept if ``h < H`` and ``w < W``; the first of ``max_attempts`` kept attempts
    is used (all attempts are drawn at once and the first valid one selected,
    the same distribution as torchvision's loop), and its top-left corner is
    uniform over ``[0, H - h] x [0, W - w]``. With no valid attempt the image is
    left unchanged (its box is ``(0, 0, 0, 0)``); ``applied`` is the coin
    ``u < p`` and a box found.

    The uniform ratio is not symmetric in ``h`` and ``w``: with ``ratio=(0.3,
    1/0.3)`` about 77% of the boxes are taller than wide; ``log_ratio`` makes
    tall and wide equally likely. (The paper's Algorithm 1 instead draws a point
    and rejects boxes that overflow it, which favours small boxes; like the
    reference code and torchvision we draw the size first, then the position.)
    """
    _check_image_size(batch_size, height, width)
    check_probability("p", p)
    s_low, s_high = check_increasing_pair("scale", scale, low=0.0, high=1.0)
    r_low, r_high = _check_ratio(ratio)
    _check_flag("log_ratio", log_ratio)
    check_positive_int("max_attempts", max_attempts)
    shape = (batch_size, max_attempts)
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
    y0 = torch.where(found, _uniform_offset(height - h, generator, device), 0)
    x0 = torch.where(found, _uniform_offset(width - w, generator, device), 0)
    applied = _coin_flips(batch_size, p, generator, device) & found
    boxes = torch.stack([y0, x0, y0 + h, x0 + w], dim=-1)[:, None]
    return OcclusionBoxes(boxes, applied, height, width)


def sample_fill(
    images: torch.Tensor, value: Fill = "random", generator: torch.Generator | None = None
) -> torch.Tensor:
    """The fill for ``images`` (N, C, H, W), in their dtype, broadcastable to them.

    - a number ``v``: every occluded pixel is ``v`` (in the tensor's own space:
      after normalisation 0 is the dataset mean; on uint8 it must be an integer
      in [0, 255]);
    - a sequence ``(v_1, ..., v_C)``: channel c is ``v_c``;
    - ``"random"``: independent per-pixel noise, ``N(0, 1)`` on float tensors
      (torchvision's choice: unit-variance noise in normalised space) and
      uniform integers in [0, 255] on uint8 (the paper's random values);
    - ``"mean"``: each image's own per-channel mean ``mean_{y,x} images[n, c]``
      (rounded on uint8). The dataset mean is the number 0 after normalisation.

    Only ``"random"`` draws from ``generator``.
    """
    return _make_fill("value", images, value, generator)


def _make_fill(
    name: str, images: torch.Tensor, value: Fill, generator: torch.Generator | None
) -> torch.Tensor:
    """:func:`sample_fill`, with errors naming the caller's argument (``fill`` or ``value``)."""
    check_image_batch("images", images)
    _check_image_dtype(images)
    _check_fill_for_images(name, value, images)
    if value == "random":
        return _random_fill(images, generator)
    if value == "mean":
        means = images.float().mean(dim=(2, 3), keepdim=True)
        return _round_if_integer(means, images.dtype)
    channels = [float(v) for v in _fill_numbers(value)]
    return torch.tensor(channels, device=images.device).reshape(1, -1, 1, 1).to(images.dtype)


# --------------------------------------------------------------------------- applier


def occlude(images: torch.Tensor, boxes: OcclusionBoxes, fill: torch.Tensor) -> torch.Tensor:
    """Apply given boxes and fill: ``out = where(mask, fill, images)``, a new tensor.

    ``mask`` is :meth:`OcclusionBoxes.mask`; ``fill`` is broadcastable to
    ``images`` (e.g. from :func:`sample_fill`) and cast to their dtype, so bf16,
    fp16 and uint8 batches stay in their dtype. The fill replaces the pixels,
    unlike the Cutout reference code, which multiplies by a float32 mask (so 0 is
    the only fill, and a bf16 or fp16 image comes back as float32). The input is
    never modified in place (the Random Erasing reference code writes into it).
    """
    check_image_batch("images", images)
    _check_image_dtype(images)
    n, _, h, w = images.shape
    if boxes.boxes.shape[0] != n or (boxes.height, boxes.width) != (h, w):
        raise ValueError(
            f"boxes were drawn for {boxes.boxes.shape[0]} images of {boxes.height}x{boxes.width}, "
            f"got images of shape {tuple(images.shape)}"
        )
    mask = boxes.mask().to(images.device)
    return torch.where(mask, fill.to(device=images.device, dtype=images.dtype), images)


# --------------------------------------------------------------------------- batched ops


def cutout_batch(
    images: torch.Tensor,
    length: int,
    n_holes: int = 1,
    fill: Fill = 0.0,
    p: float = 1.0,
    inside: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cutout (DeVries & Taylor 2017) on a whole ``(N, C, H, W)`` batch, per-sample randomness.

    ``out = occlude(images, sample_cutout_boxes(...), sample_fill(images, fill))``:
    every image gets its own ``n_holes`` squares of side ``length`` (clipped at
    the border, or wholly inside with ``inside=True``; see
    :func:`sample_cutout_boxes`) and its own coin with probability ``p``.
    Vectorised with masks, on the images' device and in their dtype. As a loader
    hook after normalisation, ``ImageHook(cutout_batch, stage="float", length=8)``,
    the default fill 0 is the dataset mean.
    """
    check_image_batch("images", images)
    n, _, h, w = images.shape
    boxes = sample_cutout_boxes(n, h, w, length, n_holes, p, inside, generator, images.device)
    return occlude(images, boxes, _make_fill("fill", images, fill, generator))


def random_erasing_batch(
    images: torch.Tensor,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 1 / 0.3),
    value: Fill = "random",
    log_ratio: bool = True,
    max_attempts: int = 10,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random Erasing (Zhong et al. 2020) on a whole ``(N, C, H, W)`` batch, per-sample randomness.

    ``out = occlude(images, sample_erasing_boxes(...), sample_fill(images, value))``:
    each image is erased with probability ``p`` by its own rectangle with area
    fraction ``~ U(scale)`` and aspect ratio ``h/w`` log-uniform in ``ratio``
    (uniform with ``log_ratio=False``), see :func:`sample_erasing_boxes`.
    Unlike ``torchvision.transforms.v2.RandomErasing`` applied to a batch, which
    draws one box and one coin for all images, every image has its own.
    """
    check_image_batch("images", images)
    n, _, h, w = images.shape
    boxes = sample_erasing_boxes(
        n, h, w, p, scale, ratio, log_ratio, max_attempts, generator, images.device
    )
    return occlude(images, boxes, sample_fill(images, value, generator))


# --------------------------------------------------------------------------- v2 transforms


def _is_image_tensor(inpt: Any) -> bool:
    """Plain tensors, ``tv_tensors.Image`` and ``tv_tensors.Video``: what the transforms occlude."""
    if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)):
        return True
    return isinstance(inpt, torch.Tensor) and not isinstance(inpt, tv_tensors.TVTensor)


class _OcclusionTransform(Transform, ABC):
    """Shared v2 plumbing: draw boxes for every image of the input, then :func:`occlude`.

    An input of shape ``(..., C, H, W)`` is seen as ``M = prod(...)`` images,
    each with its own box (torchvision's RandomErasing draws one for all).
    Other inputs (labels, bounding boxes, masks) pass through; PIL images are
    refused. Draws come from the global RNG, like every torchvision transform.
    """

    _transformed_types = (_is_image_tensor,)

    @abstractmethod
    def _fill_spec(self) -> tuple[str, Fill]:
        """The fill argument's name and value, handed to :func:`sample_fill`."""

    @abstractmethod
    def _sample_boxes(self, count: int, height: int, width: int, device: torch.device) -> OcclusionBoxes:
        """Boxes for ``count`` images of ``height x width`` on ``device``."""

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        if any(isinstance(inpt, PIL.Image.Image) for inpt in flat_inputs):
            raise TypeError(f"{type(self).__name__} takes tensors (C, H, W); convert PIL images first")

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if not flat_inputs:
            raise TypeError(f"{type(self).__name__} found no image tensor in its input")
        images = _as_image_batch(flat_inputs[0])
        n, _, h, w = images.shape
        boxes = self._sample_boxes(n, h, w, images.device)
        name, value = self._fill_spec()
        return {"boxes": boxes, "fill": _make_fill(name, images, value, None)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        out = occlude(_as_image_batch(inpt), params["boxes"], params["fill"]).reshape(inpt.shape)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


class Cutout(_OcclusionTransform):
    """Cutout (DeVries & Taylor, 2017, "Improved Regularization of Convolutional
    Neural Networks with Cutout") as a ``torchvision.transforms.v2`` transform.

    With probability ``p`` occlude ``n_holes`` squares of side ``length``,
    centred at uniform pixels and clipped at the border (or wholly inside with
    ``inside=True``), filled with ``fill`` (see :func:`sample_cutout_boxes` and
    :func:`sample_fill`). Put it after ``Normalize`` so the default fill 0 is
    the dataset mean, as in the paper's pipeline.
    """

    def __init__(
        self, length: int, n_holes: int = 1, fill: Fill = 0.0, p: float = 1.0, inside: bool = False
    ) -> None:
        super().__init__()
        check_positive_int("length", length)
        check_positive_int("n_holes", n_holes)
        _check_fill_spec("fill", fill)
        check_probability("p", p)
        _check_flag("inside", inside)
        self.length = length
        self.n_holes = n_holes
        self.fill = fill
        self.p = p
        self.inside = inside

    def _fill_spec(self) -> tuple[str, Fill]:
        return "fill", self.fill

    def _sample_boxes(self, count: int, height: int, width: int, device: torch.device) -> OcclusionBoxes:
        return sample_cutout_boxes(
            count, height, width, self.length, self.n_holes, self.p, self.inside, device=device
        )


class RandomErasing(_OcclusionTransform):
    """Random Erasing (Zhong, Zheng, Kang, Li & Yang, 2020, "Random Erasing Data
    Augmentation") as a ``torchvision.transforms.v2`` transform.

    With probability ``p`` erase one rectangle with area fraction ``~ U(scale)``
    and aspect ratio log-uniform in ``ratio`` (uniform with
    ``log_ratio=False``, as the paper), drawn in at most ``max_attempts`` tries,
    filled with ``value`` (see :func:`sample_erasing_boxes` and
    :func:`sample_fill`). Defaults are the paper's: ``scale=(0.02, 0.4)``,
    ``ratio=(0.3, 1/0.3)``, random values.
    """

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.4),
        ratio: tuple[float, float] = (0.3, 1 / 0.3),
        value: Fill = "random",
        log_ratio: bool = True,
        max_attempts: int = 10,
    ) -> None:
        super().__init__()
        check_probability("p", p)
        self.scale = check_increasing_pair("scale", scale, low=0.0, high=1.0)
        self.ratio = _check_ratio(ratio)
        _check_fill_spec("value", value)
        _check_flag("log_ratio", log_ratio)
        check_positive_int("max_attempts", max_attempts)
        self.p = p
        self.value = value
        self.log_ratio = log_ratio
        self.max_attempts = max_attempts

    def _fill_spec(self) -> tuple[str, Fill]:
        return "value", self.value

    def _sample_boxes(self, count: int, height: int, width: int, device: torch.device) -> OcclusionBoxes:
        return sample_erasing_boxes(
            count, height, width, self.p, self.scale, self.ratio, self.log_ratio,
            self.max_attempts, device=device,
        )


# --------------------------------------------------------------------------- helpers


def _clipped_span(centre: torch.Tensor, length: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    start = centre - length // 2
    return start.clamp(0, size), (start + length).clamp(0, size)


def _coin_flips(
    batch_size: int, p: float, generator: torch.Generator | None, device: torch.device | str | None
) -> torch.Tensor:
    return torch.rand(batch_size, generator=generator, device=device) < p


def _uniform(
    shape: tuple[int, ...],
    low: float,
    high: float,
    generator: torch.Generator | None,
    device: torch.device | str | None,
) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=device)


def _uniform_offset(
    room: torch.Tensor, generator: torch.Generator | None, device: torch.device | str | None
) -> torch.Tensor:
    """Integers uniform in ``[0, room]`` for each entry of ``room >= 0``."""
    u = torch.rand(room.shape, generator=generator, device=device)
    return torch.minimum(torch.floor(u * (room + 1)).long(), room)


def _random_fill(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return torch.randint(
            0, UINT8_MAX + 1, images.shape, generator=generator, device=images.device, dtype=torch.uint8
        )
    noise = torch.randn(images.shape, generator=generator, device=images.device)
    return noise.to(images.dtype)


def _round_if_integer(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return values.round().to(dtype) if dtype == torch.uint8 else values.to(dtype)


def _as_image_batch(inpt: torch.Tensor) -> torch.Tensor:
    if inpt.ndim < 3:
        raise ValueError(f"image must have shape (..., C, H, W), got {tuple(inpt.shape)}")
    return inpt.reshape(-1, *inpt.shape[-3:]).as_subclass(torch.Tensor)


def _check_image_size(batch_size: int, height: int, width: int) -> None:
    check_positive_int("batch_size", batch_size)
    check_positive_int("height", height)
    check_positive_int("width", width)


def _check_image_dtype(images: torch.Tensor) -> None:
    if not (images.is_floating_point() or images.dtype == torch.uint8):
        raise TypeError(f"images must be floating point or uint8, got {images.dtype}")


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")


def _check_ratio(ratio: Any) -> tuple[float, float]:
    low, high = check_increasing_pair("ratio", ratio, low=0.0, high=math.inf)
    check_positive("ratio[0]", low)
    check_positive("ratio[1]", high)
    if math.isinf(high):
        raise ValueError(f"ratio must be finite, got {ratio!r}")
    return low, high


FILL_HELP = "a number, a per-channel sequence of numbers, 'random' or 'mean'"


def _fill_numbers(value: float | Sequence[float]) -> list[float]:
    return list(value) if isinstance(value, Sequence) else [value]


def _check_fill_spec(name: str, value: Any) -> None:
    """A fill is a finite number, a non-empty sequence of them, ``"random"`` or ``"mean"``."""
    if isinstance(value, str):
        if value not in FILL_MODES:
            raise ValueError(f"{name} must be {FILL_HELP}; got {value!r}")
        return
    if isinstance(value, Sequence) and len(value) == 0:
        raise ValueError(f"{name} as a sequence must hold one number per channel, got {value!r}")
    for v in _fill_numbers(value):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be {FILL_HELP}; got {value!r}")
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {value!r}")


def _check_fill_for_images(name: str, value: Any, images: torch.Tensor) -> None:
    """The fill spec is valid, has one number per channel, and suits a uint8 batch."""
    _check_fill_spec(name, value)
    if isinstance(value, str):
        return
    channels = images.shape[1]
    if isinstance(value, Sequence) and len(value) != channels:
        raise ValueError(
            f"{name} must hold {channels} numbers (one per channel), got {len(value)}: {value!r}"
        )
    if images.dtype == torch.uint8 and any(
        v != int(v) or not 0 <= v <= UINT8_MAX for v in _fill_numbers(value)
    ):
        raise ValueError(
            f"{name} must be integers in [0, {UINT8_MAX}] for uint8 images, got {value!r}; "
            "occlude after normalisation (the 'float' stage) for a float fill"
        )

"""The 14 image operations of AutoAugment, batched, with one parameter per image.

Cubuk, Zoph, Mane, Vasudevan and Le (2019), "AutoAugment: Learning Augmentation
Strategies from Data", CVPR. Their search space has 16 operations; the three
published policies (CIFAR-10, SVHN, ImageNet) use the 14 implemented here
(Cutout and SamplePairing appear in no published sub-policy).

Every operation takes a uint8 batch ``(N, C, H, W)`` on any device and, where it
has a parameter, a tensor ``(N,)`` with one value per image (already signed), so
one call applies a whole group of images with their own strengths. Pixel
arithmetic follows ``torchvision.transforms.v2.functional`` on uint8 tensors
(which follows PIL): the results agree grey level for grey level, which the
tests check. Geometric operations sample the nearest pixel and fill with 0.

Public functions validate their arguments (the values are checked on the host,
so on CUDA they wait for the device); :data:`OPERATIONS` is the one table of operations (kernel without the checks,
magnitude range, signed, kind), for callers whose parameters are valid by
construction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as nnf

from ._validation import check_image_batch

__all__ = [
    "NUM_MAGNITUDES",
    "OPERATIONS",
    "OP_KINDS",
    "OP_NAMES",
    "TRANSLATE_CONVENTIONS",
    "OpSpec",
    "auto_contrast",
    "brightness",
    "check_per_image",
    "check_uint8_images",
    "color",
    "contrast",
    "equalize",
    "invert",
    "posterize",
    "rotate",
    "run_operation",
    "sharpness",
    "shear_x",
    "shear_y",
    "solarize",
    "translate_x",
    "translate_y",
]


_GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as PIL and torchvision
_LEVELS = 256


# ----------------------------------------------------------------- validation


def check_uint8_images(name: str, images: Any, *, rgb: bool = False) -> None:
    """Require a uint8 batch ``(N, C, H, W)``; with ``rgb``, exactly 3 channels."""
    check_image_batch(name, images)
    if images.dtype != torch.uint8:
        raise TypeError(f"{name} must be a uint8 tensor (0-255 grey levels), got dtype {images.dtype}")
    if rgb and images.shape[1] != 3:
        raise ValueError(f"{name} must have 3 (RGB) channels, got shape {tuple(images.shape)}")


def check_per_image(
    name: str,
    values: object,
    images: torch.Tensor,
    *,
    low: float | None = None,
    high: float | None = None,
    integral: bool = False,
) -> None:
    """Require a real tensor ``(N,)`` on the images' device, finite, in ``[low, high]``."""
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape ({images.shape[0]},), got {type(values).__name__}")
    if values.shape != (images.shape[0],):
        raise ValueError(f"{name} must have shape ({images.shape[0]},), one value per image, got {tuple(values.shape)}")
    if values.device != images.device:
        raise ValueError(f"{name} must be on the images' device {images.device}, got {values.device}")
    if values.dtype == torch.bool or values.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
    as_float = values.double()
    if not bool(torch.isfinite(as_float).all()):
        raise ValueError(f"{name} must be finite, got {values.tolist()}")
    if integral and not bool((as_float == as_float.round()).all()):
        raise ValueError(f"{name} must hold whole numbers, got {values.tolist()}")
    if (low is not None and bool((as_float < low).any())) or (high is not None and bool((as_float > high).any())):
        raise ValueError(f"{name} must lie in [{low}, {high}], got {values.tolist()}")


# ----------------------------------------------------------------- kernels


def _per_image(values: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return values.to(dtype).view(-1, 1, 1, 1)


@functools.lru_cache(maxsize=32)
def _base_grid(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres ``(x, y, 1)`` about the image centre, ``(1, H W, 3)``, and ``(W/2, H/2)``."""
    xs = torch.linspace((1.0 - width) * 0.5, (width - 1.0) * 0.5, width, device=device)
    ys = torch.linspace((1.0 - height) * 0.5, (height - 1.0) * 0.5, height, device=device)
    base = torch.stack(
        (xs.expand(height, width), ys.unsqueeze(1).expand(height, width), torch.ones(height, width, device=device)),
        dim=-1,
    )
    return base.view(1, height * width, 3), torch.tensor([0.5 * width, 0.5 * height], device=device)


def _warp(images: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Sample ``out(p) = in(inverse @ (p, 1))`` at the nearest pixel, 0 outside.

    ``inverse`` is ``(N, 2, 3)`` float64 in pixel units about the image centre;
    the grid is built as torchvision's ``affine`` builds it, so both pick the
    same source pixel.
    """
    n, _, height, width = images.shape
    base, half_size = _base_grid(height, width, images.device)
    normalised = inverse.float().transpose(1, 2) / half_size
    grid = base.expand(n, -1, -1).bmm(normalised).view(n, height, width, 2)
    warped = nnf.grid_sample(images.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return warped.to(torch.uint8)


def _affine_rows(*entries: torch.Tensor) -> torch.Tensor:
    """``(N, 2, 3)`` matrices ``[[a, b, c], [d, e, f]]`` from six ``(N,)`` tensors."""
    a, b, c, d, e, f = entries
    return torch.stack((torch.stack((a, b, c), dim=-1), torch.stack((d, e, f), dim=-1)), dim=1)


def _shear_x(images: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    s = shear.double()
    one, zero = torch.ones_like(s), torch.zeros_like(s)
    return _warp(images, _affine_rows(one, s, s * (0.5 * images.shape[2]), zero, one, zero))


def _shear_y(images: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    s = shear.double()
    one, zero = torch.ones_like(s), torch.zeros_like(s)
    return _warp(images, _affine_rows(one, zero, zero, s, one, s * (0.5 * images.shape[3])))


def _translate_x(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    t = pixels.double()
    one, zero = torch.ones_like(t), torch.zeros_like(t)
    return _warp(images, _affine_rows(one, zero, -t, zero, one, zero))


def _translate_y(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    t = pixels.double()
    one, zero = torch.ones_like(t), torch.zeros_like(t)
    return _warp(images, _affine_rows(one, zero, zero, zero, one, -t))


def _rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    radians = torch.deg2rad(degrees.double())
    cos, sin, zero = torch.cos(radians), torch.sin(radians), torch.zeros_like(radians)
    return _warp(images, _affine_rows(cos, -sin, zero, sin, cos, zero))


def _auto_contrast(images: torch.Tensor) -> torch.Tensor:
    pixels = images.float()
    low = pixels.amin(dim=(-2, -1), keepdim=True)
    high = pixels.amax(dim=(-2, -1), keepdim=True)
    flat = high == low
    step = (high - low) * (1.0 / 255.0)
    low = torch.where(flat, torch.zeros_like(low), low)
    step = torch.where(flat, torch.ones_like(step), step)
    return ((pixels - low) / step).clamp(0, 255).to(torch.uint8)


def _invert(images: torch.Tensor) -> torch.Tensor:
    return images.bitwise_not()


def _equalize(images: torch.Tensor) -> torch.Tensor:
    n, c, height, width = images.shape
    rows = images.reshape(n * c, height * width).long()
    offsets = torch.arange(n * c, device=images.device).unsqueeze(1) * _LEVELS
    histogram = torch.zeros(n * c * _LEVELS, dtype=torch.int64, device=images.device)
    histogram = histogram.index_add_(0, (rows + offsets).flatten(), torch.ones_like(rows).flatten()).view(n * c, _LEVELS)
    brightest_count = histogram.gather(1, rows.amax(dim=1, keepdim=True))
    step = (height * width - brightest_count) // 255
    cumulative = histogram.cumsum(dim=1)[:, :-1]
    lut = ((cumulative + step // 2) // step.clamp(min=1)).clamp(0, 255)
    lut = torch.cat((torch.zeros_like(lut[:, :1]), lut), dim=1).to(torch.uint8)
    equalised = lut.gather(1, rows)
    return torch.where(step == 0, rows.to(torch.uint8), equalised).view(n, c, height, width)


def _solarize(images: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    return torch.where(images >= _per_image(threshold), images.bitwise_not(), images)


def _posterize(images: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    mask = (0xFF << (8 - bits.long())) & 0xFF
    return images & mask.to(torch.uint8).view(-1, 1, 1, 1)


def _grey(images: torch.Tensor) -> torch.Tensor:
    red, green, blue = images.unbind(dim=1)
    grey = red.mul(_GREY_WEIGHTS[0]).add_(green, alpha=_GREY_WEIGHTS[1]).add_(blue, alpha=_GREY_WEIGHTS[2])
    return grey.floor_().unsqueeze(1)


def _fused_multiply_add(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x + weight * y`` in float32 rounded once, as torch's fused ``add(alpha=...)`` kernels.

    The float32 operands multiply exactly in float64, so one final rounding
    reproduces the fused result; truncation to uint8 then agrees level for level.
    """
    return (x.double() + y.double() * weight.double()).float()


def _blend(images: torch.Tensor, degenerate: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``clamp(factor * images + (1 - factor) * degenerate)``, truncated to uint8."""
    factor = factor.double()
    scaled = images.float() * _per_image(factor)
    mixed = _fused_multiply_add(scaled, degenerate, _per_image(1.0 - factor))
    return mixed.clamp_(0, 255).to(torch.uint8)


def _contrast(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return _blend(images, _grey(images).mean(dim=(-3, -2, -1), keepdim=True), factor)


def _color(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return _blend(images, _grey(images), factor)


def _brightness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (images.float() * _per_image(factor.double())).clamp_(0, 255).to(torch.uint8)


def _sharpness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    height, width = images.shape[-2:]
    if height <= 2 or width <= 2:
        return images.clone()
    pixels = images.float()
    inner = pixels[..., 1:-1, 1:-1]
    rows = pixels[..., :, :-2] + pixels[..., :, 1:-1] + pixels[..., :, 2:]
    box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
    # (box + 4 centre) / 13 is never a half-integer, so rounding it matches
    # torchvision's float convolution with the kernel [[1,1,1],[1,5,1],[1,1,1]] / 13.
    smooth = ((box + 4.0 * inner) / 13.0).round_()
    inner.copy_(_fused_multiply_add(inner, smooth - inner, _per_image(1.0 - factor.double())))
    return pixels.clamp_(0, 255).to(torch.uint8)


NUM_MAGNITUDES = 10
TRANSLATE_CONVENTIONS: tuple[str, ...] = ("relative", "absolute")


def _linear(high: float, low: float = 0.0) -> Callable[[int, int, str], torch.Tensor]:
    return lambda height, width, translate: torch.linspace(low, high, NUM_MAGNITUDES).double()


def _translate_range(side: int, translate: str) -> torch.Tensor:
    if translate == "absolute":
        return torch.arange(NUM_MAGNITUDES, dtype=torch.float64)
    return torch.linspace(0.0, 150.0 / 331.0 * side, NUM_MAGNITUDES).trunc().double()


def _no_magnitude(height: int, width: int, translate: str) -> torch.Tensor:
    return torch.zeros(NUM_MAGNITUDES, dtype=torch.float64)


class OpSpec(NamedTuple):
    """One row of the operation table.

    ``kernel``: the unchecked batched kernel, ``kernel(images)`` for kind ``"free"``,
    ``kernel(images, values)`` otherwise. ``magnitudes(height, width, translate)``:
    the ten strengths ``v(0..9)`` (float64). ``signed``: the strength is negated
    with probability 1/2. ``kind``: ``"free"`` (no parameter), ``"value"`` (the
    kernel takes ``sign * v``) or ``"factor"`` (it takes ``1 + sign * v``).
    """

    name: str
    kernel: Callable[..., torch.Tensor]
    magnitudes: Callable[[int, int, str], torch.Tensor]
    signed: bool
    kind: str


OP_KINDS: tuple[str, ...] = ("free", "value", "factor")

OPERATIONS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("ShearX", _shear_x, _linear(0.3), True, "value"),
        OpSpec("ShearY", _shear_y, _linear(0.3), True, "value"),
        OpSpec("TranslateX", _translate_x, lambda h, w, t: _translate_range(w, t), True, "value"),
        OpSpec("TranslateY", _translate_y, lambda h, w, t: _translate_range(h, t), True, "value"),
        OpSpec("Rotate", _rotate, _linear(30.0), True, "value"),
        OpSpec("AutoContrast", _auto_contrast, _no_magnitude, False, "free"),
        OpSpec("Invert", _invert, _no_magnitude, False, "free"),
        OpSpec("Equalize", _equalize, _no_magnitude, False, "free"),
        OpSpec("Solarize", _solarize, lambda h, w, t: torch.linspace(1.0, 0.0, NUM_MAGNITUDES).double() * 255.0,
               False, "value"),
        OpSpec("Posterize", _posterize,
               lambda h, w, t: (8.0 - torch.arange(NUM_MAGNITUDES) * (4.0 / 9.0)).round().double(), False, "value"),
        OpSpec("Contrast", _contrast, _linear(0.9), True, "factor"),
        OpSpec("Color", _color, _linear(0.9), True, "factor"),
        OpSpec("Brightness", _brightness, _linear(0.9), True, "factor"),
        OpSpec("Sharpness", _sharpness, _linear(0.9), True, "factor"),
    )
}
"""The 14 operations, as torchvision's augmentation space: name -> (kernel, magnitude
range, signed, kind). Magnitude scales follow torchvision: ten evenly spaced values from
0 to the paper's bound (shear 0.3, rotate 30 degrees, enhancement 0.9 around a factor
of 1, posterize 8 down to 4 bits, solarize threshold 255 down to 0); translation up to
150/331 of the side (``"relative"``) or ``m`` pixels (``"absolute"``). Adding an
operation is one row here."""

OP_NAMES: tuple[str, ...] = tuple(OPERATIONS)


def run_operation(op: str, images: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """Unchecked: apply ``op`` with the signed strengths ``strength`` ``(N,)`` (``1 + s`` for factors)."""
    spec = OPERATIONS[op]
    if spec.kind == "free":
        return spec.kernel(images)
    if spec.kind == "factor":
        return spec.kernel(images, 1.0 + strength)
    return spec.kernel(images, strength)


# ----------------------------------------------------------------- public operations


def shear_x(images: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    """Shear along x about the top-left corner: ``out(x, y) = in(x + s_i * y, y)``.

    ``shear`` holds one coefficient ``s_i = tan(angle)`` per image (AutoAugment:
    up to 0.3 either way). As PIL's ``(1, s, 0, 0, 1, 0)`` affine in the paper's
    code (Cubuk et al. 2019, "AutoAugment"); nearest pixel, fill 0.
    """
    check_uint8_images("images", images)
    check_per_image("shear", shear, images)
    return _shear_x(images, shear)


def shear_y(images: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    """Shear along y about the top-left corner: ``out(x, y) = in(x, y + s_i * x)``.

    Per-image coefficient ``s_i``; see :func:`shear_x` (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images)
    check_per_image("shear", shear, images)
    return _shear_y(images, shear)


def translate_x(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Shift right by ``t_i`` pixels: ``out(x, y) = in(x - t_i, y)``, fill 0.

    Negative ``t_i`` shift left (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images)
    check_per_image("pixels", pixels, images)
    return _translate_x(images, pixels)


def translate_y(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Shift down by ``t_i`` pixels: ``out(x, y) = in(x, y - t_i)``, fill 0.

    Negative ``t_i`` shift up (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images)
    check_per_image("pixels", pixels, images)
    return _translate_y(images, pixels)


def rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate counter-clockwise by ``a_i`` degrees about the centre, fill 0.

    ``out(p) = in(R(-a_i) p)`` with ``p`` measured from the image centre, as
    ``torchvision``'s ``rotate`` (Cubuk et al. 2019, "AutoAugment": up to 30 degrees).
    """
    check_uint8_images("images", images)
    check_per_image("degrees", degrees, images)
    return _rotate(images, degrees)


def auto_contrast(images: torch.Tensor) -> torch.Tensor:
    """Stretch each channel to the full range: ``out = 255 (x - lo) / (hi - lo)``.

    ``lo, hi`` are the channel's darkest and brightest levels; a flat channel is
    left as is; truncated to uint8 (PIL ``ImageOps.autocontrast``; Cubuk et al.
    2019, "AutoAugment").
    """
    check_uint8_images("images", images)
    return _auto_contrast(images)


def invert(images: torch.Tensor) -> torch.Tensor:
    """``out = 255 - x`` (Cubuk et al. 2019, "AutoAugment")."""
    check_uint8_images("images", images)
    return _invert(images)


def equalize(images: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per channel, PIL's rounding scheme.

    With ``h`` the channel's histogram, ``c`` its cumulative sum and ``m`` the
    count of its brightest occupied level, ``step = (H W - m) // 255`` and
    ``out = (c[x - 1] + step // 2) // step`` (``out = 0`` at ``x = 0``); a channel
    with ``step = 0`` is left as is (PIL ``ImageOps.equalize``; Cubuk et al. 2019,
    "AutoAugment").
    """
    check_uint8_images("images", images)
    return _equalize(images)


def solarize(images: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert the pixels at or above a per-image threshold: ``out = 255 - x if x >= t_i``.

    ``t_i`` in ``[0, 256]`` (256 leaves the image unchanged), compared in float32
    as torchvision does (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images)
    check_per_image("threshold", threshold, images, low=0, high=_LEVELS)
    return _solarize(images, threshold)


def posterize(images: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the ``b_i`` most significant bits of every level: ``out = x & (255 << (8 - b_i))``.

    ``b_i`` whole numbers in ``[0, 8]`` (Cubuk et al. 2019, "AutoAugment": 4 to 8).
    """
    check_uint8_images("images", images)
    check_per_image("bits", bits, images, low=0, high=8, integral=True)
    return _posterize(images, bits)


def contrast(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the mean grey level: ``out = f_i x + (1 - f_i) mean(grey(x))``.

    ``grey = floor(0.2989 R + 0.587 G + 0.114 B)``; ``f_i >= 0`` (0 gives flat grey,
    1 the image); clamped, truncated to uint8 (PIL ``ImageEnhance.Contrast``;
    Cubuk et al. 2019, "AutoAugment": 0.1 to 1.9).
    """
    check_uint8_images("images", images, rgb=True)
    check_per_image("factor", factor, images, low=0)
    return _contrast(images, factor)


def color(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the grey image: ``out = f_i x + (1 - f_i) grey(x)`` (saturation).

    ``f_i >= 0`` (0 gives black and white); clamped, truncated to uint8 (PIL
    ``ImageEnhance.Color``; Cubuk et al. 2019, "AutoAugment": 0.1 to 1.9).
    """
    check_uint8_images("images", images, rgb=True)
    check_per_image("factor", factor, images, low=0)
    return _color(images, factor)


def brightness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with black: ``out = clamp(f_i x)``, truncated to uint8.

    ``f_i >= 0`` (PIL ``ImageEnhance.Brightness``; Cubuk et al. 2019,
    "AutoAugment": 0.1 to 1.9).
    """
    check_uint8_images("images", images)
    check_per_image("factor", factor, images, low=0)
    return _brightness(images, factor)


def sharpness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with a smoothed image: ``out = f_i x + (1 - f_i) round(k * x)`` inside the border.

    ``k = [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13``; the one-pixel border is kept;
    ``f_i >= 0`` (above 1 sharpens); clamped, truncated to uint8 (PIL
    ``ImageEnhance.Sharpness``; Cubuk et al. 2019, "AutoAugment": 0.1 to 1.9).
    """
    check_uint8_images("images", images)
    check_per_image("factor", factor, images, low=0)
    return _sharpness(images, factor)

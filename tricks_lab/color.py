"""Colour augmentations of the Bag of Tricks pipeline: PCA lighting noise and colour jitter.

He et al. (2019), "Bag of Tricks for Image Classification with Convolutional
Neural Networks", sec. 2.1, train their ImageNet baseline with, after the crop
and flip: brightness, saturation and contrast jitter with factors uniform in
``[0.6, 1.4]`` (strength 0.4), then "PCA noise with a coefficient sampled from a
normal distribution N(0, 0.1)", then normalisation.

**PCA lighting** (Krizhevsky, Sutskever & Hinton, 2012, "ImageNet
Classification with Deep Convolutional Neural Networks", sec. 4.1). Let
``Sigma = V diag(lambda) V^T`` be the 3x3 covariance of the training set's RGB
pixel values (scaled to ``[0, 1]``), eigenvalues ``lambda_1 >= lambda_2 >= lambda_3``
and orthonormal eigenvectors ``v_k`` (the columns of ``V``). Each training image
``i`` gets one offset, added to every one of its pixels::

    o_i = V (alpha_i * lambda) = sum_k alpha_ik lambda_k v_k,   alpha_ik ~ N(0, std^2)

drawn once per image per epoch. The offsets have covariance
``V diag(std^2 lambda^2) V^T``: the noise follows the principal colour axes, and
its scale along axis ``k`` is ``std * lambda_k``, in variance units, whereas the
data's own spread along that axis is ``sqrt(lambda_k)``. Because the offset
scales with a variance, its strength depends on the pixel units of the
covariance: computed on ``[0, 255]`` pixels, ``lambda`` is ``255^2`` times larger
and the same ``std`` gives noise 255 times stronger relative to the image. Here
the covariance is always that of pixels in ``[0, 1]``. The "N(0, 0.1)" of the
paper is a standard deviation of 0.1, as in its reference code.

**Colour jitter** (sec. 2.1; the operations of ``torchvision``'s
``ColorJitter``): per image, factors ``b, c, s ~ U[1 - strength, 1 + strength]``
and, in this order, brightness ``x <- b x``, contrast
``x <- c x + (1 - c) mean(grey(x))``, saturation ``x <- s x + (1 - s) grey(x)``,
with ``grey = 0.299 R + 0.587 G + 0.114 B`` (ITU-R 601, as torchvision). The
paper's text names hue among the scaled quantities; scaling a hue angle by a
factor has no natural meaning, and the jitter here, like torchvision's
``ColorJitter(0.4, 0.4, 0.4)``, uses contrast instead. torchvision applies the
three in a random order per call; here the order is fixed, so that a batch
needs no per-image permutation.

**Where they act.** Both hooks run at the loader's ``"float"`` stage, on images
normalised as ``z = (x - mean) / std_c`` (per channel ``c``). There the lighting
offset ``o`` in ``[0, 1]`` pixel units becomes ``o_c / std_c``; the jitter is
applied to the de-normalised ``x`` and normalised again. Neither clamps: the
lighting offset is added to float pixels without a clamp in the reference
pipelines, and the jitter (unlike torchvision's ``ColorJitter``, which clamps to
``[0, 1]``) keeps values outside the range too, so that jitter and lighting
compose without cutting off bright pixels. The ``"uint8"`` stage would have to round the offset to whole levels of
1/255 (for CIFAR-10 at std 0.1 the offsets along the two weaker colour axes are
typically below one level, so they would be rounded away) and clamp to
``[0, 255]``.

As every augmentation of the package, the randomness is split from the
pixels: ``sample_pca_lighting`` / ``sample_color_jitter`` draw small per-image
parameter tensors from a ``torch.Generator``, and ``apply_pca_lighting`` /
``apply_color_jitter`` apply them deterministically. :class:`PCALighting` and
:class:`ColorJitter` are the batched hooks of the loader (``stage = "float"``,
called as ``hook(images, targets, generator) -> (images, targets)``); their
per-batch path never reads a device value on the host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._validation import check_image_batch, check_in_range, check_positive, check_positive_int
from .cache import atomic_save_npy, cache_root
from .hooks import Hook, sampling_device

__all__ = [
    "GREY_WEIGHTS",
    "HE2019_JITTER",
    "HE2019_LIGHTING_STD",
    "ColorJitter",
    "ColorJitterParams",
    "PCALighting",
    "PCALightingParams",
    "apply_color_jitter",
    "apply_pca_lighting",
    "cifar10_lighting_eigen",
    "color_jitter",
    "lighting_eigen",
    "pca_lighting",
    "pixel_covariance",
    "sample_color_jitter",
    "sample_pca_lighting",
]

HE2019_LIGHTING_STD = 0.1
"""The standard deviation of the PCA lighting coefficients in He et al. (2019), sec. 2.1."""
HE2019_JITTER = 0.4
"""The strength of brightness, contrast and saturation jitter in He et al. (2019): factors in [0.6, 1.4]."""
GREY_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)
"""ITU-R 601 luma weights of R, G, B, as torchvision's ``rgb_to_grayscale``."""
_CACHE_VERSION = 1
_CHUNK = 4096


# --------------------------------------------------------------------------- the eigen-decomposition


def pixel_covariance(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """The 3x3 covariance of the RGB values of all pixels of ``images``, scaled to ``[0, 1]``.

    ``images``: uint8 ``(N, H, W, 3)`` (CIFAR's layout). Every pixel of every
    image is one observation; the covariance is ``E[x x^T] - E[x] E[x]^T``
    (divided by the number of pixels), accumulated in float64 over chunks.
    """
    array = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0:
        raise ValueError(f"images must be uint8 (N, H, W, 3) with N >= 1, got {array.dtype} {array.shape}")
    total = np.zeros(3)
    outer = np.zeros((3, 3))
    count = 0
    for start in range(0, array.shape[0], _CHUNK):
        pixels = array[start:start + _CHUNK].reshape(-1, 3).astype(np.float64) / 255.0
        total += pixels.sum(axis=0)
        outer += pixels.T @ pixels
        count += pixels.shape[0]
    mean = total / count
    return outer / count - np.outer(mean, mean)


def lighting_eigen(covariance: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(eigvals, eigvecs)`` of a 3x3 pixel covariance: ``Sigma = V diag(lambda) V^T``.

    Eigenvalues descending, float32 ``(3,)``; eigenvectors as the columns of a
    float32 ``(3, 3)`` orthonormal matrix, each with a non-negative sum of
    entries (an eigenvector's sign is arbitrary; this fixes it, so the
    decomposition is reproducible across LAPACK builds).
    """
    sigma = np.asarray(covariance.cpu() if isinstance(covariance, torch.Tensor) else covariance, dtype=np.float64)
    if sigma.shape != (3, 3) or not np.allclose(sigma, sigma.T) or not np.isfinite(sigma).all():
        raise ValueError(f"covariance must be a finite symmetric 3x3 matrix, got shape {sigma.shape}")
    values, vectors = np.linalg.eigh(sigma)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    vectors = vectors * np.where(vectors.sum(axis=0) < 0, -1.0, 1.0)
    return torch.from_numpy(values.astype(np.float32)), torch.from_numpy(vectors.astype(np.float32))


def cifar10_lighting_eigen(data: Any = None, *, cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The PCA lighting ``(eigvals, eigvecs)`` of CIFAR-10's training images.

    ``data`` is a :class:`tricks_lab.data.CIFAR10` (default: :func:`tricks_lab.data.load_cifar10`).
    Computed once from all training pixels (:func:`pixel_covariance`, then
    :func:`lighting_eigen`) and cached as ``<cache>/data/pca-lighting-<key>.npy``,
    keyed by the data copy (its ``source``, shape and a sample of its bytes), so
    the original release and the JPEG copy each get their own.
    """
    if data is None:
        from .data import load_cifar10

        data = load_cifar10()
    images = data.train_images
    path = _eigen_cache_path(data.source, images)
    if cache and path.is_file():
        try:
            stored = np.load(path, allow_pickle=False)
            if stored.shape == (4, 3) and np.isfinite(stored).all():
                return torch.from_numpy(stored[0].astype(np.float32)), torch.from_numpy(stored[1:].astype(np.float32))
        except (OSError, ValueError):
            pass  # unreadable: recompute and overwrite
    eigvals, eigvecs = lighting_eigen(pixel_covariance(images))
    if cache:
        atomic_save_npy(path, np.concatenate([eigvals.numpy()[None], eigvecs.numpy()]))
    return eigvals, eigvecs


def _eigen_cache_path(source: str, images: np.ndarray) -> Path:
    digest = hashlib.sha256(f"v{_CACHE_VERSION}|{source}|{images.shape}".encode())
    digest.update(np.ascontiguousarray(images[:: max(1, len(images) // 64)]).tobytes())
    return cache_root() / "data" / f"pca-lighting-{digest.hexdigest()[:16]}.npy"


# --------------------------------------------------------------------------- PCA lighting


@dataclass(frozen=True)
class PCALightingParams:
    """One lighting draw for ``N`` images.

    ``offsets`` float32 ``(N, 3)``: the RGB offset of each image in ``[0, 1]``
    pixel units, ``o_i = V (alpha_i * lambda)``, the same at every pixel.
    ``alphas`` float32 ``(N, 3)``: the coefficients it came from (for plots and tests).
    """

    offsets: torch.Tensor
    alphas: torch.Tensor


def sample_pca_lighting(
    n: int,
    eigvals: torch.Tensor,
    eigvecs: torch.Tensor,
    *,
    std: float = HE2019_LIGHTING_STD,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> PCALightingParams:
    """Draw ``alpha ~ N(0, std^2)``, ``(n, 3)``, and the offsets ``o_i = V (alpha_i * lambda)``
    (Krizhevsky et al., 2012, sec. 4.1; He et al., 2019, sec. 2.1 with ``std = 0.1``).

    ``eigvals`` ``(3,)`` (non-negative) and ``eigvecs`` ``(3, 3)`` (columns) as
    :func:`lighting_eigen` returns them. Drawn on ``device`` (default: the
    generator's, else the CPU). ``std = 0`` gives zero offsets.
    """
    check_positive_int("n", n)
    check_positive("std", std, allow_zero=True)
    eigvals, eigvecs = _check_eigen(eigvals, eigvecs)
    device = sampling_device(generator, device)
    return _sample_pca_lighting(n, eigvals.to(device), eigvecs.to(device), std, generator, device)


def _sample_pca_lighting(
    n: int, eigvals: torch.Tensor, eigvecs: torch.Tensor, std: float,
    generator: torch.Generator | None, device: torch.device,
) -> PCALightingParams:
    alphas = torch.randn(n, 3, generator=generator, device=device) * std
    return PCALightingParams(offsets=(alphas * eigvals) @ eigvecs.T, alphas=alphas)


def apply_pca_lighting(
    images: torch.Tensor, params: PCALightingParams, *, channel_std: Sequence[float] | None = None
) -> torch.Tensor:
    """Add each image's offset to all its pixels: ``x_i[c, h, w] + o_ic / s_c``.

    ``images``: float ``(N, 3, H, W)``. With ``channel_std=None`` they are in
    ``[0, 1]`` pixel units (``s_c = 1``); given the per-channel std ``s`` the images
    were normalised with, ``(x - mean) / s``, the offset is divided by it, which
    is the same as adding ``o`` before normalising. No clamping (as the
    reference pipeline). Deterministic; the output has the images' dtype.
    """
    _check_rgb_params(images, params, PCALightingParams, "offsets")
    scale = None if channel_std is None else _channel_std(channel_std, images.device)
    return _apply_pca_lighting(images, params.offsets, scale)


def _apply_pca_lighting(images: torch.Tensor, offsets: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    offsets = offsets.to(device=images.device, dtype=torch.float32)
    if scale is not None:
        offsets = offsets / scale
    return images + offsets.to(images.dtype).view(-1, 3, 1, 1)


def pca_lighting(
    images: torch.Tensor,
    eigvals: torch.Tensor,
    eigvecs: torch.Tensor,
    *,
    std: float = HE2019_LIGHTING_STD,
    channel_std: Sequence[float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """PCA lighting of a batch: :func:`sample_pca_lighting` on the images' device, then
    :func:`apply_pca_lighting`."""
    check_image_batch("images", images)
    params = sample_pca_lighting(images.shape[0], eigvals, eigvecs, std=std, generator=generator,
                                 device=images.device)
    return apply_pca_lighting(images, params, channel_std=channel_std)


class PCALighting(Hook):
    """The loader hook of PCA lighting noise, at the ``"float"`` stage (normalised images).

    ``PCALighting(std, eigvals, eigvecs)``, e.g. ``PCALighting(0.1, *cifar10_lighting_eigen())``.
    ``channel_std`` is the per-channel std the loader normalises with (CIFAR-10's
    by default). Arguments are checked here, once; each batch runs
    ``transform(images, targets, make_params(images, generator))`` without host
    synchronisation. Targets pass through.
    """

    stage = "float"

    def __init__(
        self,
        std: float,
        eigvals: torch.Tensor,
        eigvecs: torch.Tensor,
        *,
        channel_std: Sequence[float] | None = None,
    ) -> None:
        check_positive("std", std, allow_zero=True)
        self.std = float(std)
        self.eigvals, self.eigvecs = _check_eigen(eigvals, eigvecs)
        if channel_std is None:
            from .loader import CIFAR10_STD

            channel_std = CIFAR10_STD
        self.channel_std = _channel_std(channel_std, torch.device("cpu"))
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _constants(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if device not in self._on:  # one copy per device, made once
            self._on[device] = (self.eigvals.to(device), self.eigvecs.to(device), self.channel_std.to(device))
        return self._on[device]

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> PCALightingParams:
        """Draw this batch's offsets on the images' device."""
        eigvals, eigvecs, _ = self._constants(images.device)
        return _sample_pca_lighting(images.shape[0], eigvals, eigvecs, self.std, generator, images.device)

    def transform(
        self, images: torch.Tensor, targets: torch.Tensor, params: PCALightingParams
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the drawn offsets, divided by the normalisation std."""
        return _apply_pca_lighting(images, params.offsets, self._constants(images.device)[2]), targets

    def __repr__(self) -> str:
        return f"PCALighting(std={self.std!r}, eigvals={[round(v, 6) for v in self.eigvals.tolist()]})"


# --------------------------------------------------------------------------- colour jitter


@dataclass(frozen=True)
class ColorJitterParams:
    """One jitter draw for ``N`` images: float32 ``factors`` ``(N, 3)``, the brightness,
    contrast and saturation factor of each image (1 = unchanged)."""

    factors: torch.Tensor

    @property
    def brightness(self) -> torch.Tensor:
        return self.factors[:, 0]

    @property
    def contrast(self) -> torch.Tensor:
        return self.factors[:, 1]

    @property
    def saturation(self) -> torch.Tensor:
        return self.factors[:, 2]


def sample_color_jitter(
    n: int,
    brightness: float = HE2019_JITTER,
    contrast: float = HE2019_JITTER,
    saturation: float = HE2019_JITTER,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> ColorJitterParams:
    """Draw per-image factors ``U[1 - strength, 1 + strength]`` for brightness, contrast and
    saturation (He et al., 2019, sec. 2.1: strength 0.4, factors in ``[0.6, 1.4]``).

    Each strength is in ``[0, 1]``; a strength of 0 gives factors of exactly 1.
    """
    check_positive_int("n", n)
    strengths = (brightness, contrast, saturation)
    for name, value in zip(("brightness", "contrast", "saturation"), strengths):
        check_in_range(name, value, 0.0, 1.0)
    device = sampling_device(generator, device)
    return _sample_color_jitter(n, torch.tensor(strengths, device=device), generator, device)


def _sample_color_jitter(
    n: int, strengths: torch.Tensor, generator: torch.Generator | None, device: torch.device
) -> ColorJitterParams:
    uniform = torch.rand(n, 3, generator=generator, device=device)
    return ColorJitterParams(factors=1.0 + strengths * (2.0 * uniform - 1.0))


def apply_color_jitter(
    images: torch.Tensor,
    params: ColorJitterParams,
    *,
    mean: Sequence[float] | None = None,
    channel_std: Sequence[float] | None = None,
) -> torch.Tensor:
    """Brightness, then contrast, then saturation, per image (see the module docstring).

    ``images``: float ``(N, 3, H, W)`` in ``[0, 1]`` pixel units, or normalised
    as ``(x - mean) / channel_std`` when both are given (de-normalised, jittered,
    normalised again). No clamping. Deterministic; keeps the images' dtype.
    """
    _check_rgb_params(images, params, ColorJitterParams, "factors")
    if (mean is None) != (channel_std is None):
        raise ValueError("mean and channel_std must be given together (normalised images) or both be None")
    norm = None
    if mean is not None and channel_std is not None:
        norm = (_channel_std(mean, images.device, name="mean", positive=False), _channel_std(channel_std, images.device))
    return _apply_color_jitter(images, params.factors, norm)


def _apply_color_jitter(
    images: torch.Tensor, factors: torch.Tensor, norm: tuple[torch.Tensor, torch.Tensor] | None
) -> torch.Tensor:
    x = images.float()
    if norm is not None:
        mean, std = (t.view(1, 3, 1, 1) for t in norm)
        x = x * std + mean
    f = factors.to(device=x.device, dtype=torch.float32).view(-1, 3, 1, 1, 1).unbind(1)
    weights = torch.tensor(GREY_WEIGHTS, device=x.device).view(1, 3, 1, 1)
    x = x * f[0]
    grey_mean = (x * weights).sum(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    x = torch.lerp(grey_mean, x, f[1])
    grey = (x * weights).sum(dim=1, keepdim=True)
    x = torch.lerp(grey, x, f[2])
    if norm is not None:
        x = (x - mean) / std
    return x.to(images.dtype)


def color_jitter(
    images: torch.Tensor,
    brightness: float = HE2019_JITTER,
    contrast: float = HE2019_JITTER,
    saturation: float = HE2019_JITTER,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Colour jitter of a batch in ``[0, 1]`` pixel units: :func:`sample_color_jitter`, then
    :func:`apply_color_jitter`."""
    check_image_batch("images", images)
    params = sample_color_jitter(images.shape[0], brightness, contrast, saturation, generator=generator,
                                 device=images.device)
    return apply_color_jitter(images, params)


class ColorJitter(Hook):
    """The loader hook of brightness/contrast/saturation jitter, at the ``"float"`` stage.

    ``ColorJitter(0.4, 0.4, 0.4)`` is He et al. (2019)'s setting. ``mean`` and
    ``channel_std`` are the loader's normalisation (CIFAR-10's by default): the
    jitter de-normalises, acts on ``[0, 1]`` pixels and normalises again.
    """

    stage = "float"

    def __init__(
        self,
        brightness: float = HE2019_JITTER,
        contrast: float = HE2019_JITTER,
        saturation: float = HE2019_JITTER,
        *,
        mean: Sequence[float] | None = None,
        channel_std: Sequence[float] | None = None,
    ) -> None:
        for name, value in zip(("brightness", "contrast", "saturation"), (brightness, contrast, saturation)):
            check_in_range(name, value, 0.0, 1.0)
        self.brightness, self.contrast, self.saturation = float(brightness), float(contrast), float(saturation)
        if (mean is None) != (channel_std is None):
            raise ValueError("mean and channel_std must be given together or both be None (CIFAR-10's)")
        if mean is None or channel_std is None:
            from .loader import CIFAR10_MEAN, CIFAR10_STD

            mean, channel_std = CIFAR10_MEAN, CIFAR10_STD
        cpu = torch.device("cpu")
        self._constants_cpu = (
            torch.tensor((self.brightness, self.contrast, self.saturation)),
            _channel_std(mean, cpu, name="mean", positive=False),
            _channel_std(channel_std, cpu),
        )
        self._on: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    def _constants(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        if device not in self._on:
            self._on[device] = tuple(t.to(device) for t in self._constants_cpu)
        return self._on[device]

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> ColorJitterParams:
        """Draw this batch's factors on the images' device."""
        return _sample_color_jitter(images.shape[0], self._constants(images.device)[0], generator, images.device)

    def transform(
        self, images: torch.Tensor, targets: torch.Tensor, params: ColorJitterParams
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the drawn factors in normalised space."""
        _, mean, std = self._constants(images.device)
        return _apply_color_jitter(images, params.factors, (mean, std)), targets

    def __repr__(self) -> str:
        return f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation})"


# --------------------------------------------------------------------------- helpers


def _check_rgb_params(images: Any, params: Any, kind: type, field: str) -> None:
    """Float ``(N, 3, H, W)`` images and a ``kind`` params object whose ``field`` is ``(N, 3)``."""
    check_image_batch("images", images)
    if not images.is_floating_point() or images.shape[1] != 3:
        raise ValueError(f"images must be float (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    if not isinstance(params, kind):
        raise TypeError(f"params must be {kind.__name__}, got {type(params).__name__}")
    shape = tuple(getattr(params, field).shape)
    if shape != (images.shape[0], 3):
        raise ValueError(f"params.{field} must have shape ({images.shape[0]}, 3), got {shape}")


def _check_eigen(eigvals: Any, eigvecs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    values = torch.as_tensor(eigvals, dtype=torch.float32).detach().cpu()
    vectors = torch.as_tensor(eigvecs, dtype=torch.float32).detach().cpu()
    if values.shape != (3,):
        raise ValueError(f"eigvals must have shape (3,), got {tuple(values.shape)}")
    if vectors.shape != (3, 3):
        raise ValueError(f"eigvecs must have shape (3, 3) (eigenvectors as columns), got {tuple(vectors.shape)}")
    if not bool(torch.isfinite(values).all()) or bool((values < 0).any()):
        raise ValueError(f"eigvals must be finite and >= 0 (a covariance's), got {values.tolist()}")
    if not torch.allclose(vectors.T @ vectors, torch.eye(3), atol=1e-4):
        raise ValueError("eigvecs must be orthonormal (V^T V = I), as lighting_eigen returns them")
    return values, vectors


def _channel_std(
    values: Sequence[float], device: torch.device, *, name: str = "channel_std", positive: bool = True
) -> torch.Tensor:
    numbers = [float(v) for v in values]
    if len(numbers) != 3:
        raise ValueError(f"{name} must have 3 entries (R, G, B), got {len(numbers)}")
    for value in numbers:
        if positive:
            check_positive(name, value)
        elif not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {numbers}")
    return torch.tensor(numbers, device=device)

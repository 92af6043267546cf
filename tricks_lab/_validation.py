"""Argument checks shared by every public function of ``tricks_lab``.

Each check raises a ``ValueError`` (or ``TypeError``) whose message names the
argument, the value it received and what is allowed, e.g.::

    ValueError: alpha must be > 0, got -1.0
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import torch


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Require ``value > 0`` (``>= 0`` with ``allow_zero``) and finite."""
    _check_real(name, value)
    if allow_zero:
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    elif not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def check_positive_int(name: str, value: int, *, allow_zero: bool = False) -> None:
    """Require an ``int`` (not ``bool``) that is > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    low = 0 if allow_zero else 1
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")


def check_in_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Require ``low <= value <= high``; brackets follow the inclusivity flags."""
    _check_real(name, value)
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (above and below):
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")


def check_probability(name: str, value: float) -> None:
    """Require ``0 <= value <= 1``."""
    check_in_range(name, value, 0.0, 1.0)


def check_choice(name: str, value: Any, choices: Collection[Any]) -> None:
    """Require ``value`` to be one of ``choices``; the message lists them."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")


def check_increasing_pair(name: str, pair: Any, *, low: float, high: float) -> tuple[float, float]:
    """Require a pair ``(a, b)`` with ``low <= a <= b <= high``; returns it as floats."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{name} must be a pair (min, max), got {pair!r}")
    a, b = float(pair[0]), float(pair[1])
    if not (low <= a <= b <= high) or math.isnan(a) or math.isnan(b):
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}, got {pair!r}")
    return a, b


def check_image_batch(name: str, images: Any) -> None:
    """Require a 4-D tensor ``(N, C, H, W)`` with at least one image."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {tuple(images.shape)}")


def check_labels(name: str, labels: Any, num_classes: int, batch_size: int) -> None:
    """Require int64 class indices of shape ``(batch_size,)`` in ``[0, num_classes)``,
    or float soft targets of shape ``(batch_size, num_classes)``."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point():
        if labels.shape != (batch_size, num_classes):
            raise ValueError(
                f"{name} as soft targets must have shape ({batch_size}, {num_classes}), "
                f"got {tuple(labels.shape)}"
            )
        return
    if labels.shape != (batch_size,):
        raise ValueError(f"{name} must have shape ({batch_size},), got {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, {num_classes}), got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )


def _check_real(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def check_logits(name: str, logits: torch.Tensor) -> None:
    """Require a floating-point ``(N, K)`` tensor with ``N >= 1`` and ``K >= 1``."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, K) with N, K >= 1, got {tuple(logits.shape)}")


def check_targets(name: str, targets: torch.Tensor, num_classes: int, batch_size: int) -> None:
    """Require int64 labels ``(N,)`` or float soft targets ``(N, K)``.

    The label range is checked on CPU only: on an accelerator the check would
    cost a host-device synchronisation on every training step.
    """
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(targets).__name__}")
    if not targets.is_floating_point() and targets.dtype != torch.int64:
        raise TypeError(f"{name} must be int64 class indices or float soft targets, got {targets.dtype}")
    expected = (batch_size, num_classes) if targets.is_floating_point() else (batch_size,)
    if tuple(targets.shape) != expected:
        kind = "soft targets" if targets.is_floating_point() else "class indices"
        raise ValueError(f"{name} as {kind} must have shape {expected}, got {tuple(targets.shape)}")
    if targets.device.type == "cpu":
        check_labels(name, targets, num_classes, batch_size)


def check_logits_and_targets(logits: torch.Tensor, targets: torch.Tensor) -> int:
    """Validate a ``(logits, targets)`` pair; return the number of classes K."""
    check_logits("logits", logits)
    batch_size, num_classes = logits.shape
    check_targets("targets", targets, num_classes, batch_size)
    return num_classes

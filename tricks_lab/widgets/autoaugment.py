"""Figures and the explorer of the AutoAugment chapter (11).

Every figure draws its choices with the package's own sampler
(:func:`tricks_lab.autoaugment.sample_autoaugment`) or forces them, and applies
them with :func:`tricks_lab.autoaugment.apply_autoaugment` /
:func:`tricks_lab.autoaugment.apply_operation` on uint8 images, which is what
the training loader's ``"uint8"`` hook does (Cubuk et al., 2019,
"AutoAugment: Learning Augmentation Strategies from Data").

- :func:`magnitude_scales_figure`: the strength ``v_op(m)`` of every operation
  against the magnitude index ``m``, with the two translation conventions and
  the TensorFlow reference's enhancement factors beside torchvision's.
- :func:`policy_gallery_figure`: one image under every sub-policy of a policy.
- :func:`batch_draws_figure`: per-image draws in a batch against torchvision's
  one draw for the whole batch.
- :func:`sub_policy_figure` and :func:`autoaugment_explorer`: one sub-policy at
  a chosen magnitude, forced and as drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from .._validation import check_choice, check_in_range, check_positive_int
from ..autoaugment import (
    POLICIES,
    TRANSLATE_CONVENTIONS,
    AutoAugmentParams,
    apply_autoaugment,
    apply_operation,
    magnitude_values,
    sample_autoaugment,
)
from ..autoaugment_ops import NUM_MAGNITUDES, OP_NAMES, OPERATIONS
from ..plotting import image_grid, to_display
from . import explorer

__all__ = [
    "autoaugment_explorer",
    "batch_draws_figure",
    "describe_operation",
    "magnitude_scales_figure",
    "policy_gallery_figure",
    "sub_policy_figure",
    "sub_policy_label",
    "tensorflow_enhancement_factor",
]


def tensorflow_enhancement_factor(magnitude_index: int | np.ndarray) -> np.ndarray:
    """The enhancement factor of the paper's TensorFlow code: ``f = 0.1 + 1.8 m / 10``, unsigned.

    Brightness, Color, Contrast and Sharpness take ``f`` directly there, so
    ``m = 0`` means ``f = 0.1`` (almost black, grey or flat), whereas
    torchvision (and :mod:`tricks_lab.autoaugment`) use ``f = 1 +- 0.9 m / 9``,
    where ``m = 0`` leaves the image unchanged (Cubuk et al., 2019, "AutoAugment").
    """
    m = np.asarray(magnitude_index, dtype=np.float64)
    if m.size == 0 or np.any(m < 0) or np.any(m > NUM_MAGNITUDES - 1) or np.any(m != np.round(m)):
        raise ValueError(f"magnitude_index must hold whole numbers in [0, {NUM_MAGNITUDES - 1}], got {m.tolist()}")
    return 0.1 + 1.8 * m / 10.0


def _as_batch(image: Any) -> torch.Tensor:
    """One uint8 image ``(H, W, 3)`` or ``(3, H, W)`` (array or tensor) as a ``(1, 3, H, W)`` tensor."""
    tensor = torch.as_tensor(np.asarray(image)) if not isinstance(image, torch.Tensor) else image.detach().cpu()
    if tensor.ndim != 3 or tensor.dtype != torch.uint8:
        raise ValueError(f"image must be one uint8 image (H, W, 3) or (3, H, W), got {tensor.dtype} "
                         f"{tuple(tensor.shape)}")
    if tensor.shape[0] != 3 and tensor.shape[-1] == 3:
        tensor = tensor.permute(2, 0, 1)
    if tensor.shape[0] != 3:
        raise ValueError(f"image must have 3 channels, got shape {tuple(tensor.shape)}")
    return tensor.contiguous().unsqueeze(0)


def _check_policy(policy: str) -> list:
    check_choice("policy", policy, POLICIES)
    return POLICIES[policy]


def _check_magnitude(magnitude: int | None) -> None:
    if magnitude is None:
        return
    if isinstance(magnitude, bool) or not isinstance(magnitude, int):
        raise TypeError(f"magnitude must be None (the published indices) or an int in 0-9, got {magnitude!r}")
    check_in_range("magnitude", magnitude, 0, NUM_MAGNITUDES - 1)


def describe_operation(op: str, magnitude_index: int, height: int = 32, width: int = 32,
                       translate: str = "relative") -> str:
    """``op`` at index ``m`` in its own units, e.g. ``"Rotate 9: ±30°"`` or ``"Posterize 9: 4 bits"``.

    The strength is ``v_op(m)`` of :func:`tricks_lab.autoaugment.magnitude_values`;
    ``±`` marks operations whose sign is drawn at random (Cubuk et al., 2019).
    """
    check_choice("op", op, OP_NAMES)
    _check_magnitude(magnitude_index)
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    spec = OPERATIONS[op]
    if spec.kind == "free":
        return f"{op} (no magnitude)"
    v = float(magnitude_values(op, height, width, translate)[magnitude_index])
    sign = "±" if spec.signed else ""
    if spec.kind == "factor":
        amount = f"factor 1{sign}{v:.2f}"
    elif op.startswith("Shear"):
        amount = f"{sign}{v:.2f}"
    elif op.startswith("Translate"):
        amount = f"{sign}{v:.0f} px"
    elif op == "Rotate":
        amount = f"{sign}{v:.1f}°"
    elif op == "Solarize":
        amount = f"threshold {v:.0f}"
    else:  # Posterize
        amount = f"{v:.0f} bits"
    return f"{op} {magnitude_index}: {amount}"


def sub_policy_label(sub_policy: Sequence[tuple[str, float, int]], separator: str = "\n") -> str:
    """``"Op1 p=.. m=..<sep>Op2 p=.. m=.."`` for a titled panel: each operation's name,
    probability ``p`` and magnitude index ``m`` (Cubuk et al., 2019, "AutoAugment")."""
    if not isinstance(separator, str):
        raise TypeError(f"separator must be a str, got {type(separator).__name__}")
    if not isinstance(sub_policy, (tuple, list)) or not all(
        isinstance(op, (tuple, list)) and len(op) == 3 for op in sub_policy
    ):
        raise ValueError(f"sub_policy must be a sequence of (operation, probability, magnitude index), "
                         f"got {sub_policy!r}")
    return separator.join(f"{op} p={p:.1f} m={m}" for op, p, m in sub_policy)


# --------------------------------------------------------------------------- magnitude scales


def magnitude_scales_figure(height: int = 32, width: int = 32) -> Figure:
    """``v_op(m)`` against the magnitude index ``m`` for every operation that has a magnitude.

    Ten evenly spaced values from 0 to the paper's bound, ``v(m) = v_max m / 9``
    (torchvision's spacing; Posterize ``8 - round(4 m / 9)`` bits, Solarize
    threshold ``255 (1 - m / 9)``). Translation: ``"relative"`` (150/331 of the
    side, truncated) and ``"absolute"`` (``m`` pixels, the TensorFlow CIFAR code).
    Enhancement: torchvision's ``1 +- v`` band against the TensorFlow code's
    unsigned ``0.1 + 1.8 m / 10`` (Cubuk et al., 2019, "AutoAugment").
    """
    check_positive_int("height", height)
    check_positive_int("width", width)
    m = np.arange(NUM_MAGNITUDES)
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.4))
    (ax_shear, ax_translate, ax_rotate), (ax_solarize, ax_posterize, ax_enhance) = axes

    ax_shear.plot(m, magnitude_values("ShearX", height, width).numpy(), "o-", label="ShearX, ShearY (± at random)")
    ax_shear.set(title="Shear", ylabel="shear coefficient (tan of the angle)")

    for convention, label in (("relative", f"relative: up to 150/331 × {width} px (torchvision)"),
                              ("absolute", "absolute: m px (TensorFlow CIFAR code)")):
        ax_translate.plot(m, magnitude_values("TranslateX", height, width, convention).numpy(), "o-", label=label)
    ax_translate.set(title=f"Translate on a {height} x {width} image", ylabel="shift (pixels, ± at random)")

    ax_rotate.plot(m, magnitude_values("Rotate", height, width).numpy(), "o-", label="Rotate (± at random)")
    ax_rotate.set(title="Rotate", ylabel="angle (degrees)")

    ax_solarize.plot(m, magnitude_values("Solarize", height, width).numpy(), "o-",
                     label="levels ≥ threshold are inverted")
    ax_solarize.set(title="Solarize", ylabel="threshold (grey level, 0-255)")

    ax_posterize.plot(m, magnitude_values("Posterize", height, width).numpy(), "o-", label="bits kept per channel")
    ax_posterize.set(title="Posterize", ylabel="bits kept (of 8)")

    v = magnitude_values("Brightness", height, width).numpy()
    ax_enhance.fill_between(m, 1 - v, 1 + v, alpha=0.25, label="torchvision: 1 ± v, sign at random")
    ax_enhance.plot(m, 1 + v, "o-", color="C0", ms=3)
    ax_enhance.plot(m, 1 - v, "o-", color="C0", ms=3)
    ax_enhance.plot(m, tensorflow_enhancement_factor(m), "s--", color="C3", ms=4,
                    label="TensorFlow code: 0.1 + 1.8 m / 10")
    ax_enhance.axhline(1.0, color="black", lw=0.8, ls=":")
    ax_enhance.set(title="Brightness, Color, Contrast, Sharpness", ylabel="enhancement factor (1 = unchanged)")

    for ax in axes.flat:
        ax.set(xlabel="magnitude index m", xticks=m)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("AutoAugment's magnitude scales: the strength v(m) of each operation "
                 "(AutoContrast, Equalize, Invert have none)", fontsize=10)
    return fig


# --------------------------------------------------------------------------- galleries


def policy_gallery_figure(image: Any, policy: str = "cifar10", translate: str = "relative",
                          ncols: int = 6) -> Figure:
    """One image under every sub-policy of ``policy``, both operations forced to fire, signs +.

    Panel ``s`` is ``op_{s,2}(op_{s,1}(x, v(m_{s,1})), v(m_{s,2}))``: what sub-policy
    ``s`` does when both of its coins come up; in training each operation fires
    only with its probability ``p`` (in the title) and signed operations take
    either sign (Cubuk et al., 2019, "AutoAugment").
    """
    sub_policies = _check_policy(policy)
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    check_positive_int("ncols", ncols)
    batch = _as_batch(image)
    n = len(sub_policies)
    height, width = batch.shape[-2:]
    params = AutoAugmentParams(
        sub_policy=torch.arange(n),
        op_index=torch.tensor([[OP_NAMES.index(op) for op, _, _ in sp] for sp in sub_policies]),
        fired=torch.ones(n, 2, dtype=torch.bool),
        sign=torch.ones(n, 2, dtype=torch.int64),
        strength=torch.tensor([[float(magnitude_values(op, height, width, translate)[m]) for op, _, m in sp]
                               for sp in sub_policies], dtype=torch.float64),
    )
    out = apply_autoaugment(batch.expand(n, -1, -1, -1).contiguous(), params)
    images = torch.cat([batch, out])
    titles = ["original"] + [f"#{s}\n{sub_policy_label(sp)}" for s, sp in enumerate(sub_policies)]
    fig = image_grid(images, titles, ncols=ncols, scale=1.75,
                     title=f"The {len(sub_policies)} sub-policies of the {policy} policy, both operations "
                           f"forced (p = probability, m = magnitude index; translate {translate})")
    return fig


def _draw_title(sub_policy: Sequence[tuple[str, float, int]], fired: Sequence[bool], sign: Sequence[int],
                prefix: str = "") -> str:
    parts = []
    for (op, _, _), did_fire, s in zip(sub_policy, fired, sign):
        if not did_fire:
            parts.append(f"{op} off")
        else:
            parts.append(op + ("-" if s < 0 else "+" if OPERATIONS[op].signed else ""))
    return prefix + "\n".join(parts)


def batch_draws_figure(image: Any, n: int = 8, seed: int = 0, policy: str = "cifar10") -> Figure:
    """``n`` copies of one image augmented as a batch: per image (ours) against torchvision's one draw.

    Top row: :func:`tricks_lab.autoaugment.sample_autoaugment` draws a sub-policy,
    coin flips and signs for every copy (titles: ``#s`` and what fired, ``+``/``-``
    the sign). Bottom row: ``torchvision.transforms.v2.AutoAugment`` called on the
    same batch tensor draws once, so every copy gets the same augmentation
    (Cubuk et al., 2019, "AutoAugment").
    """
    from torchvision.transforms import v2

    sub_policies = _check_policy(policy)
    check_positive_int("n", n)
    check_positive_int("seed", seed, allow_zero=True)
    batch = _as_batch(image).expand(n, -1, -1, -1).contiguous()
    params = sample_autoaugment(n, batch.shape[-2], batch.shape[-1], policy,
                                generator=torch.Generator().manual_seed(seed))
    ours = apply_autoaugment(batch, params)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        theirs = v2.AutoAugment(v2.AutoAugmentPolicy(policy))(batch)
    fig, axes = plt.subplots(2, n, figsize=(1.45 * n, 4.3), squeeze=False)
    for i in range(n):
        s = int(params.sub_policy[i])
        title = _draw_title(sub_policies[s], params.fired[i].tolist(), params.sign[i].tolist(), f"#{s}\n")
        for row, (pixels, text) in enumerate(((ours, title), (theirs, "same draw" if i else "one draw\nfor all"))):
            ax = axes[row, i]
            ax.imshow(to_display(pixels[i : i + 1])[0], interpolation="nearest")
            ax.set_title(text, fontsize=6.5)
            ax.axis("off")
    fig.suptitle(f"{n} copies of one image, augmented as one batch. Top: tricks_lab.autoaugment, a sub-policy "
                 f"per image.\nBottom: torchvision v2.AutoAugment on the batch tensor: one sub-policy for all",
                 fontsize=9)
    return fig


def sub_policy_figure(
    image: Any,
    sub_policy: int = 0,
    magnitude: int | None = None,
    policy: str = "cifar10",
    translate: str = "relative",
    seed: int = 0,
    n: int = 8,
) -> Figure:
    """One sub-policy of ``policy`` at its published magnitudes or at ``magnitude`` for both operations.

    First panels: the image, each operation forced (sign +), both in order. Next:
    ``n`` draws as training makes them, each operation firing with its
    probability ``p`` and signed operations taking a random sign; titles say
    what fired (Cubuk et al., 2019, "AutoAugment").
    """
    sub_policies = _check_policy(policy)
    if isinstance(sub_policy, bool) or not isinstance(sub_policy, int):
        raise TypeError(f"sub_policy must be an int, got {sub_policy!r}")
    check_in_range("sub_policy", sub_policy, 0, len(sub_policies) - 1)
    _check_magnitude(magnitude)
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    check_positive_int("seed", seed, allow_zero=True)
    check_positive_int("n", n)
    chosen = [(op, p, m if magnitude is None else magnitude) for op, p, m in sub_policies[sub_policy]]
    batch = _as_batch(image)
    height, width = batch.shape[-2:]
    (op1, _, m1), (op2, _, m2) = chosen
    first = apply_operation(batch, op1, m1, translate=translate)
    second = apply_operation(batch, op2, m2, translate=translate)
    both = apply_operation(first, op2, m2, translate=translate)
    params = sample_autoaugment(n, height, width, [tuple(chosen)], translate=translate,
                                generator=torch.Generator().manual_seed(seed))
    draws = apply_autoaugment(batch.expand(n, -1, -1, -1).contiguous(), params)
    images = torch.cat([batch, first, second, both, draws])
    def forced(op: str) -> str:
        return f"{op}{'+' if OPERATIONS[op].signed else ''} forced"

    titles = ["original", forced(op1), forced(op2), "both, in order"]
    titles += [_draw_title(chosen, params.fired[i].tolist(), params.sign[i].tolist()) for i in range(n)]
    described = " then ".join(
        f"{describe_operation(op, m, height, width, translate)} (p={p:.1f})" for op, p, m in chosen
    )
    which = "published magnitudes" if magnitude is None else f"magnitude {magnitude} for both"
    return image_grid(images, titles, ncols=min(len(images), 6), scale=1.7,
                      title=f"{policy} sub-policy #{sub_policy} ({which}):\n{described}")


def autoaugment_explorer(image: Any, policy: str = "cifar10") -> Any:
    """Pick a sub-policy, a magnitude (or the published ones), the translate convention and a seed."""
    import ipywidgets as widgets

    sub_policies = _check_policy(policy)
    _as_batch(image)
    options = [(f"#{s}: {sub_policy_label(sp, ' / ')}", s) for s, sp in enumerate(sub_policies)]
    return explorer(
        lambda sub_policy, magnitude, translate, seed: sub_policy_figure(
            image, sub_policy, magnitude, policy, translate, seed),
        sub_policy=widgets.Dropdown(options=options, value=0, description="sub-policy",
                                    layout={"width": "420px"}),
        magnitude=widgets.Dropdown(options=[("published", None)] + [(str(m), m) for m in range(NUM_MAGNITUDES)],
                                   value=None, description="magnitude m"),
        translate=widgets.ToggleButtons(options=list(TRANSLATE_CONVENTIONS), value="relative",
                                        description="translate"),
        seed=widgets.IntSlider(0, 0, 20, description="seed"),
    )

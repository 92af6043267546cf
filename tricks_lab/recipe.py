"""``Recipe``: one training run described as data, with a field for every trick.

The default recipe is the book's baseline: the fast net, SGD with Nesterov
momentum 0.9, batch 512, lr 0.4 (He et al. (2016)'s CIFAR learning rate,
0.1 for batch 128, scaled linearly to batch 512: the book's one reference
for "He's lr"), weight decay 5e-4, step decay by 10x at 50% and 75% of
training, random crop + flip, no other trick. A chapter changes one field
with ``dataclasses.replace(BASELINE, label_smoothing=0.1)`` and compares.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, fields
from typing import Any

from ._validation import (
    check_choice,
    check_in_range,
    check_positive,
    check_positive_int,
    check_probability,
)
from . import autoaugment, mixing, occlusion, optim, schedules
from .models import MODEL_NAMES, SHORTCUTS

__all__ = ["AUGMENTS", "BASELINE", "MIXINGS", "OCCLUSIONS", "OPTIMIZERS", "Recipe", "SCHEDULES", "WARMUP_MODES"]

# The choices of each field come from the registries that build the components,
# so a new trick is one registration there and (if it has options) one field here.
OPTIMIZERS: tuple[str, ...] = tuple(optim.OPTIMIZERS)
SCHEDULES: tuple[str, ...] = schedules.SHAPES
WARMUP_MODES: tuple[str, ...] = schedules.WARMUP_MODES
MIXINGS: tuple[str, ...] = ("none", *mixing.MIXINGS)
OCCLUSIONS: tuple[str, ...] = ("none", *occlusion.OCCLUSIONS)
AUGMENTS: tuple[str, ...] = ("none", *autoaugment.AUGMENTS)


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run except the profile and the seed.

    Learning-rate fields are for ``batch_size``; with ``lr_reference_batch``
    set, the lr is ``lr * batch_size / lr_reference_batch`` (the linear scaling
    rule of Goyal et al., 2017). ``epochs`` are scaled by the profile;
    ``warmup_epochs`` and ``milestones`` (fractions of training) follow.
    ``shortcut`` picks a ResNet's downsampling shortcut (A, B or D; None:
    the model's default); ``color_jitter`` is the strength of brightness,
    contrast and saturation jitter and ``pca_lighting`` the std of AlexNet's
    PCA lighting noise (0 turns either off; He et al. 2019 use 0.4 and 0.1).
    ``width_multiplier`` scales the width the profile gives a scalable model
    (the fast nets), e.g. for a larger distillation teacher.
    ``mixing_concentration`` is the ``a`` of the ``Beta(a, a)`` that mixing
    draws from: mixup's and CutMix's alpha, RICAP's beta.
    """

    # model
    model: str = "fastnet"
    width_multiplier: float = 1.0
    zero_init_residual: bool = False
    shortcut: str | None = None
    # optimisation
    epochs: int = 16
    batch_size: int = 512
    optimizer: str = "sgd"
    lr: float = 0.4
    lr_reference_batch: int | None = None
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    no_bias_decay: bool = False
    final_lr: float = 0.1
    bound_gamma: float = 1e-3
    # learning-rate schedule (stepped per iteration)
    schedule: str = "step"
    milestones: tuple[float, ...] = (0.5, 0.75)
    step_gamma: float = 0.1
    min_lr_factor: float = 0.0
    warmup_epochs: float = 0.0
    warmup_mode: str = "linear"
    warmup_start_factor: float = 0.0
    # loss
    label_smoothing: float = 0.0
    teacher: Recipe | None = None
    distill_temperature: float = 4.0
    distill_alpha: float = 0.5
    # data augmentation beyond crop + flip
    color_jitter: float = 0.0
    pca_lighting: float = 0.0
    augment: str = "none"
    occlusion: str = "none"
    cutout_length: int = 16
    cutout_holes: int = 1
    erasing_p: float = 0.5
    mixing: str = "none"
    mixing_concentration: float = 1.0
    mixing_p: float = 1.0
    # evaluation
    tta: bool = False

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODEL_NAMES)
        if self.shortcut is not None:
            check_choice("shortcut", self.shortcut, SHORTCUTS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("warmup_mode", self.warmup_mode, WARMUP_MODES)
        check_choice("mixing", self.mixing, MIXINGS)
        check_choice("occlusion", self.occlusion, OCCLUSIONS)
        check_choice("augment", self.augment, AUGMENTS)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        if self.lr_reference_batch is not None:
            check_positive_int("lr_reference_batch", self.lr_reference_batch)
        for name in ("lr", "final_lr", "bound_gamma", "distill_temperature", "mixing_concentration",
                     "width_multiplier"):
            check_positive(name, getattr(self, name))
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("pca_lighting", self.pca_lighting, allow_zero=True)
        check_in_range("color_jitter", self.color_jitter, 0.0, 1.0)
        check_in_range("momentum", self.momentum, 0.0, 1.0, high_inclusive=False)
        check_in_range("label_smoothing", self.label_smoothing, 0.0, 1.0, high_inclusive=False)
        for name in ("step_gamma", "min_lr_factor", "warmup_start_factor", "distill_alpha",
                     "erasing_p", "mixing_p"):
            check_probability(name, getattr(self, name))
        check_in_range("warmup_epochs", self.warmup_epochs, 0.0, float(self.epochs), high_inclusive=False)
        if not all(0.0 < m < 1.0 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(
                f"milestones must be increasing fractions of training in (0, 1), got {self.milestones!r}"
            )
        check_positive_int("cutout_length", self.cutout_length)
        check_positive_int("cutout_holes", self.cutout_holes)
        if self.nesterov and self.optimizer == "sgd" and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        if self.teacher is not None and not isinstance(self.teacher, Recipe):
            raise TypeError(f"teacher must be a Recipe or None, got {type(self.teacher).__name__}")

    @property
    def effective_lr(self) -> float:
        """The lr used for ``batch_size``, after the linear scaling rule if asked."""
        if self.lr_reference_batch is None:
            return self.lr
        return self.lr * self.batch_size / self.lr_reference_batch

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the teacher nested as a dict)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, Recipe) else (
                list(value) if isinstance(value, tuple) else value
            )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown recipe fields {unknown}; known fields: {sorted(known)}")
        values = dict(data)
        if values.get("teacher") is not None:
            values["teacher"] = cls.from_dict(values["teacher"])
        if "milestones" in values:
            values["milestones"] = tuple(values["milestones"])
        return cls(**values)

    def with_overrides(self, assignments: list[str]) -> "Recipe":
        """Apply ``["field=value", ...]`` strings (the CLI's ``--set``), parsed by each field's type."""
        hints = typing.get_type_hints(Recipe)
        changes: dict[str, Any] = {}
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            key = key.strip()
            if not sep or key not in hints or key == "teacher":
                raise ValueError(
                    f"cannot set {assignment!r}: expected field=value with a field among "
                    f"{sorted(k for k in hints if k != 'teacher')}"
                )
            changes[key] = _parse_value(key, hints[key], text.strip())
        return self.replace(**changes)


def _parse_value(key: str, hint: Any, text: str) -> Any:
    """Parse ``text`` as the type ``hint`` of field ``key`` (bool, int, float, str, tuples, optionals)."""
    if typing.get_origin(hint) is tuple:
        return tuple(_parse_value(key, float, v.strip()) for v in text.split(",") if v.strip())
    members = typing.get_args(hint)
    if type(None) in members:
        if text.lower() == "none":
            return None
        hint = next(m for m in members if m is not type(None))
    try:
        if hint is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if hint is int:
            return int(text)
        if hint is float:
            value = float(text)
            if math.isnan(value):
                raise ValueError(text)
            return value
    except ValueError as err:
        raise ValueError(f"{key} expects {hint.__name__}, got {text!r}") from err
    return text


BASELINE = Recipe()
"""The book's baseline recipe (see the module docstring)."""

"""Learning-rate schedules: linear scaling, warmup, cosine, linear and step decay.

Every schedule here is a :class:`torch.optim.lr_scheduler.LRScheduler` with
torch's semantics: the lr set at construction is the lr of step 0, and
``scheduler.step()`` is called once after every ``optimizer.step()`` (one
step = one iteration in this package). Each param group follows the curve
from its own base lr (its ``initial_lr``).

The lr is a pure function of the step: every schedule of this module has a
closed form ``lr_at(step)`` (as timm's schedulers have ``_get_lr(t)``), so a
curve can be drawn without training; :func:`lr_curve` draws the curve of any
scheduler, torch's included, by stepping it on a throwaway optimizer.

Step-count conventions (tested):

* warmup of ``W`` steps: steps ``0 .. W-1`` warm up, step ``W`` is step 0 of
  the follower, with exactly the lr the follower gives at its own step 0;
* a decay of ``K`` steps (``K = total_steps - warmup_steps``) starts at the
  base lr at its step 0 and reaches ``min_lr`` exactly at its step ``K-1``,
  the last step of training (``total_steps - 1`` counted from the start);
  stepped further it stays at ``min_lr``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, SupportsFloat

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from ._validation import (
    check_choice,
    check_in_range,
    check_positive,
    check_positive_int,
    check_probability,
)

__all__ = [
    "SHAPES",
    "WARMUP_MODES",
    "ClosedFormScheduler",
    "ConstantSchedule",
    "CosineDecay",
    "GradualWarmup",
    "LinearDecay",
    "StepDecay",
    "linear_scaled_lr",
    "lr_curve",
    "make_schedule",
    "step_decay",
    "warmup_cosine",
    "warmup_linear",
]

SHAPES: tuple[str, ...] = ("cosine", "linear", "step", "constant")
WARMUP_MODES: tuple[str, ...] = ("linear", "constant")


def linear_scaled_lr(base_lr: float, batch_size: int, base_batch_size: int = 256) -> float:
    """The linear scaling rule: ``lr = base_lr * batch_size / base_batch_size``.

    When the mini-batch grows ``k`` times, multiply the lr by ``k`` (He et al.'s
    ResNet setting: 0.1 for 256 images, so ``0.1 * b / 256`` for a batch of ``b``).
    Goyal, Dollar, Girshick, Noordhuis, Wesolowski, Kyrola, Tulloch, Jia, He
    (2017), "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour".
    """
    check_positive("base_lr", base_lr)
    check_positive_int("batch_size", batch_size)
    check_positive_int("base_batch_size", base_batch_size)
    return base_lr * batch_size / base_batch_size


class ClosedFormScheduler(LRScheduler, ABC):
    """An ``LRScheduler`` whose lr is a pure function of the step.

    Subclasses give the lr of one param group, ``_group_lr(base_lr, step)``;
    ``lr_at(step)`` lists it for every group and ``step()`` applies it, so a
    resumed or re-created schedule can never drift from its curve.
    """

    def lr_at(self, step: int) -> list[float]:
        """The lr of every param group at ``step`` (0 = the lr set at construction)."""
        check_positive_int("step", step, allow_zero=True)
        return [self._group_lr(float(base_lr), step) for base_lr in self.base_lrs]

    def get_lr(self) -> list[float]:
        """The lr of every param group at the current step, ``lr_at(last_epoch)``."""
        return self.lr_at(self.last_epoch)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load the state and set the optimizer's lrs to the restored step's lrs."""
        super().load_state_dict(state_dict)
        _set_group_lrs(self.optimizer, self._last_lr)

    @abstractmethod
    def _group_lr(self, base_lr: float, step: int) -> float:
        """The lr at ``step`` of a group whose base lr is ``base_lr``."""


class ConstantSchedule(ClosedFormScheduler):
    """``eta_t = eta``: the base lr at every step (the baseline with no decay)."""

    def _group_lr(self, base_lr: float, step: int) -> float:
        return base_lr


class CosineDecay(ClosedFormScheduler):
    """Cosine decay from the base lr ``eta`` to ``min_lr`` over ``total_steps`` steps.

    ``eta_t = min_lr + (eta - min_lr) * (1 + cos(pi * min(t, T) / T)) / 2`` with
    ``T = total_steps - 1``: ``eta`` at step 0, ``min_lr`` exactly at step
    ``total_steps - 1`` (the last one) and after it.
    Loshchilov, Hutter (2017), "SGDR: Stochastic Gradient Descent with Warm
    Restarts" (one cycle, no restart); He, Zhang, Zhang, Zhang, Xie, Li (2019),
    "Bag of Tricks for Image Classification with Convolutional Neural Networks".
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0) -> None:
        _check_decay_length(total_steps)
        _check_min_lr(optimizer, min_lr)
        self.total_steps = total_steps
        self.min_lr = float(min_lr)
        super().__init__(optimizer)

    def _group_lr(self, base_lr: float, step: int) -> float:
        last = self.total_steps - 1
        cosine = 1.0 + math.cos(math.pi * min(step, last) / last)
        return self.min_lr + (base_lr - self.min_lr) * cosine / 2.0


class LinearDecay(ClosedFormScheduler):
    """Linear decay from the base lr ``eta`` to ``min_lr`` over ``total_steps`` steps.

    ``eta_t = min_lr + (eta - min_lr) * (1 - min(t, T) / T)`` with
    ``T = total_steps - 1``: ``min_lr`` exactly at the last step. The shape of
    the CIFAR-10 speed runs: Jordan (2024), "94% on CIFAR-10 in 3.29 Seconds on
    a Single GPU"; Defazio, Cutkosky, Mehta, Mishchenko (2023), "When, Why and
    How Much? Adaptive Learning Rate Scheduling by Refinement".
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0) -> None:
        _check_decay_length(total_steps)
        _check_min_lr(optimizer, min_lr)
        self.total_steps = total_steps
        self.min_lr = float(min_lr)
        super().__init__(optimizer)

    def _group_lr(self, base_lr: float, step: int) -> float:
        last = self.total_steps - 1
        remaining = 1.0 - min(step, last) / last
        return self.min_lr + (base_lr - self.min_lr) * remaining


class StepDecay(ClosedFormScheduler):
    """Step decay: ``eta_t = eta * gamma ** #{m in milestones : m <= t}``.

    The lr is multiplied by ``gamma`` at every milestone (He, Zhang, Ren, Sun
    (2016), "Deep Residual Learning for Image Recognition": 0.1 at 32k and 48k
    iterations on CIFAR-10). Same curve as torch's ``MultiStepLR``.
    """

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1) -> None:
        _check_milestones(milestones, low=1)
        check_in_range("gamma", gamma, 0.0, 1.0, low_inclusive=False)
        self.milestones = list(milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def _group_lr(self, base_lr: float, step: int) -> float:
        passed = sum(1 for milestone in self.milestones if milestone <= step)
        return base_lr * self.gamma**passed


class GradualWarmup(LRScheduler):
    """Warm up for ``warmup_steps`` steps, then hand over to ``after``.

    With ``peak`` the lr ``after`` gives at its own step 0 (the optimizer's lr
    when there is no follower, and for every decay schedule):

    * ``mode="linear"`` (gradual warmup, Goyal et al. 2017, "Accurate, Large
      Minibatch SGD: Training ImageNet in 1 Hour"):
      ``eta_t = peak * (s + (1 - s) * t / W)`` for ``t < W``;
    * ``mode="constant"`` (He, Zhang, Ren, Sun (2016), "Deep Residual Learning
      for Image Recognition": 0.01 for ResNet-110 on CIFAR-10, then 0.1):
      ``eta_t = peak * s`` for ``t < W``;

    with ``s = start_factor`` and ``W = warmup_steps``. Step ``W`` uses ``peak``
    (no seam), and step ``W + k`` the lr of ``after``'s step ``k``: ``after`` is
    stepped only from then on, so a decay starts its count after the warmup.
    ``after`` can be any scheduler on the same optimizer, including
    ``ReduceLROnPlateau``: ``step(metrics)`` forwards ``metrics`` to it after the
    hand-over (ignored during the warmup and by other followers).

    ``state_dict()`` holds the follower's state dict, not the follower, so a
    resumed run continues on the same curve; ``load_state_dict`` also sets the
    optimizer's lrs to the restored step's.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        after: LRScheduler | None = None,
        start_factor: float = 0.0,
        mode: str = "linear",
    ) -> None:
        check_positive_int("warmup_steps", warmup_steps)
        check_probability("start_factor", start_factor)
        check_choice("mode", mode, WARMUP_MODES)
        if mode == "constant" and start_factor == 0.0:
            raise ValueError(
                "start_factor must be in (0, 1] for mode 'constant' (the lr would be 0 "
                f"during the whole warmup), got {start_factor!r}"
            )
        _check_follower(optimizer, after)
        self.warmup_steps = warmup_steps
        self.after = after
        self.start_factor = float(start_factor)
        self.mode = mode
        self.peak_lrs = _peak_lrs(optimizer, after)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> list[float]:
        """The lr of every param group at ``step``; after the warmup this needs a
        closed-form follower (a :class:`ClosedFormScheduler`)."""
        check_positive_int("step", step, allow_zero=True)
        if step < self.warmup_steps:
            return self._warmup_lrs(step)
        if self.after is None or step == self.warmup_steps:
            return list(self.peak_lrs)
        if not isinstance(self.after, ClosedFormScheduler):
            raise TypeError(
                f"lr_at({step}) needs a closed-form follower, got {type(self.after).__name__}; "
                "use lr_curve, which steps the scheduler"
            )
        return self.after.lr_at(step - self.warmup_steps)

    def step(self, metrics: SupportsFloat | None = None) -> None:  # type: ignore[override]
        """Advance one iteration; ``metrics`` goes to a ``ReduceLROnPlateau`` follower."""
        self._step_count += 1
        self.last_epoch += 1
        if self.after is not None and self.last_epoch > self.warmup_steps:
            self._step_follower(metrics)
        else:
            _set_group_lrs(self.optimizer, self._own_lrs(self.last_epoch))
        self._last_lr = _group_lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        """The warmup's state, with the follower's own ``state_dict()`` under ``"after"``."""
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "after")}
        state["after"] = None if self.after is None else self.after.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()`` (follower included) and restore the optimizer's lrs."""
        state = dict(state_dict)
        after_state = state.pop("after")
        if (after_state is None) != (self.after is None):
            raise ValueError(
                "state_dict and scheduler disagree on the follower: saved with "
                f"{'no' if after_state is None else 'a'} follower, loading into a scheduler with "
                f"{'no follower' if self.after is None else type(self.after).__name__}"
            )
        self.__dict__.update(state)
        if self.after is not None:
            self.after.load_state_dict(after_state)
        _set_group_lrs(self.optimizer, self._last_lr)

    def _own_lrs(self, step: int) -> list[float]:
        if step < self.warmup_steps:
            return self._warmup_lrs(step)
        return list(self.peak_lrs)

    def _warmup_lrs(self, step: int) -> list[float]:
        factor = self.start_factor
        if self.mode == "linear":
            factor += (1.0 - self.start_factor) * step / self.warmup_steps
        return [peak * factor for peak in self.peak_lrs]

    def _step_follower(self, metrics: SupportsFloat | None) -> None:
        if not isinstance(self.after, ReduceLROnPlateau):
            self.after.step()
            return
        if metrics is None:
            raise ValueError(
                f"metrics is required at step {self.last_epoch}: the warmup has handed over "
                "to ReduceLROnPlateau; call step(metrics)"
            )
        self.after.step(metrics)


def warmup_cosine(
    optimizer: Optimizer,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    start_factor: float = 0.0,
) -> LRScheduler:
    """Linear warmup, then cosine decay to ``min_lr`` at the last step.

    ``eta_t = eta * (s + (1 - s) * t / W)`` for ``t < W``, then
    ``eta_t = min_lr + (eta - min_lr) * (1 + cos(pi * (t - W) / T)) / 2`` with
    ``T = total_steps - W - 1`` (the warmup excluded): ``eta`` at ``t = W`` and
    ``min_lr`` exactly at ``t = total_steps - 1``. Goyal et al. (2017) for the
    warmup; He et al. (2019), "Bag of Tricks for Image Classification with
    Convolutional Neural Networks", for the cosine (see :class:`CosineDecay`).
    """
    return make_schedule(
        optimizer, "cosine", total_steps, warmup_steps=warmup_steps, min_lr=min_lr, start_factor=start_factor
    )


def warmup_linear(
    optimizer: Optimizer,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    start_factor: float = 0.0,
) -> LRScheduler:
    """Linear warmup, then linear decay to ``min_lr`` at the last step (the speed-run shape).

    ``eta_t = eta * (s + (1 - s) * t / W)`` for ``t < W``, then
    ``eta_t = min_lr + (eta - min_lr) * (1 - (t - W) / T)`` with
    ``T = total_steps - W - 1``. Goyal et al. (2017) for the warmup; Jordan
    (2024), "94% on CIFAR-10 in 3.29 Seconds on a Single GPU", for the shape.
    """
    return make_schedule(
        optimizer, "linear", total_steps, warmup_steps=warmup_steps, min_lr=min_lr, start_factor=start_factor
    )


def step_decay(optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1) -> LRScheduler:
    """Step decay ``eta_t = eta * gamma ** #{m in milestones : m <= t}`` (He et al. 2016,
    "Deep Residual Learning for Image Recognition"); see :class:`StepDecay`."""
    return StepDecay(optimizer, milestones, gamma)


def make_schedule(
    optimizer: Optimizer,
    shape: str,
    total_steps: int,
    *,
    warmup_steps: int = 0,
    warmup_mode: str = "linear",
    start_factor: float = 0.0,
    min_lr: float = 0.0,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
) -> LRScheduler:
    """The schedule of a whole run of ``total_steps`` iterations: an optional warmup, then a decay.

    ``shape`` is ``"cosine"`` (:class:`CosineDecay`), ``"linear"``
    (:class:`LinearDecay`), ``"step"`` (:class:`StepDecay`; ``milestones`` are
    iterations counted from the start of training, after the warmup) or
    ``"constant"``. The decay runs over the ``total_steps - warmup_steps``
    steps after the warmup, so cosine and linear reach ``min_lr`` exactly at
    step ``total_steps - 1``. ``min_lr`` is used by cosine and linear only,
    ``milestones`` and ``gamma`` by step only; other shapes ignore them, so a
    trainer can pass a whole recipe. With ``warmup_steps > 0`` the decay is wrapped in
    :class:`GradualWarmup` (``warmup_mode``, ``start_factor``). Warmup: Goyal et
    al. (2017), "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour".
    """
    _check_schedule_args(shape, total_steps, warmup_steps, warmup_mode, start_factor, min_lr, milestones, gamma)
    decay = _make_decay(optimizer, shape, total_steps - warmup_steps, min_lr, milestones, gamma, warmup_steps)
    if warmup_steps == 0:
        return decay
    return GradualWarmup(optimizer, warmup_steps, after=decay, start_factor=start_factor, mode=warmup_mode)


def lr_curve(
    make_scheduler: Callable[[Optimizer], LRScheduler], steps: int, base_lr: float = 0.1
) -> list[float]:
    """The lr of steps ``0 .. steps-1`` of ``make_scheduler(optimizer)``, without training.

    Builds SGD with lr ``base_lr`` on a dummy parameter, hands it to
    ``make_scheduler`` and records ``eta_t`` while stepping the optimizer (a
    no-op: no gradients) and the scheduler, so it draws any scheduler,
    torch's included. Example::

        lr_curve(lambda opt: warmup_cosine(opt, 1000, 100), steps=1000, base_lr=0.4)
    """
    check_positive_int("steps", steps)
    check_positive("base_lr", base_lr)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    if not isinstance(scheduler, LRScheduler):
        raise TypeError(f"make_scheduler must return an LRScheduler, got {type(scheduler).__name__}")
    lrs = [float(optimizer.param_groups[0]["lr"])]
    for _ in range(steps - 1):
        optimizer.step()
        scheduler.step()
        lrs.append(float(optimizer.param_groups[0]["lr"]))
    return lrs


def _make_decay(
    optimizer: Optimizer,
    shape: str,
    decay_steps: int,
    min_lr: float,
    milestones: Sequence[int],
    gamma: float,
    warmup_steps: int,
) -> LRScheduler:
    if shape == "cosine":
        return CosineDecay(optimizer, decay_steps, min_lr)
    if shape == "linear":
        return LinearDecay(optimizer, decay_steps, min_lr)
    if shape == "step":
        return StepDecay(optimizer, [milestone - warmup_steps for milestone in milestones], gamma)
    return ConstantSchedule(optimizer)


def _check_schedule_args(
    shape: str,
    total_steps: int,
    warmup_steps: int,
    warmup_mode: str,
    start_factor: float,
    min_lr: float,
    milestones: Sequence[int],
    gamma: float,
) -> None:
    check_choice("shape", shape, SHAPES)
    check_positive_int("total_steps", total_steps)
    check_positive_int("warmup_steps", warmup_steps, allow_zero=True)
    check_choice("warmup_mode", warmup_mode, WARMUP_MODES)
    check_probability("start_factor", start_factor)
    check_positive("min_lr", min_lr, allow_zero=True)
    check_in_range("gamma", gamma, 0.0, 1.0, low_inclusive=False)
    decays_to_min = shape in ("cosine", "linear")
    decay_minimum = 2 if decays_to_min else 1
    if warmup_steps > total_steps - decay_minimum:
        raise ValueError(
            f"warmup_steps must be <= total_steps - {decay_minimum} = {total_steps - decay_minimum} "
            f"(shape {shape!r} needs at least {decay_minimum} step(s) after the warmup), "
            f"got warmup_steps={warmup_steps!r} with total_steps={total_steps!r}"
        )
    if shape == "step":
        _check_milestones(milestones, low=warmup_steps + 1, high=total_steps - 1)


def _check_decay_length(total_steps: int) -> None:
    check_positive_int("total_steps", total_steps)
    if total_steps < 2:
        raise ValueError(
            f"total_steps must be >= 2 (a decay needs a first step at the base lr and a last one "
            f"at min_lr), got {total_steps!r}"
        )


def _check_min_lr(optimizer: Optimizer, min_lr: float) -> None:
    check_positive("min_lr", min_lr, allow_zero=True)
    for index, group in enumerate(optimizer.param_groups):
        base_lr = float(group.get("initial_lr", group["lr"]))
        if min_lr > base_lr:
            raise ValueError(
                f"min_lr must be <= the base lr of every param group, got {min_lr!r} "
                f"> {base_lr!r} (param group {index})"
            )


def _check_milestones(milestones: Sequence[int], *, low: int, high: int | None = None) -> None:
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence) or len(milestones) == 0:
        raise ValueError(f"milestones must be a non-empty sequence of ints, got {milestones!r}")
    for index, milestone in enumerate(milestones):
        check_positive_int(f"milestones[{index}]", milestone, allow_zero=True)
    upper = "" if high is None else f" and <= {high}"
    if any(later <= earlier for earlier, later in zip(milestones, milestones[1:])):
        raise ValueError(f"milestones must be strictly increasing, got {list(milestones)!r}")
    if milestones[0] < low or (high is not None and milestones[-1] > high):
        raise ValueError(f"milestones must be >= {low}{upper}, got {list(milestones)!r}")


def _check_follower(optimizer: Optimizer, after: LRScheduler | None) -> None:
    if after is None:
        return
    if not isinstance(after, LRScheduler):
        raise TypeError(f"after must be an LRScheduler or None, got {type(after).__name__}")
    if after.optimizer is not optimizer:
        raise ValueError("after must be constructed on the same optimizer as the warmup, got another one")


def _peak_lrs(optimizer: Optimizer, after: LRScheduler | None) -> list[float]:
    if after is None:
        return [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]
    return [float(lr) for lr in after.get_last_lr()]


def _group_lrs(optimizer: Optimizer) -> list[float | torch.Tensor]:
    return [
        group["lr"].clone() if isinstance(group["lr"], torch.Tensor) else group["lr"]
        for group in optimizer.param_groups
    ]


def _set_group_lrs(optimizer: Optimizer, lrs: Sequence[float | torch.Tensor]) -> None:
    for group, lr in zip(optimizer.param_groups, lrs, strict=True):
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(float(lr))
        else:
            group["lr"] = float(lr)

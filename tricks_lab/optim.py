"""AdaBound and AMSBound, and the no-bias-decay parameter groups.

AdaBound (Luo, Xiong, Liu and Sun, 2019, "Adaptive Gradient Methods with
Dynamic Bound of Learning Rate", ICLR) runs Adam with its per-element step
size clipped into a band ``[lower(t), upper(t)]`` that starts wide (Adam) and
closes on ``final_lr`` (SGD with momentum). :func:`bounds` gives the band as a
pure function of the step, for plots; ``AdaBound(..., track_clipping=True)``
records what the clipping did in each step (:meth:`AdaBound.step_sizes`,
:meth:`AdaBound.clipping_fractions`).

:func:`no_bias_decay` builds parameter groups that apply weight decay to
convolution and linear weights only (He, Zhang, Zhang, Zhang, Xie and Li,
2019, "Bag of Tricks for Image Classification with Convolutional Neural
Networks", CVPR); it works with any optimizer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

import torch
from torch import nn

from ._validation import check_choice, check_in_range, check_positive

__all__ = ["AMSBound", "AdaBound", "OPTIMIZERS", "OptimizerSettings", "StepSizes", "bounds", "no_bias_decay"]

Step = TypeVar("Step", float, torch.Tensor)
ParamsT = Iterable[torch.Tensor] | Iterable[dict[str, Any]]

_DECAYED_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def bounds(step: Step, final_lr: float, gamma: float) -> tuple[Step, Step]:
    """The AdaBound band at step ``t`` (Luo et al., 2019, "Adaptive Gradient
    Methods with Dynamic Bound of Learning Rate")::

        lower(t) = final_lr * (1 - 1 / (gamma * t + 1))
        upper(t) = final_lr * (1 + 1 / (gamma * t))

    ``lower`` rises from about ``final_lr * gamma`` and ``upper`` falls from
    about ``final_lr / gamma``; both reach ``final_lr`` to within 10% near
    ``t = 10 / gamma`` (``gamma = 1e-3``: ten thousand steps). ``step`` is a
    number ``> 0`` or a tensor of them (a whole curve at once); the result
    has the same type. Pass ``final_lr * lr / base_lr`` to get the band of a
    param group whose lr a scheduler has moved.
    """
    _check_step(step)
    check_positive("final_lr", final_lr)
    check_positive("gamma", gamma)
    return _band(step, final_lr, gamma)


def _band(step: Step, final_lr: float, gamma: float) -> tuple[Step, Step]:
    return final_lr * (1 - 1 / (gamma * step + 1)), final_lr * (1 + 1 / (gamma * step))


def _check_step(step: float | torch.Tensor) -> None:
    if not isinstance(step, torch.Tensor):
        check_positive("step", step)
        return
    if step.is_complex() or step.dtype == torch.bool:
        raise TypeError(f"step must be a real tensor, got dtype {step.dtype}")
    if step.numel() and not bool((step > 0).all()):
        raise ValueError(f"step must be > 0 everywhere, got a minimum of {step.min().item()!r}")


class StepSizes(NamedTuple):
    """What the clipping did to one parameter in the last tracked step.

    ``adam`` holds the per-element step sizes before clipping,
    ``lr * sqrt(1 - beta2^t) / ((1 - beta1^t) * (sqrt(v_t) + eps))``;
    ``lower`` and ``upper`` the band of that step (:func:`bounds`). The step
    applied was ``clipped() * m_t`` (Luo et al., 2019).
    """

    adam: torch.Tensor
    lower: float
    upper: float

    def clipped(self) -> torch.Tensor:
        """The step sizes applied: ``clip(adam, lower, upper)``."""
        return self.adam.clamp(self.lower, self.upper)

    def fraction_below(self) -> float:
        """Fraction of elements raised to ``lower`` (Adam would step less)."""
        return (self.adam < self.lower).float().mean().item()

    def fraction_above(self) -> float:
        """Fraction of elements cut to ``upper`` (Adam would step more)."""
        return (self.adam > self.upper).float().mean().item()


class AdaBound(torch.optim.Optimizer):
    """AdaBound (Luo, Xiong, Liu and Sun, 2019, "Adaptive Gradient Methods with
    Dynamic Bound of Learning Rate", ICLR): Adam whose per-element step size is
    clipped into a band that closes on ``final_lr``, so training moves from
    Adam-like to SGD-like. For every parameter, at its step ``t``::

        g     = grad + weight_decay * theta            (coupled L2, the default)
        m_t   = beta1 * m_{t-1} + (1 - beta1) * g
        v_t   = beta2 * v_{t-1} + (1 - beta2) * g^2    (AMSBound: v_t = max(v_{t-1}, that))
        eta_t = clip(lr * sqrt(1 - beta2^t) / ((1 - beta1^t) * (sqrt(v_t) + eps)),
                     lower(t), upper(t))
        theta = theta - eta_t * m_t

    with ``lower``/``upper`` from :func:`bounds` at ``final_lr * lr / base_lr``.
    This is the algorithm of the authors' ``adabound`` package and experiments
    (Adam's bias corrections, no ``1/sqrt(t)`` factor: that belongs to the
    paper's Algorithm 2 for its convergence proof); the paper uses
    ``gamma = 1 - beta2 = 1e-3``.

    Scheduling: each param group stores ``base_lr`` (its lr when added; a
    group dict may set it). The band scales with ``lr / base_lr``, as in the
    reference package, so an lr scheduler moves the final SGD step size too.
    Unlike that package, ``base_lr`` lives in the group, so groups added with
    ``add_param_group`` are updated and ``load_state_dict`` restores it.

    Weight decay: by default L2 added to the gradient (as the package does).
    With ``decoupled_weight_decay=True`` the weights are instead shrunk
    before the step (Loshchilov and Hutter, 2019, "Decoupled Weight Decay
    Regularization")::

        theta = theta * (1 - final_lr * (lr / base_lr) * weight_decay)

    i.e. by SGD's decay at the final step size, so ``weight_decay`` means what
    it means for SGD (5e-4 on CIFAR). This differs from ``torch.optim.AdamW``
    (``lr * weight_decay``) and from ``AdaBoundW`` in the authors' repository
    (``weight_decay`` alone, which a scheduler cannot move).

    ``track_clipping=True`` (an attribute, switchable during training) keeps a
    copy of the unclipped step sizes of each parameter in each step; read them
    with :meth:`step_sizes` and :meth:`clipping_fractions`. Off, the step does
    no extra work; the records are not part of ``state_dict``.

    ``foreach`` (a group option, as in ``torch.optim``): ``True`` applies each
    operation to all the group's parameters in one ``torch._foreach_*`` call,
    ``False`` runs the same operations one parameter at a time (better cache
    locality on CPU), ``None`` picks ``True`` when all the group's parameters
    are on CUDA.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        final_lr: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.999),
        gamma: float = 1e-3,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsbound: bool = False,
        decoupled_weight_decay: bool = False,
        *,
        track_clipping: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "final_lr": final_lr,
            "betas": betas,
            "gamma": gamma,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsbound": amsbound,
            "decoupled_weight_decay": decoupled_weight_decay,
            "foreach": foreach,
        }
        _check_hyperparameters(defaults, prefix="")
        self._records: dict[torch.Tensor, StepSizes] = {}
        self.track_clipping = track_clipping
        super().__init__(params, defaults)

    @property
    def track_clipping(self) -> bool:
        """Whether each step records the unclipped step sizes; switching it
        off drops the records."""
        return self._track_clipping

    @track_clipping.setter
    def track_clipping(self, value: bool) -> None:
        check_choice("track_clipping", value, (False, True))
        self._track_clipping = bool(value)
        if not value:
            self._records.clear()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; its ``base_lr`` defaults to its lr (``lr`` of the
        group, else the optimizer's). Its hyperparameters are checked first."""
        group = dict(param_group)
        group.setdefault("base_lr", group.get("lr", self.defaults["lr"]))
        overrides = {k: v for k, v in group.items() if k != "params"}
        _check_hyperparameters(overrides, prefix=f"param_groups[{len(self.param_groups)}].")
        super().add_param_group(group)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore; a checkpoint of the ``adabound`` package carries no
        ``base_lr``, ``decoupled_weight_decay`` or ``foreach``: its groups get
        their current lr, the package's coupled decay and the default choice."""
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("base_lr", group["lr"])
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("amsbound", False)
            group.setdefault("foreach", None)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One AdaBound update of every parameter that has a gradient; returns
        ``closure()`` (evaluated first, with gradients on) when given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update_group(group, index, params)
        return loss

    def step_sizes(self, param: torch.Tensor) -> StepSizes:
        """The unclipped step sizes and the band of ``param`` in the last step
        taken with ``track_clipping`` on (see :class:`StepSizes`)."""
        if param not in self._records:
            raise RuntimeError(
                "no step sizes recorded for this parameter: set track_clipping=True "
                "and take a step in which it has a gradient"
            )
        return self._records[param]

    def clipping_fractions(self) -> tuple[float, float]:
        """Fractions of all recorded elements whose step size was raised to the
        lower bound and cut to the upper bound in the last tracked step."""
        if not self._records:
            raise RuntimeError("no step sizes recorded: set track_clipping=True and take a step")
        records = self._records.values()
        below = sum(int((r.adam < r.lower).sum()) for r in records)
        above = sum(int((r.adam > r.upper).sum()) for r in records)
        total = sum(r.adam.numel() for r in records)
        return below / total, above / total

    def _update_group(self, group: dict[str, Any], index: int, params: list[torch.Tensor]) -> None:
        grads = [_dense_grad(p, index) for p in params]
        states = [self._initialised_state(p, group["amsbound"]) for p in params]
        for state in states:
            state["step"] += 1
        if _use_foreach(group["foreach"], params):
            self._update(group, params, grads, states)
            return
        for param, grad, state in zip(params, grads, states):
            self._update(group, [param], [grad], [state])

    def _update(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        states: list[dict[str, Any]],
    ) -> None:
        """The AdaBound update of ``params`` (all of a group, or one of them)."""
        steps = [state["step"] for state in states]
        sgd_lr = group["final_lr"] * group["lr"] / group["base_lr"]
        if group["weight_decay"] and not group["decoupled_weight_decay"]:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        exp_avgs = _update_moments(states, grads, group["betas"], group["amsbound"])
        rates = _adam_step_sizes(states, steps, group)
        band = [_band(t, sgd_lr, group["gamma"]) for t in steps]
        lowers, uppers = [low for low, _ in band], [high for _, high in band]
        if self._track_clipping:
            self._record(params, rates, lowers, uppers)
        torch._foreach_clamp_min_(rates, lowers)
        torch._foreach_clamp_max_(rates, uppers)
        torch._foreach_mul_(rates, exp_avgs)
        if group["weight_decay"] and group["decoupled_weight_decay"]:
            torch._foreach_mul_(params, 1.0 - sgd_lr * group["weight_decay"])
        torch._foreach_sub_(params, rates)

    def _initialised_state(self, param: torch.Tensor, amsbound: bool) -> dict[str, Any]:
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        if amsbound and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = state["exp_avg_sq"].clone()
        return state

    def _record(
        self,
        params: list[torch.Tensor],
        rates: list[torch.Tensor],
        lowers: list[float],
        uppers: list[float],
    ) -> None:
        for param, rate, lower, upper in zip(params, rates, lowers, uppers):
            self._records[param] = StepSizes(rate.clone(), lower, upper)


class AMSBound(AdaBound):
    """AMSBound (Luo et al., 2019, "Adaptive Gradient Methods with Dynamic
    Bound of Learning Rate"): :class:`AdaBound` normalising by the running
    maximum of the second moment, ``v_t = max(v_{t-1}, beta2 v_{t-1} + (1 -
    beta2) g^2)``, as AMSGrad does for Adam (Reddi, Kale and Kumar, 2018, "On
    the Convergence of Adam and Beyond"). Same arguments as AdaBound, without
    ``amsbound``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        final_lr: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.999),
        gamma: float = 1e-3,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        track_clipping: bool = False,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            final_lr=final_lr,
            betas=betas,
            gamma=gamma,
            eps=eps,
            weight_decay=weight_decay,
            amsbound=True,
            decoupled_weight_decay=decoupled_weight_decay,
            track_clipping=track_clipping,
            foreach=foreach,
        )


def _use_foreach(choice: bool | None, params: list[torch.Tensor]) -> bool:
    """The group's ``foreach`` choice; ``None``: when every parameter is on CUDA."""
    return all(p.is_cuda for p in params) if choice is None else choice


def _update_moments(
    states: list[dict[str, Any]],
    grads: list[torch.Tensor],
    betas: tuple[float, float],
    amsbound: bool,
) -> list[torch.Tensor]:
    """m <- beta1 m + (1 - beta1) g; v <- beta2 v + (1 - beta2) g^2; AMSBound
    keeps max(v). Returns the first moments."""
    beta1, beta2 = betas
    exp_avgs = [state["exp_avg"] for state in states]
    exp_avg_sqs = [state["exp_avg_sq"] for state in states]
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    if amsbound:
        torch._foreach_maximum_([state["max_exp_avg_sq"] for state in states], exp_avg_sqs)
    return exp_avgs


def _adam_step_sizes(
    states: list[dict[str, Any]], steps: list[int], group: dict[str, Any]
) -> list[torch.Tensor]:
    """lr * sqrt(1 - beta2^t) / ((1 - beta1^t) * (sqrt(v) + eps)), elementwise."""
    beta1, beta2 = group["betas"]
    key = "max_exp_avg_sq" if group["amsbound"] else "exp_avg_sq"
    rates = torch._foreach_sqrt([state[key] for state in states])
    torch._foreach_add_(rates, group["eps"])
    torch._foreach_reciprocal_(rates)
    scales = [group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t) for t in steps]
    torch._foreach_mul_(rates, scales)
    return rates


def _dense_grad(param: torch.Tensor, group_index: int) -> torch.Tensor:
    grad = param.grad
    if grad.is_sparse:
        raise RuntimeError(
            f"AdaBound does not support sparse gradients (a parameter of shape "
            f"{tuple(param.shape)} in param group {group_index}); use dense gradients, "
            f"e.g. nn.Embedding(..., sparse=False)"
        )
    return grad


def _check_hyperparameters(values: dict[str, Any], prefix: str) -> None:
    """Check those of lr, final_lr, base_lr, gamma, eps, betas, weight_decay,
    amsbound, decoupled_weight_decay and foreach present in ``values``."""
    for name in ("lr", "final_lr", "base_lr", "gamma", "eps"):
        if name in values:
            check_positive(prefix + name, values[name])
    if "weight_decay" in values:
        check_positive(prefix + "weight_decay", values["weight_decay"], allow_zero=True)
    if "betas" in values:
        _check_betas(prefix + "betas", values["betas"])
    for name in ("amsbound", "decoupled_weight_decay"):
        if name in values:
            check_choice(prefix + name, values[name], (False, True))
    if "foreach" in values:
        check_choice(prefix + "foreach", values["foreach"], (None, False, True))


def _check_betas(name: str, betas: Any) -> None:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    for position, beta in enumerate(betas):
        check_in_range(f"{name}[{position}]", beta, 0.0, 1.0, high_inclusive=False)


def no_bias_decay(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: ``weight_decay`` on the weights of convolution and
    linear layers, ``0`` on everything else (biases, BatchNorm's gamma and
    beta, ...). The "no bias decay" heuristic of He et al. (2019, "Bag of
    Tricks for Image Classification with Convolutional Neural Networks"): L2
    regularisation ``weight_decay / 2 * ||W||^2`` on the weights only.

    Every parameter of ``model`` appears exactly once (a shared one is decayed
    if any of its uses is a conv/linear weight); the groups always come in
    that order, ``[{"params": decayed, "weight_decay": weight_decay},
    {"params": others, "weight_decay": 0.0}]``, for any ``torch.optim``
    optimizer.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_positive("weight_decay", weight_decay, allow_zero=True)
    decayed_ids = {id(m.weight) for m in model.modules() if isinstance(m, _DECAYED_LAYERS)}
    params = list(model.parameters())
    return [
        {"params": [p for p in params if id(p) in decayed_ids], "weight_decay": weight_decay},
        {"params": [p for p in params if id(p) not in decayed_ids], "weight_decay": 0.0},
    ]


class OptimizerSettings(NamedTuple):
    """The recipe's optimizer options, as every factory of :data:`OPTIMIZERS` receives them.

    Weight decay travels in the parameter groups (so no-bias-decay works with any optimizer).
    """

    lr: float
    momentum: float = 0.9
    nesterov: bool = True
    final_lr: float = 0.1
    bound_gamma: float = 1e-3


def _sgd(params: ParamsT, s: OptimizerSettings) -> torch.optim.Optimizer:
    """SGD with momentum (heavy ball, or Nesterov's when ``s.nesterov``)."""
    return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, nesterov=s.nesterov and s.momentum > 0)


def _adam(params: ParamsT, s: OptimizerSettings) -> torch.optim.Optimizer:
    """Adam (Kingma and Ba, 2015); the groups' weight decay is an L2 term added to the gradient."""
    return torch.optim.Adam(params, lr=s.lr)


def _adamw(params: ParamsT, s: OptimizerSettings) -> torch.optim.Optimizer:
    """AdamW (Loshchilov and Hutter, 2019): weight decay decoupled from the adaptive step, ``w -= lr wd w``."""
    return torch.optim.AdamW(params, lr=s.lr)


def _adabound(params: ParamsT, s: OptimizerSettings) -> torch.optim.Optimizer:
    return AdaBound(params, lr=s.lr, final_lr=s.final_lr, gamma=s.bound_gamma)


def _amsbound(params: ParamsT, s: OptimizerSettings) -> torch.optim.Optimizer:
    return AdaBound(params, lr=s.lr, final_lr=s.final_lr, gamma=s.bound_gamma, amsbound=True)


OPTIMIZERS: dict[str, Callable[[ParamsT, OptimizerSettings], torch.optim.Optimizer]] = {
    "sgd": _sgd, "adam": _adam, "adamw": _adamw, "adabound": _adabound, "amsbound": _amsbound,
}
"""The recipe's optimizer names and their factories ``factory(param_groups, settings)``."""

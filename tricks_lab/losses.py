"""Classification losses: label smoothing, soft-target cross entropy, distillation.

Every loss takes ``logits`` of shape ``(N, K)`` and ``targets`` that are either
int64 class indices ``(N,)`` or float soft targets ``(N, K)`` (rows summing to
1, what mixup, CutMix and RICAP produce). The log-softmax runs in the
logits' dtype; soft targets are never rounded down to it, so bfloat16 logits
with float32 targets give a float32 loss (torch's type promotion).

Two conventions of label smoothing are in use, and the seeds mix them up: they
print the ``"others"`` form (true class ``1 - eps``, every other class
``eps / (K - 1)``, as printed in He et al. 2019, "Bag of Tricks for Image
Classification with Convolutional Neural Networks") while their code builds
the ``"uniform"`` form (``1 - eps + eps / K`` and ``eps / K``: Szegedy et al.
2016, and ``torch.nn.functional.cross_entropy(label_smoothing=eps)``). Both
are here, under those names; ``"uniform"`` is the default.

Validation never synchronises with an accelerator: shapes and dtypes are
checked everywhere, the range of integer labels only on CPU tensors (on a GPU
the cross-entropy kernel itself asserts it), so the training loop keeps
running ahead of the device.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ._validation import (
    check_choice,
    check_in_range,
    check_logits,
    check_logits_and_targets,
    check_targets,
    check_positive,
    check_positive_int,
    check_probability,
)

__all__ = [
    "Convention",
    "CONVENTIONS",
    "distillation_kl",
    "DistillationLoss",
    "distillation_loss",
    "LabelSmoothingCrossEntropy",
    "optimal_logit_gap",
    "Reduction",
    "REDUCTIONS",
    "smooth_targets",
    "SoftTargetCrossEntropy",
]

Convention = Literal["uniform", "others"]
CONVENTIONS: tuple[Convention, ...] = ("uniform", "others")
Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[Reduction, ...] = ("mean", "sum", "none")


def _check_smoothing(smoothing: float) -> None:
    check_in_range("smoothing", smoothing, 0.0, 1.0, high_inclusive=False)


def _check_convention(convention: str, num_classes: int) -> None:
    check_choice("convention", convention, CONVENTIONS)
    if convention == "others" and num_classes < 2:
        raise ValueError(f"convention 'others' needs num_classes >= 2, got {num_classes}")


def _reduce(per_sample: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def smooth_targets(
    labels: torch.Tensor,
    num_classes: int,
    smoothing: float,
    convention: Convention = "uniform",
) -> torch.Tensor:
    """The smoothed target distribution ``q`` of shape ``(N, K)``.

    With ``t`` the one-hot encoding of ``labels`` (or ``labels`` itself when
    they are already soft targets) and ``eps = smoothing``:

    - ``"uniform"`` (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna 2016,
      "Rethinking the Inception Architecture for Computer Vision"):
      ``q = (1 - eps) t + eps / K``; a hard label gets ``1 - eps + eps/K`` on
      its class and ``eps/K`` elsewhere. This is what the seeds' code computes
      and what ``F.cross_entropy(label_smoothing=eps)`` uses.
    - ``"others"`` (the formula the seeds print, from He et al. 2019, "Bag of
      Tricks for Image Classification with Convolutional Neural Networks"):
      ``q = (1 - eps) t + eps (1 - t) / (K - 1)``; a hard label gets exactly
      ``1 - eps`` on its class and ``eps/(K-1)`` on each other class.

    Both keep rows summing to 1 and are applied once. Hard labels give a
    tensor of the default float dtype; soft targets keep theirs.
    """
    check_positive_int("num_classes", num_classes)
    _check_smoothing(smoothing)
    _check_convention(convention, num_classes)
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim not in (1, 2):
        raise ValueError(f"labels must have shape (N,) or (N, K), got {tuple(labels.shape)}")
    check_targets("labels", labels, num_classes, labels.shape[0])
    dtype = labels.dtype if labels.is_floating_point() else torch.get_default_dtype()
    t = _as_distribution(labels, num_classes, dtype)
    if convention == "uniform":
        return (1.0 - smoothing) * t + smoothing / num_classes
    return (1.0 - smoothing) * t + smoothing * (1.0 - t) / (num_classes - 1)


def _target_dtype(logits: torch.Tensor, targets: torch.Tensor) -> torch.dtype:
    """The logits' dtype for class indices; the wider of both for soft targets (as torch)."""
    if targets.is_floating_point():
        return torch.promote_types(logits.dtype, targets.dtype)
    return logits.dtype


def _as_distribution(targets: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """Soft targets, or the one-hot encoding of class indices, in ``dtype``."""
    if targets.is_floating_point():
        return targets.to(dtype)
    return F.one_hot(targets, num_classes).to(dtype)


def optimal_logit_gap(smoothing: float, num_classes: int, convention: Convention = "uniform") -> float:
    """The logit gap ``z_y - z_j`` that minimises the smoothed cross entropy.

    The minimiser of ``-sum_k q_k log softmax(z)_k`` has ``softmax(z) = q``,
    so every wrong class sits at the same distance
    ``log(q_y / q_j)`` below the true one: ``log(1 + K (1 - eps) / eps)``
    for ``"uniform"`` and ``log((K - 1)(1 - eps) / eps)`` for ``"others"``;
    infinite for ``eps = 0``. Label smoothing pulls logits towards this
    finite gap (Mueller, Kornblith & Hinton 2019, "When does label smoothing
    help?"); compare :func:`tricks_lab.metrics.logit_gap` with it.
    """
    check_positive_int("num_classes", num_classes)
    _check_smoothing(smoothing)
    _check_convention(convention, num_classes)
    if smoothing == 0.0:
        return math.inf
    if convention == "uniform":
        return math.log1p(num_classes * (1.0 - smoothing) / smoothing)
    return math.log((num_classes - 1) * (1.0 - smoothing) / smoothing)


class SoftTargetCrossEntropy(nn.Module):
    """Cross entropy against a probability vector: ``-sum_k t_k log softmax(z)_k``.

    The loss of the mixing tricks (Zhang, Cisse, Dauphin & Lopez-Paz 2018,
    "mixup: Beyond Empirical Risk Minimization"), whose targets are convex
    combinations of one-hot vectors. Int64 labels are accepted and give plain
    cross entropy. ``reduction`` is ``"mean"`` (over the batch), ``"sum"`` or
    ``"none"`` (shape ``(N,)``).
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_choice("reduction", reduction, REDUCTIONS)
        self.reduction: Reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        check_logits_and_targets(logits, targets)
        return F.cross_entropy(logits, targets, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class LabelSmoothingCrossEntropy(nn.Module):
    """Cross entropy against smoothed targets: ``-sum_k q_k log softmax(z)_k``.

    ``q = smooth_targets(targets, K, smoothing, convention)`` (see there for
    both formulas; Szegedy et al. 2016, "Rethinking the Inception
    Architecture for Computer Vision"). For ``"uniform"`` this equals
    ``(1 - eps) CE(t, z) + eps * mean_k(-log softmax(z)_k)`` and is computed by
    ``F.cross_entropy(label_smoothing=eps)`` directly, for hard labels and
    soft targets alike (soft targets are smoothed once, as
    ``(1 - eps) t + eps / K``). ``smoothing=0`` is plain cross entropy.
    """

    def __init__(
        self,
        smoothing: float = 0.1,
        convention: Convention = "uniform",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        _check_smoothing(smoothing)
        check_choice("convention", convention, CONVENTIONS)
        check_choice("reduction", reduction, REDUCTIONS)
        self.smoothing = float(smoothing)
        self.convention: Convention = convention
        self.reduction: Reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        num_classes = check_logits_and_targets(logits, targets)
        if self.convention == "uniform":
            return F.cross_entropy(logits, targets, label_smoothing=self.smoothing, reduction=self.reduction)
        distribution = _as_distribution(targets, num_classes, _target_dtype(logits, targets))
        smoothed = smooth_targets(distribution, num_classes, self.smoothing, self.convention)
        return F.cross_entropy(logits, smoothed, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}, convention={self.convention!r}, reduction={self.reduction!r}"


def distillation_kl(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """``KL(softmax(r / T) || softmax(z / T))`` per sample, then reduced.

    ``z`` are the student's logits, ``r`` the teacher's, ``T`` the
    temperature (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a
    Neural Network"). This is the distillation term without its ``T^2``
    factor; it is 0 exactly when the softened distributions agree. The seeds
    write it as a cross entropy ``l(softmax(r/T), softmax(z/T))``, which has
    the same gradient in ``z`` but exceeds the KL by the entropy of the
    softened teacher, so it never reaches 0. Gradients flow into both inputs;
    :class:`DistillationLoss` detaches the teacher.
    """
    check_logits("student_logits", student_logits)
    check_logits("teacher_logits", teacher_logits)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "student_logits and teacher_logits must have the same shape, got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    check_positive("temperature", temperature)
    check_choice("reduction", reduction, REDUCTIONS)
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    log_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_student, log_teacher, reduction="none", log_target=True).sum(dim=1)
    return _reduce(kl, reduction)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    temperature: float = 4.0,
    alpha: float = 0.5,
    smoothing: float = 0.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the
    Knowledge in a Neural Network"), given both models' logits.

    ``loss = (1 - alpha) CE_eps(z, y) + alpha T^2 KL(softmax(r/T) || softmax(z/T))``

    with student logits ``z``, teacher logits ``r`` (detached: the teacher is
    not trained), targets ``y`` (hard or soft) and temperature ``T``. The
    ``T^2`` keeps the distillation gradient, which scales as ``1/T^2`` at high
    ``T``, comparable across temperatures. ``smoothing`` applies label
    smoothing (uniform convention) to the cross-entropy term only. The seeds
    add the two terms without the ``alpha`` weights: their sum is twice ours
    at ``alpha = 0.5``, plus ``T^2`` times the softened teacher's entropy
    (their distillation term is a cross entropy, see :func:`distillation_kl`).
    """
    check_positive("temperature", temperature)
    check_probability("alpha", alpha)
    check_choice("reduction", reduction, REDUCTIONS)
    hard_term = LabelSmoothingCrossEntropy(smoothing, reduction="none")(student_logits, targets)
    soft_term = distillation_kl(student_logits, teacher_logits.detach(), temperature, "none")
    per_sample = (1.0 - alpha) * hard_term + alpha * temperature**2 * soft_term
    return _reduce(per_sample, reduction)


class DistillationLoss(nn.Module):
    """:func:`distillation_loss` as a criterion ``loss(logits, targets)`` that owns its teacher.

    As in DeiT (Touvron et al., 2021), the criterion holds the frozen teacher,
    so the training loop needs no teacher argument. It sees the student's
    inputs through :meth:`bind`, which registers a forward hook on the
    student: each training forward pass also runs the teacher on the same
    images (no gradient, eval mode, inside the same autocast) and keeps its
    logits for the next call of the loss. Evaluation passes
    (``student.training`` False) do not run the teacher.

    Example::

        loss_fn = DistillationLoss(teacher, temperature=4.0, alpha=0.5)
        loss_fn.bind(student)
        fit(student, loader, epochs=..., loss_fn=loss_fn)
    """

    def __init__(
        self,
        teacher: nn.Module,
        temperature: float = 4.0,
        alpha: float = 0.5,
        smoothing: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        if not isinstance(teacher, nn.Module):
            raise TypeError(f"teacher must be an nn.Module, got {type(teacher).__name__}")
        check_positive("temperature", temperature)
        check_probability("alpha", alpha)
        check_choice("reduction", reduction, REDUCTIONS)
        _check_smoothing(smoothing)
        self.teacher = teacher.eval().requires_grad_(False)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.smoothing = float(smoothing)
        self.reduction: Reduction = reduction
        self._teacher_logits: torch.Tensor | None = None
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def train(self, mode: bool = True) -> "DistillationLoss":
        """The teacher stays in eval mode whatever mode the criterion is put in."""
        super().train(mode)
        self.teacher.eval()
        return self

    def bind(self, student: nn.Module) -> "DistillationLoss":
        """Run the teacher on the inputs of every training forward pass of ``student``; returns self."""
        if not isinstance(student, nn.Module):
            raise TypeError(f"student must be an nn.Module, got {type(student).__name__}")
        if self._handle is not None:
            self._handle.remove()
        self._handle = student.register_forward_hook(self._observe)
        return self

    def unbind(self) -> None:
        """Remove the forward hook placed by :meth:`bind`."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._teacher_logits = None

    @torch.no_grad()
    def _observe(self, student: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if student.training:
            self.teacher.to(args[0].device)
            self._teacher_logits = self.teacher(args[0])

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        teacher_logits, self._teacher_logits = self._teacher_logits, None
        if teacher_logits is None:
            raise RuntimeError(
                "DistillationLoss has no teacher logits for this batch: call loss.bind(student) before "
                "training, and call the loss once after each training forward pass of the student"
            )
        if teacher_logits.shape != logits.shape:
            raise ValueError(f"the teacher's logits {tuple(teacher_logits.shape)} do not match the student's "
                             f"{tuple(logits.shape)}: the loss must follow the student's forward pass")
        return distillation_loss(logits, teacher_logits, targets, temperature=self.temperature,
                                 alpha=self.alpha, smoothing=self.smoothing, reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"temperature={self.temperature}, alpha={self.alpha}, smoothing={self.smoothing}, "
                f"reduction={self.reduction!r}")

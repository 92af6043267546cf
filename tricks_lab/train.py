"""The training loop and evaluation.

:func:`fit` runs mini-batch SGD (Nesterov by default) over a
:class:`~tricks_lab.loader.GpuLoader`, steps the learning-rate schedule once per
iteration, and records a :class:`History`. What the chapters change comes in
as arguments, so ``fit`` itself never changes for a trick:

- ``loss_fn(logits, targets)`` (hard labels or soft targets), or, with a
  ``teacher``, ``loss_fn(student_logits, teacher_logits, targets)``;
- ``optimizer`` and ``scheduler`` (any ``torch.optim`` ones);
- batch transforms live in the loader's hooks.

Mixed precision follows the device: bf16 autocast on GPUs with native bf16
(Ampere and newer), fp16 with a ``GradScaler`` on older ones (Colab's T4),
fp32 on the CPU (Micikevicius et al., 2018, "Mixed Precision Training").
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ._validation import check_choice, check_positive_int
from .distributed import DataParallel, is_main_process, world_size
from .loader import GpuLoader

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class History:
    """What a run did, per epoch and per iteration.

    Per epoch: ``train_loss`` (mean over the epoch's batches), ``train_acc``
    (argmax of logits against argmax of the targets), ``test_acc`` (NaN when not
    evaluated), ``lr`` (at the epoch's last step), ``seconds`` (cumulative
    training time, evaluation excluded). Per iteration: ``step_loss`` and
    ``step_lr``.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_lr: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[Any]]:
        """JSON-ready lists; an epoch without evaluation has ``test_acc`` None (NaN here)."""
        out = asdict(self)
        out["test_acc"] = [None if math.isnan(v) else v for v in self.test_acc]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, list[Any]]) -> "History":
        values = {k: list(v) for k, v in data.items()}
        values["test_acc"] = [float("nan") if v is None else v for v in values["test_acc"]]
        return cls(**values)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> ``"bf16"`` on a GPU with native bf16, ``"fp16"`` on other GPUs, ``"fp32"`` on CPU."""
    check_choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    if device.type != "cuda":
        return "fp32"
    native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    return "bf16" if native_bf16 else "fp16"


def _autocast(precision: str, device: torch.device) -> Any:
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def default_progress() -> bool:
    """Progress bars on, except under CI (``$CI`` set) or ``$TRICKS_LAB_QUIET=1``."""
    return not os.environ.get("CI") and os.environ.get("TRICKS_LAB_QUIET") != "1"


def fit(
    model: nn.Module,
    train_loader: GpuLoader,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    test_loader: GpuLoader | None = None,
    teacher: nn.Module | None = None,
    precision: str = "auto",
    channels_last: bool = True,
    compile_model: bool = False,
    eval_every: int = 1,
    tta: bool = False,
    progress: bool | None = None,
    description: str = "train",
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; returns a :class:`History`.

    Each iteration: forward under autocast, ``loss = loss_fn(logits, targets)``,
    backward (through a ``GradScaler`` in fp16), ``optimizer.step()``, then
    ``scheduler.step()``. The model is evaluated on ``test_loader`` every
    ``eval_every`` epochs and after the last one. Defaults: SGD with Nesterov
    momentum 0.9, lr 0.1, weight decay 5e-4; cross entropy
    (``torch.nn.functional.cross_entropy`` takes soft targets too); no schedule.

    Under ``torchrun`` (a process group of several ranks, see
    :mod:`tricks_lab.distributed`) the same call trains data-parallel: the
    loader's ``batch_size`` is the global batch, each rank takes its shard,
    the model runs in ``DistributedDataParallel`` with synchronised BatchNorm,
    and the history holds metrics reduced over all ranks.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("eval_every", eval_every)
    device = train_loader.device
    precision = resolve_precision(precision, device)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if teacher is not None:
        teacher = teacher.to(device).eval()
    optimizer = optimizer or torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    replica = DataParallel(model) if world_size() > 1 else None  # under torchrun: DDP, sharded batches
    if replica is not None:
        train_loader = replica.shard(train_loader)
    trained = model if replica is None else replica.module
    forward = torch.compile(trained) if compile_model else trained
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    history = History()
    show = (default_progress() if progress is None else progress) and is_main_process()
    bar = _progress_bar(epochs * len(train_loader), description, show)
    elapsed = 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        started = time.perf_counter()
        losses, correct, seen, step_lrs = [], torch.zeros((), device=device), 0, []
        for images, targets in train_loader:
            step_lrs.append(optimizer.param_groups[0]["lr"])
            with _autocast(precision, device):
                logits = forward(images)
                if teacher is not None:
                    with torch.no_grad():
                        teacher_logits = teacher(images)
                    loss = loss_fn(logits, teacher_logits, targets)
                else:
                    loss = loss_fn(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.detach())
            hard = targets.argmax(dim=1) if targets.is_floating_point() else targets
            correct += (logits.detach().argmax(dim=1) == hard).sum()
            seen += len(targets)
            bar.update(1)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed += time.perf_counter() - started
        step_losses_t = torch.stack(losses).float()
        if replica is not None:  # the global batch's mean loss, and counts over all ranks
            step_losses_t, correct, seen = replica.reduce_epoch(step_losses_t, correct, seen)
        step_losses = step_losses_t.cpu().tolist()
        history.epoch.append(epoch)
        history.train_loss.append(sum(step_losses) / len(step_losses))
        history.train_acc.append(correct.item() / seen)
        history.lr.append(step_lrs[-1])
        history.seconds.append(elapsed)
        history.step_loss.extend(step_losses)
        history.step_lr.extend(step_lrs)
        evaluate_now = test_loader is not None and (epoch % eval_every == 0 or epoch == epochs)
        evaluate_fn = evaluate if replica is None else replica.evaluate
        test_acc = evaluate_fn(model, test_loader, tta=tta, precision=precision) if evaluate_now else float("nan")
        history.test_acc.append(test_acc)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", test_acc=f"{test_acc:.3f}")
    bar.close()
    if replica is not None:
        replica.close()
    return history


@torch.no_grad()
def predict(
    model: nn.Module, loader: GpuLoader, *, tta: bool = False, precision: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 logits ``(N, K)`` and labels ``(N,)`` of ``loader`` (un-augmented, in order).

    With ``tta`` the logits are the mean of the image's and its mirror's
    (flip test-time augmentation).
    """
    if loader.train:
        raise ValueError("predict needs an evaluation loader (train=False), got a training loader")
    precision = resolve_precision(precision, loader.device)
    was_training = model.training
    model.eval()
    all_logits, all_labels = [], []
    with _autocast(precision, loader.device):
        for images, labels in loader:
            logits = model(images).float()
            if tta:
                logits = 0.5 * (logits + model(images.flip(3)).float())
            all_logits.append(logits)
            all_labels.append(labels)
    model.train(was_training)
    return torch.cat(all_logits), torch.cat(all_labels)


def evaluate(model: nn.Module, loader: GpuLoader, *, tta: bool = False, precision: str = "auto") -> float:
    """Top-1 accuracy of ``model`` on ``loader`` (a fraction in [0, 1])."""
    logits, labels = predict(model, loader, tta=tta, precision=precision)
    return (logits.argmax(dim=1) == labels).float().mean().item()


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kwargs: Any) -> None: ...
    def close(self) -> None: ...


def _progress_bar(total: int, description: str, show: bool) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False, unit="it")

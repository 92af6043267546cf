"""The training loop.

:func:`fit` runs mini-batch training over any iterable of ``(images, targets)``
batches (a :class:`~tricks_lab.loader.GpuLoader`, a ``torch.utils.data.DataLoader``),
steps the learning-rate schedule once per iteration, and records a
:class:`~tricks_lab.results.History`. What the chapters change comes in as
arguments, so ``fit`` itself never changes for a trick:

- ``loss_fn(logits, targets)``, with hard labels or soft targets (a
  distillation loss owns its teacher: :class:`tricks_lab.losses.DistillationLoss`);
- ``optimizer`` and ``scheduler`` (any ``torch.optim`` ones);
- batch transforms live in the loader's hooks;
- where it runs: a :class:`~tricks_lab.strategy.Strategy` (one process by
  default; :class:`tricks_lab.distributed.TorchrunDataParallel` under torchrun);
- what it reports: :class:`~tricks_lab.strategy.Callback` objects.

Mixed precision follows the device (:mod:`tricks_lab.precision`): bf16 autocast
on GPUs with native bf16, fp16 with a ``GradScaler`` on older ones (Colab's
T4), fp32 on the CPU (Micikevicius et al., 2018, "Mixed Precision Training").

A loss that becomes NaN or infinite ends the run: training stops at that step
and ``History.diverged_step`` records it (checked every step on the CPU, every
:data:`GPU_CHECK_EVERY` steps on a GPU, where each check waits for the device).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from ._validation import check_positive_int
from .precision import autocast, needs_grad_scaler, resolve_precision
from .results import History
from .strategy import Callback, SingleProcess, Strategy, TrainState

__all__ = ["Batches", "GPU_CHECK_EVERY", "default_progress", "fit"]

GPU_CHECK_EVERY = 50
"""On a GPU, the loss is checked for NaN/inf every this many steps (each check synchronises)."""


@runtime_checkable
class Batches(Protocol):
    """What :func:`fit` trains on: an iterable of ``(images, targets)`` with a length (batches per epoch)."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def __len__(self) -> int: ...


def default_progress() -> bool:
    """Progress bars on, except under CI (``$CI`` set) or ``$TRICKS_LAB_QUIET=1``."""
    return not os.environ.get("CI") and os.environ.get("TRICKS_LAB_QUIET") != "1"


def fit(
    model: nn.Module,
    train_loader: Batches,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    test_loader: Batches | None = None,
    strategy: Strategy | None = None,
    callbacks: Sequence[Callback] = (),
    device: torch.device | str | None = None,
    precision: str = "auto",
    channels_last: bool = True,
    compile_model: bool = False,
    eval_every: int = 1,
    tta: bool = False,
    progress: bool | None = None,
    description: str = "train",
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; returns a :class:`~tricks_lab.results.History`.

    Each iteration: forward under autocast, ``loss = loss_fn(logits, targets)``,
    backward (through a ``GradScaler`` in fp16), ``optimizer.step()``, then
    ``scheduler.step()``, then every callback's ``on_step_end``. The model is
    evaluated on ``test_loader`` every ``eval_every`` epochs and after the last
    one. Defaults: SGD with Nesterov momentum 0.9, lr 0.1, weight decay 5e-4;
    cross entropy (``torch.nn.functional.cross_entropy`` takes soft targets
    too); no schedule; one process. ``device``: where to train (default: the
    loader's ``device`` attribute, else the model's); batches are moved there.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("eval_every", eval_every)
    if not isinstance(train_loader, Batches):
        raise TypeError(f"train_loader must be an iterable of (images, targets) batches with a length, "
                        f"got {type(train_loader).__name__}")
    device = _resolve_device(device, train_loader, model)
    precision = resolve_precision(precision, device)
    strategy = strategy or SingleProcess()
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = optimizer or torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    forward = strategy.setup(model)
    if compile_model:
        forward = torch.compile(forward)
    train_loader = strategy.shard(train_loader)
    scaler = torch.amp.GradScaler(device.type, enabled=needs_grad_scaler(precision))
    history = History()
    state = TrainState(model=model, optimizer=optimizer, history=history)
    show = (default_progress() if progress is None else progress) and strategy.is_main_process
    bar = _progress_bar(epochs * len(train_loader), description, show)
    # a check mid-epoch is local to this process, so only strategies whose processes stop together allow it
    check_every = (1 if device.type == "cpu" else GPU_CHECK_EVERY) if strategy.stops_alone else 0
    elapsed = 0.0
    try:
        for epoch in range(1, epochs + 1):
            state.epoch = epoch
            model.train()
            started = time.perf_counter()
            losses: list[torch.Tensor] = []
            step_lrs: list[float] = []
            correct, seen = torch.zeros((), device=device), 0
            for images, targets in train_loader:
                images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
                step_lrs.append(optimizer.param_groups[0]["lr"])
                with autocast(precision, device):
                    logits = forward(images)
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
                state.step += 1
                state.loss = losses[-1]
                bar.update(1)
                for callback in callbacks:
                    callback.on_step_end(state)
                if check_every and len(losses) % check_every == 0 and _first_nonfinite(losses[-check_every:]) is not None:
                    break
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed += time.perf_counter() - started
            step_losses_t, correct, seen = strategy.reduce_epoch(torch.stack(losses).float(), correct, seen)
            step_losses = step_losses_t.cpu().tolist()
            bad = _first_nonfinite_value(step_losses)
            if bad is not None:
                history.diverged_step = state.step - len(step_losses) + bad + 1
            history.epoch.append(epoch)
            history.train_loss.append(sum(step_losses) / len(step_losses))
            history.train_acc.append(correct.item() / seen)
            history.lr.append(step_lrs[-1])
            history.seconds.append(elapsed)
            history.step_loss.extend(step_losses)
            history.step_lr.extend(step_lrs)
            evaluate_now = (test_loader is not None and not history.diverged
                            and (epoch % eval_every == 0 or epoch == epochs))
            test_acc = (strategy.evaluate(model, test_loader, tta=tta, precision=precision, device=device)
                        if evaluate_now else float("nan"))
            history.test_acc.append(test_acc)
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", test_acc=f"{test_acc:.3f}")
            for callback in callbacks:
                callback.on_epoch_end(state)
            if history.diverged:
                break
    finally:
        bar.close()
        strategy.teardown()
    return history


def _resolve_device(device: torch.device | str | None, loader: Any, model: nn.Module) -> torch.device:
    if device is not None:
        return torch.device(device)
    if getattr(loader, "device", None) is not None:
        return torch.device(loader.device)
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _first_nonfinite(losses: list[torch.Tensor]) -> int | None:
    """Index of the first non-finite loss in ``losses`` (one host sync), or None."""
    bad = ~torch.isfinite(torch.stack(losses).float())
    return int(bad.nonzero()[0, 0]) if bool(bad.any()) else None


def _first_nonfinite_value(values: list[float]) -> int | None:
    return next((i for i, v in enumerate(values) if not (v == v and abs(v) != float("inf"))), None)


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kwargs: Any) -> None: ...
    def close(self) -> None: ...


def _progress_bar(total: int, description: str, show: bool) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False, unit="it")

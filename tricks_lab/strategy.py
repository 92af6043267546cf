"""Where and how :func:`tricks_lab.train.fit` runs: the strategy and the callbacks.

A :class:`Strategy` owns everything that differs between one process and
several: it prepares the model (e.g. wraps it for data parallelism), shards
the loaders, reduces an epoch's sums over processes, evaluates and cleans up.
``fit`` calls it at fixed points and never asks which strategy it has.
:class:`SingleProcess` is the default; the torchrun data-parallel strategy is
:class:`tricks_lab.distributed.TorchrunDataParallel`.

A :class:`Callback` observes training: ``on_step_end`` after every optimizer
step and ``on_epoch_end`` after every epoch's metrics are recorded, both with
the live :class:`TrainState` (model, optimizer, counters, history).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .evaluation import evaluate

if TYPE_CHECKING:
    from .results import History

__all__ = ["Callback", "SingleProcess", "Strategy", "TrainState"]


class Strategy:
    """The single-process behaviour; subclasses override what differs (see the module docstring)."""

    is_main_process: bool = True
    """Whether this process prints progress and writes files."""

    stops_alone: bool = True
    """Whether this process may end training mid-epoch on its own (a diverged loss) without the others."""

    def setup(self, model: nn.Module) -> nn.Module:
        """The module whose forward ``fit`` calls (``model`` itself here)."""
        return model

    def shard(self, loader: Any) -> Any:
        """This process's part of ``loader`` (all of it here)."""
        return loader

    def reduce_epoch(
        self, step_losses: torch.Tensor, correct: torch.Tensor, seen: int
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Per-step losses, correct predictions and images seen over all processes (unchanged here)."""
        return step_losses, correct, seen

    def evaluate(self, model: nn.Module, loader: Iterable[Any], *, tta: bool, precision: str,
                 device: torch.device) -> float:
        """Top-1 accuracy of ``model`` over the whole of ``loader``."""
        return evaluate(model, loader, tta=tta, precision=precision, device=device)

    def teardown(self) -> None:
        """Undo what :meth:`setup` changed on the model (nothing here)."""


class SingleProcess(Strategy):
    """One process, one device: the default strategy of :func:`tricks_lab.train.fit`."""

    def __repr__(self) -> str:
        return "SingleProcess()"


@dataclass
class TrainState:
    """What a callback sees: the live objects and counters of a run in progress.

    ``step`` counts optimizer steps from 1 over the whole run; ``loss`` is the
    last step's loss (a 0-d tensor on the device: reading it with ``.item()``
    synchronises a GPU, so do it only when needed).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: "History"
    epoch: int = 0
    step: int = 0
    loss: torch.Tensor | None = None


class Callback:
    """Hooks into :func:`tricks_lab.train.fit`; override the ones you need."""

    def on_step_end(self, state: TrainState) -> None:
        """After ``optimizer.step()`` and the scheduler step of ``state.step``."""

    def on_epoch_end(self, state: TrainState) -> None:
        """After epoch ``state.epoch``'s metrics are in ``state.history`` (and its evaluation, if any)."""

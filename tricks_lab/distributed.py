"""Data-parallel training on the existing engine: ``torchrun -m tricks_lab run ...``.

Synchronous data-parallel SGD (Goyal et al., 2017, "Accurate, Large Minibatch
SGD: Training ImageNet in 1 Hour", sec. 3; Li et al., 2020, "PyTorch
Distributed: Experiences on Accelerating Data Parallel Training"). ``N``
processes (ranks) hold identical replicas of the model. At every iteration
the global mini-batch ``B`` of the recipe is cut into ``N`` shards of
``b = B / N`` images; rank ``r`` computes the mean loss of its shard,
``L_r = (1/b) sum_{i in shard r} l_i``, and
:class:`torch.nn.parallel.DistributedDataParallel` all-reduces the gradients
and divides by ``N``::

    g = (1/N) sum_r grad L_r = (1/B) sum_{i=1..B} grad l_i,

the gradient of the mean loss over the global batch, which is what one
process computes for a batch of ``B``. Every rank then takes the same
optimizer step, so the replicas stay identical. The learning rate is the
recipe's, for the global batch ``B`` (the linear scaling rule is applied to
``B``, never to the per-rank ``b``).

How this module keeps an ``N``-process run the same run as one process with
batch ``B`` (tested in ``tests/test_distributed.py``):

* **Data.** Every rank runs the same :class:`~tricks_lab.loader.GpuLoader`
  (same seed: same permutation, crops, flips and hook draws, so batch-level
  tricks such as mixup pair images across the *global* batch) and keeps rows
  ``[r b, (r + 1) b)`` of each global batch (:class:`ShardedLoader`). Each
  rank augments the whole global batch and discards the rest: ``N`` times
  the (cheap, on-device) augmentation work, in exchange for exactly the
  single-process batches.
* **BatchNorm.** Plain BatchNorm normalises with the statistics of the batch
  it sees, which under data parallelism is the rank's shard of ``b`` images,
  not the global batch: a different model (Goyal et al. keep the
  per-worker BN batch at 32 on purpose and call it a hyperparameter).
  By default the BatchNorm layers are synchronised: mean and variance over
  the global batch, ``mu = (1/B) sum x``, ``sigma^2 = (1/B) sum (x - mu)^2``,
  with gradients flowing through the reduction (Peng et al., 2018, "MegDet",
  sec. 3.3; Zhang et al., 2018, "Context Encoding", sec. 3.3).
  On GPUs this is :class:`torch.nn.SyncBatchNorm`; torch has no CPU kernel for
  it, so on the CPU (gloo) :class:`AllReduceBatchNorm` computes the same
  statistics with differentiable all-reduces. ``sync_batchnorm=False`` keeps
  per-rank statistics (then the run equals one process that normalises each
  ``b``-image chunk of its batch separately, "ghost" BatchNorm).
* **Metrics.** Per-iteration losses are averaged over ranks (the mean over
  the global batch, since the shards have equal size); correct predictions
  and image counts are summed; evaluation is sharded over ranks and the
  counts summed, so the accuracy is over the whole test set.
* **Outputs.** Only rank 0 prints, shows progress, writes the run cache and
  results records; :func:`agree` makes every rank follow rank 0's cache
  decision so that no rank trains alone while the others wait.

The backend is NCCL on GPUs and gloo on the CPU.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ._validation import check_choice, check_positive_int
from .evaluation import predict
from .strategy import SingleProcess, Strategy

BACKENDS = ("nccl", "gloo")
"""The process-group backend: NCCL for GPUs, gloo for the CPU."""

__all__ = [
    "AllReduceBatchNorm",
    "BACKENDS",
    "TorchrunDataParallel",
    "DistContext",
    "ShardedLoader",
    "agree",
    "barrier",
    "context",
    "default_strategy",
    "convert_sync_batchnorm",
    "init_from_env",
    "is_main_process",
    "per_rank_batch_size",
    "revert_sync_batchnorm",
    "shutdown",
    "world_size",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, its ``local_rank`` on the node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    sync_batchnorm: bool = True


_CONTEXT = DistContext()


def context() -> DistContext:
    """The current context: rank 0 of 1 unless :func:`init_from_env` started a process group."""
    if _CONTEXT.world_size > 1 and not (dist.is_available() and dist.is_initialized()):
        return DistContext(sync_batchnorm=_CONTEXT.sync_batchnorm)
    return _CONTEXT


def world_size() -> int:
    """The number of processes training together (1 when not distributed)."""
    return context().world_size


def is_main_process() -> bool:
    """True on rank 0 (and in every single-process run): the process that prints and writes."""
    return context().rank == 0


def init_from_env(device: str = "cpu", *, sync_batchnorm: bool = True) -> DistContext:
    """Join the process group that ``torchrun`` describes in the environment.

    ``torchrun --nproc_per_node=N`` sets ``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; without them (or with
    ``WORLD_SIZE=1``) this is a no-op returning the single-process context.
    ``device`` is the profile's device type: ``"cuda"`` selects NCCL and GPU
    ``LOCAL_RANK``, ``"cpu"`` selects gloo. ``sync_batchnorm`` chooses global
    (default) or per-rank BatchNorm statistics (see the module docstring).
    """
    global _CONTEXT
    check_choice("device", device, ("cpu", "cuda"))
    size = int(os.environ.get("WORLD_SIZE", "1"))
    check_positive_int("WORLD_SIZE", size)
    if size == 1:
        _CONTEXT = DistContext(sync_batchnorm=sync_batchnorm)
        return _CONTEXT
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = BACKENDS[0] if device == "cuda" else BACKENDS[1]
    if device == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPUs are visible; "
                "use --nproc_per_node <= the number of GPUs"
            )
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    _CONTEXT = DistContext(rank, size, local_rank, backend, sync_batchnorm)
    return _CONTEXT


def shutdown() -> None:
    """Leave the process group (if any) and return to the single-process context."""
    global _CONTEXT
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _CONTEXT = DistContext()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if world_size() > 1:
        dist.barrier()


def agree(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (e.g. "this run is cached"); ``flag`` itself when alone."""
    if world_size() == 1:
        return flag
    box = [flag]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])


def per_rank_batch_size(global_batch: int, world: int) -> int:
    """``b = B / N``: each rank's share of the global batch ``B``; ``B`` must be a multiple of ``N``."""
    check_positive_int("global_batch", global_batch)
    check_positive_int("world", world)
    if global_batch % world:
        raise ValueError(
            f"the global batch ({global_batch}) must be a multiple of the number of processes ({world}); "
            f"the per-rank batch is batch_size / world_size"
        )
    return global_batch // world


class ShardedLoader:
    """Rank ``rank``'s shard of every batch of ``loader`` (any loader with the ``GpuLoader`` interface).

    Training loaders: rows ``[rank b, (rank + 1) b)`` of each global batch of
    ``B = loader.batch_size`` images, ``b = B / world``. Every rank iterates
    the same seeded loader, so the shards of one step partition exactly the
    batch one process would see. Evaluation loaders (``train=False``): the
    ``rank``-th of ``world`` near-equal chunks of each batch (``tensor_split``),
    so that together the ranks cover every image once.
    """

    def __init__(self, loader: Any, rank: int, world: int) -> None:
        check_positive_int("world", world)
        check_positive_int("rank", rank, allow_zero=True)
        if rank >= world:
            raise ValueError(f"rank must be < world ({world}), got {rank}")
        self.loader = loader
        self.rank = rank
        self.world = world
        self.train = loader.train
        self.device = loader.device
        if self.train:
            self.batch_size = per_rank_batch_size(loader.batch_size, world)
            if not getattr(loader, "drop_last", True) and loader.num_images % loader.batch_size:
                raise ValueError("a sharded training loader needs drop_last=True (equal shards at every step)")
        else:
            self.batch_size = -(-loader.batch_size // world)

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def num_images(self) -> int:
        return self.loader.num_images

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, targets in self.loader:
            if self.train:
                low = self.rank * self.batch_size
                yield images[low : low + self.batch_size], targets[low : low + self.batch_size]
            else:
                yield images.tensor_split(self.world)[self.rank], targets.tensor_split(self.world)[self.rank]

    def __repr__(self) -> str:
        return f"ShardedLoader(rank {self.rank} of {self.world}, batch_size={self.batch_size}, of {self.loader!r})"


class _AllReduceSum(torch.autograd.Function):
    """A sum all-reduce whose backward is the sum all-reduce of the gradients."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    return _AllReduceSum.apply(tensor)


class AllReduceBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d with statistics over the global batch of all ranks, for any device (gloo on CPU).

    In training, with ``n_r`` values of a channel on rank ``r`` and ``n = sum_r n_r``::

        mu = (1/n) sum_r sum x,    sigma^2 = (1/n) sum_r sum (x - mu)^2,
        y = gamma (x - mu) / sqrt(sigma^2 + eps) + beta,

    computed in two passes, in float64, with differentiable all-reduces (the
    backward of a sum all-reduce is a sum all-reduce of the gradients), so the gradient is
    that of the global batch's BatchNorm, as in :class:`torch.nn.SyncBatchNorm`
    (Ioffe & Szegedy, 2015, "Batch Normalization"; Peng et al., 2018, "MegDet").
    The running statistics follow with the unbiased variance ``n / (n - 1)``.
    Without a process group, in eval mode, or alone, it is ``BatchNorm2d``.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(input)
        channels = input.shape[1]
        x = input.double()  # accumulate in float64, as torch's CPU BatchNorm does
        count = torch.tensor([x.numel() // channels], dtype=x.dtype, device=x.device)
        first = _all_reduce_sum(torch.cat([x.sum(dim=(0, 2, 3)), count]))
        n = first[-1]
        mean = first[:channels] / n
        centred = x - mean.view(1, -1, 1, 1)
        var = _all_reduce_sum(centred.square().sum(dim=(0, 2, 3))) / n
        y = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), momentum)
                unbiased = var.detach() * n / (n - 1).clamp(min=1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        return y.to(input.dtype)


def convert_sync_batchnorm(model: nn.Module, device_type: str) -> list[tuple[nn.Module, str, nn.Module]]:
    """Replace every ``BatchNorm2d`` of ``model`` in place by a synchronised one sharing its tensors.

    ``torch.nn.SyncBatchNorm`` on CUDA, :class:`AllReduceBatchNorm` elsewhere.
    The new layers hold the *same* parameter and buffer tensors, so an
    optimizer built on ``model`` stays valid. Returns what
    :func:`revert_sync_batchnorm` needs to put the original layers back.
    """
    check_choice("device_type", device_type, ("cpu", "cuda"))
    replaced = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.BatchNorm2d:
                continue
            cls = nn.SyncBatchNorm if device_type == "cuda" else AllReduceBatchNorm
            new = cls(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            if child.track_running_stats:
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(parent, name, new)
            replaced.append((parent, name, child))
    if isinstance(model, nn.BatchNorm2d) and not replaced:
        raise ValueError("convert_sync_batchnorm needs a model that contains BatchNorm2d layers, not one")
    return replaced


def revert_sync_batchnorm(replaced: list[tuple[nn.Module, str, nn.Module]]) -> None:
    """Put back the original BatchNorm layers (whose tensors were trained in place)."""
    for parent, name, original in replaced:
        original.train(getattr(parent, name).training)
        setattr(parent, name, original)


class TorchrunDataParallel(Strategy):
    """The :class:`~tricks_lab.strategy.Strategy` of a torchrun data-parallel run (``world_size() > 1``).

    Named apart from ``torch.nn.DataParallel`` (single-process, multi-GPU),
    which it is not. :meth:`setup` synchronises the BatchNorm layers if the
    context asks for it and wraps the model in ``DistributedDataParallel``
    (the gradient all-reduce, averaged over ranks); :meth:`shard` gives this
    rank its part of each batch; :meth:`reduce_epoch` sums the epoch's counts;
    :meth:`evaluate` predicts on shards and sums; :meth:`teardown` restores
    the plain BatchNorm layers.
    """

    stops_alone = False  # every rank must run every collective: stop only at epoch ends, together

    def __init__(self) -> None:
        ctx = context()
        if ctx.world_size < 2:
            raise RuntimeError("TorchrunDataParallel needs an initialised process group of 2 or more ranks")
        self.ctx = ctx
        self.is_main_process = ctx.rank == 0
        self.replaced: list[tuple[nn.Module, str, nn.Module]] = []
        self.model: nn.Module | None = None

    def setup(self, model: nn.Module) -> nn.Module:
        device = next(model.parameters()).device
        self.model = model
        self.replaced = convert_sync_batchnorm(model, device.type) if self.ctx.sync_batchnorm else []
        device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
            if device.type == "cuda" else None
        # With synchronised BN every rank computes the same running statistics;
        # with per-rank BN, DDP broadcasts rank 0's buffers before each forward.
        ddp = nn.parallel.DistributedDataParallel
        sync_key = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters
                    else "broadcast_buffers")  # renamed in torch 2.14
        return ddp(model, device_ids=device_ids, **{sync_key: not self.ctx.sync_batchnorm})

    def shard(self, loader: Any) -> Any:
        """``loader`` as this rank's :class:`ShardedLoader` (unchanged if it already is one, or None)."""
        if loader is None or isinstance(loader, ShardedLoader):
            return loader
        return ShardedLoader(loader, self.ctx.rank, self.ctx.world_size)

    def reduce_epoch(
        self, step_losses: torch.Tensor, correct: torch.Tensor, seen: int
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Per-step losses averaged over ranks; correct predictions and image counts summed."""
        step_losses = step_losses.clone()
        dist.all_reduce(step_losses)
        step_losses /= self.ctx.world_size
        counts = torch.stack([correct.double().reshape(()),
                              torch.tensor(float(seen), dtype=torch.float64, device=step_losses.device)])
        dist.all_reduce(counts)
        return step_losses, counts[0], int(round(counts[1].item()))

    def sync_buffers(self) -> None:
        """Give every rank rank 0's buffers (BatchNorm running statistics)."""
        if self.model is not None:
            for buffer in self.model.buffers():
                dist.broadcast(buffer, src=0)

    def evaluate(self, model: nn.Module, loader: Any, *, tta: bool = False, precision: str = "auto",
                 device: torch.device | None = None) -> float:
        """Top-1 accuracy over the whole of ``loader``: each rank predicts its shard, counts are summed."""
        self.sync_buffers()
        logits, labels = predict(model, self.shard(loader), tta=tta, precision=precision, device=device)
        counts = torch.stack([(logits.argmax(dim=1) == labels).sum().double(),
                              torch.tensor(float(len(labels)), dtype=torch.float64, device=labels.device)])
        dist.all_reduce(counts)
        return (counts[0].float() / counts[1].float()).item()  # as one process's float32 mean

    def teardown(self) -> None:
        """Restore the model's original BatchNorm layers (they hold the trained tensors)."""
        self.sync_buffers()
        revert_sync_batchnorm(self.replaced)
        self.replaced = []


def default_strategy() -> Strategy:
    """:class:`TorchrunDataParallel` inside a process group of several ranks, else one process."""

    return TorchrunDataParallel() if world_size() > 1 else SingleProcess()

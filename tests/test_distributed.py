"""tricks_lab.distributed: two gloo processes train the same model as one process with the global batch.

The spawned tests start 2 CPU processes (torch.multiprocessing, gloo) that
call :func:`tricks_lab.train.fit` exactly as one process does; the loader's
batch is the global batch and each rank takes its half. Compared with one
process on the same global batch: the final parameters and BatchNorm buffers,
the per-step losses, the lr of every step and the accuracies.

Two precisions. In float32 the model is smooth (GELU, average pooling), and
the weights agree to float32 tolerance. The book's fast net max-pools: a
rounding difference of 1e-7 (an all-reduce sums in another order than one
process, and BatchNorm's statistics come from a reduction) can change which
input wins a pooling window (or on which side of 0 a ReLU input falls) and
route a gradient elsewhere; SGD then amplifies it like any perturbation. So
the fast net is compared in float64, where it agrees to 1e-9. The last test
runs the real command, ``torchrun --nproc_per_node=2 -m tricks_lab run``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from tricks_lab import distributed
from tricks_lab.distributed import (
    AllReduceBatchNorm,
    ShardedLoader,
    convert_sync_batchnorm,
    per_rank_batch_size,
    revert_sync_batchnorm,
)
from tricks_lab.loader import GpuLoader
from tricks_lab.mixing import Mixup
from tricks_lab.models import fastnet
from tricks_lab.schedules import warmup_cosine
from tricks_lab.strategy import SingleProcess
from tricks_lab.results import History
from tricks_lab.train import fit

WORLD = 2
GLOBAL_BATCH = 32
CONFIGS = (  # name, synchronised BatchNorm, model, dtype
    ("sync", True, "smooth", torch.float32),
    ("per_rank", False, "smooth", torch.float32),
    ("fastnet64", True, "fastnet", torch.float64),
)


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = (labels[:, None, None, None] * 50 + rng.integers(0, 60, (n, 32, 32, 3))).astype(np.uint8)
    return images, labels.astype(np.int64)


def _smooth_net() -> nn.Module:
    """conv-BN-GELU x 2, average pool, linear: BatchNorm everywhere, no max-pool or ReLU kinks."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.GELU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.GELU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    )


class _GhostBatch(nn.Module):
    """Run ``module`` on each of ``chunks`` equal parts of the batch: BatchNorm statistics per part."""

    def __init__(self, module: nn.Module, chunks: int) -> None:
        super().__init__()
        self.module = module
        self.chunks = chunks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.module(part) for part in x.chunk(self.chunks)])


def _net(name: str) -> nn.Module:
    torch.manual_seed(0)
    return _smooth_net() if name == "smooth" else fastnet(num_classes=4, width=0.125)


def _soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, targets.to(logits.dtype))


def _train(net: str = "smooth", dtype: torch.dtype = torch.float32, ghost_chunks: int = 1) -> tuple[nn.Module, History]:
    """The same training call in every process: 256 images, global batch 32, mixup, warmup + cosine."""
    train = GpuLoader(*_images(256, 0), GLOBAL_BATCH, train=True, seed=3, hooks=[Mixup(1.0, 4)], dtype=dtype)
    test = GpuLoader(*_images(96, 1), 40, train=False, dtype=dtype)
    model = _net(net).to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = warmup_cosine(optimizer, total_steps=2 * len(train), warmup_steps=3)
    trained = _GhostBatch(model, ghost_chunks) if ghost_chunks > 1 else model
    history = fit(trained, train, epochs=2, optimizer=optimizer, scheduler=scheduler, loss_fn=_soft_cross_entropy,
                  test_loader=test, strategy=distributed.default_strategy(), progress=False)
    return model, history


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    try:
        for mode, sync, net, dtype in CONFIGS:
            ctx = distributed.init_from_env("cpu", sync_batchnorm=sync)
            assert (ctx.rank, ctx.world_size, ctx.backend) == (rank, WORLD, "gloo")
            model, history = _train(net, dtype)
            assert all(type(m) is not AllReduceBatchNorm for m in model.modules())  # fit restored plain BN
            state = {k: v.clone() for k, v in model.state_dict().items()}
            torch.save({"state": state, "history": history.to_dict()}, Path(out) / f"{mode}-rank{rank}.pt")
    finally:
        distributed.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return {p.stem: torch.load(p, weights_only=False) for p in out.glob("*.pt")}


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], skip: str = "num_batches") -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if skip not in k)


@pytest.mark.slow
def test_two_processes_train_the_same_weights_as_one_process_with_the_global_batch(two_ranks) -> None:
    model, history = _train()
    reference = model.state_dict()
    for rank in range(WORLD):
        run = two_ranks[f"sync-rank{rank}"]
        assert set(run["state"]) == set(reference)
        for key, value in run["state"].items():
            torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=2e-5, msg=key)
        other = History.from_dict(run["history"])
        assert other.step_loss == pytest.approx(history.step_loss, rel=1e-4, abs=1e-5)
        assert other.train_acc == history.train_acc  # counts summed over ranks: every image once
        assert other.test_acc == history.test_acc  # evaluation sharded, counts summed
        assert other.step_lr == history.step_lr  # the schedule of the global batch
    assert _max_diff(two_ranks["sync-rank0"]["state"], two_ranks["sync-rank1"]["state"]) == 0.0


@pytest.mark.slow
def test_the_books_fastnet_in_float64_trains_the_same_weights_in_two_processes(two_ranks) -> None:
    """With max-pooling, float32 rounding (1e-7) flips pooling choices; in float64 none flip."""
    model, history = _train("fastnet", torch.float64)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(two_ranks["fastnet64-rank0"]["state"][key], value, rtol=1e-9, atol=1e-10, msg=key)
    other = History.from_dict(two_ranks["fastnet64-rank0"]["history"])
    assert other.step_loss == pytest.approx(history.step_loss, rel=1e-6)  # stored in float32
    assert other.test_acc == history.test_acc


@pytest.mark.slow
def test_per_rank_batchnorm_is_ghost_batchnorm_of_the_per_rank_batch_not_the_global_one(two_ranks) -> None:
    """Without synchronisation each rank normalises its own 16 images: the run equals one process
    whose BatchNorm sees the two halves of each batch separately, and differs from the plain one."""
    per_rank = two_ranks["per_rank-rank0"]["state"]
    ghost, _ = _train(ghost_chunks=WORLD)
    plain, _ = _train()
    params = {k for k, _ in plain.named_parameters()}
    ghost_state = {k: v for k, v in ghost.state_dict().items() if k in params}
    per_rank_params = {k: v for k, v in per_rank.items() if k in params}
    plain_params = {k: v for k, v in plain.state_dict().items() if k in params}
    assert _max_diff(per_rank_params, ghost_state) < 2e-5
    assert _max_diff(per_rank_params, plain_params) > 1e-3


# -- pieces, in one process --------------------------------------------------------


def test_shards_of_a_training_batch_partition_exactly_the_single_process_batch() -> None:
    """Every rank draws the same permutation and augmentation, a new one each epoch (no per-rank
    shuffling, no forgotten ``set_epoch``), and keeps its rows: together the shards are the batch."""
    images, labels = _images(100, 0)
    make = lambda: GpuLoader(images, labels, 20, train=True, seed=5, hooks=[Mixup(1.0, 4)])  # noqa: E731
    single, ranks = make(), [ShardedLoader(make(), rank, 4) for rank in range(4)]
    epochs = []
    for _ in range(2):
        whole = list(single)
        shards = [list(loader) for loader in ranks]
        assert all(len(s) == len(whole) == 5 for s in shards)
        for step, (x, y) in enumerate(whole):
            assert torch.equal(torch.cat([s[step][0] for s in shards]), x)
            assert torch.equal(torch.cat([s[step][1] for s in shards]), y)
            assert shards[1][step][0].is_contiguous(memory_format=torch.channels_last)
        epochs.append(whole[0][0])
    assert not torch.equal(epochs[0], epochs[1])  # a new order and new crops in the second epoch


def test_evaluation_shards_cover_every_test_image_once() -> None:
    images, labels = _images(50, 1)
    loader = GpuLoader(images, labels, 16, train=False)
    got = torch.cat([y for rank in range(3) for _, y in ShardedLoader(loader, rank, 3)])
    assert sorted(got.tolist()) == sorted(labels.tolist()) and len(got) == 50


def test_the_global_batch_must_split_evenly_over_the_processes() -> None:
    assert per_rank_batch_size(512, 4) == 128
    with pytest.raises(ValueError, match=r"global batch \(100\) must be a multiple .* \(3\)"):
        per_rank_batch_size(100, 3)
    with pytest.raises(ValueError, match="rank must be < world"):
        ShardedLoader(GpuLoader(*_images(8, 0), 4, train=True), 2, 2)


def test_sync_batchnorm_conversion_shares_the_tensors_and_reverts() -> None:
    model = _net("smooth")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [id(p) for p in model.parameters()]
    replaced = convert_sync_batchnorm(model, "cpu")
    assert len(replaced) == 2 and isinstance(model[1], AllReduceBatchNorm)
    assert [id(p) for p in model.parameters()] == before  # the optimizer still holds them
    assert model[1].running_mean is replaced[0][2].running_mean
    x = torch.randn(6, 3, 8, 8)
    plain = _net("smooth")
    torch.testing.assert_close(model(x), plain(x))  # without a process group it is BatchNorm2d
    revert_sync_batchnorm(replaced)
    assert type(model[1]) is nn.BatchNorm2d
    assert optimizer.param_groups[0]["params"][1] is model[1].weight


def test_without_torchrun_nothing_is_distributed(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = distributed.init_from_env("cpu")
    assert (ctx.rank, ctx.world_size, ctx.backend) == (0, 1, None)
    assert distributed.world_size() == 1 and distributed.is_main_process()
    assert distributed.agree(True) is True
    assert isinstance(distributed.default_strategy(), SingleProcess)
    with pytest.raises(RuntimeError, match="2 or more ranks"):
        distributed.TorchrunDataParallel()


# -- the command line under torchrun -----------------------------------------------


@pytest.mark.slow
def test_torchrun_cli_trains_one_data_parallel_run_and_only_rank_0_writes(
    real_cifar10, isolated_cache: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """``torchrun --nproc_per_node=2 -m tricks_lab run`` on the smoke profile (CPU, gloo): rank 0 alone
    prints, writes the record and caches one run; the lr is that of the global batch (linear scaling
    rule on ``batch_size``, not on the per-rank batch) and the first step matches one process.

    (Later steps drift apart at float32 rounding: the fast net's max-pooling turns 1e-7 differences
    into different pooling choices; the float64 test above shows the same net agreeing to 1e-9.)
    """
    from tricks_lab.build import make_loss, make_lr_scheduler, make_model, make_optimizer
    from tricks_lab.experiments import make_loaders
    from tricks_lab.loader import stream_seed
    from tricks_lab.profiles import resolve_profile
    from tricks_lab.recipe import BASELINE

    for decoded in tmp_path_factory.getbasetemp().glob("real-cache*/decoded"):
        (isolated_cache / "decoded").symlink_to(decoded)  # the session's decoded copy, not a 16 s re-decode
        break
    assignments = ["epochs=2", "batch_size=256", "lr_reference_batch=512"]
    out = tmp_path / "record.json"
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun) if torchrun.exists() else "torchrun", "--standalone", "--nproc_per_node=2",
               "-m", "tricks_lab", "run", "--profile", "smoke", "--seeds", "0", "--set", *assignments,
               "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", TRICKS_LAB_QUIET="1")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("profile smoke, seeds [0]") == 1  # only rank 0 prints
    record = json.loads(out.read_text())
    assert record["provenance"]["command"].startswith("torchrun --nproc_per_node=2 -m tricks_lab run")
    assert record["provenance"]["devices"][0].startswith("2 x CPU")
    assert len(list((isolated_cache / "runs").iterdir())) == 1  # one run, written once
    parallel = record["runs"]["recipe"][0]["history"]

    # One process's first step and lr schedule, built as run() builds them (no training needed).
    recipe, profile = BASELINE.with_overrides(assignments), resolve_profile("smoke")
    train_loader, _ = make_loaders(recipe, profile, seed=0)
    torch.manual_seed(stream_seed(0, "init"))  # as run() seeds the initial weights
    model = make_model(recipe, profile).to(memory_format=torch.channels_last)
    images, labels = next(iter(train_loader))
    first_loss = make_loss(recipe)(model(images), labels).item()
    optimizer = make_optimizer(recipe, profile, model)
    scheduler = make_lr_scheduler(recipe, profile, optimizer, len(train_loader))
    lrs = []
    for _ in range(len(parallel["step_lr"])):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: a no-op, in the order torch expects
        scheduler.step()
    assert parallel["step_lr"] == pytest.approx(lrs, rel=1e-12)
    assert max(lrs) == pytest.approx(0.4 * 256 / 512 * 0.25)  # global batch 64 under smoke
    assert parallel["step_loss"][0] == pytest.approx(first_loss, rel=1e-5)

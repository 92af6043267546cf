"""tricks_lab.train: fit lowers the loss, records its history, evaluates with flip TTA."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tricks_lab.evaluation import evaluate, predict
from tricks_lab.loader import GpuLoader
from tricks_lab.losses import DistillationLoss
from tricks_lab.models import fastnet
from tricks_lab.precision import resolve_precision
from tricks_lab.results import History
from tricks_lab.strategy import Callback, TrainState
from tricks_lab.train import Batches, fit


def separable_data(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is written in their mean brightness: easy to learn in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = (labels[:, None, None, None] * 60 + rng.integers(0, 20, (n, 32, 32, 3))).astype(np.uint8)
    return images, labels.astype(np.int64)


def test_fit_lowers_the_loss_and_fills_the_history() -> None:
    torch.manual_seed(0)
    xs, ys = separable_data()
    train = GpuLoader(xs, ys, 32, train=True, seed=0)
    test = GpuLoader(*separable_data(64, seed=1), 64, train=False)
    model = fastnet(num_classes=4, width=0.125)
    # lr 0.02: at 0.05 the loss spikes on some seeds' batches and 6 epochs are not always enough
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True)
    history = fit(model, train, epochs=6, optimizer=optimizer, test_loader=test, progress=False)
    assert history.epoch == [1, 2, 3, 4, 5, 6]
    assert len(history.step_loss) == len(history.step_lr) == 6 * len(train)
    assert history.train_loss[-1] < 0.5 * history.step_loss[0]
    assert history.test_acc[-1] > 0.9
    assert all(b >= a for a, b in zip(history.seconds, history.seconds[1:]))
    assert History.from_dict(history.to_dict()) == history


def test_history_with_skipped_evaluations_round_trips_through_strict_json() -> None:
    import json

    history = History(epoch=[1, 2], train_loss=[2.0, 1.0], train_acc=[0.1, 0.2], test_acc=[math.nan, 0.5],
                      lr=[0.1, 0.1], seconds=[1.0, 2.0], step_loss=[2.0], step_lr=[0.1])
    text = json.dumps(history.to_dict(), allow_nan=False)
    back = History.from_dict(json.loads(text))
    assert math.isnan(back.test_acc[0]) and back.test_acc[1] == 0.5 and back.epoch == history.epoch


def test_the_scheduler_is_stepped_once_per_iteration() -> None:
    xs, ys = separable_data(64)
    train = GpuLoader(xs, ys, 16, train=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    history = fit(model, train, epochs=2, optimizer=optimizer, scheduler=scheduler,
                  channels_last=False, progress=False)
    assert history.step_lr == pytest.approx([1.0 / (1 + s) for s in range(8)])


def test_a_distillation_criterion_sees_the_teachers_logits_without_a_fit_argument() -> None:
    seen = {}

    class Recording(DistillationLoss):
        def forward(self, logits, targets):
            seen["shapes"] = (logits.shape, self._teacher_logits.shape, targets.shape)
            return super().forward(logits, targets)

    xs, ys = separable_data(32)
    train = GpuLoader(xs, ys, 16, train=True)
    teacher, student = fastnet(num_classes=4, width=0.125), fastnet(num_classes=4, width=0.125)
    history = fit(student, train, epochs=1, loss_fn=Recording(teacher).bind(student), progress=False)
    assert seen["shapes"] == ((16, 4), (16, 4), (16,))
    assert not teacher.training and math.isfinite(history.train_loss[0])


def test_flip_tta_averages_the_logits_of_image_and_mirror() -> None:
    xs, ys = separable_data(16)
    loader = GpuLoader(xs, ys, 8, train=False, channels_last=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
    logits, labels = predict(model, loader, tta=True)
    images = torch.cat([b for b, _ in loader])
    expected = 0.5 * (model(images) + model(images.flip(3)))
    torch.testing.assert_close(logits, expected)
    assert labels.tolist() == ys.tolist()
    accuracy = evaluate(model, loader)
    assert 0.0 <= accuracy <= 1.0 and math.isclose(accuracy * 16, round(accuracy * 16))


def test_precision_follows_the_device_and_errors_are_clear() -> None:
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", torch.device("cpu"))
    loader = GpuLoader(*separable_data(32), 16, train=True)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        fit(fastnet(width=0.125), loader, epochs=0)
    with pytest.raises(ValueError, match="predict needs an evaluation loader"):
        predict(fastnet(width=0.125), loader)


# -- any batches, callbacks, divergence ------------------------------------------------------


def _tensor_data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = separable_data(n, seed)
    images = torch.from_numpy(xs).permute(0, 3, 1, 2).float().div(255.0)
    return images, torch.from_numpy(ys)


def test_fit_trains_from_a_torch_dataloader_over_a_tensor_dataset() -> None:
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    images, labels = _tensor_data(128)
    train = DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    test = DataLoader(TensorDataset(*_tensor_data(64, seed=1)), batch_size=32)
    assert isinstance(train, Batches)
    model = fastnet(num_classes=4, width=0.125)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True)
    history = fit(model, train, epochs=4, optimizer=optimizer, test_loader=test, progress=False)
    assert history.epoch == [1, 2, 3, 4] and len(history.step_loss) == 4 * len(train) == 32
    assert history.train_loss[-1] < 0.5 * history.step_loss[0]
    assert history.test_acc[-1] > 0.9 and history.diverged_step is None
    with pytest.raises(TypeError, match="iterable of \\(images, targets\\) batches with a length"):
        fit(model, (batch for batch in train), epochs=1, progress=False)


class _Recorder(Callback):
    def __init__(self) -> None:
        self.steps: list[tuple[int, int]] = []
        self.epochs: list[tuple[int, int, int]] = []

    def on_step_end(self, state: TrainState) -> None:
        assert state.loss is not None and state.loss.ndim == 0
        self.steps.append((state.epoch, state.step))

    def on_epoch_end(self, state: TrainState) -> None:
        # the epoch's metrics are recorded before the callback sees them
        assert state.history.epoch[-1] == state.epoch and len(state.history.test_acc) == state.epoch
        self.epochs.append((state.epoch, state.step, len(state.history.step_loss)))


def test_callbacks_are_called_after_every_step_and_every_epoch() -> None:
    xs, ys = separable_data(80)
    train = GpuLoader(xs, ys, 16, train=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
    first, second = _Recorder(), _Recorder()
    fit(model, train, epochs=3, optimizer=torch.optim.SGD(model.parameters(), lr=0.01), callbacks=[first, second],
        channels_last=False, progress=False)
    assert len(train) == 5
    assert first.steps == [(e, 5 * (e - 1) + i) for e in (1, 2, 3) for i in range(1, 6)]
    assert first.epochs == [(1, 5, 5), (2, 10, 10), (3, 15, 15)]
    assert second.steps == first.steps and second.epochs == first.epochs
    assert Callback().on_step_end(TrainState(model, torch.optim.SGD(model.parameters()), History())) is None


def test_a_non_finite_loss_stops_training_at_that_step() -> None:
    xs, ys = separable_data(80)
    train = GpuLoader(xs, ys, 16, train=True)  # 5 steps an epoch
    test = GpuLoader(*separable_data(32, seed=1), 32, train=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
    calls = []

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        loss = nn.functional.cross_entropy(logits, targets)
        return loss * float("nan") if len(calls) == 8 else loss

    recorder = _Recorder()
    history = fit(model, train, epochs=4, optimizer=torch.optim.SGD(model.parameters(), lr=0.01), loss_fn=loss_fn,
                  test_loader=test, callbacks=[recorder], channels_last=False, progress=False)
    assert history.diverged and history.diverged_step == 8  # the 3rd step of epoch 2, counted from 1
    assert len(calls) == 8 and len(history.step_loss) == 8 and math.isnan(history.step_loss[-1])
    assert history.epoch == [1, 2] and recorder.epochs[-1] == (2, 8, 8)
    assert not math.isnan(history.test_acc[0]) and math.isnan(history.test_acc[-1])  # never evaluated after it
    back = History.from_dict(history.to_dict())
    assert back.diverged_step == 8 and math.isnan(back.step_loss[-1])


def test_a_huge_learning_rate_diverges() -> None:
    torch.manual_seed(0)
    xs, ys = separable_data(128)
    train = GpuLoader(xs, ys, 32, train=True)
    test = GpuLoader(*separable_data(32, seed=1), 32, train=False)
    model = fastnet(num_classes=4, width=0.125)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e12, momentum=0.9, weight_decay=5e-4)
    history = fit(model, train, epochs=20, optimizer=optimizer, test_loader=test, progress=False)
    assert history.diverged_step is not None and history.diverged_step < 20 * len(train)
    assert len(history.step_loss) == history.diverged_step
    assert all(math.isfinite(v) for v in history.step_loss[:-1]) and not math.isfinite(history.step_loss[-1])
    assert math.isnan(history.test_acc[-1])

"""tricks_lab.train: fit lowers the loss, records its history, evaluates with flip TTA."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tricks_lab.loader import GpuLoader
from tricks_lab.models import fastnet
from tricks_lab.train import History, evaluate, fit, predict, resolve_precision


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
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
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


def test_soft_targets_and_a_teacher_reach_the_loss() -> None:
    seen = {}

    def loss_fn(student, teacher, targets):
        seen["shapes"] = (student.shape, teacher.shape, targets.shape)
        return nn.functional.cross_entropy(student, targets)

    xs, ys = separable_data(32)
    train = GpuLoader(xs, ys, 16, train=True)
    teacher = fastnet(num_classes=4, width=0.125)
    fit(fastnet(num_classes=4, width=0.125), train, epochs=1, loss_fn=loss_fn, teacher=teacher, progress=False)
    assert seen["shapes"] == ((16, 4), (16, 4), (16,))
    assert not teacher.training


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

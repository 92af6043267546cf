"""Pitfalls of chapters 01 (warmup) and 08 (cosine decay) not already pinned in test_schedules.py."""

from __future__ import annotations

import pytest
import torch
from torch.optim.lr_scheduler import StepLR

from tricks_lab.build import make_lr_scheduler
from tricks_lab.profiles import PROFILES
from tricks_lab.recipe import BASELINE
from tricks_lab.schedules import lr_curve


def test_recipe_warmup_is_per_iteration_not_per_epoch() -> None:
    """warmup_epochs=2 with 10 iterations an epoch: the lr rises at each of the first 20 iterations
    (Goyal et al.'s per-iteration ramp), not in two epoch-long stairs, and peaks at iteration 20."""
    recipe = BASELINE.replace(warmup_epochs=2.0, schedule="cosine")
    curve = lr_curve(lambda opt: make_lr_scheduler(recipe, PROFILES["short"], opt, 10), 160, base_lr=0.4)
    assert len(set(curve[:21])) == 21
    assert all(b > a for a, b in zip(curve[:20], curve[1:21]))
    assert curve[20] == pytest.approx(0.4) == max(curve)


def test_stepping_the_scheduler_before_training_decays_one_epoch_early() -> None:
    """The seed's loop ``for epoch: scheduler.step(); train(...)`` with StepLR(step_size=30): its
    own comment promises lr 0.05 for epochs 0-29, yet epoch 29 trains at 0.005 (torch warns)."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.05)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    used = []
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        for _ in range(35):
            scheduler.step()  # the seed's order
            used.append(optimizer.param_groups[0]["lr"])  # the lr train(...) then uses
            optimizer.step()
    first_decayed = next(epoch for epoch, lr in enumerate(used) if lr < 0.05)
    assert first_decayed == 29
    # torch's order (and tricks_lab.train.fit's): optimizer.step() first, then scheduler.step()
    assert lr_curve(lambda opt: StepLR(opt, step_size=30, gamma=0.1), 35, base_lr=0.05).index(
        pytest.approx(0.005)) == 30

"""The pitfalls of the AdaBound chapter (book/10_adabound.ipynb), one test each, beside
those already pinned in tests/test_optim.py."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tricks_lab.build import make_optimizer, scaled_final_lr, scaled_lr
from tricks_lab.models import build_model
from tricks_lab.optim import AdaBound, bounds
from tricks_lab.profiles import PROFILES
from tricks_lab.recipe import BASELINE
from tricks_lab.widgets.adabound import band_closing_step, run_steps

# The chapter's AdaBound: the paper's lr and final_lr, which it gives for batch 128.
ADABOUND = BASELINE.replace(optimizer="adabound", lr=1e-3, final_lr=0.1, lr_reference_batch=128)


def small_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3))


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 50) -> None:
    generator = torch.Generator().manual_seed(5)
    for _ in range(steps):
        images = torch.randn(16, 12, generator=generator)
        labels = torch.randint(0, 3, (16,), generator=generator)
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()


def max_difference(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def test_final_lr_is_torch_sgd_lr_over_one_minus_beta1() -> None:
    """Pitfall "final_lr is SGD's learning rate": with the band closed, AdaBound steps
    final_lr * m_t with m_t an average (1 - beta1) sum g, so it is torch's SGD with
    momentum beta1 at lr (1 - beta1) * final_lr, not at final_lr."""
    final_lr, beta1 = 0.5, 0.9
    ours, sgd_same, sgd_scaled = small_net(), small_net(), small_net()
    train(ours, AdaBound(ours.parameters(), final_lr=final_lr, gamma=1e12))
    train(sgd_scaled, torch.optim.SGD(sgd_scaled.parameters(), lr=(1 - beta1) * final_lr, momentum=beta1))
    train(sgd_same, torch.optim.SGD(sgd_same.parameters(), lr=final_lr, momentum=beta1))
    assert max_difference(ours, sgd_scaled) <= 1e-5
    assert max_difference(ours, sgd_same) > 1e-2


def test_the_papers_gamma_leaves_the_band_open_in_our_runs() -> None:
    """Pitfall "gamma counts iterations": gamma = 1e-3 closes the band (to 10%) after
    10,000 iterations; the smoke and short runs end long before, the paper's 200
    epochs of 391 iterations long after."""
    closing = band_closing_step(1e-3)
    assert closing == pytest.approx(10_000)
    for profile in ("smoke", "short"):
        steps = run_steps(BASELINE, profile)
        lower, upper = bounds(steps, 1.0, 1e-3)
        assert steps < closing / 5 and upper > 1.5 and lower < 0.7
    assert 200 * 391 > 5 * closing


@pytest.mark.parametrize("profile", ["smoke", "short"])
def test_profiles_scale_final_lr_like_lr(profile: str) -> None:
    """Pitfall "scaling lr but not final_lr": the batch-size rule moves both, so the
    ratio final_lr / lr (where the clipping starts to bite) is the recipe's."""
    model = build_model("fastnet", width=0.125)
    optimizer = make_optimizer(ADABOUND, PROFILES[profile], model)
    group = optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(scaled_lr(ADABOUND, PROFILES[profile]))
    assert group["final_lr"] == pytest.approx(scaled_final_lr(ADABOUND, PROFILES[profile]))
    assert group["final_lr"] / group["lr"] == pytest.approx(ADABOUND.final_lr / ADABOUND.lr)
    # smoke trains at batch 128: the paper's own lr = 1e-3 and final_lr = 0.1
    expected = {"smoke": (1e-3, 0.1), "short": (4e-3, 0.4)}[profile]
    assert (group["lr"], group["final_lr"]) == pytest.approx(expected)


def test_recipe_weight_decay_reaches_adabound_as_coupled_l2() -> None:
    """Pitfall "weight decay": the recipe's 5e-4 goes into AdaBound's gradient (the
    paper's and the package's L2, normalised by Adam's denominator), not the decoupled
    decay; copying the seed's one-liner drops it altogether (the default is 0)."""
    model = build_model("fastnet", width=0.125)
    optimizer = make_optimizer(ADABOUND, PROFILES["smoke"], model)
    assert all(g["weight_decay"] == 5e-4 and not g["decoupled_weight_decay"] for g in optimizer.param_groups)
    assert AdaBound(copy.deepcopy(model).parameters(), lr=1e-3, final_lr=0.1).defaults["weight_decay"] == 0.0

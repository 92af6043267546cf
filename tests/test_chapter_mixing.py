"""Facts the mixing chapters (04 RICAP, 09 mixup and CutMix) state about training on mixed batches.

- The training accuracy ``fit`` records for soft targets counts the *dominant* label (the
  argmax of the target), not the lambda-weighted accuracy the seeds' snippets print.
- The training loss of a mixed run is bounded below by the entropy of its targets, so it
  cannot be compared with an unmixed run's loss.
- Mixing after normalisation (where the loader's ``"float"`` hooks run) gives the batch that
  mixing before it would: normalisation is affine and the mixing weights sum to 1.
- The recipe's ``mixing_concentration`` is RICAP's ``beta``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tricks_lab.build import make_hooks, make_loss
from tricks_lab.loader import CIFAR10_MEAN, CIFAR10_STD, GpuLoader, normalize
from tricks_lab.mixing import RICAP, CutMix, Mixup, MixupParams, apply_mixup, cutmix, mixup, ricap
from tricks_lab.recipe import BASELINE
from tricks_lab.train import fit

SOFT = torch.tensor([[0.6, 0.4, 0.0, 0.0], [0.6, 0.4, 0.0, 0.0], [0.3, 0.7, 0.0, 0.0], [0.3, 0.7, 0.0, 0.0]])


class FixedTargets:
    """A float-stage hook that replaces the batch's labels with the soft targets ``SOFT``."""

    stage = "float"

    def __call__(self, images, targets, generator):
        return images, SOFT.clone()


class AlwaysClassZero(nn.Module):
    """Logits that always predict class 0."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([5.0, 0.0, 0.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(x.shape[0], -1)


def test_train_accuracy_of_a_mixed_run_counts_the_dominant_label() -> None:
    """Class 0 dominates samples 0 and 1 only: accuracy 0.5 (the seeds' weighted accuracy would be 0.45)."""
    images = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    loader = GpuLoader(images, np.arange(4), 4, train=True, seed=0, hooks=[FixedTargets()])
    model = AlwaysClassZero()
    history = fit(model, loader, epochs=2, optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
                  channels_last=False, progress=False)
    dominant = (SOFT.argmax(1) == 0).float().mean().item()
    weighted = SOFT[:, 0].mean().item()
    assert history.train_acc == [pytest.approx(dominant)] * 2 == [pytest.approx(0.5)] * 2
    assert weighted == pytest.approx(0.45)


@pytest.mark.parametrize("op", ["mixup", "cutmix", "ricap"])
def test_soft_target_loss_is_bounded_below_by_the_target_entropy(op: str) -> None:
    """min_z -sum_k t_k log softmax(z)_k = H(t), reached at z = log t: a mixed run's loss floor is > 0."""
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.randn(64, 3, 16, 16, generator=generator), torch.arange(64) % 10
    mix = {"mixup": lambda: mixup(images, labels, 1.0, num_classes=10, mode="elem", generator=generator),
           "cutmix": lambda: cutmix(images, labels, 1.0, num_classes=10, mode="elem", generator=generator),
           "ricap": lambda: ricap(images, labels, 1.0, num_classes=10, generator=generator)}[op]
    _, targets = mix()
    loss = make_loss(BASELINE.replace(mixing=op))
    entropy = -(targets * targets.clamp_min(1e-30).log()).sum(1).mean()
    assert entropy > 0.1
    torch.testing.assert_close(loss(targets.clamp_min(1e-30).log(), targets), entropy)
    for _ in range(20):
        assert loss(torch.randn(64, 10, generator=generator), targets) >= entropy


def test_mixing_after_normalisation_equals_mixing_before() -> None:
    generator = torch.Generator().manual_seed(1)
    raw = torch.randint(0, 256, (6, 3, 8, 8), generator=generator, dtype=torch.uint8)
    params = MixupParams(torch.tensor([5, 0, 1, 2, 3, 4]), torch.tensor([0.3, 0.9, 0.5, 0.0, 1.0, 0.62]),
                         torch.ones(6, dtype=torch.bool))
    labels = torch.arange(6)
    after, targets_after = apply_mixup(normalize(raw, CIFAR10_MEAN, CIFAR10_STD, torch.float32), labels, params, num_classes=6)
    mixed_raw, targets_before = apply_mixup(raw.float(), labels, params, num_classes=6)
    before = normalize(mixed_raw, CIFAR10_MEAN, CIFAR10_STD, torch.float32)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(targets_after, targets_before)


def test_recipe_fields_become_the_hooks_with_the_concentration_as_ricaps_beta() -> None:
    (ricap_hook,) = make_hooks(BASELINE.replace(mixing="ricap", mixing_concentration=0.3, mixing_p=0.5))
    assert isinstance(ricap_hook, RICAP) and ricap_hook.beta == 0.3 and ricap_hook.p == 0.5
    (mixup_hook,) = make_hooks(BASELINE.replace(mixing="mixup"))
    assert isinstance(mixup_hook, Mixup) and mixup_hook.alpha == 1.0 and mixup_hook.mode == "batch"
    (cutmix_hook,) = make_hooks(BASELINE.replace(mixing="cutmix"))
    assert isinstance(cutmix_hook, CutMix) and cutmix_hook.mode == "batch"
    assert make_hooks(BASELINE) == []

"""Pitfalls named in the label smoothing (03) and distillation (05) chapters, pinned."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tricks_lab.loader import GpuLoader
from tricks_lab.losses import (
    DistillationLoss,
    LabelSmoothingCrossEntropy,
    distillation_kl,
    optimal_logit_gap,
    smooth_targets,
)
from tricks_lab.models import fastnet
from tricks_lab.train import fit

FAST = settings(max_examples=40, deadline=None)


# --- 03 label smoothing ---------------------------------------------------------------------


@FAST
@given(st.integers(1, 8), st.integers(2, 12), st.floats(0.0, 0.85), st.integers(0, 2**31 - 1))
def test_others_convention_is_uniform_with_rescaled_epsilon(n: int, k: int, eps: float, seed: int) -> None:
    # 'others' at eps puts 1 - eps on y and eps/(K-1) elsewhere: 'uniform' at eps' = eps K/(K-1).
    labels = torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))
    rescaled = eps * k / (k - 1)
    if rescaled >= 1.0:
        return
    torch.testing.assert_close(smooth_targets(labels, k, eps, "others"), smooth_targets(labels, k, rescaled, "uniform"))
    assert optimal_logit_gap(eps, k, "others") == pytest.approx(optimal_logit_gap(rescaled, k, "uniform"))


@pytest.mark.parametrize("convention", ["uniform", "others"])
@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
def test_smoothed_loss_floor_is_the_entropy_of_the_targets(convention: str, eps: float) -> None:
    # The smoothed loss can never fall below H(q) > 0, so training losses of different eps
    # (or of smoothing against none) are not comparable: compare test metrics instead.
    k = 10
    labels = torch.arange(6) % k
    q = smooth_targets(labels, k, eps, convention).double()
    entropy = -(q * q.log()).sum(dim=1).mean()
    criterion = LabelSmoothingCrossEntropy(eps, convention)
    torch.testing.assert_close(criterion(q.log(), labels), entropy)  # the minimiser: softmax(z) = q
    assert float(entropy) > 0.2
    perturbed = q.log() + 0.3 * torch.randn(6, k, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(criterion(perturbed, labels)) > float(entropy)


@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0])
def test_smoothing_optimum_leaves_no_dark_knowledge(temperature: float) -> None:
    # At the optimum of the smoothed loss every wrong class has the same logit, so the softened
    # distribution ranks no wrong class above another: nothing for a student to learn there
    # (Mueller, Kornblith & Hinton 2019, why a smoothed teacher distils worse).
    k, eps = 10, 0.1
    z = smooth_targets(torch.tensor([4]), k, eps).double().log()
    softened = torch.softmax(z / temperature, dim=1)[0]
    wrong = torch.cat([softened[:4], softened[5:]])
    torch.testing.assert_close(wrong, torch.full_like(wrong, float(wrong[0])))


# --- 05 distillation ------------------------------------------------------------------------


def test_kl_div_mean_reduction_is_not_the_batch_mean() -> None:
    # F.kl_div(reduction="mean") averages over all N * K elements: the per-sample KL divided
    # by K. Hinton's loss is the batch mean of the per-sample KL ("batchmean"), as ours.
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(8, 10, generator=g) * 3, torch.randn(8, 10, generator=g) * 3
    temperature = 4.0
    log_student = F.log_softmax(student / temperature, dim=1)
    p_teacher = F.softmax(teacher / temperature, dim=1)
    ours = distillation_kl(student, teacher, temperature)
    torch.testing.assert_close(F.kl_div(log_student, p_teacher, reduction="batchmean"), ours)
    with pytest.warns(UserWarning, match="batchmean"):  # torch itself warns about this reduction
        elementwise_mean = F.kl_div(log_student, p_teacher, reduction="mean")
    torch.testing.assert_close(elementwise_mean, ours / 10)


def test_softening_only_the_teacher_is_a_different_loss() -> None:
    # Both distributions are taken at T; softening the teacher alone gives another loss whose
    # minimum is not at the teacher's logits.
    g = torch.Generator().manual_seed(1)
    teacher = torch.randn(4, 6, generator=g, dtype=torch.float64) * 3
    assert float(distillation_kl(teacher, teacher, 4.0)) == pytest.approx(0.0, abs=1e-12)
    one_sided = F.kl_div(F.log_softmax(teacher, dim=1), F.softmax(teacher / 4.0, dim=1), reduction="batchmean")
    assert float(one_sided) > 0.1


def test_teacher_batchnorm_statistics_stay_fixed_during_distillation() -> None:
    # A teacher left in training mode would update its BatchNorm running statistics on the
    # student's batches (and use batch statistics for its targets). DistillationLoss keeps it in eval mode.
    g = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (64, 32, 32, 3), dtype=torch.uint8, generator=g).numpy()
    labels = torch.randint(0, 4, (64,), generator=g).numpy()
    loader = GpuLoader(images, labels, 16, train=True, seed=0)
    torch.manual_seed(0)
    teacher, student = fastnet(num_classes=4, width=0.125), fastnet(num_classes=4, width=0.125)
    before = copy.deepcopy(teacher.state_dict())
    teacher.train()  # as a caller might leave it
    fit(student, loader, epochs=1, loss_fn=DistillationLoss(teacher).bind(student), progress=False)
    for name, value in teacher.state_dict().items():
        torch.testing.assert_close(value, before[name], msg=f"teacher's {name} changed")
    assert not teacher.training

"""Tests for tricks_lab.losses: label smoothing, soft-target CE, distillation."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tricks_lab.losses import (
    DistillationLoss,
    LabelSmoothingCrossEntropy,
    SoftTargetCrossEntropy,
    distillation_kl,
    distillation_loss,
    optimal_logit_gap,
    smooth_targets,
)

FAST = settings(max_examples=40, deadline=None)


def random_logits(
    n: int, k: int, seed: int, scale: float = 3.0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=dtype) * scale


def random_labels(n: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randint(0, k, (n,), generator=g)


def random_soft_targets(n: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 2)
    return torch.softmax(torch.randn(n, k, generator=g, dtype=torch.float64) * 2, dim=1)


batches = st.tuples(
    st.integers(1, 9),  # N
    st.integers(2, 12),  # K
    st.integers(0, 2**31 - 1),  # seed
    st.floats(0.0, 0.95),  # eps
)


# --- smooth_targets -------------------------------------------------------------------------


@FAST
@given(batches)
def test_uniform_targets_match_szegedy_formula(batch: tuple[int, int, int, float]) -> None:
    n, k, seed, eps = batch
    labels = random_labels(n, k, seed)
    q = smooth_targets(labels, k, eps, "uniform")
    on_true = q.gather(1, labels[:, None]).squeeze(1)
    off_true = q.masked_select(~F.one_hot(labels, k).bool())
    torch.testing.assert_close(on_true, torch.full((n,), 1 - eps + eps / k))
    torch.testing.assert_close(off_true, torch.full((n * (k - 1),), eps / k))


@FAST
@given(batches)
def test_others_targets_match_printed_formula(batch: tuple[int, int, int, float]) -> None:
    n, k, seed, eps = batch
    labels = random_labels(n, k, seed)
    q = smooth_targets(labels, k, eps, "others")
    on_true = q.gather(1, labels[:, None]).squeeze(1)
    off_true = q.masked_select(~F.one_hot(labels, k).bool())
    torch.testing.assert_close(on_true, torch.full((n,), 1 - eps))
    torch.testing.assert_close(off_true, torch.full((n * (k - 1),), eps / (k - 1)))


@FAST
@given(batches)
def test_conventions_differ_exactly_as_the_formulas_say(batch: tuple[int, int, int, float]) -> None:
    # uniform - others = eps/K on the true class and eps/K - eps/(K-1) = -eps/(K(K-1)) elsewhere.
    n, k, seed, eps = batch
    labels = random_labels(n, k, seed)
    onehot = F.one_hot(labels, k).double()
    expected = onehot * (eps / k) + (1 - onehot) * (-eps / (k * (k - 1)))
    uniform = smooth_targets(labels, k, eps, "uniform").double()
    difference = uniform - smooth_targets(labels, k, eps, "others").double()
    torch.testing.assert_close(difference, expected, atol=1e-6, rtol=0)


def test_seed_code_builds_the_uniform_form_not_the_printed_one() -> None:
    # The seeds print q_y = 1 - eps, q_j = eps/(K-1), but their code writes 1 - eps at the
    # label and then adds eps/K everywhere. Rebuild that construction and compare.
    labels, k, eps = torch.tensor([0, 3, 1]), 4, 0.2
    seed_code_targets = torch.zeros(3, k).scatter_(1, labels[:, None], 1 - eps) + eps / k
    torch.testing.assert_close(smooth_targets(labels, k, eps, "uniform"), seed_code_targets)
    assert not torch.allclose(smooth_targets(labels, k, eps, "others"), seed_code_targets)


@FAST
@given(batches, st.sampled_from(["uniform", "others"]), st.booleans())
def test_targets_are_distributions(batch: tuple[int, int, int, float], convention: str, soft: bool) -> None:
    n, k, seed, eps = batch
    labels = random_soft_targets(n, k, seed) if soft else random_labels(n, k, seed)
    q = smooth_targets(labels, k, eps, convention)
    assert q.shape == (n, k)
    assert bool((q >= 0).all())
    torch.testing.assert_close(q.sum(dim=1), torch.ones(n, dtype=q.dtype))


@FAST
@given(batches)
def test_soft_targets_are_smoothed_once_linearly(batch: tuple[int, int, int, float]) -> None:
    n, k, seed, eps = batch
    soft = random_soft_targets(n, k, seed)
    torch.testing.assert_close(smooth_targets(soft, k, eps, "uniform"), (1 - eps) * soft + eps / k)
    labels = random_labels(n, k, seed)
    as_soft = smooth_targets(F.one_hot(labels, k).float(), k, eps, "others")
    torch.testing.assert_close(as_soft, smooth_targets(labels, k, eps, "others"))


def test_zero_smoothing_gives_one_hot() -> None:
    labels = torch.tensor([2, 0, 1])
    for convention in ("uniform", "others"):
        torch.testing.assert_close(smooth_targets(labels, 3, 0.0, convention), F.one_hot(labels, 3).float())


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_soft_targets_keep_their_dtype(dtype: torch.dtype) -> None:
    soft = torch.full((2, 4), 0.25, dtype=dtype)
    assert smooth_targets(soft, 4, 0.1).dtype == dtype
    assert smooth_targets(torch.tensor([1, 2]), 4, 0.1).dtype == torch.get_default_dtype()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"smoothing": 1.0}, ValueError, r"smoothing must be in \[0.0, 1.0\), got 1.0"),
        ({"smoothing": -0.1}, ValueError, r"smoothing must be in \[0.0, 1.0\), got -0.1"),
        ({"smoothing": float("nan")}, ValueError, "smoothing must be a finite number, got nan"),
        ({"convention": "both"}, ValueError, "convention must be one of 'uniform', 'others'; got 'both'"),
        ({"num_classes": 0}, ValueError, "num_classes must be >= 1, got 0"),
        ({"num_classes": 3.0}, TypeError, "num_classes must be an int"),
        ({"labels": torch.tensor([0, 5])}, ValueError, r"labels must lie in \[0, 4\), got values in \[0, 5"),
        ({"labels": torch.tensor([-1, 0])}, ValueError, r"labels must lie in \[0, 4\)"),
        ({"labels": torch.tensor([0, 1], dtype=torch.int32)}, TypeError, "labels must be int64 .* torch.int32"),
        ({"labels": torch.zeros(2, 3)}, ValueError, r"labels as soft targets must have shape \(2, 4\), got \(2, 3"),
        ({"labels": torch.tensor(1)}, ValueError, r"labels must have shape \(N,\) or \(N, K\), got \(\)"),
        ({"labels": [0, 1]}, TypeError, "labels must be a torch.Tensor, got list"),
    ],
)
def test_smooth_targets_rejects_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    arguments = {"labels": torch.tensor([0, 1]), "num_classes": 4, "smoothing": 0.1, "convention": "uniform"}
    with pytest.raises(error, match=match):
        smooth_targets(**{**arguments, **kwargs})


def test_others_convention_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="convention 'others' needs num_classes >= 2, got 1"):
        smooth_targets(torch.tensor([0]), 1, 0.1, "others")


# --- LabelSmoothingCrossEntropy -------------------------------------------------------------


def szegedy_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    """(1 - eps) * NLL + eps * mean over classes of -log p: the uniform form, written out."""
    log_p = F.log_softmax(logits, dim=1)
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)
    return ((1 - eps) * nll - eps * log_p.mean(dim=1)).mean()


@FAST
@given(batches)
def test_uniform_hard_labels_equal_torch_label_smoothing(batch: tuple[int, int, int, float]) -> None:
    n, k, seed, eps = batch
    logits, labels = random_logits(n, k, seed), random_labels(n, k, seed)
    ours = LabelSmoothingCrossEntropy(eps)(logits, labels)
    torch.testing.assert_close(ours, F.cross_entropy(logits, labels, label_smoothing=eps), atol=1e-6, rtol=0)
    torch.testing.assert_close(ours, szegedy_loss(logits, labels, eps), atol=1e-6, rtol=0)
    explicit = SoftTargetCrossEntropy()(logits, smooth_targets(labels, k, eps).double())
    torch.testing.assert_close(ours, explicit, atol=1e-6, rtol=0)


@FAST
@given(batches)
def test_uniform_soft_targets_equal_torch_label_smoothing(batch: tuple[int, int, int, float]) -> None:
    n, k, seed, eps = batch
    logits, soft = random_logits(n, k, seed), random_soft_targets(n, k, seed)
    ours = LabelSmoothingCrossEntropy(eps)(logits, soft)
    torch.testing.assert_close(ours, F.cross_entropy(logits, soft, label_smoothing=eps), atol=1e-6, rtol=0)
    smoothed_once = -(((1 - eps) * soft + eps / k) * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(ours, smoothed_once, atol=1e-6, rtol=0)


@FAST
@given(batches)
def test_others_convention_loss_is_exact(batch: tuple[int, int, int, float]) -> None:
    n, k, seed, eps = batch
    logits, labels = random_logits(n, k, seed), random_labels(n, k, seed)
    log_p = F.log_softmax(logits, dim=1)
    true_term = log_p.gather(1, labels[:, None]).squeeze(1)
    others_sum = log_p.sum(dim=1) - true_term
    expected = (-(1 - eps) * true_term - eps / (k - 1) * others_sum).mean()
    ours = LabelSmoothingCrossEntropy(eps, convention="others")(logits, labels)
    torch.testing.assert_close(ours, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("convention", ["uniform", "others"])
def test_zero_smoothing_is_plain_cross_entropy(convention: str) -> None:
    logits, labels = random_logits(16, 10, 0), random_labels(16, 10, 0)
    loss = LabelSmoothingCrossEntropy(0.0, convention=convention)(logits, labels)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels), atol=1e-12, rtol=0)


@pytest.mark.parametrize("convention", ["uniform", "others"])
def test_float_one_hot_targets_are_not_smoothed_twice(convention: str) -> None:
    logits, labels = random_logits(8, 5, 1), random_labels(8, 5, 1)
    criterion = LabelSmoothingCrossEntropy(0.3, convention=convention)
    torch.testing.assert_close(criterion(logits, F.one_hot(labels, 5).double()), criterion(logits, labels))


@pytest.mark.parametrize("convention", ["uniform", "others"])
def test_gradient_is_softmax_minus_smoothed_target(convention: str) -> None:
    # d/dz of -sum_k q_k log softmax(z)_k is softmax(z) - q (divided by N for the mean).
    logits, labels = random_logits(6, 7, 2).requires_grad_(), random_labels(6, 7, 2)
    LabelSmoothingCrossEntropy(0.2, convention=convention)(logits, labels).backward()
    q = smooth_targets(labels, 7, 0.2, convention).double()
    torch.testing.assert_close(logits.grad, (torch.softmax(logits.detach(), dim=1) - q) / 6)


@pytest.mark.parametrize("convention", ["uniform", "others"])
def test_minimiser_has_the_optimal_logit_gap(convention: str) -> None:
    # Minimising the smoothed loss over free logits gives softmax(z) = q, hence a finite gap.
    k, eps = 10, 0.1
    logits = torch.zeros(1, k, dtype=torch.float64, requires_grad=True)
    criterion = LabelSmoothingCrossEntropy(eps, convention=convention)
    optimizer = torch.optim.LBFGS([logits], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = criterion(logits, torch.tensor([3]))
        loss.backward()
        return loss

    optimizer.step(closure)
    z = logits.detach()[0]
    gaps = z[3] - torch.cat([z[:3], z[4:]])
    expected = optimal_logit_gap(eps, k, convention)
    torch.testing.assert_close(gaps, torch.full_like(gaps, expected), atol=1e-6, rtol=0)


def test_optimal_logit_gap_values() -> None:
    assert optimal_logit_gap(0.1, 10) == pytest.approx(math.log(0.91 / 0.01))
    assert optimal_logit_gap(0.1, 10, "others") == pytest.approx(math.log(0.9 / (0.1 / 9)))
    assert optimal_logit_gap(0.0, 10) == math.inf
    gaps = [optimal_logit_gap(eps, 10) for eps in (0.05, 0.1, 0.2, 0.4)]
    assert gaps == sorted(gaps, reverse=True)


@pytest.mark.parametrize("criterion", [LabelSmoothingCrossEntropy, SoftTargetCrossEntropy])
def test_reductions(criterion: type) -> None:
    logits, labels = random_logits(5, 4, 3), random_labels(5, 4, 3)
    per_sample = criterion(reduction="none")(logits, labels)
    assert per_sample.shape == (5,)
    torch.testing.assert_close(criterion(reduction="sum")(logits, labels), per_sample.sum())
    torch.testing.assert_close(criterion(reduction="mean")(logits, labels), per_sample.mean())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("convention", ["uniform", "others"])
def test_loss_dtype_follows_torch_promotion(dtype: torch.dtype, convention: str) -> None:
    logits = random_logits(4, 3, 4, dtype=dtype)
    soft = random_soft_targets(4, 3, 4).float()
    criterion = LabelSmoothingCrossEntropy(0.1, convention=convention)
    assert criterion(logits, random_labels(4, 3, 4)).dtype == dtype
    assert criterion(logits, soft).dtype == torch.promote_types(dtype, torch.float32)


@pytest.mark.parametrize("convention", ["uniform", "others"])
def test_soft_targets_are_not_rounded_to_low_precision_logits(convention: str) -> None:
    # Mixup weights such as 0.3 are not representable in bfloat16; the loss must use them as given.
    logits = random_logits(6, 4, 5, dtype=torch.bfloat16)
    soft = torch.tensor([[0.3, 0.7, 0.0, 0.0]]).repeat(6, 1)
    criterion = LabelSmoothingCrossEntropy(0.1, convention=convention)
    log_p = F.log_softmax(logits, dim=1).float()
    expected = -(smooth_targets(soft, 4, 0.1, convention) * log_p).sum(dim=1).mean()
    torch.testing.assert_close(criterion(logits, soft), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("convention", ["uniform", "others"])
def test_no_host_synchronisation_off_cpu(convention: str) -> None:
    # Meta tensors have no values: any .item()/int() in the hot path would raise here.
    logits = torch.empty(8, 10, device="meta")
    labels = torch.empty(8, dtype=torch.int64, device="meta")
    loss = LabelSmoothingCrossEntropy(0.1, convention=convention)(logits, labels)
    assert loss.device.type == "meta" and loss.shape == ()
    assert distillation_loss(logits, logits, labels).device.type == "meta"


@pytest.mark.parametrize(
    ("logits", "targets", "error", "match"),
    [
        (torch.zeros(4, 3), torch.tensor([0, 1, 2]), ValueError, r"targets as class indices must have shape \(4"),
        (torch.zeros(4, 3), torch.zeros(4, 5), ValueError, r"soft targets must have shape \(4, 3\), got \(4, 5"),
        (torch.zeros(2, 3), torch.tensor([0, 3]), ValueError, r"targets must lie in \[0, 3\), got values in \[0, 3"),
        (torch.zeros(3), torch.tensor([0, 1, 2]), ValueError, r"logits must have shape \(N, K\)"),
        (torch.zeros(2, 3, dtype=torch.int64), torch.tensor([0, 1]), TypeError, "logits must be a floating"),
        (torch.zeros(2, 3), torch.tensor([0, 1], dtype=torch.uint8), TypeError, "targets must be int64"),
        (torch.zeros(2, 3), [0, 1], TypeError, "targets must be a torch.Tensor, got list"),
    ],
)
@pytest.mark.parametrize("criterion", [LabelSmoothingCrossEntropy(0.1), SoftTargetCrossEntropy()])
def test_losses_reject_bad_inputs(
    criterion: torch.nn.Module, logits: torch.Tensor, targets: torch.Tensor, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        criterion(logits, targets)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"smoothing": 1.0}, r"smoothing must be in \[0.0, 1.0\)"),
        ({"convention": "torch"}, "convention must be one of"),
        ({"reduction": "batchmean"}, "reduction must be one of 'mean', 'sum', 'none'; got 'batchmean'"),
    ],
)
def test_label_smoothing_rejects_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LabelSmoothingCrossEntropy(**kwargs)


def test_repr_shows_settings() -> None:
    assert "smoothing=0.2, convention='others'" in repr(LabelSmoothingCrossEntropy(0.2, "others"))


# --- SoftTargetCrossEntropy -----------------------------------------------------------------


@FAST
@given(batches)
def test_soft_target_cross_entropy_formula(batch: tuple[int, int, int, float]) -> None:
    n, k, seed, _ = batch
    logits, soft = random_logits(n, k, seed), random_soft_targets(n, k, seed)
    expected = -(soft * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(SoftTargetCrossEntropy()(logits, soft), expected, atol=1e-12, rtol=0)


@FAST
@given(batches)
def test_soft_target_cross_entropy_is_linear_in_mixed_targets(batch: tuple[int, int, int, float]) -> None:
    # What mixup relies on: CE(lam a + (1 - lam) b) = lam CE(a) + (1 - lam) CE(b).
    n, k, seed, lam = batch
    logits, a, b = random_logits(n, k, seed), random_labels(n, k, seed), random_labels(n, k, seed + 7)
    mixed = lam * F.one_hot(a, k).double() + (1 - lam) * F.one_hot(b, k).double()
    criterion = SoftTargetCrossEntropy()
    expected = lam * criterion(logits, a) + (1 - lam) * criterion(logits, b)
    torch.testing.assert_close(criterion(logits, mixed), expected, atol=1e-9, rtol=0)


def test_soft_target_cross_entropy_accepts_hard_labels() -> None:
    logits, labels = random_logits(6, 4, 5), random_labels(6, 4, 5)
    torch.testing.assert_close(SoftTargetCrossEntropy()(logits, labels), F.cross_entropy(logits, labels))


# --- distillation ---------------------------------------------------------------------------

temperatures = st.floats(0.5, 20.0)


@FAST
@given(batches, temperatures)
def test_identical_logits_give_zero_kl(batch: tuple[int, int, int, float], temperature: float) -> None:
    n, k, seed, _ = batch
    logits = random_logits(n, k, seed)
    assert float(distillation_kl(logits, logits.clone(), temperature)) == pytest.approx(0.0, abs=1e-12)


@FAST
@given(batches, temperatures)
def test_kl_matches_scipy_entropy(batch: tuple[int, int, int, float], temperature: float) -> None:
    n, k, seed, _ = batch
    student, teacher = random_logits(n, k, seed), random_logits(n, k, seed + 3)
    p_teacher = torch.softmax(teacher / temperature, dim=1).numpy()
    p_student = torch.softmax(student / temperature, dim=1).numpy()
    expected = scipy.stats.entropy(p_teacher, p_student, axis=1)
    per_sample = distillation_kl(student, teacher, temperature, reduction="none")
    torch.testing.assert_close(per_sample, torch.from_numpy(expected), atol=1e-9, rtol=1e-6)
    assert bool((per_sample >= -1e-12).all())


def test_seed_cross_entropy_form_has_same_gradient_but_never_reaches_zero() -> None:
    # Seeds: l(softmax(r/T), softmax(z/T)) = KL + H(softmax(r/T)); same gradient in z.
    temperature = 4.0
    teacher = random_logits(5, 6, 6)
    student = random_logits(5, 6, 7).requires_grad_()
    p_teacher = torch.softmax(teacher / temperature, dim=1)
    seed_term = -(p_teacher * F.log_softmax(student / temperature, dim=1)).sum(dim=1).mean()
    (seed_grad,) = torch.autograd.grad(seed_term, student)
    kl = distillation_kl(student, teacher, temperature)
    (kl_grad,) = torch.autograd.grad(kl, student)
    torch.testing.assert_close(kl_grad, seed_grad)
    teacher_entropy = torch.from_numpy(scipy.stats.entropy(p_teacher.numpy(), axis=1)).mean()
    torch.testing.assert_close(seed_term.detach() - kl.detach(), teacher_entropy)
    assert float(distillation_kl(teacher, teacher, temperature)) == pytest.approx(0.0, abs=1e-12)


def test_alpha_zero_is_plain_cross_entropy() -> None:
    student, teacher, labels = random_logits(8, 10, 8), random_logits(8, 10, 9), random_labels(8, 10, 8)
    plain = distillation_loss(student, teacher, labels, alpha=0.0)
    torch.testing.assert_close(plain, F.cross_entropy(student, labels))
    smoothed = distillation_loss(student, teacher, labels, alpha=0.0, smoothing=0.2)
    torch.testing.assert_close(smoothed, F.cross_entropy(student, labels, label_smoothing=0.2))


@FAST
@given(batches, temperatures, st.floats(0.0, 1.0))
def test_distillation_loss_formula(
    batch: tuple[int, int, int, float], temperature: float, alpha: float
) -> None:
    n, k, seed, eps = batch
    student, teacher = random_logits(n, k, seed), random_logits(n, k, seed + 3)
    soft = random_soft_targets(n, k, seed)
    expected = (1 - alpha) * F.cross_entropy(student, soft, label_smoothing=eps) + alpha * temperature**2 * (
        distillation_kl(student, teacher, temperature)
    )
    loss = distillation_loss(student, teacher, soft, temperature=temperature, alpha=alpha, smoothing=eps)
    torch.testing.assert_close(loss, expected, atol=1e-9, rtol=1e-9)


def test_seed_sum_lacks_the_alpha_weights() -> None:
    # Seed total: CE + T^2 l(softmax(r/T), softmax(z/T)) = 2 * ours(alpha=0.5) + T^2 H(teacher_T).
    temperature = 3.0
    student, teacher, labels = random_logits(7, 5, 10), random_logits(7, 5, 11), random_labels(7, 5, 10)
    p_teacher = torch.softmax(teacher / temperature, dim=1)
    seed_total = F.cross_entropy(student, labels) - temperature**2 * (
        p_teacher * F.log_softmax(student / temperature, dim=1)
    ).sum(dim=1).mean()
    teacher_entropy = -(p_teacher * p_teacher.log()).sum(dim=1).mean()
    ours = distillation_loss(student, teacher, labels, temperature=temperature, alpha=0.5)
    torch.testing.assert_close(seed_total, 2 * ours + temperature**2 * teacher_entropy)


def distillation_gradient(temperature: float, scaled: bool) -> torch.Tensor:
    student = random_logits(32, 10, 12).requires_grad_()
    teacher = random_logits(32, 10, 13)
    if scaled:
        loss = distillation_loss(student, teacher, random_labels(32, 10, 12), temperature=temperature, alpha=1.0)
    else:
        loss = distillation_kl(student, teacher, temperature)
    (grad,) = torch.autograd.grad(loss, student)
    return grad


def test_t_squared_keeps_gradient_scale_independent_of_temperature() -> None:
    norms = [float(distillation_gradient(t, scaled=True).norm()) for t in (10.0, 20.0, 40.0)]
    assert max(norms) / min(norms) < 1.05
    unscaled = [float(distillation_gradient(t, scaled=False).norm()) for t in (10.0, 20.0)]
    assert unscaled[0] / unscaled[1] == pytest.approx(4.0, rel=0.05)


def test_high_temperature_gradient_matches_logit_matching_limit() -> None:
    # Hinton et al. 2015: as T grows, T^2 dKL/dz -> ((z - mean z) - (r - mean r)) / K (per sample).
    student, teacher = random_logits(32, 10, 12), random_logits(32, 10, 13)
    limit = ((student - student.mean(1, keepdim=True)) - (teacher - teacher.mean(1, keepdim=True))) / 10 / 32
    torch.testing.assert_close(distillation_gradient(1000.0, scaled=True), limit, atol=2e-5, rtol=1e-2)


def test_teacher_receives_no_gradient() -> None:
    student = random_logits(4, 3, 14).requires_grad_()
    teacher = random_logits(4, 3, 15).requires_grad_()
    distillation_loss(student, teacher, random_labels(4, 3, 14)).backward()
    assert teacher.grad is None
    assert student.grad is not None and float(student.grad.abs().sum()) > 0


def test_distillation_reduction_none() -> None:
    student, teacher, labels = random_logits(6, 4, 16), random_logits(6, 4, 17), random_labels(6, 4, 16)
    per_sample = distillation_loss(student, teacher, labels, reduction="none")
    assert per_sample.shape == (6,)
    torch.testing.assert_close(per_sample.mean(), distillation_loss(student, teacher, labels))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 0.0}, "temperature must be > 0, got 0.0"),
        ({"temperature": -2.0}, "temperature must be > 0, got -2.0"),
        ({"alpha": 1.5}, r"alpha must be in \[0.0, 1.0\], got 1.5"),
        ({"alpha": -0.1}, r"alpha must be in \[0.0, 1.0\], got -0.1"),
        ({"smoothing": 1.0}, r"smoothing must be in \[0.0, 1.0\)"),
        ({"reduction": "avg"}, "reduction must be one of"),
    ],
)
def test_distillation_rejects_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DistillationLoss(nn.Linear(3, 3), **kwargs)
    logits, labels = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=match):
        distillation_loss(logits, logits, labels, **kwargs)


def test_distillation_rejects_mismatched_logits() -> None:
    with pytest.raises(ValueError, match=r"same shape, got \(4, 3\) and \(4, 5\)"):
        distillation_loss(torch.zeros(4, 3), torch.zeros(4, 5), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([0, 7]))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        distillation_kl(torch.zeros(2, 3), torch.zeros(2, 3), 0.0)


# --- DistillationLoss: the criterion that owns its teacher ------------------------------------


class _CountingTeacher(nn.Module):
    """A linear teacher on flattened images that counts its forward passes."""

    def __init__(self, features: int, k: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, k)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(x.flatten(1))


def _student_and_teacher(k: int = 5) -> tuple[nn.Module, _CountingTeacher, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    student = nn.Sequential(nn.Flatten(), nn.Linear(12, k))
    teacher = _CountingTeacher(12, k)
    images = torch.randn(6, 3, 2, 2)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    return student, teacher, images, labels


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_bound_distillation_loss_is_the_functional_form_with_the_teachers_logits(smoothing: float) -> None:
    student, teacher, images, labels = _student_and_teacher()
    loss_fn = DistillationLoss(teacher, temperature=3.0, alpha=0.7, smoothing=smoothing).bind(student)
    student.train()
    logits = student(images)
    assert teacher.calls == 1 and not teacher.training
    loss = loss_fn(logits, labels)
    with torch.no_grad():
        teacher_logits = teacher.linear(images.flatten(1))
    expected = distillation_loss(logits, teacher_logits, labels, temperature=3.0, alpha=0.7, smoothing=smoothing)
    torch.testing.assert_close(loss, expected)
    loss.backward()  # the gradient reaches the student, never the frozen teacher
    assert student[1].weight.grad is not None and float(student[1].weight.grad.abs().sum()) > 0
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    with pytest.raises(RuntimeError, match="no teacher logits"):  # one loss call per forward pass
        loss_fn(logits, labels)


def test_unbound_distillation_loss_raises_a_clear_error() -> None:
    student, teacher, images, labels = _student_and_teacher()
    loss_fn = DistillationLoss(teacher)
    with pytest.raises(RuntimeError, match=r"call loss\.bind\(student\)"):
        loss_fn(student(images), labels)
    loss_fn.bind(student)
    loss_fn.unbind()
    student(images)
    assert teacher.calls == 0
    with pytest.raises(RuntimeError, match="no teacher logits"):
        loss_fn(student(images), labels)
    with pytest.raises(TypeError, match="teacher must be an nn.Module"):
        DistillationLoss(lambda x: x)  # type: ignore[arg-type]


def test_evaluation_forward_passes_do_not_run_the_teacher() -> None:
    student, teacher, images, labels = _student_and_teacher()
    loss_fn = DistillationLoss(teacher).bind(student)
    student.eval()
    with torch.no_grad():
        student(images)
    assert teacher.calls == 0
    student.train()
    student(images)
    assert teacher.calls == 1
    loss_fn.train()  # putting the criterion in training mode leaves the teacher in eval mode
    assert not teacher.training

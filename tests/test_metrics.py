"""Tests for tricks_lab.metrics: accuracy, NLL, calibration (ECE, reliability), logit gap."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tricks_lab.metrics import (
    ReliabilityDiagram,
    accuracy,
    expected_calibration_error,
    logit_gap,
    nll,
    reliability_diagram,
)

FAST = settings(max_examples=40, deadline=None)


def random_logits(n: int, k: int, seed: int, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(n, k, generator=torch.Generator().manual_seed(seed)) * scale


def synthetic_predictor(n: int, k: int, seed: int, accuracy_factor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-1 confidence c ~ U(0.15, 1) on a random class, the rest spread evenly;
    the label equals the predicted class with probability ``accuracy_factor * c``.
    ``accuracy_factor = 1`` is calibrated; below 1 the predictor is over-confident."""
    g = torch.Generator().manual_seed(seed)
    confidence = 0.15 + 0.85 * torch.rand(n, generator=g, dtype=torch.float64)
    predicted = torch.randint(0, k, (n,), generator=g)
    probs = ((1 - confidence) / (k - 1))[:, None].repeat(1, k)
    probs.scatter_(1, predicted[:, None], confidence[:, None])
    correct = torch.rand(n, generator=g, dtype=torch.float64) < accuracy_factor * confidence
    wrong_class = (predicted + torch.randint(1, k, (n,), generator=g)) % k
    return probs, torch.where(correct, predicted, wrong_class)


# --- accuracy and NLL -----------------------------------------------------------------------


def test_accuracy_known_value_same_for_logits_and_probs() -> None:
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0]])
    labels = torch.tensor([0, 0, 0])
    assert float(accuracy(logits, labels)) == pytest.approx(2 / 3)
    assert float(accuracy(torch.softmax(logits, dim=1), labels)) == pytest.approx(2 / 3)
    assert accuracy(logits, labels).shape == () and accuracy(logits, labels).dtype == torch.float32


def test_accuracy_with_soft_targets_uses_their_top_class() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    mixed = torch.tensor([[0.7, 0.3, 0.0], [0.6, 0.0, 0.4]])
    assert float(accuracy(logits, mixed)) == pytest.approx(0.5)


def test_nll_is_mean_negative_log_probability_of_the_label() -> None:
    logits, labels = random_logits(20, 5, 0).double(), torch.arange(20) % 5
    probs = torch.softmax(logits, dim=1)
    expected = -probs[torch.arange(20), labels].log().mean()
    torch.testing.assert_close(nll(logits, labels), expected)


def test_nll_computes_low_precision_logits_in_float32() -> None:
    logits, labels = random_logits(64, 10, 1), torch.arange(64) % 10
    result = nll(logits.bfloat16(), labels)
    assert result.dtype == torch.float32
    assert float(result) == pytest.approx(float(F.cross_entropy(logits, labels)), rel=2e-2)


@pytest.mark.parametrize("metric", [accuracy, nll])
def test_accuracy_and_nll_reject_mismatched_labels(metric: object) -> None:
    with pytest.raises(ValueError, match=r"targets as class indices must have shape \(3,\), got \(2,\)"):
        metric(torch.zeros(3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 4\), got values in \[0, 9\]"):
        metric(torch.zeros(2, 4), torch.tensor([0, 9]))


# --- reliability diagram and ECE ------------------------------------------------------------


def reference_ece(probs: np.ndarray, labels: np.ndarray, edges: np.ndarray) -> float:
    """ECE written as a loop over bins (lo, hi], from the definition."""
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        members = (confidence > lo) & (confidence <= hi)
        if lo == 0:
            members |= confidence == 0
        if members.any():
            gap = abs((predicted[members] == labels[members]).mean() - confidence[members].mean())
            total += members.mean() * gap
    return total


@FAST
@given(st.integers(1, 60), st.integers(2, 10), st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_ece_matches_loop_reference(n: int, k: int, n_bins: int, seed: int) -> None:
    probs = torch.softmax(random_logits(n, k, seed), dim=1)
    labels = torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed + 1))
    edges = reliability_diagram(probs, labels, n_bins).bin_edges.double().numpy()
    expected = reference_ece(probs.double().numpy(), labels.numpy(), edges)
    assert float(expected_calibration_error(probs, labels, n_bins)) == pytest.approx(expected, abs=1e-6)


def test_ece_hand_computed() -> None:
    # Bins of width 0.5: (0, 0.5] holds conf 0.4 (wrong); (0.5, 1] holds 0.9 (right) and 0.6 (wrong).
    probs = torch.tensor([[0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [0.2, 0.6, 0.2]])
    labels = torch.tensor([2, 0, 0])
    expected = (1 / 3) * abs(0 - 0.4) + (2 / 3) * abs(0.5 - 0.75)
    assert float(expected_calibration_error(probs, labels, n_bins=2)) == pytest.approx(expected)


def test_ece_extremes() -> None:
    labels = torch.tensor([0, 1, 2, 1])
    right = F.one_hot(labels, 3).float()
    wrong = F.one_hot((labels + 1) % 3, 3).float()
    assert float(expected_calibration_error(right, labels)) == pytest.approx(0.0)
    assert float(expected_calibration_error(wrong, labels)) == pytest.approx(1.0)


def test_calibrated_predictor_has_ece_near_zero() -> None:
    # Sampling noise per bin is about sqrt(c(1 - c) / 1300) ~ 0.01, so the ECE stays below 0.02.
    probs, labels = synthetic_predictor(20_000, 10, seed=0, accuracy_factor=1.0)
    assert float(expected_calibration_error(probs, labels)) < 0.02


def test_over_confident_predictor_has_large_ece() -> None:
    # Accuracy 0.6 c against confidence c: ECE ~ 0.4 E[c] ~ 0.23.
    probs, labels = synthetic_predictor(20_000, 10, seed=0, accuracy_factor=0.6)
    ece = float(expected_calibration_error(probs, labels))
    assert ece == pytest.approx(0.4 * 0.575, abs=0.02)


def calibration_chi_square_pvalue(diagram: ReliabilityDiagram, probs: torch.Tensor) -> float:
    """Chi-square test that each bin's hit count matches the sum of its confidences
    (a Poisson-binomial count, variance sum c(1 - c))."""
    confidence = probs.max(dim=1).values
    bins = torch.bucketize(confidence.float(), diagram.bin_edges[1:-1])
    occupied = diagram.count > 0
    hits = (diagram.accuracy * diagram.count)[occupied].double()
    expected = torch.zeros(len(diagram.count), dtype=torch.float64).index_add_(0, bins, confidence)[occupied]
    variance = torch.zeros(len(diagram.count), dtype=torch.float64).index_add_(
        0, bins, confidence * (1 - confidence)
    )[occupied]
    statistic = float((((hits - expected) ** 2) / variance).sum())
    return float(scipy.stats.chi2.sf(statistic, df=int(occupied.sum())))


def test_reliability_bins_follow_the_diagonal_only_when_calibrated() -> None:
    calibrated = synthetic_predictor(5_000, 10, seed=1, accuracy_factor=1.0)
    over_confident = synthetic_predictor(5_000, 10, seed=1, accuracy_factor=0.9)
    assert calibration_chi_square_pvalue(reliability_diagram(*calibrated), calibrated[0]) > 1e-3
    assert calibration_chi_square_pvalue(reliability_diagram(*over_confident), over_confident[0]) < 1e-6


def test_reliability_diagram_bins() -> None:
    # Edges 0, .25, .5, .75, 1; bins are (lo, hi]: 0.5 falls in bin 1, 0.75 in bin 2, 1.0 in bin 3.
    probs = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]])
    diagram = reliability_diagram(probs, torch.tensor([0, 1, 1]), n_bins=4)
    torch.testing.assert_close(diagram.bin_edges, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert diagram.count.tolist() == [0, 1, 1, 1]
    assert math.isnan(float(diagram.confidence[0])) and math.isnan(float(diagram.accuracy[0]))
    torch.testing.assert_close(diagram.confidence[1:], torch.tensor([0.5, 0.75, 1.0]))
    torch.testing.assert_close(diagram.accuracy[1:], torch.tensor([1.0, 1.0, 0.0]))


@FAST
@given(st.integers(1, 80), st.integers(2, 8), st.integers(1, 15), st.integers(0, 2**31 - 1))
def test_reliability_bin_invariants(n: int, k: int, n_bins: int, seed: int) -> None:
    probs = torch.softmax(random_logits(n, k, seed), dim=1)
    labels = torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))
    diagram = reliability_diagram(probs, labels, n_bins)
    assert int(diagram.count.sum()) == n
    occupied = diagram.count > 0
    assert bool((diagram.confidence[occupied] > diagram.bin_edges[:-1][occupied]).all())
    assert bool((diagram.confidence[occupied] <= diagram.bin_edges[1:][occupied] + 1e-6).all())
    assert bool(((diagram.accuracy[occupied] >= 0) & (diagram.accuracy[occupied] <= 1)).all())


def test_low_precision_probabilities_are_accepted() -> None:
    probs, labels = synthetic_predictor(2_000, 10, seed=2, accuracy_factor=1.0)
    ece_bf16 = float(expected_calibration_error(probs.bfloat16(), labels))
    assert ece_bf16 == pytest.approx(float(expected_calibration_error(probs, labels)), abs=0.01)


@pytest.mark.parametrize(
    ("probs", "labels", "n_bins", "error", "match"),
    [
        (torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), 15, ValueError, "probs must hold probabilities"),
        (torch.full((2, 3), 0.5), torch.tensor([0, 1]), 15, ValueError, r"row sums in \[1.5, 1.5\]"),
        (torch.full((2, 2), 0.5), torch.tensor([0, 1]), 0, ValueError, "n_bins must be >= 1, got 0"),
        (torch.full((2, 2), 0.5), torch.tensor([0, 1]), 2.5, TypeError, "n_bins must be an int"),
        (torch.full((2, 2), 0.5), torch.tensor([0, 2]), 15, ValueError, r"labels must lie in \[0, 2\)"),
        (torch.full((2,), 0.5), torch.tensor([0, 1]), 15, ValueError, r"probs must have shape \(N, K\)"),
    ],
)
def test_calibration_rejects_bad_inputs(
    probs: torch.Tensor, labels: torch.Tensor, n_bins: int, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        expected_calibration_error(probs, labels, n_bins)


# --- logit gap ------------------------------------------------------------------------------


def test_logit_gap_known_values() -> None:
    logits = torch.tensor([[3.0, 1.0, 1.0, 1.0], [0.0, 4.0, 1.0, 1.0]])
    torch.testing.assert_close(logit_gap(logits), torch.tensor([2.0, 4.0 - 2.0 / 3.0]))


@FAST
@given(
    st.integers(1, 10),
    st.integers(2, 10),
    st.integers(0, 2**31 - 1),
    st.floats(-50, 50),
    st.floats(0.1, 10),
)
def test_logit_gap_ignores_shifts_and_scales_linearly(n: int, k: int, seed: int, shift: float, scale: float) -> None:
    logits = random_logits(n, k, seed).double()
    gap = logit_gap(logits)
    assert bool((gap >= 0).all())
    torch.testing.assert_close(logit_gap(logits + shift), gap)
    torch.testing.assert_close(logit_gap(logits * scale), gap * scale)
    permutation = torch.randperm(k, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(logit_gap(logits[:, permutation]), gap)


def test_logit_gap_needs_two_classes() -> None:
    with pytest.raises(ValueError, match=r"K >= 2 classes for a gap, got shape \(3, 1\)"):
        logit_gap(torch.zeros(3, 1))

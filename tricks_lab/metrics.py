"""Evaluation metrics: accuracy, negative log-likelihood, calibration, logit gap.

Every function takes batched tensors on any device and returns tensors on
that device (0-d for the scalar metrics, so a loop can accumulate them
without synchronising; call ``.item()`` to print). Values are computed in at
least float32, whatever the input dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._validation import check_logits, check_logits_and_targets, check_positive_int, check_targets

__all__ = ["accuracy", "expected_calibration_error", "logit_gap", "nll", "reliability_diagram", "ReliabilityDiagram"]


def _at_least_float32(values: torch.Tensor) -> torch.Tensor:
    return values.to(torch.promote_types(values.dtype, torch.float32))


def _class_indices(labels: torch.Tensor) -> torch.Tensor:
    """Int64 labels as they are; soft targets as their most probable class."""
    return labels.argmax(dim=1) if labels.is_floating_point() else labels


def _check_probabilities(probs: torch.Tensor) -> None:
    """Require rows in ``[0, 1]`` that sum to 1 (catches logits passed as probs).

    The tolerance on the row sums, ``max(1e-3, 4 * machine epsilon)``, admits
    a softmax rounded to bfloat16 or float16.
    """
    check_logits("probs", probs)
    row_sums = probs.float().sum(dim=1)
    tolerance = max(1e-3, 4 * torch.finfo(probs.dtype).eps)
    inside = bool(((probs >= 0) & (probs <= 1)).all())
    if not inside or not bool(((row_sums - 1).abs() <= tolerance).all()):
        raise ValueError(
            "probs must hold probabilities (entries in [0, 1], rows summing to 1): got entries in "
            f"[{float(probs.min()):.4g}, {float(probs.max()):.4g}] and row sums in "
            f"[{float(row_sums.min()):.4g}, {float(row_sums.max()):.4g}]; pass softmax(logits)"
        )


def accuracy(logits_or_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy ``(1/N) sum_i [argmax_k s_ik = y_i]``, a 0-d float tensor.

    ``s`` may be logits or probabilities (the argmax is the same). Soft-target
    ``labels`` count their most probable class as the label. The standard
    ImageNet metric (Russakovsky et al. 2015, "ImageNet Large Scale Visual
    Recognition Challenge").
    """
    check_logits_and_targets(logits_or_probs, labels)
    hits = logits_or_probs.argmax(dim=1) == _class_indices(labels)
    return hits.float().mean()


def nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood ``-(1/N) sum_i log softmax(z_i)_{y_i}`` (0-d).

    The proper scoring rule that label smoothing trades for calibration
    (Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural
    Networks"). Soft-target ``labels`` give the cross entropy against them.
    """
    check_logits_and_targets(logits, labels)
    return F.cross_entropy(_at_least_float32(logits), labels)


@dataclass(frozen=True)
class ReliabilityDiagram:
    """Per-bin calibration data for a reliability diagram.

    ``bin_edges`` (B+1,) from 0 to 1; bin b holds the samples whose
    confidence (top probability) lies in ``(edges[b], edges[b+1]]``.
    ``confidence`` and ``accuracy`` (B,) are the mean confidence and the
    accuracy in each bin (NaN where a bin is empty, which matplotlib leaves
    blank); ``count`` (B,) the number of samples per bin.
    """

    bin_edges: torch.Tensor
    confidence: torch.Tensor
    accuracy: torch.Tensor
    count: torch.Tensor

    @property
    def ece(self) -> torch.Tensor:
        """``sum_b (n_b / N) |acc_b - conf_b|`` over the non-empty bins (0-d)."""
        weights = self.count / self.count.sum()
        return (weights * (self.accuracy - self.confidence).abs()).nansum()


def reliability_diagram(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> ReliabilityDiagram:
    """Bin predictions by confidence into ``n_bins`` equal-width bins.

    For sample i, confidence ``c_i = max_k p_ik`` and correctness
    ``a_i = [argmax_k p_ik = y_i]``; bin b collects ``c_i in (b/B, (b+1)/B]``
    and reports ``conf_b = mean c_i``, ``acc_b = mean a_i`` and ``n_b``
    (DeGroot & Fienberg 1983, "The Comparison and Evaluation of Forecasters";
    Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural
    Networks"). A calibrated model has ``acc_b = conf_b`` in every bin.
    """
    check_positive_int("n_bins", n_bins)
    _check_probabilities(probs)
    check_targets("labels", labels, probs.shape[1], probs.shape[0])
    confidence, prediction = _at_least_float32(probs).max(dim=1)
    correct = (prediction == _class_indices(labels)).to(confidence.dtype)
    edges = torch.linspace(0.0, 1.0, n_bins + 1, device=probs.device, dtype=confidence.dtype)
    bins = torch.bucketize(confidence, edges[1:-1])
    count = torch.bincount(bins, minlength=n_bins)
    return ReliabilityDiagram(
        bin_edges=edges,
        confidence=_bin_means(confidence, bins, count),
        accuracy=_bin_means(correct, bins, count),
        count=count,
    )


def _bin_means(values: torch.Tensor, bins: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` per bin; NaN for empty bins."""
    sums = torch.zeros(count.shape[0], dtype=values.dtype, device=values.device).index_add_(0, bins, values)
    return sums / count.to(values.dtype)


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> torch.Tensor:
    """Expected calibration error with equal-width bins (0-d tensor).

    ``ECE = sum_b (n_b / N) |acc_b - conf_b|`` with the bins of
    :func:`reliability_diagram` (Naeini, Cooper & Hauskrecht 2015, "Obtaining
    Well Calibrated Probabilities Using Bayesian Binning"; Guo, Pleiss, Sun &
    Weinberger 2017, "On Calibration of Modern Neural Networks"). 0 for a
    calibrated predictor (up to sampling noise), up to 1 for a confidently
    wrong one.
    """
    return reliability_diagram(probs, labels, n_bins).ece


def logit_gap(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample gap ``max_k z_k - mean_{j != argmax} z_j``, shape ``(N,)``.

    Label smoothing drives the gap between the top logit and the others
    towards a finite constant (:func:`tricks_lab.losses.optimal_logit_gap`)
    where plain cross entropy lets it grow without bound (Mueller, Kornblith &
    Hinton 2019, "When does label smoothing help?"). Needs K >= 2.
    """
    check_logits("logits", logits)
    if logits.shape[1] < 2:
        raise ValueError(f"logits must have K >= 2 classes for a gap, got shape {tuple(logits.shape)}")
    wide = _at_least_float32(logits)
    top = wide.max(dim=1).values
    others_mean = (wide.sum(dim=1) - top) / (wide.shape[1] - 1)
    return top - others_mean

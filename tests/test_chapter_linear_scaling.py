"""The linear scaling rule: what it keeps, where it comes from and where it breaks (chapter 02's pitfalls).

All on least squares (tricks_lab.widgets.scaling), where every quantity can be computed.
The data-parallel pitfalls (the rule applies to the global batch; gradients are averaged,
not summed, over ranks; per-GPU BatchNorm) are pinned in tests/test_distributed.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tricks_lab.schedules import linear_scaled_lr
from tricks_lab.widgets.scaling import (
    least_squares_problem,
    minibatch_gradient_variance,
    per_example_gradient_trace,
    scaled_lr_for,
    scaling_rule_curves,
)


@pytest.fixture(scope="module")
def problem():
    return least_squares_problem(n=2048, dim=32, seed=0)


def test_minibatch_gradient_variance_falls_as_one_over_b_with_the_finite_population_correction(problem) -> None:
    """The premise of the variance argument: Var(g_B) = tr(S)/B * (n - B)/(n - 1) for B of n drawn
    without replacement; the mean gradient does not change with B."""
    w = np.zeros(problem.X.shape[1])
    trace = per_example_gradient_trace(problem, w)
    for b in (1, 16, 256, 1024):
        expected = trace / b * (problem.n - b) / (problem.n - 1)
        assert minibatch_gradient_variance(problem, w, b, draws=600, seed=b) == pytest.approx(expected, rel=0.15)
    assert minibatch_gradient_variance(problem, w, problem.n, draws=3) == pytest.approx(0.0, abs=1e-20)


def test_the_variance_argument_alone_gives_square_root_not_linear_scaling(problem) -> None:
    """Keeping the per-step noise eta^2 Var(g_B) constant needs eta ~ sqrt(B) (Krizhevsky, 2014):
    a common write-up says 'bigger batches are less noisy, so raise the lr' and concludes 'linearly'."""
    w = np.zeros(problem.X.shape[1])
    noise = {b: minibatch_gradient_variance(problem, w, b, draws=600, seed=1) for b in (8, 128)}
    sqrt_ratio = (scaled_lr_for("sqrt", 0.1, 8, 128) / 0.1) ** 2 * noise[128] / noise[8]
    linear_ratio = (scaled_lr_for("linear", 0.1, 8, 128) / 0.1) ** 2 * noise[128] / noise[8]
    assert sqrt_ratio == pytest.approx(1.0, abs=0.2)  # same per-step noise under sqrt scaling
    assert linear_ratio > 10  # linear scaling makes each step 16x noisier ...
    # ... but takes 16x fewer steps: per epoch, steps x eta^2 Var is the same at both batch sizes.
    per_epoch = {b: (problem.n // b) * scaled_lr_for("linear", 0.1, 8, b) ** 2 * noise[b] for b in noise}
    assert per_epoch[128] == pytest.approx(per_epoch[8], rel=0.25)


def test_linear_scaling_is_k_small_steps_taken_at_once_to_first_order_in_the_lr(problem) -> None:
    """Goyal et al. (2017, sec. 2.1): k steps of b examples at lr eta and one step of the same k b
    examples at lr k eta differ by O(eta^2) (the gradient barely moves over k small steps); at lr
    sqrt(k) eta they differ by O(eta)."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(problem.X.shape[1])
    k, b = 8, 16
    index = rng.choice(problem.n, k * b, replace=False)

    def gap(lr: float, big_lr: float) -> float:
        w = w0.copy()
        for j in range(k):
            w = w - lr * problem.gradient(w, index[j * b:(j + 1) * b])
        one = w0 - big_lr * problem.gradient(w0, index)
        return float(np.linalg.norm(w - one))

    for rule, order in (("linear", 2), ("sqrt", 1)):
        gaps = [gap(lr, scaled_lr_for(rule, lr, b, k * b)) for lr in (1e-2, 5e-3)]
        assert gaps[1] / gaps[0] == pytest.approx(0.5 ** order, rel=0.1)


def test_linear_scaling_keeps_the_epoch_budget_result_until_the_lr_passes_2_over_lambda_max(problem) -> None:
    """Same epochs: with the lr fixed a larger batch takes fewer steps and trains less; with the linear
    rule the result of B0 is kept at every batch whose lr stays below 2 / lambda_max, and lost above."""
    base_lr, base_batch = 0.05, 32
    batches = [32, 128, 512, 2048]
    curves = scaling_rule_curves(problem, base_lr, base_batch, epochs=2.0, batch_sizes=batches)
    lrs = [scaled_lr_for("linear", base_lr, base_batch, b) for b in batches]
    stable = [i for i, lr in enumerate(lrs) if lr < 0.9 * 2 / problem.lambda_max]
    unstable = [i for i, lr in enumerate(lrs) if lr > 1.2 * 2 / problem.lambda_max]
    assert stable == [0, 1, 2] and unstable == [3]
    for i in stable:
        assert curves["linear"][i] == pytest.approx(curves["linear"][0], rel=0.25)
    assert not curves["linear"][3] < 10 * curves["linear"][0]  # inf (diverged) or far worse
    assert curves["fixed"][2] > 3 * curves["fixed"][0]  # fixed lr, 16x the batch: under-trained
    assert curves["fixed"][0] < curves["sqrt"][2] < curves["fixed"][2]  # square root: in between


def test_the_package_rule_and_the_toy_rule_agree() -> None:
    assert linear_scaled_lr(0.1, 1024) == pytest.approx(scaled_lr_for("linear", 0.1, 256, 1024)) == 0.4
    assert scaled_lr_for("sqrt", 0.1, 256, 1024) == pytest.approx(0.2)
    assert scaled_lr_for("fixed", 0.1, 256, 1024) == 0.1
    with pytest.raises(ValueError, match="rule must be one of"):
        scaled_lr_for("cubic", 0.1, 256, 1024)
    assert math.isfinite(least_squares_problem(n=64, dim=4).lambda_max)

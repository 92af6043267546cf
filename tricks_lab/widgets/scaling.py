"""The linear-scaling chapter's figures and explorer (02 linear scaling).

The figures are of a toy problem where every quantity of the argument can be
computed: SGD on least squares, ``L(w) = ||X w - y||^2 / (2 n)``, whose Hessian
``H = X^T X / n`` has curvatures spread over two decades.
:func:`gradient_variance_figure` measures the variance of the mini-batch
gradient against the batch size ``B`` (the premise: it falls as ``1/B``);
:func:`scaling_rule_figure` trains the same number of epochs at every batch
size with a fixed, a square-root-scaled and a linearly scaled learning rate
and shows where the linear rule keeps the result and where it breaks
(``eta > 2 / lambda_max``), and :func:`scaling_explorer` puts it on sliders.

The experiment's results (the batch sizes of the ``lab`` record) are drawn by
:func:`tricks_lab.verdicts.show_part`.

Goyal et al. (2017), "Accurate, Large Minibatch SGD: Training ImageNet in 1
Hour"; Smith, Kindermans, Ying, Le (2018), "Don't Decay the Learning Rate,
Increase the Batch Size"; Krizhevsky (2014), "One weird trick for
parallelizing convolutional neural networks" (square-root scaling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from .._validation import check_choice, check_in_range, check_positive, check_positive_int
from . import explorer

__all__ = [
    "gradient_variance_figure",
    "least_squares_problem",
    "LeastSquares",
    "minibatch_gradient_variance",
    "per_example_gradient_trace",
    "RULES",
    "scaled_lr_for",
    "scaling_explorer",
    "scaling_rule_curves",
    "scaling_rule_figure",
    "sgd_least_squares",
]

RULES: tuple[str, ...] = ("fixed", "sqrt", "linear")
"""How the lr follows the batch size: ``eta_0``, ``eta_0 sqrt(B / B_0)`` or ``eta_0 B / B_0``."""


# -- the toy problem ------------------------------------------------------------------


@dataclass(frozen=True)
class LeastSquares:
    """A least-squares problem ``L(w) = ||X w - y||^2 / (2 n)`` with known curvatures.

    ``X`` is ``(n, d)``, ``y`` is ``(n,)``; ``w_star`` minimises ``L``;
    ``lambda_max`` is the largest eigenvalue of the Hessian ``H = X^T X / n``.
    """

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    lambda_max: float

    @property
    def n(self) -> int:
        return len(self.y)

    def loss(self, w: np.ndarray) -> float:
        """``L(w) = ||X w - y||^2 / (2 n)``."""
        r = self.X @ w - self.y
        return float(r @ r) / (2 * self.n)

    def excess_loss(self, w: np.ndarray) -> float:
        """``L(w) - L(w*)`` (>= 0; ``inf`` once SGD has diverged)."""
        if not np.all(np.isfinite(w)):
            return math.inf
        return max(0.0, self.loss(w) - self.loss(self.w_star))

    def gradient(self, w: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
        """The mean gradient over the examples ``index`` (all when None): ``X_b^T (X_b w - y_b) / |b|``."""
        X, y = (self.X, self.y) if index is None else (self.X[index], self.y[index])
        return X.T @ (X @ w - y) / len(y)


def least_squares_problem(
    n: int = 2048, dim: int = 32, min_curvature: float = 0.01, noise: float = 1.0, seed: int = 0
) -> LeastSquares:
    """Rows ``x_i ~ N(0, diag(lambda))`` with ``lambda`` log-spaced in ``[min_curvature, 1]``,
    ``y_i = x_i . w_true + noise * eps_i``, ``w_true, eps ~ N(0, 1)``."""
    check_positive_int("n", n)
    check_positive_int("dim", dim)
    check_in_range("min_curvature", min_curvature, 0.0, 1.0, low_inclusive=False)
    check_positive("noise", noise, allow_zero=True)
    check_positive_int("seed", seed, allow_zero=True)
    if n < dim:
        raise ValueError(f"n must be >= dim={dim}, got {n}")
    rng = np.random.default_rng(seed)
    curvatures = np.geomspace(min_curvature, 1.0, dim)
    X = rng.standard_normal((n, dim)) * np.sqrt(curvatures)
    y = X @ rng.standard_normal(dim) + noise * rng.standard_normal(n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    lambda_max = float(np.linalg.eigvalsh(X.T @ X / n)[-1])
    return LeastSquares(X, y, w_star, lambda_max)


def minibatch_gradient_variance(
    problem: LeastSquares, w: np.ndarray, batch_size: int, draws: int = 200, seed: int = 0
) -> float:
    """``E ||g_B - g||^2``, measured over ``draws`` batches of ``B`` examples drawn without replacement.

    For the mean of ``B`` of ``n`` per-example gradients with population
    covariance ``S`` this is ``tr(S) / B * (n - B) / (n - 1)`` (the
    finite-population correction; ``tr(S) / B`` with replacement).
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("draws", draws)
    if batch_size > problem.n:
        raise ValueError(f"batch_size must be <= n={problem.n}, got {batch_size}")
    rng = np.random.default_rng(seed)
    full = problem.gradient(w)
    total = 0.0
    for _ in range(draws):
        index = rng.choice(problem.n, batch_size, replace=False)
        total += float(np.sum((problem.gradient(w, index) - full) ** 2))
    return total / draws


def per_example_gradient_trace(problem: LeastSquares, w: np.ndarray) -> float:
    """``tr(S)``: the total variance of one example's gradient around the mean gradient."""
    per_example = problem.X * (problem.X @ w - problem.y)[:, None]
    return float(np.sum(per_example.var(axis=0, ddof=1)))


def scaled_lr_for(rule: str, base_lr: float, base_batch: int, batch_size: int) -> float:
    """The lr at ``batch_size`` under ``rule``: ``eta_0`` (fixed), ``eta_0 sqrt(B/B_0)`` or ``eta_0 B/B_0``."""
    check_choice("rule", rule, RULES)
    check_positive("base_lr", base_lr)
    check_positive_int("base_batch", base_batch)
    check_positive_int("batch_size", batch_size)
    ratio = batch_size / base_batch
    return base_lr * {"fixed": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[rule]


def sgd_least_squares(
    problem: LeastSquares, batch_size: int, lr: float, epochs: float, seed: int = 0,
    w0: np.ndarray | None = None,
) -> np.ndarray:
    """Plain mini-batch SGD, ``w <- w - lr g_B``, for ``epochs`` passes (a new permutation each
    epoch, the last incomplete batch dropped); returns the final ``w`` (``inf`` entries once diverged)."""
    check_positive_int("batch_size", batch_size)
    check_positive("lr", lr)
    check_positive("epochs", epochs)
    if batch_size > problem.n:
        raise ValueError(f"batch_size must be <= n={problem.n}, got {batch_size}")
    rng = np.random.default_rng(seed)
    w = np.zeros(problem.X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    per_epoch = problem.n // batch_size
    steps = max(1, round(epochs * per_epoch))
    order = rng.permutation(problem.n)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            k = t % per_epoch
            if k == 0 and t > 0:
                order = rng.permutation(problem.n)
            w = w - lr * problem.gradient(w, order[k * batch_size:(k + 1) * batch_size])
            if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e12:
                return np.full_like(w, np.inf)
    return w


# -- the toy problem's figures --------------------------------------------------------


def gradient_variance_figure(
    problem: LeastSquares | None = None, batch_sizes: Sequence[int] = (1, 4, 16, 64, 256, 1024, 1792),
    draws: int = 100, seed: int = 0,
) -> Figure:
    """Measured ``E ||g_B - g||^2`` against ``B`` (dots), with ``tr(S) / B`` and the
    without-replacement ``tr(S) / B (n - B) / (n - 1)`` (lines), at ``w = 0``; log-log axes."""
    problem = problem or least_squares_problem()
    if not batch_sizes:
        raise ValueError("batch_sizes must not be empty")
    for b in batch_sizes:
        check_positive_int("batch_size", b)
    w = np.zeros(problem.X.shape[1])
    trace = per_example_gradient_trace(problem, w)
    batches = np.asarray(sorted(batch_sizes), dtype=float)
    measured = [minibatch_gradient_variance(problem, w, int(b), draws, seed) for b in batches]
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    grid = np.geomspace(batches[0], batches[-1], 100)
    ax.plot(grid, trace / grid, "--", color="0.5", lw=1, label=r"$\mathrm{tr}\,S / B$ (with replacement)")
    ax.plot(grid, trace / grid * (problem.n - grid) / (problem.n - 1), color="tab:blue", lw=1.4,
            label=r"$\mathrm{tr}\,S / B \cdot (N - B)/(N - 1)$")
    ax.plot(batches, np.maximum(measured, 1e-12), "o", color="tab:orange", ms=5,
            label=f"measured ({draws} batches each)")
    ax.set(xscale="log", yscale="log", xlabel="batch size B (examples)",
           ylabel=r"$E\,\|g_B - \nabla L\|^2$",
           title=f"Mini-batch gradient noise on least squares (N = {problem.n} examples)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scaling_rule_curves(
    problem: LeastSquares, base_lr: float, base_batch: int, epochs: float, batch_sizes: Sequence[int],
    seeds: Sequence[int] = (0, 1, 2), rules: Sequence[str] = RULES,
) -> dict[str, np.ndarray]:
    """Mean excess loss ``L(w_E) - L(w*)`` over ``seeds`` after ``epochs`` epochs, per rule and batch
    size (``inf`` where a seed diverged)."""
    for rule in rules:
        check_choice("rule", rule, RULES)
    if not seeds:
        raise ValueError("seeds must not be empty")
    out = {}
    for rule in rules:
        values = []
        for b in batch_sizes:
            lr = scaled_lr_for(rule, base_lr, base_batch, int(b))
            losses = [problem.excess_loss(sgd_least_squares(problem, int(b), lr, epochs, seed)) for seed in seeds]
            values.append(float(np.mean(losses)))
        out[rule] = np.asarray(values)
    return out


def scaling_rule_figure(
    base_lr: float = 0.05, base_batch: int = 32, epochs: float = 2.0,
    batch_sizes: Sequence[int] = (8, 16, 32, 64, 128, 256, 512, 1024, 2048),
    seeds: Sequence[int] = (0, 1, 2), problem: LeastSquares | None = None,
) -> Figure:
    """Left: excess loss after ``epochs`` epochs against the batch size for each rule of :data:`RULES`
    (diverged runs drawn as crosses at the top). Right: the lr each rule uses, with the
    stability limit ``2 / lambda_max`` of the full-batch gradient step."""
    check_positive("base_lr", base_lr)
    check_positive_int("base_batch", base_batch)
    check_positive("epochs", epochs)
    problem = problem or least_squares_problem()
    batches = np.asarray(sorted(batch_sizes))
    if batches.size == 0 or batches[-1] > problem.n:
        raise ValueError(f"batch_sizes must be non-empty and <= n={problem.n}, got {list(batch_sizes)}")
    curves = scaling_rule_curves(problem, base_lr, base_batch, epochs, batches, seeds)
    finite = np.concatenate([v[np.isfinite(v)] for v in curves.values()])
    top = float(finite.max()) * 3 if finite.size else 1.0
    colours = {"fixed": "tab:gray", "sqrt": "tab:green", "linear": "tab:blue"}
    labels = {"fixed": r"fixed: $\eta_0$", "sqrt": r"square root: $\eta_0\sqrt{B/B_0}$",
              "linear": r"linear: $\eta_0 B / B_0$"}
    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(11, 3.8))
    for rule, values in curves.items():
        ok = np.isfinite(values)
        ax.plot(batches[ok], values[ok], "o-", color=colours[rule], label=labels[rule], ms=4)
        if (~ok).any():
            ax.plot(batches[~ok], np.full((~ok).sum(), top), "x", color=colours[rule], ms=8, mew=2)
        ax_lr.plot(batches, [scaled_lr_for(rule, base_lr, base_batch, int(b)) for b in batches], "o-",
                   color=colours[rule], label=labels[rule], ms=4)
    limit = 2 / problem.lambda_max
    ax_lr.axhline(limit, color="tab:red", ls="--", lw=1, label=r"$2 / \lambda_{\max}$: steps diverge above")
    ax.axvline(base_batch, color="0.7", lw=0.8)
    ax_lr.axvline(base_batch, color="0.7", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="batch size B (examples)", ylabel=r"$L(w) - L(w^*)$",
           title=f"Least squares after {epochs:g} epochs (x: diverged)")
    ax_lr.set(xscale="log", yscale="log", xlabel="batch size B (examples)", ylabel="learning rate",
              title=rf"lr per rule, $\eta_0 = {base_lr:g}$ at $B_0 = {base_batch}$")
    ax.legend(fontsize=8)
    ax_lr.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scaling_explorer(base_lr: float = 0.05, base_batch: int = 32, epochs: float = 2.0) -> Any:
    """Sliders for the base lr, the base batch and the epochs above :func:`scaling_rule_figure`."""
    import ipywidgets as widgets

    check_positive("base_lr", base_lr)
    check_positive_int("base_batch", base_batch)
    check_positive("epochs", epochs)
    problem = least_squares_problem()
    return explorer(
        lambda base_lr, base_batch, epochs: scaling_rule_figure(base_lr, base_batch, epochs, problem=problem),
        base_lr=widgets.FloatLogSlider(base_lr, base=10, min=-3, max=0, step=0.05, description="lr at B0",
                                       readout_format=".3g"),
        base_batch=widgets.SelectionSlider(options=[8, 16, 32, 64, 128, 256], value=base_batch,
                                           description="B0"),
        epochs=widgets.FloatSlider(epochs, min=0.5, max=8.0, step=0.5, description="epochs"),
    )

"""Seed statistics: is a trick's effect larger than the noise between seeds?

For one recipe over ``n`` seeds with accuracies ``a_i``: the mean and the
sample standard deviation ``s = sqrt(sum (a_i - mean)^2 / (n - 1))``. For the
difference between a recipe and the baseline, Welch's t interval (Welch,
1947, "The generalization of Student's problem when several different
population variances are involved")::

    d = mean_x - mean_y,  se = sqrt(s_x^2 / n_x + s_y^2 / n_y)
    dof = se^4 / ((s_x^2/n_x)^2 / (n_x - 1) + (s_y^2/n_y)^2 / (n_y - 1))
    95% interval: d -/+ t_{0.975, dof} se

An interval that contains 0 means the seeds cannot tell the recipes apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as _scipy_stats


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and count of a sample."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Difference:
    """A difference of means with its two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    level: float

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0."""
        return self.low > 0 or self.high < 0


def summarize(values: Sequence[float]) -> Summary:
    """Mean and sample standard deviation (NaN std for a single value)."""
    if len(values) == 0:
        raise ValueError("values must not be empty")
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return Summary(mean, std, n)


def welch_interval(x: Sequence[float], y: Sequence[float], level: float = 0.95) -> Difference:
    """Welch's interval for ``mean(x) - mean(y)`` (NaN bounds with fewer than 2 values a side)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    sx, sy = summarize(x), summarize(y)
    estimate = sx.mean - sy.mean
    if sx.n < 2 or sy.n < 2:
        return Difference(estimate, float("nan"), float("nan"), level)
    vx, vy = sx.std**2 / sx.n, sy.std**2 / sy.n
    se = math.sqrt(vx + vy)
    if se == 0:
        return Difference(estimate, estimate, estimate, level)
    dof = (vx + vy) ** 2 / (vx**2 / (sx.n - 1) + vy**2 / (sy.n - 1))
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, dof)) * se
    return Difference(estimate, estimate - half, estimate + half, level)

"""Seed statistics: is a trick's effect larger than the noise between seeds?

For one recipe over ``n`` seeds with accuracies ``a_i``: the mean and the
sample standard deviation ``s = sqrt(sum (a_i - mean)^2 / (n - 1))``. For the
difference between a recipe and the baseline, Welch's t interval (Welch,
1947, "The generalization of Student's problem when several different
population variances are involved")::

    d = mean_x - mean_y,  se = sqrt(s_x^2 / n_x + s_y^2 / n_y)
    dof = se^4 / ((s_x^2/n_x)^2 / (n_x - 1) + (s_y^2/n_y)^2 / (n_y - 1))
    95% interval: d -/+ t_{0.975, dof} se

For paired runs (the same seed gives both recipes the same initial weights
and the same batches, :mod:`tricks_lab.loader`), the per-seed differences
``d_i = x_i - y_i`` remove the noise the two runs share, and the interval is
the one-sample t interval of their mean (Student, 1908)::

    d = mean(d_i),  se = s_d / sqrt(n),  95% interval: d -/+ t_{0.975, n-1} se

An interval that contains 0 means the seeds cannot tell the recipes apart.

Power (Cohen, 1988, ch. 2): with the per-seed differences' standard deviation
``s_d``, a two-sided paired t test at level ``a`` over ``n`` seeds detects an
effect ``delta`` with probability ``P(|T| > t_{1-a/2, n-1})`` where ``T`` has
the noncentral t distribution with ``n - 1`` degrees of freedom and
noncentrality ``delta sqrt(n) / s_d``. The minimum detectable effect at ``n``
seeds is the ``delta`` at which that probability is the chosen power (0.8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import optimize as _scipy_optimize
from scipy import stats as _scipy_stats

__all__ = [
    "Difference", "PowerReport", "Summary", "minimum_detectable_effect", "paired_interval",
    "power_of_paired_test", "power_report", "seeds_needed", "summarize", "welch_interval",
]


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


def paired_interval(x: Sequence[float], y: Sequence[float], level: float = 0.95) -> Difference:
    """The paired t interval for ``mean(x_i - y_i)`` (``x[i]`` and ``y[i]`` share seed ``i``).

    NaN bounds with fewer than two pairs; a zero spread gives a zero-width interval.
    """
    _check_level(level)
    if len(x) != len(y):
        raise ValueError(f"paired samples must have the same length, got {len(x)} and {len(y)}")
    diffs = summarize([a - b for a, b in zip(x, y)])
    if diffs.n < 2:
        return Difference(diffs.mean, float("nan"), float("nan"), level)
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, diffs.n - 1)) * diffs.std / math.sqrt(diffs.n)
    return Difference(diffs.mean, diffs.mean - half, diffs.mean + half, level)


def power_of_paired_test(effect: float, sd: float, n: int, level: float = 0.95) -> float:
    """The probability that a two-sided paired t test over ``n`` seeds finds ``effect`` (see the module)."""
    _check_level(level)
    if n < 2:
        raise ValueError(f"n must be >= 2 seeds, got {n}")
    if not sd > 0:
        raise ValueError(f"sd must be > 0, got {sd!r}")
    dof = n - 1
    critical = float(_scipy_stats.t.ppf(0.5 + level / 2, dof))
    noncentrality = abs(effect) * math.sqrt(n) / sd
    upper = float(_scipy_stats.nct.sf(critical, dof, noncentrality))
    # P(T < -c | nc) as P(T > c | -nc): scipy's nct.cdf returns NaN far in the lower tail (scipy 1.17)
    lower = float(_scipy_stats.nct.sf(critical, dof, -noncentrality))
    return upper + lower


def minimum_detectable_effect(sd: float, n: int, power: float = 0.8, level: float = 0.95) -> float:
    """The smallest effect a paired t test over ``n`` seeds finds with probability ``power``."""
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    high = sd
    while power_of_paired_test(high, sd, n, level) < power:
        high *= 2
    return float(_scipy_optimize.brentq(lambda d: power_of_paired_test(d, sd, n, level) - power, 0.0, high,
                                        xtol=1e-12 * max(sd, 1e-12)))


def seeds_needed(effect: float, sd: float, power: float = 0.8, level: float = 0.95, max_seeds: int = 10_000) -> int:
    """The fewest seeds (at least 2) at which a paired t test finds ``effect`` with probability ``power``."""
    if not effect > 0:
        raise ValueError(f"effect must be > 0, got {effect!r}")
    n = 2
    while power_of_paired_test(effect, sd, n, level) < power:
        n += 1
        if n > max_seeds:
            raise ValueError(f"more than {max_seeds} seeds would be needed for an effect of {effect} at sd {sd}")
    return n


@dataclass(frozen=True)
class PowerReport:
    """How many seeds a comparison needs, from a baseline's seeds and paired differences.

    ``baseline_sd``: the seed standard deviation of the baseline's accuracy;
    ``difference_sd``: that of the paired differences (what the paired test
    sees); ``mde``: the minimum detectable effect at ``n`` seeds (power 0.8,
    level 0.95); ``seeds_for``: effect -> seeds needed.
    """

    baseline_sd: float
    difference_sd: float
    n: int
    mde: float
    seeds_for: dict[float, int]


def power_report(
    baseline: Sequence[float], differences: Sequence[float], n: int, effects: Sequence[float] = (0.003, 0.005, 0.01)
) -> PowerReport:
    """A :class:`PowerReport` for ``n`` seeds and the given effects (fractions: 0.005 is half a point)."""
    sd_base, sd_diff = summarize(baseline).std, summarize(differences).std
    if math.isnan(sd_base) or math.isnan(sd_diff):
        raise ValueError("baseline and differences need at least two values each")
    return PowerReport(sd_base, sd_diff, n, minimum_detectable_effect(sd_diff, n),
                       {e: seeds_needed(e, sd_diff) for e in effects})


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def welch_interval(x: Sequence[float], y: Sequence[float], level: float = 0.95) -> Difference:
    """Welch's interval for ``mean(x) - mean(y)`` (NaN bounds with fewer than 2 values a side)."""
    _check_level(level)
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

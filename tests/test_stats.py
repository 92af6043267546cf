"""tricks_lab.stats: the paired t interval against scipy, and the power helpers against simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from tricks_lab.stats import (
    minimum_detectable_effect,
    paired_interval,
    power_of_paired_test,
    power_report,
    seeds_needed,
    welch_interval,
)

FAST = settings(max_examples=40, deadline=None)
accuracy = st.floats(0.3, 0.95, allow_nan=False)


@FAST
@given(st.lists(st.tuples(accuracy, accuracy), min_size=2, max_size=12), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_paired_interval_is_scipys_ttest_rel_interval(pairs: list[tuple[float, float]], level: float) -> None:
    x, y = [a for a, _ in pairs], [b for _, b in pairs]
    diffs = np.subtract(x, y)
    assume(np.std(diffs) > 1e-6)
    d = paired_interval(x, y, level)
    result = scipy_stats.ttest_rel(x, y)
    ci = result.confidence_interval(level)
    assert d.estimate == pytest.approx(float(np.mean(diffs)), abs=1e-12)
    assert d.low == pytest.approx(ci.low, rel=1e-9, abs=1e-12) and d.high == pytest.approx(ci.high, rel=1e-9, abs=1e-12)
    if level == 0.95:
        assert d.significant == (result.pvalue < 0.05) or abs(result.pvalue - 0.05) < 1e-9


def test_pairing_removes_the_noise_the_runs_share() -> None:
    # Seed noise shared by both recipes (same init, same batches) widens Welch's interval, not the paired one.
    rng = np.random.default_rng(0)
    shared = rng.normal(0.0, 0.02, 10)
    baseline = 0.80 + shared + rng.normal(0.0, 0.002, 10)
    trick = 0.805 + shared + rng.normal(0.0, 0.002, 10)
    paired, welch = paired_interval(list(trick), list(baseline)), welch_interval(list(trick), list(baseline))
    assert paired.significant and not welch.significant
    assert paired.high - paired.low < 0.25 * (welch.high - welch.low)


def test_paired_interval_edge_cases() -> None:
    one = paired_interval([0.9], [0.8])
    assert one.estimate == pytest.approx(0.1) and math.isnan(one.low) and math.isnan(one.high)
    same = paired_interval([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])
    assert same.low == pytest.approx(0.1) and same.high == pytest.approx(0.1)
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        paired_interval([0.1, 0.2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\), got 1.5"):
        paired_interval([0.1, 0.2], [0.1, 0.2], level=1.5)


def _simulated_power(effect: float, sd: float, n: int, trials: int = 20_000, seed: int = 0) -> float:
    """The fraction of simulated n-seed experiments whose two-sided paired t test rejects at 5%."""
    rng = np.random.default_rng(seed)
    diffs = rng.normal(effect, sd, (trials, n))
    t = diffs.mean(axis=1) / (diffs.std(axis=1, ddof=1) / math.sqrt(n))
    return float((np.abs(t) > scipy_stats.t.ppf(0.975, n - 1)).mean())


@pytest.mark.parametrize(("effect", "sd", "n"), [(0.005, 0.004, 3), (0.005, 0.006, 8), (0.01, 0.01, 5),
                                                 (0.0, 0.01, 6), (-0.004, 0.003, 4)])
def test_power_of_the_paired_test_matches_a_monte_carlo_estimate(effect: float, sd: float, n: int) -> None:
    expected = _simulated_power(effect, sd, n)
    # 20,000 trials: the simulation's standard error is at most 0.0035
    assert power_of_paired_test(effect, sd, n) == pytest.approx(expected, abs=0.015)
    if effect == 0.0:
        assert power_of_paired_test(effect, sd, n) == pytest.approx(0.05, abs=1e-9)  # the test's level


@pytest.mark.parametrize("n", [3, 5, 10])
def test_the_minimum_detectable_effect_is_found_with_80_percent_power(n: int) -> None:
    sd = 0.006
    mde = minimum_detectable_effect(sd, n)
    assert power_of_paired_test(mde, sd, n) == pytest.approx(0.8, abs=1e-6)
    assert _simulated_power(mde, sd, n, seed=n) == pytest.approx(0.8, abs=0.015)


def test_the_minimum_detectable_effect_approaches_the_normal_approximation() -> None:
    # For many seeds the t test is a z test: mde = (z_{0.975} + z_{0.8}) sd / sqrt(n).
    sd = 0.005
    z = scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)
    assert minimum_detectable_effect(sd, 400) == pytest.approx(z * sd / math.sqrt(400), rel=0.01)
    assert minimum_detectable_effect(sd, 4) > 1.3 * z * sd / 2  # few seeds: the t test pays for estimating sd
    assert minimum_detectable_effect(2 * sd, 10) == pytest.approx(2 * minimum_detectable_effect(sd, 10), rel=1e-6)


@FAST
@given(st.floats(0.001, 0.02), st.floats(0.001, 0.03), st.integers(2, 40))
def test_power_and_the_minimum_detectable_effect_are_monotonic_in_the_seeds(sd: float, effect: float, n: int) -> None:
    assert power_of_paired_test(effect, sd, n + 1) >= power_of_paired_test(effect, sd, n) - 1e-12
    assert minimum_detectable_effect(sd, n + 1) < minimum_detectable_effect(sd, n)
    assert power_of_paired_test(effect * 1.5, sd, n) >= power_of_paired_test(effect, sd, n) - 1e-12


@FAST
@given(st.floats(0.001, 0.02), st.floats(0.002, 0.03))
def test_seeds_needed_is_the_first_n_with_enough_power(sd: float, effect: float) -> None:
    n = seeds_needed(effect, sd)
    assert power_of_paired_test(effect, sd, n) >= 0.8
    if n > 2:
        assert power_of_paired_test(effect, sd, n - 1) < 0.8
        assert minimum_detectable_effect(sd, n) <= effect * (1 + 1e-9) < minimum_detectable_effect(sd, n - 1)
    assert seeds_needed(effect * 2, sd) <= n


def test_power_report_from_seeds_and_its_errors() -> None:
    baseline = [0.80, 0.82, 0.79, 0.81, 0.80]
    differences = [0.004, 0.006, 0.001, 0.007, 0.002]
    report = power_report(baseline, differences, n=5)
    sd = float(np.std(differences, ddof=1))
    assert report.baseline_sd == pytest.approx(float(np.std(baseline, ddof=1)))
    assert report.difference_sd == pytest.approx(sd)
    assert report.mde == pytest.approx(minimum_detectable_effect(sd, 5))
    assert report.seeds_for == {e: seeds_needed(e, sd) for e in (0.003, 0.005, 0.01)}
    assert report.seeds_for[0.003] >= report.seeds_for[0.005] >= report.seeds_for[0.01] >= 2
    with pytest.raises(ValueError, match="at least two values"):
        power_report([0.8], differences, n=5)
    with pytest.raises(ValueError, match="n must be >= 2 seeds, got 1"):
        power_of_paired_test(0.01, 0.01, 1)
    with pytest.raises(ValueError, match="sd must be > 0"):
        power_of_paired_test(0.01, 0.0, 5)
    with pytest.raises(ValueError, match="effect must be > 0"):
        seeds_needed(0.0, 0.01)
    with pytest.raises(ValueError, match=r"power must be in \(0, 1\)"):
        minimum_detectable_effect(0.01, 5, power=1.0)
    with pytest.raises(ValueError, match="more than 50 seeds"):
        seeds_needed(1e-5, 0.01, max_seeds=50)

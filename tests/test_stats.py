"""The statistics a team decides with: hierarchical intervals over seeds and items, paired comparisons,
Holm's correction (numpy only: no warehouse, no model)."""

from __future__ import annotations

import numpy as np

from evaluation.stats import ItemResampler, holm, paired_comparison, seeded_accuracy


def _predictions(accuracy: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    correct = np.zeros(n)
    correct[rng.choice(n, size=round(accuracy * n), replace=False)] = 1.0
    return correct


def test_interval_widens_when_seeds_disagree() -> None:
    n = 2000
    resampler = ItemResampler.create(n, resamples=2000, seed=0)
    steady = np.vstack([_predictions(0.5, n, 1), _predictions(0.5, n, 2)])  # two seeds, both 0.50
    noisy = np.vstack([_predictions(0.3, n, 3), _predictions(0.7, n, 4)])  # 0.30 and 0.70: same mean
    a, b = seeded_accuracy(steady, resampler, 1), seeded_accuracy(noisy, resampler, 2)
    assert abs(a.mean - 0.5) < 1e-9 and abs(b.mean - 0.5) < 1e-9
    assert a.seeds == b.seeds == 2 and a.seed_sd == 0.0 and b.seed_sd > 0.25
    width_a, width_b = a.ci_high - a.ci_low, b.ci_high - b.ci_low
    assert width_a < 0.06  # items alone: about +/-2.2 points at n = 2000
    assert width_b > 3 * width_a  # the seeds' disagreement is in the interval
    assert b.ci_low <= 0.31 and b.ci_high >= 0.69
    one = seeded_accuracy(steady[:1], resampler)  # one seed: the plain item bootstrap
    assert one.seeds == 1 and one.ci_low < 0.5 < one.ci_high


def test_a_model_compared_with_itself_differs_by_zero_with_p_one() -> None:
    n = 500
    resampler = ItemResampler.create(n, resamples=1000, seed=0)
    model = np.vstack([_predictions(0.6, n, 1), _predictions(0.4, n, 2)])
    same = paired_comparison(model, model.copy(), resampler, 11, 12)
    assert same.diff == 0.0 and same.p_value == 1.0 and same.ci_low == same.ci_high == 0.0


def test_paired_comparison_finds_a_real_difference_and_pairs_items() -> None:
    n = 3000
    resampler = ItemResampler.create(n, resamples=2000, seed=0)
    base = _predictions(0.5, n, 1)
    better = base.copy()
    better[np.flatnonzero(base == 0)[:150]] = 1.0  # right on 150 more items, same on the rest: +5 points
    result = paired_comparison(better[None, :], base[None, :], resampler, 1, 2)
    assert abs(result.diff - 0.05) < 1e-9 and result.p_value < 0.001
    # paired over items: the interval is that of the 150 changed items, far narrower than two
    # independent +/-1.8-point item intervals would give
    assert result.ci_low > 0.04 and result.ci_high < 0.06
    # seeds that disagree widen the comparison until it is noise
    noisy = np.vstack([better, _predictions(0.3, n, 7), _predictions(0.8, n, 8)])
    loose = paired_comparison(noisy, base[None, :], resampler, 3, 2)
    assert loose.ci_low < 0 < loose.ci_high and loose.p_value > 0.05


def test_holm_adjusts_in_step_down_order() -> None:
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert holm([0.5, 1.0]) == [1.0, 1.0]
    assert holm([]) == []

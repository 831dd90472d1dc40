"""Diagnostics of SPEC §4 on matrices with a known answer."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from tightbalance.analysis.balance import (
    balance_index,
    current_cancellation,
    mean_coupling,
    off_diagonal_mean,
)
from tightbalance.analysis.clusters import cluster_couplings
from tightbalance.analysis.spectrum import stability_eigenvalues


def test_balance_uses_off_diagonal_entries():
    J = np.full((4, 4), -0.5)
    np.fill_diagonal(J, 100.0)  # the diagonal must not count
    assert off_diagonal_mean(J) == -0.5
    assert mean_coupling(J) == pytest.approx(2.0)
    assert balance_index(J, j_init_mean=-0.1) == pytest.approx(5.0)


def test_current_cancellation_ratio():
    feedforward, recurrent = np.full(5, 2.0), np.full(5, -1.9)
    summary = current_cancellation(feedforward, recurrent)
    assert summary["net_mean"] == pytest.approx(0.1)
    assert summary["ratio"] == pytest.approx((2.0 + 1.9) / (2 * 0.1))
    assert current_cancellation(feedforward, np.zeros(5))["ratio"] == pytest.approx(0.5)


def test_planted_clusters_are_found_and_named_by_preferred_channel():
    rng = np.random.default_rng(0)
    n, s = 60, 3
    channel = np.repeat([2, 0, 1], n // s)  # units grouped by the channel they prefer
    same = channel[:, None] == channel[None, :]
    J = np.where(same, -0.1, -0.02) + 0.005 * rng.standard_normal((n, n))
    np.fill_diagonal(J, 0.0)
    w_in = 0.1 * rng.standard_normal((n, s))
    w_in[np.arange(n), channel] += 2.0
    summary = cluster_couplings(J, w_in, s)
    assert summary.ari == pytest.approx(1.0)
    assert np.array_equal(summary.labels, channel)  # named after the preferred channel
    off = ~np.eye(n, dtype=bool)
    assert summary.j_same == pytest.approx(J[same & off].mean())
    assert summary.j_diff == pytest.approx(J[~same].mean())
    assert np.array_equal(np.sort(summary.labels[summary.order]), summary.labels[summary.order])
    assert summary.tuning_ari == pytest.approx(1.0)


def test_complement_code_clusters_match_the_tuning_but_not_the_argmax_preference():
    """Clusters suppressed by one channel and driven (unevenly, unit by unit) by the others:
    the argmax preference splits each cluster, the tuning groups (k-means of W_in) do not."""
    rng = np.random.default_rng(1)
    n, s = 90, 3
    suppressor = np.repeat([0, 1, 2], n // s)
    same = suppressor[:, None] == suppressor[None, :]
    J = np.where(same, -0.12, -0.016) + 0.005 * rng.standard_normal((n, n))
    np.fill_diagonal(J, 0.0)
    w_in = 12.0 + 2.0 * rng.standard_normal((n, s))
    w_in[np.arange(n), suppressor] = -8.0 + rng.standard_normal(n)
    summary = cluster_couplings(J, w_in, s)
    assert summary.tuning_ari == pytest.approx(1.0)
    assert summary.ari < 0.5
    assert adjusted_rand_score(np.argmin(w_in, axis=1), summary.labels) == pytest.approx(1.0)


def test_mean_mode_outlier_of_a_uniform_inhibitory_matrix():
    """J = -b/N off the diagonal, all units active: one outlier at -b(N-1)/N, the rest at b/N."""
    n, b = 50, 4.0
    J = np.full((n, n), -b / n)
    np.fill_diagonal(J, 0.0)
    eigenvalues = np.sort(stability_eigenvalues(J, np.ones(n)).real)
    assert eigenvalues[0] == pytest.approx(-b * (n - 1) / n)
    assert np.allclose(eigenvalues[1:], b / n)  # the rest: 0 - (-b/N) from the removed diagonal
    # inactive units (relu, h < 0) remove their columns: the outlier shrinks with the active fraction
    h = np.where(np.arange(n) < n // 2, 1.0, -1.0)
    assert np.sort(stability_eigenvalues(J, h).real)[0] == pytest.approx(-b * (n // 2 - 1) / n)

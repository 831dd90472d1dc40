"""Inhibitory clusters of a trained network (SPEC §4).

k-means (k = S) on the rows of J; mean coupling within versus between the
clusters; agreement of the clusters with each unit's preferred input channel
``argmax_s W_in[i, s]`` by the adjusted Rand index (``ari``), and with the groups of
units that share an input tuning, k-means (k = S) on the rows of W_in (``tuning_ari``).

The two agree when each cluster is driven by one channel (S = 2 always: driven by one
channel is suppressed by the other).  For S >= 3 a cluster can instead be defined by the
channel that suppresses it while the others drive it; then ``tuning_ari`` is still 1
while ``ari`` against ``argmax`` is low (``argmin`` would be the matching preference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

__all__ = ["ClusterSummary", "cluster_couplings", "preferred_channel"]


@dataclass(frozen=True)
class ClusterSummary:
    """Attributes:
    labels: cluster of each unit ``[N]``, numbered by preferred channel where possible.
    order: permutation of units that groups the clusters (for plotting J reordered).
    j_same: mean off-diagonal coupling between units of the same cluster.
    j_diff: mean coupling between units of different clusters (NaN for one cluster).
    ari: adjusted Rand index of ``labels`` against the preferred channels (NaN for S = 1).
    tuning_ari: adjusted Rand index of ``labels`` against k-means (k = S) of the rows of
      W_in, whatever code the tuning follows (NaN for S = 1).
    """

    labels: np.ndarray
    order: np.ndarray
    j_same: float
    j_diff: float
    ari: float
    tuning_ari: float


def preferred_channel(w_in: np.ndarray) -> np.ndarray:
    """``argmax_s W_in[i, s]`` per unit."""
    return np.argmax(np.asarray(w_in), axis=1)


def cluster_couplings(J: np.ndarray, w_in: np.ndarray, n_clusters: int, seed: int = 0) -> ClusterSummary:
    """Cluster the rows of ``J`` and summarise couplings within and between clusters."""
    J = np.asarray(J, dtype=float)
    n = J.shape[0]
    if n_clusters > 1:
        labels = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(J)
        preferred = preferred_channel(w_in)
        ari = float(adjusted_rand_score(preferred, labels))
        tuning = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(np.asarray(w_in))
        tuning_ari = float(adjusted_rand_score(tuning, labels))
        # name each cluster after the channel most of its units prefer, for readable plots
        majority = [
            np.bincount(preferred[labels == k], minlength=n_clusters).argmax() for k in range(n_clusters)
        ]
        labels = np.asarray(majority)[labels] if len(set(majority)) == n_clusters else labels
    else:
        labels = np.zeros(n, dtype=int)
        ari = tuning_ari = float("nan")
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(n, dtype=bool)
    within = same & off_diagonal
    between = ~same
    j_same = float(J[within].mean()) if within.any() else float("nan")
    j_diff = float(J[between].mean()) if between.any() else float("nan")
    order = np.argsort(labels, kind="stable")
    return ClusterSummary(
        labels=labels, order=order, j_same=j_same, j_diff=j_diff, ari=ari, tuning_ari=tuning_ari
    )

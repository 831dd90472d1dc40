"""Balance diagnostics of a coupling matrix (SPEC §4).

* ``balance_index = |mean(J) / mean(J_init)|`` over off-diagonal entries (the
  original's normalised balance);
* ``mean_coupling = -N mean(J)``, the absolute mean inhibitory coupling b;
* current cancellation: mean feed-forward versus mean recurrent input per unit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["off_diagonal_mean", "balance_index", "mean_coupling", "current_cancellation"]


def off_diagonal_mean(J: np.ndarray) -> float:
    """Mean of the off-diagonal entries of a square matrix ``J`` (N >= 2)."""
    J = np.asarray(J, dtype=float)
    n = J.shape[-1]
    if n < 2:
        return float(J.mean())
    return float((J.sum() - np.trace(J)) / (n * (n - 1)))


def balance_index(J: np.ndarray, j_init_mean: float) -> float:
    """``|mean(J) / mean(J_init)|`` over off-diagonal entries; 1 at initialisation."""
    return abs(off_diagonal_mean(J) / j_init_mean)


def mean_coupling(J: np.ndarray) -> float:
    """``b = -N mean(J)`` (off-diagonal mean), positive for net inhibition."""
    return -np.asarray(J).shape[-1] * off_diagonal_mean(J)


def current_cancellation(feedforward: np.ndarray, recurrent: np.ndarray) -> dict[str, float]:
    """How far feed-forward and recurrent currents cancel.

    Args:
      feedforward: feed-forward input per unit and sample ``W_in s / S`` (any shape).
      recurrent: recurrent input ``J phi(h)`` of the same shape.

    Returns:
      mean of each, and ``ratio`` = (|ff| + |rec|) / (2 |ff + rec|) from the RMS sizes:
      large when two large currents cancel to a small net input.
    """
    ff, rec = np.asarray(feedforward, float), np.asarray(recurrent, float)
    net = ff + rec
    size = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    return {
        "feedforward_mean": float(ff.mean()),
        "recurrent_mean": float(rec.mean()),
        "net_mean": float(net.mean()),
        "ratio": (size(ff) + size(rec)) / (2 * size(net)),
    }

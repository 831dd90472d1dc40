"""Eigenvalues of the linearised dynamics (SPEC §4).

At a state h the Jacobian of ``h' = -h + J phi(h) + ...`` is ``-1 + J diag(phi'(h))``;
the state is linearly stable while every eigenvalue of ``J diag(phi'(h))`` has
real part below 1.  Tight balance shows as outliers far to the left (one per
inhibitory cluster), at about ``-b_eff``.
"""

from __future__ import annotations

import numpy as np

from tightbalance.network import stability_matrix

__all__ = ["stability_eigenvalues"]


def stability_eigenvalues(J: np.ndarray, h: np.ndarray, nonlinearity: str = "relu") -> np.ndarray:
    """Eigenvalues of ``J diag(phi'(h))`` for a state ``h [N]``."""
    return np.linalg.eigvals(np.asarray(stability_matrix(J, np.asarray(h), nonlinearity), dtype=float))

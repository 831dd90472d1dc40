"""Figures of the dynamic mean-field theory (SPEC §6): theory against simulation."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tightbalance.plots import save_figure  # noqa: E402

__all__ = ["plot_rate", "plot_variance", "plot_stationary_autocorrelation"]

_THEORY = {"color": "C0", "lw": 1.5}
_SIMULATION = {"color": "C3", "lw": 0.8, "alpha": 0.8}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def plot_rate(path, t, u, nu, nu_sim=None, *, label_sim: str = "simulation") -> Path:
    """Input ``u(t)`` (top) and population rate ``nu(t)``, theory vs simulation (bottom)."""
    fig, (ax_u, ax_nu) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=[1, 2])
    ax_u.plot(t, u, color="k", lw=0.8)
    ax_u.set_ylabel("input u(t)")
    if nu_sim is not None:
        ax_nu.plot(t, nu_sim, label=label_sim, **_SIMULATION)
    ax_nu.plot(t, nu, label="DMFT", **_THEORY)
    ax_nu.set_xlabel("time t (units of tau)")
    ax_nu.set_ylabel("population rate nu(t)")
    ax_nu.legend(loc="upper right")
    return _save(fig, path)


def plot_variance(path, t, c_tt, c_tt_sim=None, *, label_sim: str = "simulation") -> Path:
    """Equal-time variance ``c(t, t)`` of a unit's input about the population mean."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if c_tt_sim is not None:
        ax.plot(t, c_tt_sim, label=label_sim, **_SIMULATION)
    ax.plot(t, c_tt, label="DMFT", **_THEORY)
    ax.set_xlabel("time t (units of tau)")
    ax.set_ylabel("variance c(t, t)")
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_stationary_autocorrelation(
    path, tau, c, c_static: float, tau_sim=None, c_sim=None, *, label_sim: str = "simulation"
) -> Path:
    """Stationary autocorrelation ``c(tau)`` with its quenched plateau."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(tau, c, label="DMFT c(tau)", **_THEORY)
    ax.axhline(c_static, color="C0", ls="--", lw=0.8, label=f"plateau c_static = {c_static:.3f}")
    if c_sim is not None:
        ax.plot(tau_sim, c_sim, "o", ms=3, color="C3", label=label_sim)
    ax.set_xlim(0, float(np.max(tau)))
    ax.set_xlabel("lag tau (units of tau)")
    ax.set_ylabel("autocorrelation c(tau)")
    ax.legend(loc="upper right")
    return _save(fig, path)

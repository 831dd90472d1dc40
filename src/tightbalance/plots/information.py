"""Figures of the information rate (SPEC §5): rate against balance, and rate over training."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tightbalance.plots import save_figure  # noqa: E402

__all__ = ["plot_rate_vs_balance", "plot_rate_over_training"]

_COLORS = {"unit": "tab:blue", "population": "tab:red"}
_LABELS = {"unit": "one unit (mean over units)", "population": "population mean"}


def plot_rate_vs_balance(rows: list[dict], fits: list[dict], path: Path, title: str = "") -> Path:
    """Rate (bits/tau) against balance b: theory on the grid (lines), estimates with CIs (markers).

    ``rows`` and ``fits`` as produced by
    :func:`tightbalance.experiments.info_rate.run_info_rate_experiment`; one panel per
    readout (their rates differ by orders of magnitude), each with the fitted line of
    the estimates over ``b >= b_min``.
    """
    readouts = [r for r in _LABELS if any(row["readout"] == r for row in rows)]
    fig, axes = plt.subplots(1, len(readouts), figsize=(5.2 * len(readouts), 4.2), squeeze=False)
    for ax, readout in zip(axes[0], readouts, strict=True):
        selected = sorted((row for row in rows if row["readout"] == readout), key=lambda row: row["balance"])
        b = np.array([row["balance"] for row in selected])
        estimate = np.array([row["estimate_bits_per_tau"] for row in selected])
        low = np.array([row["ci_low"] for row in selected])
        high = np.array([row["ci_high"] for row in selected])
        color = _COLORS[readout]
        theory = np.array([row["theory_bits_per_tau"] for row in selected])
        continuous = np.array([row["theory_continuous_bits_per_tau"] for row in selected])
        if np.isfinite(theory).any():  # NaN where no finite theory exists (e.g. sigma = 0 chaos)
            ax.plot(b, theory, "-", color=color, label="theory (grid dt)")
        if np.isfinite(continuous).any():
            ax.plot(b, continuous, ":", color="0.4", label="theory (continuous time)")
        ax.errorbar(
            b,
            estimate,
            yerr=[estimate - low, high - estimate],
            fmt="o",
            color=color,
            capsize=3,
            label="estimate, 95% CI",
        )
        fit = next((f for f in fits if f["readout"] == readout and f["source"] == "estimate"), None)
        if fit is not None and np.isfinite(fit["slope"]):
            b_line = np.linspace(b[b >= b.max() / 8].min() if (b > 0).any() else 0.0, b.max(), 50)
            ax.plot(
                b_line,
                fit["slope"] * b_line + fit["intercept"],
                "--",
                color="k",
                lw=0.8,
                label=f"fit of estimates: {fit['slope']:.3g} bits/tau per unit b (R²={fit['r_squared']:.3f})",
            )
        ax.axhline(0.0, color="0.8", lw=0.5)
        ax.set_xlabel("balance b (mean coupling -b/N, input b·(I0 + eta))")
        ax.set_ylabel("information rate (bits / tau)")
        ax.set_title(_LABELS[readout])
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_rate_over_training(epochs, rates_bits, balance, path: Path, rate_std=None, title: str = "") -> Path:
    """Readout rate per channel (bits/tau, mean ± std over seeds) and balance against epoch.

    Args:
      epochs: ``[E]``; rates_bits: ``[E, S]`` (mean over seeds); rate_std: ``[E, S]`` or None;
      balance: ``[E]`` (``-N`` times the off-diagonal mean of ``J``, mean over seeds).
    """
    epochs = np.asarray(epochs)
    rates_bits = np.asarray(rates_bits).reshape(len(epochs), -1)
    fig, (ax_rate, ax_balance) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    for s in range(rates_bits.shape[1]):
        ax_rate.plot(epochs, rates_bits[:, s], "o-", ms=3, label=f"channel {s + 1}")
        if rate_std is not None:
            std = np.asarray(rate_std).reshape(rates_bits.shape)[:, s]
            ax_rate.fill_between(epochs, rates_bits[:, s] - std, rates_bits[:, s] + std, alpha=0.2)
    ax_rate.set_ylabel("readout information rate (bits / tau)")
    ax_rate.legend(fontsize=8)
    ax_balance.plot(epochs, balance, "o-", ms=3, color="k")
    ax_balance.set_ylabel(r"balance $b = -N\,\langle J_{ij} \rangle_{i \neq j}$")
    ax_balance.set_xlabel("training epoch")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)

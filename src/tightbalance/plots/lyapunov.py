"""Largest Lyapunov exponent against the coupling strength g (SPEC §6).

Simulated networks (mean ± s.e.m. over realisations, single realisations as faint dots), the DMFT
exponent (line) and the DMFT chaos threshold (dotted vertical line), one colour per balance b.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tightbalance.plots import save_figure  # noqa: E402
from tightbalance.theory.lyapunov import LyapunovPoint  # noqa: E402

__all__ = ["plot_lyapunov"]

LINE_STYLES = ["-", "--", "-."]


def plot_lyapunov(
    points: list[LyapunovPoint],
    path: Path,
    *,
    dmft_curves: dict[float, tuple[np.ndarray, np.ndarray]] | None = None,
    title: str | None = None,
) -> Path:
    """Write the figure of ``lambda_max`` vs ``g`` for every ``b`` in ``points`` to ``path`` (PNG).

    ``dmft_curves`` maps ``b`` to a denser DMFT curve ``(g, lambda)``; without it the DMFT line joins
    the values at the simulated ``g``.  Line styles differ between ``b`` so that coinciding curves
    stay visible (for relu at sigma = 0 the DMFT exponent does not depend on ``b``).
    """
    figure, axes = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    balances = sorted({point.b for point in points})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    thresholds: dict[float, list[float]] = {}
    offset_step = 0.004 * (max(p.g for p in points) - min(p.g for p in points) + 1e-9)
    for index, b in enumerate(balances):
        colour = colours[index % len(colours)]
        rows = sorted((p for p in points if p.b == b), key=lambda p: p.g)
        g = np.array([p.g for p in rows]) + (index - (len(balances) - 1) / 2) * offset_step
        for g_value, point in zip(g, rows, strict=True):
            g_repeated = np.full(point.lambda_sim.size, g_value)
            axes.plot(g_repeated, point.lambda_sim, ".", color=colour, alpha=0.25)
        axes.errorbar(
            g,
            [p.lambda_sim_mean for p in rows],
            yerr=[p.lambda_sim_sem for p in rows],
            fmt="o",
            color=colour,
            capsize=3,
            label=f"simulation, b = {b:g}",
        )
        g_theory, lambda_theory = (
            dmft_curves[b]
            if dmft_curves and b in dmft_curves
            else ([p.g for p in rows], [p.lambda_dmft for p in rows])
        )
        line_style = LINE_STYLES[index % len(LINE_STYLES)]
        axes.plot(g_theory, lambda_theory, line_style, color=colour, label=f"DMFT, b = {b:g}")
        thresholds.setdefault(round(rows[0].g_threshold, 6), []).append(b)
    for threshold, threshold_balances in thresholds.items():
        if np.isfinite(threshold):
            balances_text = ", ".join(f"{b:g}" for b in threshold_balances)
            label = f"DMFT threshold g_c = {threshold:.3f} (b = {balances_text})"
            axes.axvline(threshold, color="0.3", linestyle=":", label=label)
    axes.axhline(0.0, color="0.5", linewidth=0.8)
    axes.set_xlabel("coupling strength g")
    axes.set_ylabel(r"largest Lyapunov exponent $\lambda_{max}$ (1/$\tau$)")
    if title:
        axes.set_title(title)
    axes.legend(fontsize="small")
    return save_figure(figure, path, dpi=150)

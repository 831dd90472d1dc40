"""The eight-panel training figure of the original code (seed/figures/S=*.svg).

Panels: test loss vs epoch; output vs target; eigenvalues of ``J diag(phi'(h))``
initial vs trained with the stability line Re = 1; W_in vs W_out per unit and
channel; example traces of h; J reordered by cluster; J_same, J_diff and mean J
vs epoch; balance vs epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tightbalance.analysis.clusters import cluster_couplings  # noqa: E402
from tightbalance.analysis.spectrum import stability_eigenvalues  # noqa: E402
from tightbalance.config import TrainConfig  # noqa: E402
from tightbalance.network import NetworkParams, nonlinearity, readout, relax, simulate  # noqa: E402
from tightbalance.plots import save_figure  # noqa: E402
from tightbalance.signals import sample_signals  # noqa: E402
from tightbalance.task import targets  # noqa: E402

__all__ = ["TrainingFigureData", "training_figure_data", "plot_training"]

CHANNEL_COLOURS = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown"]


@dataclass(frozen=True)
class TrainingFigureData:
    epochs: np.ndarray
    test_loss: np.ndarray
    balance: np.ndarray
    j_same: np.ndarray
    j_diff: np.ndarray
    j_mean: np.ndarray
    time: np.ndarray
    outputs: np.ndarray  # [T, S] of one test trial
    target: np.ndarray  # [T, S]
    h_traces: np.ndarray  # [T, 5]
    eig_initial: np.ndarray
    eig_trained: np.ndarray
    w_in: np.ndarray  # [N, S]
    w_out: np.ndarray  # [S, N]
    J_ordered: np.ndarray
    cluster_sizes: np.ndarray


def training_figure_data(
    config: TrainConfig,
    params_initial: NetworkParams,
    params_trained: NetworkParams,
    metric_rows: list[dict[str, float]],
    key: jax.Array,
) -> TrainingFigureData:
    """Simulate one held-out trial with the trained network and gather what the panels show."""
    c = config
    k_relax, k_signal, k_noise = jax.random.split(key, 3)
    relax_args = dict(batch_size=1, n_steps=c.relax_steps, dt=c.dt, sigma=c.relax_sigma, i_ext=c.i_ext)
    h0 = relax(params_trained, k_relax, nonlinearity=c.nonlinearity, **relax_args)
    h0_initial = relax(params_initial, k_relax, nonlinearity=c.nonlinearity, **relax_args)
    signals = sample_signals(k_signal, c.n_steps, c.n_inputs, 1, c.dt, c.tau_s, c.signal_std, c.i_ext)
    noise = jax.random.normal(k_noise, (c.n_steps, c.n_units, 1))
    trajectory, trajectory_initial = (
        simulate(params, start, signals, noise, dt=c.dt, sigma=c.sigma, nonlinearity=c.nonlinearity)
        for params, start in ((params_trained, h0), (params_initial, h0_initial))
    )
    outputs = readout(params_trained, trajectory, nonlinearity(c.nonlinearity))
    J = np.asarray(params_trained.J)
    clusters = cluster_couplings(J, np.asarray(params_trained.w_in), c.n_inputs)
    column = lambda name: np.array([r[name] for r in metric_rows])  # noqa: E731
    return TrainingFigureData(
        epochs=column("epoch"),
        test_loss=column("test_loss"),
        balance=column("balance"),
        j_same=column("j_same"),
        j_diff=column("j_diff"),
        j_mean=-column("mean_coupling") / c.n_units,
        time=np.arange(1, c.n_steps + 1) * c.dt,
        outputs=np.asarray(outputs[:, :, 0]),
        target=np.asarray(targets(signals, c.gbar)[:, :, 0]),
        h_traces=np.asarray(trajectory[:, :5, 0]),
        # at the end of the noisy trial, as the original's figures
        eig_initial=stability_eigenvalues(
            np.asarray(params_initial.J), np.asarray(trajectory_initial[-1, :, 0]), c.nonlinearity
        ),
        eig_trained=stability_eigenvalues(J, np.asarray(trajectory[-1, :, 0]), c.nonlinearity),
        w_in=np.asarray(params_trained.w_in),
        w_out=np.asarray(params_trained.w_out),
        J_ordered=J[np.ix_(clusters.order, clusters.order)],
        cluster_sizes=np.bincount(clusters.labels, minlength=c.n_inputs),
    )


def plot_training(data: TrainingFigureData, path: Path, title: str = "") -> Path:
    """Draw the eight panels to ``path`` (PNG)."""
    fig, axes = plt.subplots(2, 4, figsize=(20, 9.5), constrained_layout=True)
    ax = axes.ravel()
    n_channels = data.outputs.shape[1]
    colour = lambda s: CHANNEL_COLOURS[s % len(CHANNEL_COLOURS)]  # noqa: E731

    ax[0].semilogy(data.epochs, data.test_loss, "k.-", ms=3)
    ax[0].set(xlabel="epoch", ylabel="test loss", title="held-out loss")

    for s in range(n_channels):
        ax[1].plot(data.time, data.target[:, s], ":", color=colour(s), label=f"target {s + 1}")
        ax[1].plot(data.time, data.outputs[:, s], "-", color=colour(s), label=f"output {s + 1}")
    ax[1].set(xlabel="time (tau)", ylabel="readout y", title="output vs target (held-out trial)")
    ax[1].legend(fontsize=8, ncol=n_channels)

    ax[2].plot(data.eig_initial.real, data.eig_initial.imag, ".", color="0.4", label="initial")
    ax[2].plot(data.eig_trained.real, data.eig_trained.imag, ".", color="tab:purple", label="trained")
    ax[2].axvline(1.0, color="k", ls=":", lw=1, label="stability line Re = 1")
    ax[2].set(xlabel="Re λ", ylabel="Im λ", title="eigenvalues of J·diag(φ'(h))")
    ax[2].legend(fontsize=8)

    for s in range(n_channels):
        label = "channel 1 (same)" if s == 0 else f"channel {s + 1}"
        ax[3].plot(data.w_in[:, 0], data.w_out[s], ".", color=colour(s), label=f"readout to {label}")
    ax[3].set(
        xlabel="input weight from channel 1, $W^{in}_{i1}$",
        ylabel="readout weight $W^{out}_{si}$",
        title="input vs readout weight per unit",
    )
    ax[3].legend(fontsize=8)

    ax[4].plot(data.time, data.h_traces, lw=1)
    ax[4].set(xlabel="time (tau)", ylabel="h (input current)", title="example units")

    limit = float(np.abs(data.J_ordered).max())
    image = ax[5].imshow(
        data.J_ordered, cmap="RdBu", vmin=-limit, vmax=limit, origin="lower", interpolation="nearest"
    )
    fig.colorbar(image, ax=ax[5], label="$J_{ij}$", shrink=0.8)
    for edge in np.cumsum(data.cluster_sizes)[:-1]:
        ax[5].axhline(edge - 0.5, color="k", lw=0.8)
        ax[5].axvline(edge - 0.5, color="k", lw=0.8)
    ax[5].set(
        xlabel="unit j (sorted by cluster)", ylabel="unit i (sorted by cluster)", title="trained J by cluster"
    )

    if n_channels > 1:
        ax[6].plot(data.epochs, data.j_same, ".-", color="tab:red", ms=3, label="$J^{same}$ (within cluster)")
        ax[6].plot(data.epochs, data.j_diff, ".-", color="tab:blue", ms=3, label="$J^{diff}$ (between)")
    ax[6].plot(data.epochs, data.j_mean, ".-", color="k", ms=3, label="mean J")
    ax[6].set(xlabel="epoch", ylabel="mean coupling", title="coupling within / between clusters")
    ax[6].legend(fontsize=8)

    ax[7].plot(data.epochs, data.balance, "k.-", ms=3)
    ax[7].set(xlabel="epoch", ylabel="balance |mean J / mean J_init|", title="balance")

    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=80)

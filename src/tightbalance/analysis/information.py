"""Information rate between an input and a response, estimated from data (SPEC §5.3).

For jointly Gaussian stationary processes the rate is ``R = -(1/4 pi) ∫ ln(1 - C(w)) dw``
(nats per tau), ``C`` the magnitude-squared coherence, integrated over ``|w| <= pi/dt``.

Estimator.  The record is cut into ``M`` contiguous blocks; in each block the auto- and
cross-spectra are estimated either with ``K`` Slepian (DPSS) tapers (multitaper) or by
Welch's method (``scipy.signal.csd``: Hann segments, 50% overlap).  Pooling the blocks
gives spectra with ``D`` complex degrees of freedom (``D = M K`` for multitaper; the
Welch equivalent for overlapping windows).  For a complex-Wishart ``2 x 2`` spectral
matrix with ``D`` degrees of freedom ``1 - C_hat = W_{yy|x} / W_yy`` with
``W_{yy|x} ~ Gamma(D - 1)`` and ``W_yy ~ Gamma(D)`` (scaled), so exactly

    E[ln(1 - C_hat)] = ln(1 - C) + psi(D - 1) - psi(D) = ln(1 - C) - 1/(D - 1)

for every true coherence ``C``: the raw rate is biased up by ``1/(2 dt (D - 1))`` nats
per tau (SPEC §5.3), which is subtracted.  The confidence interval comes from the
jackknife over blocks (leave one block out, Student t with ``M - 1`` degrees of freedom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from scipy import fft, signal, stats

from tightbalance.network import NetworkParams, simulate
from tightbalance.network import nonlinearity as nonlinearity_fn
from tightbalance.network import readout as network_readout
from tightbalance.signals import sample_ou, standard_normal
from tightbalance.theory.linear import BITS_PER_NAT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tightbalance.config import TrainConfig

__all__ = [
    "RateEstimate",
    "BlockSpectra",
    "block_spectra",
    "welch_degrees_of_freedom",
    "rate_from_spectra",
    "estimate_info_rate",
    "readout_info_rate",
    "checkpoint_info_rates",
]

_METHODS = ("multitaper", "welch")


@dataclass(frozen=True)
class RateEstimate:
    """A bias-corrected information-rate estimate in bits per tau with its confidence interval.

    Attributes:
      bits_per_tau: bias-corrected estimate.
      ci_low, ci_high: confidence interval (jackknife over blocks).
      standard_error: jackknife standard error.
      raw_bits_per_tau: the uncorrected ``-(1/4 pi) ∫ ln(1 - C_hat)``.
      dof: complex degrees of freedom ``D`` of the pooled spectra.
      confidence: level of the interval.
    """

    bits_per_tau: float
    ci_low: float
    ci_high: float
    standard_error: float
    raw_bits_per_tau: float
    dof: float
    confidence: float

    @property
    def nats_per_tau(self) -> float:
        return self.bits_per_tau / BITS_PER_NAT

    @property
    def bias_bits_per_tau(self) -> float:
        return self.raw_bits_per_tau - self.bits_per_tau


@dataclass(frozen=True)
class BlockSpectra:
    """Spectra per block: ``sxx [M, F]``, ``syy [M, F, n]``, ``sxy [M, F, n]``; ``omega [F]`` in rad/tau.

    ``dof_per_block`` is the number of complex degrees of freedom of one block's estimate.
    """

    omega: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray
    dof_per_block: float

    @property
    def n_blocks(self) -> int:
        return self.sxx.shape[0]


def welch_degrees_of_freedom(window: np.ndarray, hop: int, n_segments: int) -> float:
    """Equivalent complex degrees of freedom of a Welch average (Percival & Walden 1993, eq. 292b).

    ``D = K / (1 + 2 sum_{j>=1} (1 - j/K) rho_j^2)`` with ``rho_j`` the overlap
    correlation of the window with itself shifted by ``j`` hops.
    """
    window = np.asarray(window, dtype=float)
    energy = np.sum(window**2)
    rho = [
        np.sum(window[j * hop :] * window[: len(window) - j * hop]) / energy
        for j in range(1, n_segments)
        if j * hop < len(window)
    ]
    correction = sum(2.0 * (1.0 - j / n_segments) * r**2 for j, r in enumerate(rho, start=1))
    return n_segments / (1.0 + correction)


def _check_inputs(x: np.ndarray, y: np.ndarray, dt: float, n_blocks: int, method: str) -> None:
    if x.ndim != 1:
        raise ValueError(f"x must be one-dimensional [T], got shape {x.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be [T] or [T, n] with T = {x.shape[0]}, got shape {y.shape}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    if n_blocks < 2:
        raise ValueError(f"n_blocks must be >= 2 for the jackknife, got {n_blocks}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")


def block_spectra(
    x,
    y,
    *,
    dt: float,
    n_blocks: int = 20,
    method: str = "multitaper",
    time_bandwidth: float = 2.0,
    segments_per_block: int = 4,
) -> BlockSpectra:
    """Auto- and cross-spectra of ``x [T]`` and the columns of ``y [T]`` or ``[T, n]`` per block.

    Args:
      n_blocks: number ``M`` of contiguous blocks (jackknife units); the tail that does
        not fill a block is dropped.
      method: 'multitaper' (``K = 2 NW - 1`` DPSS tapers over each block) or 'welch'
        (``scipy.signal.welch``/``csd`` over Hann segments with 50% overlap).
      time_bandwidth: ``NW`` of the tapers (multitaper).
      segments_per_block: Welch segment length is ``block / segments_per_block`` (with the
        50% overlap a block holds ``2 segments_per_block - 1`` segments).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    _check_inputs(x, y, dt, n_blocks, method)
    y2 = y.reshape(y.shape[0], -1)
    block = x.shape[0] // n_blocks
    if block < 16:
        raise ValueError(f"blocks of {block} samples are too short; use fewer than n_blocks={n_blocks}")
    x = x - x.mean()
    y2 = y2 - y2.mean(axis=0)
    xb = x[: block * n_blocks].reshape(n_blocks, block)
    yb = y2[: block * n_blocks].reshape(n_blocks, block, -1)
    if method == "multitaper":
        n_tapers = int(2 * time_bandwidth) - 1
        if n_tapers < 1:
            raise ValueError(f"time_bandwidth must be >= 1, got {time_bandwidth!r}")
        tapers = signal.windows.dpss(block, time_bandwidth, n_tapers)  # [K, L], unit energy
        fx = fft.rfft(tapers[None, :, :] * xb[:, None, :], axis=-1)  # [M, K, F]
        sxx = np.mean(np.abs(fx) ** 2, axis=1)
        syy = np.zeros((n_blocks, fx.shape[-1], y2.shape[1]))
        sxy = np.zeros_like(syy, dtype=complex)
        for taper, fx_k in zip(tapers, np.moveaxis(fx, 1, 0), strict=True):
            fy_k = fft.rfft(taper[None, :, None] * yb, axis=1)  # [M, F, n]
            syy += np.abs(fy_k) ** 2 / n_tapers
            sxy += fx_k[:, :, None] * np.conj(fy_k) / n_tapers
        omega = 2.0 * np.pi * fft.rfftfreq(block, d=dt)
        dof_per_block = float(n_tapers)
    else:
        nperseg = block // segments_per_block
        hop = nperseg // 2
        kwargs = dict(fs=1.0 / dt, window="hann", nperseg=nperseg, noverlap=nperseg - hop, axis=1)
        freqs, sxx = signal.welch(xb, **kwargs)
        _, syy = signal.welch(yb, **kwargs)
        _, sxy = signal.csd(xb[:, :, None], yb, **kwargs)
        n_segments = (block - nperseg) // hop + 1
        dof_per_block = welch_degrees_of_freedom(signal.get_window("hann", nperseg), hop, n_segments)
        omega = 2.0 * np.pi * freqs
    return BlockSpectra(omega=omega, sxx=sxx, syy=syy, sxy=sxy, dof_per_block=dof_per_block)


def rate_from_spectra(omega, sxx, syy, sxy, dof: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw and bias-corrected rates (nats per tau) per column from pooled spectra.

    ``R = -(1/2 pi) ∫_0^{pi/dt} [ln(1 - C_hat) + 1/(D - 1)] dw`` by the trapezoidal rule
    on the frequency grid; ``sxx [F]``, ``syy`` and ``sxy [F, n]``.
    """
    if dof <= 1:
        raise ValueError(f"degrees of freedom must exceed 1 for the bias correction, got {dof}")
    with np.errstate(invalid="ignore", divide="ignore"):
        coherence = np.abs(sxy) ** 2 / (sxx[:, None] * syy)
    coherence = np.nan_to_num(coherence, nan=0.0)
    log_term = np.log1p(-np.clip(coherence, 0.0, 1.0 - 1e-15))
    raw = -np.trapezoid(log_term, omega, axis=0) / (2.0 * np.pi)
    bias = (omega[-1] - omega[0]) / (2.0 * np.pi * (dof - 1.0))
    return raw, raw - bias


def estimate_info_rate(
    x,
    y,
    *,
    dt: float,
    n_blocks: int = 20,
    method: str = "multitaper",
    time_bandwidth: float = 2.0,
    segments_per_block: int = 4,
    confidence: float = 0.95,
    average_columns: bool = True,
) -> RateEstimate | list[RateEstimate]:
    """Bias-corrected Gaussian-channel rate between ``x [T]`` and ``y [T]`` or ``[T, n]`` (SPEC §5.3).

    With ``y [T, n]`` and ``average_columns`` the result is the average over columns of
    the per-column rates (e.g. the mean single-unit rate), its interval from the jackknife
    of that average; otherwise one estimate per column.  Time in units of tau.

    Resolution limit: the tapers average the cross-spectrum over ``w ± W``,
    ``W = 2 pi NW / T_block`` (rad/tau); where its phase turns with frequency (group
    delay ``d(w)``) the estimated coherence is capped near ``1 - (W d)^2 / 3``, so an
    SNR above about ``3 / (W d)^2`` is underestimated (high-coherence population
    readouts; use fewer, longer blocks there).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    options = dict(
        dt=dt,
        n_blocks=n_blocks,
        method=method,
        time_bandwidth=time_bandwidth,
        segments_per_block=segments_per_block,
    )
    spectra = block_spectra(x, y, **options)
    m = spectra.n_blocks
    totals = [spectra.sxx.sum(0), spectra.syy.sum(0), spectra.sxy.sum(0)]
    raw, corrected = rate_from_spectra(
        spectra.omega, *[t / m for t in totals], dof=m * spectra.dof_per_block, dt=dt
    )
    leave_one_out = np.stack(
        [
            rate_from_spectra(
                spectra.omega,
                (totals[0] - spectra.sxx[j]) / (m - 1),
                (totals[1] - spectra.syy[j]) / (m - 1),
                (totals[2] - spectra.sxy[j]) / (m - 1),
                dof=(m - 1) * spectra.dof_per_block,
                dt=dt,
            )[1]
            for j in range(m)
        ]
    )  # [M, n]
    if average_columns:
        raw, corrected, leave_one_out = (
            raw.mean(keepdims=True),
            corrected.mean(keepdims=True),
            (leave_one_out.mean(axis=1, keepdims=True)),
        )
    standard_error = np.sqrt((m - 1) / m * np.sum((leave_one_out - leave_one_out.mean(0)) ** 2, axis=0))
    half_width = stats.t.ppf(0.5 + confidence / 2.0, m - 1) * standard_error
    estimates = [
        RateEstimate(
            bits_per_tau=float(c * BITS_PER_NAT),
            ci_low=float((c - w) * BITS_PER_NAT),
            ci_high=float((c + w) * BITS_PER_NAT),
            standard_error=float(se * BITS_PER_NAT),
            raw_bits_per_tau=float(r * BITS_PER_NAT),
            dof=float(m * spectra.dof_per_block),
            confidence=confidence,
        )
        for c, w, se, r in zip(corrected, half_width, standard_error, raw, strict=True)
    ]
    return estimates[0] if (average_columns or np.ndim(y) == 1) else estimates


# steps per block of the readout simulation: noise drawn per block, memory O(block N B)
_READOUT_BLOCK = 256


@partial(
    jax.jit,
    static_argnames=(
        "n_steps",
        "n_trials",
        "n_burn_in",
        "dt",
        "sigma",
        "tau_s",
        "signal_std",
        "nonlinearity",
    ),
)
def _simulate_readout(
    params, key, *, n_steps, n_trials, n_burn_in, dt, sigma, tau_s, signal_std, i_ext, nonlinearity
):
    """OU inputs ``eta`` and readouts ``y``, both ``[T, S, n_trials]``, after a burn-in from ``h = 0``.

    :func:`tightbalance.network.simulate` run in blocks of ``_READOUT_BLOCK`` steps: each
    block draws its noise at once, so memory stays ``O(block N B)`` while the loop does not
    pay for a PRNG call per step (about twice as fast on CPU as per-step noise).
    """
    key_signal, key_noise = jax.random.split(key)
    n_total = n_burn_in + n_steps
    n_blocks = -(-n_total // _READOUT_BLOCK)
    n_padded = n_blocks * _READOUT_BLOCK  # steps past n_total are simulated and dropped
    eta = sample_ou(key_signal, n_padded, dt, tau_s, signal_std, (params.n_inputs, n_trials))
    phi = nonlinearity_fn(nonlinearity)

    def block(h, inputs):
        index, signals = inputs  # signals [block, S, B]
        noise = standard_normal(
            jax.random.fold_in(key_noise, index), (_READOUT_BLOCK, n_trials, params.n_units)
        )
        states = simulate(
            params, h, signals, jnp.swapaxes(noise, 1, 2), dt=dt, sigma=sigma, nonlinearity=nonlinearity
        )
        return states[-1], network_readout(params, states, phi)

    blocks = (i_ext + eta).reshape(n_blocks, _READOUT_BLOCK, params.n_inputs, n_trials)
    h0 = jnp.zeros((params.n_units, n_trials), dtype=eta.dtype)
    _, y = jax.lax.scan(block, h0, (jnp.arange(n_blocks), blocks))
    y = y.reshape(n_padded, params.n_inputs, n_trials)
    return eta[n_burn_in:n_total], y[n_burn_in:n_total]


def readout_info_rate(
    params: NetworkParams,
    *,
    dt: float,
    sigma: float,
    tau_s: float,
    signal_std: float,
    i_ext: float,
    nonlinearity: str,
    key: jax.Array,
    n_steps: int = 20_000,
    n_trials: int = 5,
    burn_in: float = 50.0,
    blocks_per_trial: int = 4,
) -> np.ndarray:
    """Bias-corrected rate (bits per tau) between each input channel ``s`` and its readout ``y_s``.

    The network (SPEC §2, input term ``W_in s(t) / S``, readout ``W_out phi(h) / N``) is
    driven by ``S`` independent signals ``s = I_ext + eta`` (exact OU paths) and private
    noise in ``n_trials`` independent trials run side by side (a batch: the time loop,
    not the width, sets the cost on a CPU), each from ``h = 0`` through a burn-in of
    ``burn_in`` (units of tau) and then recorded for ``n_steps / n_trials`` steps.  The
    blocks of the estimator never straddle two trials.  The simulation is one jitted
    program, compiled once per configuration, so repeated calls during training are
    cheap (about 0.04 s for N = 100 and the default 20 000 steps on one CPU core).

    Returns:
      ``[S]`` rates from the multitaper estimator of :func:`estimate_info_rate`.
    """
    if n_trials < 1 or blocks_per_trial < 1 or n_trials * blocks_per_trial < 2:
        raise ValueError(
            "n_trials and blocks_per_trial must be >= 1 with a product >= 2, "
            f"got n_trials={n_trials}, blocks_per_trial={blocks_per_trial}"
        )
    steps_per_trial = (n_steps // n_trials) // blocks_per_trial * blocks_per_trial
    if steps_per_trial < 16 * blocks_per_trial:
        raise ValueError(f"n_steps={n_steps} is too short for {n_trials} trials of {blocks_per_trial} blocks")
    if not (math.isfinite(burn_in) and burn_in >= 0):
        raise ValueError(f"burn_in must be a finite number >= 0, got {burn_in!r}")
    params = NetworkParams(
        *(jnp.asarray(x, dtype=jnp.float32) for x in (params.J, params.w_in, params.w_out, params.bias))
    )
    if params.J.ndim != 2:
        raise ValueError(f"params must be one network (J of shape [N, N]), got J of shape {params.J.shape}")
    eta, y = _simulate_readout(
        params,
        key,
        n_steps=int(steps_per_trial),
        n_trials=int(n_trials),
        n_burn_in=int(math.ceil(burn_in / dt)),
        dt=float(dt),
        sigma=float(sigma),
        tau_s=float(tau_s),
        signal_std=float(signal_std),
        i_ext=float(i_ext),
        nonlinearity=nonlinearity,
    )
    # [T, S, trials] -> [trials * T, S]: trials one after the other, blocks aligned with trials.
    eta = np.asarray(eta, dtype=float).transpose(2, 0, 1).reshape(-1, params.n_inputs)
    y = np.asarray(y, dtype=float).transpose(2, 0, 1).reshape(-1, params.n_inputs)
    n_blocks = n_trials * blocks_per_trial
    return np.array(
        [
            estimate_info_rate(eta[:, s], y[:, s], dt=dt, n_blocks=n_blocks).bits_per_tau
            for s in range(eta.shape[1])
        ]
    )


def checkpoint_info_rates(
    params_stacked: NetworkParams,
    config: TrainConfig,
    keys: Sequence[jax.Array] | jax.Array,
    *,
    n_steps: int | None = None,
) -> np.ndarray:
    """Readout rate (bits per tau) of every seed and input channel of seed-stacked parameters.

    The one place where a training state (``J [K, N, N]``, ``w_in [K, N, S]``, ...; e.g. a
    checkpoint's ``params``) is turned into information rates (SPEC §5): seed ``k`` is
    simulated by :func:`readout_info_rate` with ``keys[k]`` and the model of ``config``
    (``dt``, ``sigma``, ``tau_s``, ``signal_std``, ``i_ext``, ``nonlinearity``).

    Args:
      params_stacked: network parameters with a leading seed axis of length ``K``.
      config: the run's :class:`tightbalance.config.TrainConfig`.
      keys: ``K`` PRNG keys (a sequence, or a key array with leading axis ``K``), one per seed.
      n_steps: simulated steps per seed; default ``config.info_rate_steps`` (which must then
        be > 0: 0 means the rate is switched off).

    Returns:
      ``[K, S]`` rates in bits per tau.
    """
    J = np.asarray(params_stacked.J)
    if J.ndim != 3 or J.shape[1] != J.shape[2]:
        raise ValueError(f"params_stacked.J must be [K, N, N] (stacked over seeds), got shape {J.shape}")
    n_seeds = J.shape[0]
    if len(keys) != n_seeds:
        raise ValueError(f"keys must hold one key per seed (K = {n_seeds}), got {len(keys)}")
    if n_steps is None:
        n_steps = config.info_rate_steps
        if n_steps < 1:
            raise ValueError(
                f"config.info_rate_steps = {n_steps} switches the information rate off; pass n_steps >= 1"
            )
    leaves = [
        np.asarray(x)
        for x in (params_stacked.J, params_stacked.w_in, params_stacked.w_out, params_stacked.bias)
    ]
    return np.stack(
        [
            readout_info_rate(
                NetworkParams(*(x[k] for x in leaves)),
                dt=config.dt,
                sigma=config.sigma,
                tau_s=config.tau_s,
                signal_std=config.signal_std,
                i_ext=config.i_ext,
                nonlinearity=config.nonlinearity,
                key=keys[k],
                n_steps=int(n_steps),
            )
            for k in range(n_seeds)
        ]
    )

"""Coherence-based information-rate estimator (SPEC §5.3) against processes with known rates."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import signal

from tightbalance.analysis.information import (
    block_spectra,
    checkpoint_info_rates,
    estimate_info_rate,
    readout_info_rate,
    welch_degrees_of_freedom,
)
from tightbalance.config import TrainConfig
from tightbalance.network import NetworkParams
from tightbalance.signals import ar1_coefficient, ou_spectrum_sampled
from tightbalance.theory import linear

DT, TAU_S, STD, RATE, NOISE_VAR = 0.05, 1.0, 1.0, 2.0, 0.5


def _synthetic_pair(rng, n_steps):
    """x: exact AR(1) (sampled OU) from its stationary law; y = Euler low-pass of x + white noise."""
    a = ar1_coefficient(DT, TAU_S)
    x = signal.lfilter(
        [STD * math.sqrt(1 - a * a)],
        [1, -a],
        rng.standard_normal(n_steps),
        zi=[a * STD * rng.standard_normal()],
    )[0]
    y = signal.lfilter([DT], [1, -(1 - RATE * DT)], x) + math.sqrt(NOISE_VAR) * rng.standard_normal(n_steps)
    return x, y


def _true_rate_bits():
    return linear.info_rate_numerical(
        transfer=lambda w: linear.transfer(w, RATE, DT),
        signal_spectrum=lambda w: ou_spectrum_sampled(w, DT, TAU_S, STD**2),
        noise_spectrum=lambda w: DT * NOISE_VAR + 0 * w,  # white noise of variance v: S = v dt
        dt=DT,
    )


@pytest.mark.parametrize("method", ["multitaper", "welch"])
def test_estimate_matches_exact_rate(method):
    rng = np.random.default_rng(1)
    x, y = _synthetic_pair(rng, 40_000)
    estimate = estimate_info_rate(x, y, dt=DT, method=method)
    truth = _true_rate_bits()
    # Within 3 jackknife SE plus the smoothing bias of the spectral window (about 3% for
    # Welch's 25-tau Hann segments here, below 0.5% for the 100-tau multitaper blocks).
    smoothing = 0.03 if method == "welch" else 0.005
    assert abs(estimate.bits_per_tau - truth) < 3 * estimate.standard_error + smoothing * truth
    assert estimate.ci_low < estimate.bits_per_tau < estimate.ci_high
    assert estimate.raw_bits_per_tau > estimate.bits_per_tau  # the raw coherence is biased up


def test_independent_signals_give_zero_after_correction():
    rng = np.random.default_rng(2)
    x, _ = _synthetic_pair(rng, 40_000)
    _, y = _synthetic_pair(rng, 40_000)
    estimate = estimate_info_rate(x, y, dt=DT)
    # Raw bias 1/(2 dt (D - 1)) nats/tau (SPEC §5.3); corrected estimate 0 within 3 SE.
    expected_bias_bits = 1.0 / (2 * DT * (estimate.dof - 1)) / math.log(2)
    assert estimate.raw_bits_per_tau == pytest.approx(expected_bias_bits, rel=0.1)
    assert abs(estimate.bits_per_tau) < 3 * estimate.standard_error
    # A time-shifted surrogate (same spectra, no coherence) also gives zero.
    shifted = estimate_info_rate(x, np.roll(_synthetic_pair(rng, 40_000)[1], 20_000), dt=DT)
    assert abs(shifted.bits_per_tau) < 3 * shifted.standard_error


def test_log_coherence_bias_is_exact_for_complex_wishart():
    """E[ln(1 - C_hat)] = ln(1 - C) - 1/(D - 1) for D complex Gaussian degrees of freedom, any C."""
    rng = np.random.default_rng(3)
    dof, n_rep = 6, 200_000
    for coherence in (0.0, 0.5, 0.95):
        z1 = rng.standard_normal((n_rep, dof)) + 1j * rng.standard_normal((n_rep, dof))
        z2 = rng.standard_normal((n_rep, dof)) + 1j * rng.standard_normal((n_rep, dof))
        x, y = z1, math.sqrt(coherence) * z1 + math.sqrt(1 - coherence) * z2
        c_hat = np.abs(np.sum(x * np.conj(y), 1)) ** 2 / (
            np.sum(np.abs(x) ** 2, 1) * np.sum(np.abs(y) ** 2, 1)
        )
        mean_log = np.mean(np.log1p(-c_hat))
        # Monte-Carlo SE of the mean: sd(ln(1 - C_hat)) <= sqrt(2/D) / sqrt(n_rep) ~ 1.3e-3.
        assert mean_log == pytest.approx(math.log1p(-coherence) - 1 / (dof - 1), abs=5e-3)


def test_confidence_interval_coverage():
    """Over 40 independent records the 95% jackknife interval covers the exact rate in most of them."""
    rng = np.random.default_rng(4)
    truth = _true_rate_bits()
    covered = [
        (e.ci_low <= truth <= e.ci_high)
        for e in (estimate_info_rate(*_synthetic_pair(rng, 20_000), dt=DT) for _ in range(40))
    ]
    # Binomial(40, 0.95): P(fewer than 33 covered) < 1%.
    assert sum(covered) >= 33


def test_average_over_columns_and_per_column():
    rng = np.random.default_rng(5)
    x, y1 = _synthetic_pair(rng, 20_000)
    y2 = y1 + rng.standard_normal(20_000)
    per_column = estimate_info_rate(x, np.stack([y1, y2], 1), dt=DT, average_columns=False)
    pooled = estimate_info_rate(x, np.stack([y1, y2], 1), dt=DT)
    assert len(per_column) == 2
    assert per_column[0].bits_per_tau > per_column[1].bits_per_tau  # extra noise lowers the rate
    assert pooled.bits_per_tau == pytest.approx(np.mean([e.bits_per_tau for e in per_column]), rel=1e-12)
    assert pooled.nats_per_tau == pytest.approx(pooled.bits_per_tau * math.log(2), rel=1e-12)


def test_welch_degrees_of_freedom():
    window = signal.get_window("hann", 64)
    assert welch_degrees_of_freedom(window, 64, 10) == pytest.approx(10.0)  # no overlap: independent
    with_overlap = welch_degrees_of_freedom(window, 32, 19)
    assert 10.0 < with_overlap < 19.0  # 50% overlap adds information, less than a full segment each


def test_validation_errors():
    x = np.zeros(1000)
    with pytest.raises(ValueError, match="x must be one-dimensional"):
        estimate_info_rate(np.zeros((10, 2)), np.zeros(10), dt=0.1)
    with pytest.raises(ValueError, match="y must be"):
        estimate_info_rate(x, np.zeros(999), dt=0.1)
    with pytest.raises(ValueError, match="dt must be"):
        estimate_info_rate(x, x, dt=0.0)
    with pytest.raises(ValueError, match="n_blocks"):
        estimate_info_rate(x, x, dt=0.1, n_blocks=1)
    with pytest.raises(ValueError, match="method"):
        block_spectra(x, x, dt=0.1, method="fourier")
    with pytest.raises(ValueError, match="too short"):
        block_spectra(x, x, dt=0.1, n_blocks=100)
    with pytest.raises(ValueError, match="confidence"):
        estimate_info_rate(x, x, dt=0.1, confidence=1.5)


def _linear_readout_network(n_units: int, b: float) -> NetworkParams:
    return NetworkParams(
        J=-b / n_units * jnp.ones((n_units, n_units)),
        w_in=jnp.ones((n_units, 1)),
        w_out=jnp.ones((1, n_units)),
        bias=jnp.zeros(n_units),
    )


def _stack(*networks: NetworkParams) -> NetworkParams:
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *networks)


_READOUT_CONFIG = TrainConfig(
    n_units=50,
    nonlinearity="identity",
    dt=0.05,
    sigma=1.0,
    tau_s=1.0,
    input_intensity=None,
    input_std=0.2,
    i_ext=1.0,
    info_rate_steps=40_000,
)


@pytest.mark.slow
def test_readout_info_rate_of_linear_network_matches_closed_form():
    """Identity network, J = -b/N, readout = population mean: its rate is the grid closed form.

    The input enters unscaled (``W_in s / S = s``), so the SNR is ``N S_eta / sigma^2`` for
    every ``b`` — the closed form of SPEC §5.1 with the input gain 1.  Stacked as two seeds
    for :func:`checkpoint_info_rates`: seed 1 has input gain 2, i.e. the closed form with
    twice the signal std, so the seeds' rates differ and each must land on its own.
    """
    network = _linear_readout_network(50, 4.0)
    stacked = _stack(network, NetworkParams(network.J, 2.0 * network.w_in, network.w_out, network.bias))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    rates = checkpoint_info_rates(stacked, _READOUT_CONFIG, keys)  # n_steps from the config
    assert rates.shape == (2, 1)
    truth = [
        linear.population_rate(1.0, sigma=1.0, signal_std=std, tau_s=1.0, n_units=50, dt=0.05)
        for std in (0.2, 0.4)
    ]  # 0.89 and 2.25 bits/tau
    # Trial-to-trial sd measured at 0.033 bits/tau with 20 000 steps, so ~0.023 here; over 4 keys
    # the deviations were at most 0.04 (gain 1) and 0.075 (gain 2) bits/tau: 0.15 is ~4 sd.
    assert rates[:, 0] == pytest.approx(truth, abs=0.15)
    # Seed 0 is exactly readout_info_rate of the unstacked network with its key.
    model = dict(dt=0.05, sigma=1.0, tau_s=1.0, signal_std=0.2, i_ext=1.0, nonlinearity="identity")
    direct = readout_info_rate(network, key=keys[0], n_steps=40_000, **model)
    np.testing.assert_allclose(rates[0], direct, rtol=1e-6)


def test_checkpoint_info_rates_validation():
    network = _linear_readout_network(10, 1.0)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    with pytest.raises(ValueError, match="stacked over seeds"):
        checkpoint_info_rates(network, _READOUT_CONFIG, keys)
    with pytest.raises(ValueError, match="one key per seed"):
        checkpoint_info_rates(_stack(network, network), _READOUT_CONFIG, keys[:1])
    off = TrainConfig(n_units=10, nonlinearity="identity", info_rate_steps=0)
    with pytest.raises(ValueError, match="info_rate_steps = 0"):
        checkpoint_info_rates(_stack(network, network), off, keys)


def test_readout_info_rate_validation():
    params = _linear_readout_network(10, 1.0)
    model = dict(dt=0.05, sigma=1.0, tau_s=1.0, signal_std=0.2, i_ext=1.0, nonlinearity="identity")
    with pytest.raises(ValueError, match="too short"):
        readout_info_rate(params, key=jax.random.PRNGKey(0), n_steps=50, **model)
    with pytest.raises(ValueError, match="n_trials"):
        readout_info_rate(params, key=jax.random.PRNGKey(0), n_trials=0, **model)
    stacked = NetworkParams(*(jnp.stack([x, x]) for x in (params.J, params.w_in, params.w_out, params.bias)))
    with pytest.raises(ValueError, match="one network"):
        readout_info_rate(stacked, key=jax.random.PRNGKey(0), **model)

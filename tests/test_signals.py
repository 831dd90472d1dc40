"""OU sampler against the closed forms of SPEC §1."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import signal as sps

from tightbalance.signals import (
    ar1_coefficient,
    ou_autocorrelation,
    ou_spectrum,
    ou_spectrum_sampled,
    sample_ou,
    sample_signals,
    standard_normal,
    std_from_intensity,
)

N_PATHS = 20_000


@pytest.mark.parametrize("n_steps", [120, 300])  # matrix form (<= 256 steps) and the sequential scan
def test_stationary_moments_and_autocorrelation(n_steps):
    dt, tau_s, std = 0.2, 1.0, 2.0
    eta = np.asarray(sample_ou(jax.random.key(0), n_steps, dt, tau_s, std, (N_PATHS,)), dtype=float)
    var = std**2
    # mean and variance at the first, a middle and the last step: stationary from step 0.
    # SE of a mean over M paths: std/sqrt(M) = 0.014; of a variance: var*sqrt(2/M) = 0.04. Allow 5 SE.
    for k in (0, n_steps // 2, n_steps - 1):
        assert abs(eta[k].mean()) < 5 * std / math.sqrt(N_PATHS)
        assert abs(eta[k].var() - var) < 5 * var * math.sqrt(2 / N_PATHS)
    # lag autocorrelation, averaged over the first 50 start times (correlated, so use the
    # single-time SE, which is conservative): SE <= var * sqrt((1 + rho^2)/M)
    for lag in (1, 3, 10):
        estimate = np.mean([np.mean(eta[t] * eta[t + lag]) for t in range(50)])
        expected = ou_autocorrelation(lag * dt, tau_s, var)
        assert abs(estimate - expected) < 5 * var * math.sqrt(2 / N_PATHS)


def test_spectrum_of_a_long_path_matches_the_sampled_closed_form():
    dt, tau_s, std = 0.1, 0.5, 1.0
    eta = np.asarray(sample_ou(jax.random.key(1), 2**17, dt, tau_s, std, ()), dtype=float)
    freqs, psd_one_sided = sps.welch(eta, fs=1 / dt, nperseg=512)
    omega = 2 * np.pi * freqs[1:-1]
    # scipy's one-sided density per Hz equals 2 * (two-sided per unit time) / (2 pi) * 2 pi = 2 S(w)
    estimate = psd_one_sided[1:-1] / 2
    theory = ou_spectrum_sampled(omega, dt, tau_s, std**2)
    # ~512 Welch segments (with overlap ~ 2*256 effective): relative SE ~ 1/sqrt(256) ~ 6% per bin;
    # averaged over bins in 8 bands the relative error of each band mean must stay below 5%.
    ratio = estimate / theory
    for band in np.array_split(ratio, 8):
        assert abs(band.mean() - 1) < 0.05


def test_sampled_spectrum_integrates_to_variance_and_tends_to_continuous():
    var, tau_s = 0.3, 0.7
    for dt in (0.5, 0.1):
        omega = np.linspace(-np.pi / dt, np.pi / dt, 200_001)
        total = np.trapezoid(ou_spectrum_sampled(omega, dt, tau_s, var), omega) / (2 * np.pi)
        assert total == pytest.approx(var, rel=1e-6)
    omega = np.linspace(0, 3, 7)
    assert ou_spectrum_sampled(omega, 1e-4, tau_s, var) == pytest.approx(
        ou_spectrum(omega, tau_s, var), rel=1e-3
    )
    omega = np.linspace(-2000, 2000, 2_000_001)
    assert np.trapezoid(ou_spectrum(omega, tau_s, var), omega) / (2 * np.pi) == pytest.approx(var, rel=2e-3)


def test_white_input_when_tau_s_is_zero():
    x = np.asarray(sample_ou(jax.random.key(2), 50, 0.2, 0.0, 1.5, (N_PATHS,)), dtype=float)
    assert abs(x.var() - 2.25) < 5 * 2.25 * math.sqrt(2 / x.size)
    assert abs(np.mean(x[1:] * x[:-1])) < 5 * 2.25 / math.sqrt(x[1:].size)
    assert ar1_coefficient(0.2, 0.0) == 0.0


def test_intensity_parameterisation_and_signal_batches():
    assert std_from_intensity(0.1, 0.1) == pytest.approx(math.sqrt(0.01 / 0.2))
    s = np.asarray(sample_signals(jax.random.key(3), 50, 3, 4000, 0.2, 0.1, 0.5, 1.0))
    assert s.shape == (50, 3, 4000)
    assert abs(s.mean() - 1.0) < 5 * 0.5 / math.sqrt(s[0].size)
    # channels are independent: cross-correlation at equal time ~ 0 (SE = var/sqrt(M))
    assert abs(np.mean((s[:, 0] - 1) * (s[:, 1] - 1))) < 5 * 0.25 / math.sqrt(4000)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: sample_ou(jax.random.key(0), 10, 0.0, 1.0, 1.0), "dt"),
        (lambda: sample_ou(jax.random.key(0), 10, 0.1, -1.0, 1.0), "tau_s"),
        (lambda: sample_ou(jax.random.key(0), 10, 0.1, 1.0, -1.0), "std"),
        (lambda: sample_ou(jax.random.key(0), 0, 0.1, 1.0, 1.0), "n_steps"),
        (lambda: std_from_intensity(0.1, 0.0), "tau_s"),
        (lambda: sample_ou(jax.random.key(0), 10, float("nan"), 1.0, 1.0), "dt"),
    ],
)
def test_invalid_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("size", [1, 7, 20_000])
def test_standard_normal_is_jax_normal_of_the_classic_threefry_stream(size):
    """Bit for bit the numbers ``jax.random.normal`` draws with non-partitionable threefry."""
    key = jax.random.fold_in(jax.random.key(5), size)
    ours = standard_normal(key, (size,))
    with jax.threefry_partitionable(False):
        reference = jax.random.normal(key, (size,))
    assert ours.dtype == jnp.float32 and np.array_equal(ours, reference)
    jitted = jax.jit(lambda k: standard_normal(k, (size,)))(key)
    assert np.array_equal(jitted, reference)


def test_standard_normal_moments_and_shape():
    x = np.asarray(standard_normal(jax.random.key(9), (40, 50, 100)), dtype=float)
    assert x.shape == (40, 50, 100)
    n = x.size
    # SE: mean 1/sqrt(n); variance sqrt(2/n); fourth moment sqrt(96/n) (normal: 3)
    assert abs(x.mean()) < 5 / math.sqrt(n)
    assert abs(x.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs((x**4).mean() - 3) < 5 * math.sqrt(96 / n)
    # neighbouring numbers are independent: lag-1 correlation within 5 SE of 0
    flat = x.ravel()
    assert abs(np.mean(flat[1:] * flat[:-1])) < 5 / math.sqrt(n)


def test_standard_normal_falls_back_for_other_keys_and_dtypes():
    philox = jax.random.key(2, impl="philox2x32")
    assert np.array_equal(standard_normal(philox, (3, 4)), jax.random.normal(philox, (12,)).reshape(3, 4))
    with jax.enable_x64(True):
        key = jax.random.key(2)
        x = standard_normal(key, (6,), dtype=jnp.float64)
        assert x.dtype == jnp.float64 and np.array_equal(x, jax.random.normal(key, (6,), jnp.float64))

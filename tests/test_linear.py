"""Closed forms of the linear network's information rate (SPEC §5.1) against independent truths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tightbalance.signals import ou_spectrum, ou_spectrum_sampled
from tightbalance.theory import linear

# (b, sigma, signal_std, tau_s, n_units): small and large b, slow and fast inputs, N = 1 .. inf.
PARAMETERS = [
    (0.0, 1.0, 0.5, 1.0, math.inf),
    (0.3, 1.0, 0.5, 1.0, math.inf),
    (1.0, 0.5, 0.3, 0.1, 100),
    (4.0, 1.0, 0.05, 1.0, 1000),
    (8.0, 2.0, 1.0, 5.0, 10),
    (32.0, 1.0, 0.05, 1.0, 1000),
    (2.0, 1.0, 0.7, 0.3, 1),
    (100.0, 0.3, 0.2, 0.05, 50),
]


def _model(b, sigma, signal_std, tau_s, n_units):
    return dict(sigma=sigma, signal_std=signal_std, tau_s=tau_s, n_units=n_units)


@pytest.mark.parametrize("b, sigma, signal_std, tau_s, n_units", PARAMETERS)
def test_unit_closed_form_equals_numerical_integral(b, sigma, signal_std, tau_s, n_units):
    model = _model(b, sigma, signal_std, tau_s, n_units)
    closed = linear.unit_rate(b, unit="nats", **model)
    numerical = linear.info_rate_numerical(lambda w: linear.unit_snr(w, b, **model), unit="nats")
    assert closed == pytest.approx(numerical, rel=1e-6, abs=1e-14)


@pytest.mark.parametrize("b, sigma, signal_std, tau_s, n_units", [p for p in PARAMETERS if p[4] < math.inf])
@pytest.mark.parametrize("dt", [None, 0.01, 0.05])
def test_population_closed_form_equals_numerical_integral(b, sigma, signal_std, tau_s, n_units, dt):
    model = _model(b, sigma, signal_std, tau_s, n_units)
    if dt is not None and dt * (1 + b) >= 2:
        pytest.skip("unstable Euler map")
    closed = linear.population_rate(b, unit="nats", dt=dt, **model)
    numerical = linear.info_rate_numerical(
        lambda w: linear.population_snr(w, b, dt=dt, **model), dt=dt, unit="nats"
    )
    assert closed == pytest.approx(numerical, rel=1e-6, abs=1e-14)


def _matrix_snr(omega, b, sigma, signal_std, tau_s, n_units):
    """SNR of unit 0 from the full transfer matrix ``M = (i w + 1 - J)^-1``, ``J = -b/N``.

    Independent of the module's factorisation: signal ``b^2 S_eta |sum_j M_0j|^2``,
    noise ``sigma^2 sum_j |M_0j|^2``.
    """
    J = -b / n_units * np.ones((n_units, n_units))
    out = []
    for w in np.atleast_1d(omega):
        M = np.linalg.inv((1j * w + 1.0) * np.eye(n_units) - J)
        signal = b**2 * ou_spectrum(w, tau_s, signal_std**2) * abs(M[0].sum()) ** 2
        noise = sigma**2 * np.sum(np.abs(M[0]) ** 2)
        out.append(signal / noise)
    return np.array(out)


@pytest.mark.parametrize("n_units", [1, 2, 5])
def test_finite_n_unit_snr_matches_transfer_matrix(n_units):
    omega = np.array([0.0, 0.3, 1.0, 4.0, 30.0])
    model = dict(sigma=0.7, signal_std=0.4, tau_s=0.5)
    expected = _matrix_snr(omega, 3.0, n_units=n_units, **model)
    np.testing.assert_allclose(linear.unit_snr(omega, 3.0, n_units=n_units, **model), expected, rtol=1e-12)


def test_single_unit_network_unit_equals_population():
    model = dict(sigma=1.0, signal_std=0.6, tau_s=0.4, n_units=1)
    assert linear.unit_rate(3.0, **model) == pytest.approx(linear.population_rate(3.0, **model), rel=1e-12)


def test_spectra_interface_equals_snr_interface():
    b, dt, model = 4.0, 0.02, dict(sigma=1.0, signal_std=0.3, tau_s=1.0)
    via_spectra = linear.info_rate_numerical(
        transfer=lambda w: b * linear.transfer(w, 1 + b, dt),
        signal_spectrum=lambda w: ou_spectrum_sampled(w, dt, 1.0, 0.09),
        noise_spectrum=lambda w: np.abs(linear.transfer(w, 1.0, dt)) ** 2,
        dt=dt,
    )
    assert via_spectra == pytest.approx(linear.unit_rate(b, dt=dt, **model), rel=1e-9)


def test_grid_rates_tend_to_continuous_as_dt_vanishes():
    model = dict(sigma=1.0, signal_std=0.3, tau_s=1.0, n_units=100)
    for rate in (linear.unit_rate, linear.population_rate):
        continuous = rate(8.0, **model)
        errors = [abs(rate(8.0, dt=dt, **model) - continuous) for dt in (0.02, 0.005, 0.00125)]
        assert errors[0] > errors[1] > errors[2]
        assert errors[2] < 1e-2 * continuous


def test_bits_and_nats():
    model = dict(sigma=1.0, signal_std=0.3, tau_s=1.0)
    assert linear.unit_rate(4.0, unit="bits", **model) == pytest.approx(
        linear.unit_rate(4.0, unit="nats", **model) / math.log(2.0), rel=1e-14
    )


def test_small_b_limit():
    model = dict(sigma=0.8, signal_std=0.5)
    for b in (1e-2, 1e-3):
        ratio = linear.unit_rate(b, tau_s=1.0, **model) / linear.unit_rate_small_b(b, **model)
        assert ratio == pytest.approx(1.0, abs=5 * b)  # corrections O(b) from a = 1 + b
        ratio = linear.population_rate(b, tau_s=1.0, n_units=10, **model) / linear.population_rate_small_b(
            b, n_units=10, **model
        )
        assert ratio == pytest.approx(1.0, abs=50 * b**2 + 1e-9)  # corrections O(N K) = O(b^2)


def test_large_b_linear_growth():
    model = dict(sigma=1.0, signal_std=0.2, tau_s=0.5)
    for n_units in (math.inf, 20):
        slope = linear.unit_slope_large_b(n_units=n_units, **model)
        assert linear.unit_rate(1e5, n_units=n_units, **model) / 1e5 == pytest.approx(slope, rel=1e-3)
    slope = linear.population_slope_large_b(n_units=20, **model)
    assert linear.population_rate(1e5, n_units=20, **model) / 1e5 == pytest.approx(slope, rel=1e-3)
    # Increments between successive large b approach the slope: growth is linear, not logarithmic.
    rates = [linear.unit_rate(b, **model) for b in (100.0, 200.0, 300.0)]
    assert (rates[2] - rates[1]) / 100 == pytest.approx(linear.unit_slope_large_b(**model), rel=2e-2)


def test_validation_errors():
    model = dict(sigma=1.0, signal_std=0.3, tau_s=1.0)
    with pytest.raises(ValueError, match="sigma"):
        linear.unit_rate(1.0, sigma=-1.0, signal_std=0.3, tau_s=1.0)
    with pytest.raises(ValueError, match="tau_s"):
        linear.unit_rate(1.0, sigma=1.0, signal_std=0.3, tau_s=0.0)
    with pytest.raises(ValueError, match="b must"):
        linear.unit_rate(-1.0, **model)
    with pytest.raises(ValueError, match="n_units"):
        linear.population_rate(1.0, n_units=0, **model)
    with pytest.raises(ValueError, match="n_units must be finite"):
        linear.population_rate(1.0, n_units=math.inf, **model)
    with pytest.raises(ValueError, match="dt"):
        linear.unit_rate(1.0, dt=0.0, **model)
    with pytest.raises(ValueError, match="unit must be"):
        linear.unit_rate(1.0, unit="bytes", **model)
    with pytest.raises(ValueError, match="give snr"):
        linear.info_rate_numerical(transfer=lambda w: w)
    with pytest.raises(ValueError, match="leading coefficient"):
        linear.rate_from_rational_snr([2.0, 1.0], [1.0, 1.0])

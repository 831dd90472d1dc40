"""Tests of the dynamic mean-field theory (SPEC §6): Gaussian expectations, stationary DMFT."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from tightbalance.theory.gaussian import (
    gaussian_mean,
    gaussian_second_moment,
    gaussian_slope_square,
    product_mean,
)
from tightbalance.theory.meanfield import (
    chaos_threshold,
    input_path,
    simulate_population,
    stationary_dmft,
    stationary_moments,
    time_resolved_dmft,
)


def _quad_expectation(function, mu, var):
    s = math.sqrt(var)
    value, _ = integrate.quad(
        lambda z: function(mu + s * z) * stats.norm.pdf(z), -12, 12, limit=200, points=[-mu / s]
    )
    return value


# --- Gaussian expectations -------------------------------------------------------------------


@pytest.mark.parametrize("mu,var", [(0.8, 0.35), (-0.5, 0.2), (0.0, 1.0), (2.0, 0.01)])
def test_one_dimensional_moments_match_quadrature(mu, var):
    relu = lambda h: max(h, 0.0)  # noqa: E731
    assert gaussian_mean("relu", mu, var) == pytest.approx(_quad_expectation(relu, mu, var), rel=1e-9)
    assert gaussian_second_moment("relu", mu, var) == pytest.approx(
        _quad_expectation(lambda h: relu(h) ** 2, mu, var), rel=1e-9
    )
    assert gaussian_slope_square("relu", mu, var) == pytest.approx(stats.norm.cdf(mu / math.sqrt(var)))
    # tanh by 80-point Gauss-Hermite: below 1e-9 for variances up to 1 (poles at +-i pi/2).
    assert gaussian_mean("tanh", mu, var) == pytest.approx(_quad_expectation(np.tanh, mu, var), abs=1e-9)
    assert gaussian_second_moment("tanh", mu, var) == pytest.approx(
        _quad_expectation(lambda h: np.tanh(h) ** 2, mu, var), abs=1e-9
    )


def test_zero_variance_limit_is_the_function_itself():
    assert gaussian_mean("relu", [-1.0, 0.7], 0.0) == pytest.approx([0.0, 0.7])
    assert product_mean("relu", 0.7, 0.3, 0.0, 0.0, 0.0) == pytest.approx(0.21)


@pytest.mark.parametrize(
    "m1,m2,c11,c22,c12",
    [
        (0.3, 0.5, 0.4, 0.3, 0.2),
        (0.8, 0.7, 0.35, 0.3, 0.3),
        (-0.2, 0.1, 0.5, 0.2, -0.1),
        (1.0, -1.0, 1.0, 2.0, 1.2),
    ],
)
def test_product_mean_matches_two_dimensional_quadrature(m1, m2, c11, c22, c12):
    law = stats.multivariate_normal([m1, m2], [[c11, c12], [c12, c22]])
    s1, s2 = math.sqrt(c11), math.sqrt(c22)
    # relu: the integrand vanishes outside the positive quadrant, smooth inside.
    relu_reference, _ = integrate.dblquad(
        lambda y, x: x * y * law.pdf([x, y]),
        0.0,
        max(m1 + 9 * s1, 0.0),
        0.0,
        max(m2 + 9 * s2, 0.0),
        epsabs=1e-9,
    )
    tanh_reference, _ = integrate.dblquad(
        lambda y, x: np.tanh(x) * np.tanh(y) * law.pdf([x, y]),
        m1 - 9 * s1,
        m1 + 9 * s1,
        m2 - 9 * s2,
        m2 + 9 * s2,
        epsabs=1e-9,
    )
    # Both quadratures are accurate to ~1e-8 here.
    assert product_mean("relu", m1, m2, c11, c22, c12) == pytest.approx(relu_reference, abs=1e-7)
    assert product_mean("tanh", m1, m2, c11, c22, c12) == pytest.approx(tanh_reference, abs=1e-7)


def test_product_mean_limits():
    # Equal-time: the second moment; uncorrelated: the product of means; identity exact.
    assert product_mean("relu", 0.4, 0.4, 0.3, 0.3, 0.3) == pytest.approx(
        gaussian_second_moment("relu", 0.4, 0.3)
    )
    nu1, nu2 = gaussian_mean("relu", 0.4, 0.3), gaussian_mean("relu", -0.2, 0.5)
    assert product_mean("relu", 0.4, -0.2, 0.3, 0.5, 0.0) == pytest.approx(nu1 * nu2, rel=1e-10)
    assert product_mean("identity", 0.4, -0.2, 0.3, 0.5, 0.1) == pytest.approx(0.4 * -0.2 + 0.1)


# --- Stationary DMFT: closed forms ----------------------------------------------------------


@pytest.mark.parametrize("b,i0", [(4.0, 1.0), (1.0, 0.2), (16.0, 1.0)])
def test_g_zero_is_the_ornstein_uhlenbeck_closed_form(b, i0):
    sigma = 0.5
    theory = stationary_dmft(b, 0.0, sigma, i0)
    np.testing.assert_allclose(theory.c, sigma**2 / 2 * np.exp(-theory.tau), rtol=1e-12, atol=1e-15)
    assert theory.c_static == 0.0
    # mean: the 1-D self-consistency m = b I0 - b E[relu(m + sigma/sqrt(2) z)], solved here by quadrature.
    relu = lambda h: max(h, 0.0)  # noqa: E731
    m = optimize.brentq(
        lambda m: m - b * i0 + b * _quad_expectation(relu, m, sigma**2 / 2), -10, 10, xtol=1e-14
    )
    assert theory.mu0 == pytest.approx(m, abs=1e-9)
    assert theory.nu0 == pytest.approx(_quad_expectation(relu, m, sigma**2 / 2), abs=1e-9)
    assert theory.rate_slope == pytest.approx(stats.norm.cdf(m / (sigma / math.sqrt(2))), rel=1e-5)
    omega = np.array([0.0, 0.5, 3.0, 40.0])
    np.testing.assert_allclose(theory.noise_spectrum(omega), sigma**2 / (1 + omega**2), rtol=1e-12)


@pytest.mark.parametrize("g", [0.3, 0.8])
def test_identity_network_closed_form(g):
    b, sigma, i0 = 4.0, 0.5, 1.0
    theory = stationary_dmft(b, g, sigma, i0, "identity")
    m = b * i0 / (1 + b)
    k = math.sqrt(1 - g**2)
    plateau = g**2 * m**2 / (1 - g**2)
    assert theory.mu0 == pytest.approx(m, rel=1e-10)
    assert theory.c_static == pytest.approx(plateau, rel=1e-9)
    assert theory.decay_rate == pytest.approx(k, rel=1e-6)
    expected = plateau + sigma**2 / (2 * k) * np.exp(-k * theory.tau)
    np.testing.assert_allclose(theory.c, expected, rtol=1e-7)
    omega = np.array([0.0, 0.7, 5.0, 60.0])
    # Fourier transform of sigma^2/(2k) e^{-k|tau|}; numerical transform of q to ~1e-5.
    np.testing.assert_allclose(theory.noise_spectrum(omega), sigma**2 / (k**2 + omega**2), rtol=1e-4)


def test_noise_spectrum_integrates_to_temporal_variance():
    theory = stationary_dmft(4.0, 0.5, 0.5, 1.0)
    cutoff = 400.0
    omega = np.linspace(0.0, cutoff, 8001)
    # (1/2 pi) int S dw over the real line = c(0) - c_static; beyond the cutoff S ~ sigma^2 / w^2,
    # which carries sigma^2 / (pi cutoff); the trapezoid error is ~1e-6.
    power = np.trapezoid(theory.noise_spectrum(omega), omega) / math.pi + theory.sigma**2 / (math.pi * cutoff)
    assert power == pytest.approx(theory.c0 - theory.c_static, abs=1e-5)


def test_autocorrelation_obeys_the_second_order_equation_and_the_jump():
    theory = stationary_dmft(4.0, 0.5, 0.5, 1.0, tau_max=30.0, dtau=0.005)
    tau, c = theory.tau, theory.c
    # SPEC §6 plateau: about 0.2 of 0.35 at I0 = 1, g = 0.5, b = 4 (sigma = 0.5).
    assert theory.c0 == pytest.approx(0.35, abs=0.01)
    assert theory.c_static == pytest.approx(0.2, abs=0.01)
    assert c[-1] == pytest.approx(theory.c_static, abs=1e-8)
    assert (c[1] - c[0]) / theory.tau[1] == pytest.approx(-(0.5**2) / 2, rel=0.01)
    second = (c[2:] - 2 * c[1:-1] + c[:-2]) / (tau[1] ** 2)
    q = product_mean("relu", theory.mu0, theory.mu0, theory.c0, theory.c0, c[1:-1])
    np.testing.assert_allclose(second, c[1:-1] - theory.g**2 * q, atol=2e-5)
    # interpolation and the plateau beyond tau_max
    assert theory.autocorrelation(-1.0) == pytest.approx(np.interp(1.0, tau, c))
    assert theory.autocorrelation(1e3) == pytest.approx(theory.c_static, abs=1e-12)


def test_noise_free_below_threshold_is_static_and_above_is_chaotic():
    static = stationary_dmft(4.0, 1.0, 0.0, 1.0)
    assert static.c0 == static.c_static
    np.testing.assert_array_equal(static.c, static.c0)
    assert static.c0 == pytest.approx(1.0 * gaussian_second_moment("relu", static.mu0, static.c0), rel=1e-10)
    chaotic = stationary_dmft(4.0, 1.6, 0.0, 1.0, tau_max=80.0)
    assert chaotic.c0 > chaotic.c_static
    # c'(0) = 0 without noise; c'' = c - g^2 q < 0 at tau = 0 (the particle starts at rest)
    slope = (chaotic.c[1] - chaotic.c[0]) / chaotic.tau[1]
    assert abs(slope) < 0.05 * (chaotic.c0 - chaotic.c_static)
    assert np.all(np.diff(chaotic.c) <= 1e-12)
    assert chaotic.c[-1] == pytest.approx(chaotic.c_static, rel=1e-4)


def test_chaos_thresholds():
    # relu, sigma = 0: homogeneity gives x = m/sqrt(c0) = 0 at threshold, so g_c = sqrt(2) for all b.
    assert chaos_threshold(4.0, 1.0) == pytest.approx(math.sqrt(2), rel=1e-8)
    assert chaos_threshold(16.0, 0.2) == pytest.approx(math.sqrt(2), rel=1e-8)
    # tanh without mean input: the classic g_c = 1.
    assert chaos_threshold(4.0, 0.0, nonlinearity="tanh") == pytest.approx(1.0, rel=1e-8)


@pytest.mark.slow
def test_chaotic_branch_is_found_just_above_the_threshold_and_joins_the_fixed_point():
    """relu, sigma = 0, b = 4, I0 = 1: the chaotic solution exists for every g > sqrt(2).

    Just above threshold the plateau lies within 1e-4 c0 of c0 (it was missed by the old plateau
    grid).  Checks: the solution obeys c'' = c - g^2 q (second differences on a 0.05 grid: the ODE
    solver's rtol 1e-10 of c0 ~ 7 gives at most 4 * 7e-10 / 0.05^2 ~ 1e-6, against |c''| ~ 1e-4 at
    g = 1.42), the plateau is stable (decay rate > 0), and
    (c0 - c_static)/c0 falls monotonically towards 0 as g decreases to sqrt(2).
    """
    g_values = [1.47, 1.45, 1.43, 1.42, 1.4145]
    relative_spread = []
    for g in g_values:
        _, _, c0, c_static = stationary_moments(4.0, g, 0.0, 1.0)
        assert c0 > c_static
        relative_spread.append((c0 - c_static) / c0)
    assert np.all(np.diff(relative_spread) < 0)
    assert relative_spread[-1] < 1e-4
    for g in (1.42, 1.45):
        theory = stationary_dmft(4.0, g, 0.0, 1.0, tau_max=60.0, dtau=0.05)
        assert theory.decay_rate > 0.0
        tau, c = theory.tau, theory.c
        second = (c[2:] - 2 * c[1:-1] + c[:-2]) / (tau[1] ** 2)
        q = product_mean("relu", theory.mu0, theory.mu0, theory.c0, theory.c0, c[1:-1])
        np.testing.assert_allclose(second, c[1:-1] - theory.g**2 * q, rtol=0, atol=3e-6)
        assert np.all(np.diff(c) <= 1e-12)


def test_rate_slope_without_balance_is_the_derivative_of_the_rate():
    """b = 0, g = 0 (tanh): nu(mu) = E[tanh(mu + sqrt(sigma^2/2) z)], d nu/d mu = E[phi'] (not E[phi'^2]).

    Central difference of the quadrature rate with step 1e-4: truncation ~1e-9, quadrature ~1e-10.
    """
    sigma = 0.8
    var = sigma**2 / 2

    def rate(mu: float) -> float:
        return _quad_expectation(np.tanh, mu, var)

    step = 1e-4
    expected = (rate(step) - rate(-step)) / (2 * step)
    theory = stationary_dmft(0.0, 0.0, sigma, 1.0, nonlinearity="tanh")
    assert theory.rate_slope == pytest.approx(expected, abs=1e-7)
    assert theory.rate_slope != pytest.approx(gaussian_slope_square("tanh", 0.0, var), abs=1e-3)


def test_stationary_moments_agree_with_full_solution():
    full = stationary_dmft(1.0, 0.5, 0.5, 0.2)
    assert stationary_moments(1.0, 0.5, 0.5, 0.2) == pytest.approx(
        (full.mu0, full.nu0, full.c0, full.c_static)
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"b": -1.0}, "b must be"),
        ({"g": -0.1}, "g must be"),
        ({"sigma": float("nan")}, "sigma must be"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity must be one of"),
        ({"dtau": 0.0}, "dtau must"),
        ({"g": 1.2, "nonlinearity": "identity"}, "diverges"),
    ],
)
def test_invalid_parameters_are_rejected(kwargs, match):
    params = {"b": 4.0, "g": 0.5, "sigma": 0.5, "i0": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        stationary_dmft(**params)


# --- Stationary DMFT vs simulation ----------------------------------------------------------


@pytest.mark.slow
def test_stationary_theory_matches_simulation():
    b, g, sigma, i0, dt = 4.0, 0.5, 0.5, 1.0, 0.02
    theory = stationary_dmft(b, g, sigma, i0)
    record = simulate_population(
        np.full(int(30 / dt), b * i0),
        dt,
        b,
        g,
        sigma,
        n_units=1000,
        n_realisations=3,
        seed=3,
        record_units=100,
    )
    # Sampling error: the quenched part (0.2) of the across-unit variance from N = 1000 units has
    # relative std sqrt(2/N) = 4.5%, i.e. 2.6% of c0 per realisation, 1.5% for 3; Euler bias at
    # dt = 0.02 is +0.4%.  Tolerance 5% (about 3 standard errors).  The population mean is held
    # by the balance: fluctuations ~0.003.
    assert record.c_tt.mean() == pytest.approx(theory.c0, rel=0.05)
    assert record.m.mean() == pytest.approx(theory.mu0, abs=0.01)
    assert record.nu.mean() == pytest.approx(theory.nu0, abs=0.01)
    # autocorrelation of single units about the population mean at lag 1 (plateau included)
    delta = record.h_units - record.m[..., None]
    lag = int(round(1.0 / dt))
    c_lag = np.mean(delta[:, lag:] * delta[:, :-lag])
    assert c_lag == pytest.approx(theory.autocorrelation(1.0), rel=0.1)


# --- Time-resolved DMFT ---------------------------------------------------------------------


@pytest.mark.slow
def test_constant_input_stays_stationary_and_approaches_the_continuous_solution():
    b, g, sigma, i0 = 4.0, 0.5, 0.5, 1.0
    continuous = stationary_dmft(b, g, sigma, i0)
    biases = []
    for dt in (0.05, 0.025):
        solution = time_resolved_dmft(np.full(100, b * i0), dt, b, g, sigma, bandwidth=12.0, keep_band=True)
        # after the warm-up the discrete scheme sits at its own fixed point
        assert np.ptp(solution.c_tt) < 1e-9 and np.ptp(solution.m) < 1e-9
        biases.append(solution.c_tt[-1] - continuous.c0)
        assert solution.m[-1] == pytest.approx(continuous.mu0, abs=2e-3)
        lags = dt * np.arange(solution.bandwidth + 1)
        np.testing.assert_allclose(
            solution.c_band[-1], continuous.autocorrelation(lags), atol=0.02 * continuous.c0
        )
    # Euler time-step bias is first order in dt: halving dt halves it (to ~10%).
    assert 0 < biases[1] < biases[0] < 0.02 * continuous.c0
    assert biases[0] / biases[1] == pytest.approx(2.0, rel=0.1)


def test_g_zero_and_identity_closed_forms_under_a_time_varying_input():
    dt, b, sigma = 0.05, 3.0, 0.5
    u = input_path("sine", 400, dt, b=b, i0=1.0, amplitude=0.5, tau_s=1.5)
    solution = time_resolved_dmft(u, dt, b, 0.0, sigma, "identity", bandwidth=5.0)
    # the mean of a linear network obeys the linear recursion exactly; the variance is that of
    # Euler-sampled OU noise, sigma^2 / (2 - dt), whatever the input
    m = np.empty(u.size + 1)
    m[0] = u[0] / (1 + b)
    for k in range(u.size):
        m[k + 1] = (1 - dt) * m[k] + dt * (-b * m[k] + u[k])
    np.testing.assert_allclose(solution.m, m, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(solution.c_tt, sigma**2 / (2 - dt), rtol=1e-12)
    np.testing.assert_allclose(solution.nu, solution.m, rtol=1e-12)


@pytest.mark.slow
def test_band_width_convergence_with_the_plateau_carried():
    dt, b, g, sigma = 0.05, 4.0, 0.5, 0.5
    u = input_path("ou", 300, dt, b=b, i0=1.0, amplitude=0.3, tau_s=1.0, seed=1)
    c_tt = {
        width: time_resolved_dmft(u, dt, b, g, sigma, bandwidth=width).c_tt for width in (5.0, 10.0, 15.0)
    }
    error_short = np.max(np.abs(c_tt[5.0] / c_tt[15.0] - 1))
    error_long = np.max(np.abs(c_tt[10.0] / c_tt[15.0] - 1))
    # c approaches its plateau as e^{-0.89 lag}: with the plateau carried beyond the band the
    # error of c(t,t) falls roughly like that exponential (measured: 2e-3 at 5 tau, 1e-5 at 10 tau).
    assert error_short < 5e-3
    assert error_long < 0.05 * error_short


def test_input_paths_and_invalid_arguments():
    dt = 0.01
    step = input_path("step", 400, dt, b=2.0, i0=1.0, amplitude=0.5)
    np.testing.assert_allclose(step[:100], 2.0)
    np.testing.assert_allclose(step[100:], 3.0)
    ou = input_path("ou", 20000, dt, b=1.0, i0=0.0, amplitude=1.0, tau_s=0.2, seed=3)
    # 20000 steps of an OU process with tau_s = 0.2: ~500 correlation times, std error of the std ~4%
    assert np.std(ou) == pytest.approx(1.0, rel=0.15)
    with pytest.raises(ValueError, match="input kind must be one of"):
        input_path("square", 10, dt, b=1.0, i0=1.0, amplitude=1.0)
    with pytest.raises(ValueError, match="dt must lie in"):
        time_resolved_dmft(np.ones(10), 1.5, 4.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="bandwidth must cover"):
        time_resolved_dmft(np.ones(10), 0.1, 4.0, 0.5, 0.5, bandwidth=0.1)
    with pytest.raises(ValueError, match="u must be"):
        time_resolved_dmft(np.ones((2, 3)), 0.1, 4.0, 0.5, 0.5)


@pytest.mark.slow
def test_time_resolved_theory_matches_simulation_under_an_ou_input():
    dt, b, g, sigma = 0.05, 4.0, 0.5, 0.5
    u = input_path("ou", 400, dt, b=b, i0=1.0, amplitude=0.3, tau_s=1.0, seed=2)
    theory = time_resolved_dmft(u, dt, b, g, sigma, bandwidth=8.0)
    record = simulate_population(u, dt, b, g, sigma, n_units=1000, n_realisations=2, seed=4)
    nu_sim, c_sim = record.nu.mean(axis=0), record.c_tt.mean(axis=0)
    # nu: finite-N fluctuations of the population rate ~ sqrt(c/N)/(1 + b nu') ~ 0.004 << std(nu) ~ 0.2.
    assert np.sqrt(np.mean((nu_sim - theory.nu) ** 2)) < 0.05 * np.std(theory.nu)
    # c(t,t): the quenched part carries 2.6% sampling error per realisation of N = 1000
    # (correlated over time); mean over time within 6%, every time point within 15%.
    assert np.mean(c_sim) == pytest.approx(np.mean(theory.c_tt), rel=0.06)
    assert np.max(np.abs(c_sim / theory.c_tt - 1)) < 0.15


# --- the dmft command ---------------------------------------------------------------------------


def _dmft_parser():
    import argparse

    from tightbalance.commands import dmft as command

    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    command.register(subparsers)
    return parser, subparsers.choices["dmft"]


@pytest.mark.parametrize(
    "options,match",
    [
        (("--dt", "nan"), r"--dt must be a finite number in \(0, 1\)"),
        (("--dt", "1.5"), r"--dt must be a finite number in \(0, 1\)"),
        (("--duration", "1e-9"), "--duration must be a finite number >= --dt"),
        (("--duration", "inf"), "--duration must be a finite number"),
    ],
)
def test_dmft_command_rejects_invalid_options(options, match, tmp_path):
    parser, _ = _dmft_parser()
    args = parser.parse_args(["dmft", "--out", str(tmp_path / "out"), *options])
    with pytest.raises(ValueError, match=match):
        args.func(args)
    assert not (tmp_path / "out").exists()


def test_dmft_command_prints_the_files_it_writes_and_documents_every_option(tmp_path, capsys):
    parser, command_parser = _dmft_parser()
    text = command_parser.format_help()
    assert "``" not in text and "(default: 0.05)" in text
    assert all(action.help for action in command_parser._actions)
    args = parser.parse_args(
        ["dmft", "--out", str(tmp_path), "--duration", "2", "--dt", "0.1", "--bandwidth", "2"]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out.split()
    for name in (
        "dmft.csv",
        "dmft_rate.png",
        "dmft_variance.png",
        "dmft_autocorrelation.png",
        "dmft_config.toml",
    ):
        assert str(tmp_path / name) in printed and (tmp_path / name).exists()
    record = tomllib.loads((tmp_path / "dmft_config.toml").read_text())
    assert record["dmft"]["dt"] == 0.1 and record["dmft"]["input"] == "ou" and "jax" in record["versions"]
    table = np.loadtxt(tmp_path / "dmft.csv", delimiter=",", skiprows=1)
    assert table.shape == (20, 5)

"""Tests of tightbalance.theory.lyapunov: tangent-space exponents and the DMFT eigenproblem (SPEC §6)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, special

from tightbalance import network
from tightbalance.theory import lyapunov as lyap
from tightbalance.theory.meanfield import chaos_threshold, stationary_dmft


def _random_matrix(seed: int, n: int, g: float, *, symmetric: bool = False) -> jnp.ndarray:
    z = np.random.default_rng(seed).standard_normal((n, n))
    if symmetric:
        z = (z + z.T) / math.sqrt(2)
    return jnp.asarray(g * z / math.sqrt(n), dtype=jnp.float64)


# ---------------------------------------------------------------- simulation: closed forms


@pytest.mark.slow
@pytest.mark.parametrize("symmetric", [True, False])
def test_linear_network_exponents_are_log_moduli_of_the_euler_map(symmetric):
    """phi = identity: h <- (1 - dt) h + dt J h + dt u is linear, its exponents are log|1 + dt mu|/dt
    (mu = eigenvalues of -1 + J), and -> Re mu as dt -> 0."""
    n, dt, n_steps = 12, 0.05, 10_000  # averaging time T = 500 tau, after an aligning transient
    with jax.enable_x64(True):
        J = _random_matrix(0, n, 0.8, symmetric=symmetric)
        exponents = lyap.lyapunov_spectrum(
            J,
            0.3,
            dt=dt,
            n_steps=n_steps,
            key=jax.random.PRNGKey(1),
            nonlinearity="identity",
            n_transient=4000,
        )
    mu = np.linalg.eigvals(-np.eye(n) + np.asarray(J))
    map_exponents = np.sort(np.log(np.abs(1 + dt * mu)) / dt)[::-1]
    # After the aligning transient the frame sits on the eigenvectors of a symmetric J (error << 1e-3);
    # complex pairs (non-symmetric J) share one modulus and their Q-R split oscillates, error O(1/T).
    tolerance = 2e-3 if symmetric else 1e-2
    np.testing.assert_allclose(exponents, map_exponents, atol=tolerance)
    # Continuous-time limit: |log|1 + x| - Re x| <= |x|^2 / (2 (1 - |x|)) with x = dt mu.
    flow_exponents = np.sort(mu.real)[::-1]
    x = dt * np.max(np.abs(mu))
    np.testing.assert_allclose(exponents, flow_exponents, atol=tolerance + x**2 / (2 * (1 - x)) / dt)


@pytest.mark.slow
def test_full_spectrum_sum_equals_log_det_and_trace_of_jacobian():
    """Sum rule: sum of all exponents = time average of log|det M_t| / dt (exact for the map, M_t the
    Euler step's Jacobian, computed here along an independently simulated trajectory) and, to O(dt),
    the time average of tr(-1 + J diag(phi')) = -N + sum_i J_ii <phi'(h_i)>."""
    n, dt, n_steps, u = 10, 0.01, 10_000, 0.5
    with jax.enable_x64(True):
        J = _random_matrix(2, n, 2.0) - 0.5 / n + jnp.diag(jnp.linspace(-0.5, 0.5, n))  # nonzero diagonal
        h0 = jax.random.normal(jax.random.PRNGKey(3), (n,), jnp.float64)
        exponents = lyap.lyapunov_spectrum(
            J, u, dt=dt, n_steps=n_steps, key=jax.random.PRNGKey(4), h0=h0, qr_interval=5
        )
        params = network.NetworkParams(J=J, w_in=jnp.ones((n, 1)), w_out=jnp.ones((1, n)), bias=jnp.zeros(n))
        signals = jnp.full((n_steps, 1, 1), u)
        trajectory = network.simulate(
            params, h0[:, None], signals, jnp.zeros((n_steps, n, 1)), dt=dt, sigma=0.0
        )[:, :, 0]
    # The tangent map at step t uses the state before the step: h0, h_1, ..., h_{T-1}.
    states = np.concatenate([np.asarray(h0)[None], np.asarray(trajectory)[:-1]])
    slopes = (states > 0).astype(float)
    jacobians = np.eye(n) + dt * (-np.eye(n) + np.asarray(J)[None] * slopes[:, None, :])
    log_det_rate = np.sum(np.linalg.slogdet(jacobians)[1]) / (n_steps * dt)
    # Exact identity up to float64 round-off over 2000 QR steps.
    assert exponents.sum() == pytest.approx(log_det_rate, rel=1e-8)
    trace_rate = -n + np.sum(np.diag(np.asarray(J)) * slopes.mean(axis=0))
    # log det(1 + dt A)/dt - tr A = -dt tr(A^2)/2 + O(dt^2); |tr A^2| <= ||A||_F^2 ~ n (1 + g^2) = 50.
    assert exponents.sum() == pytest.approx(trace_rate, abs=dt * 50 / 2)
    assert np.all(np.diff(exponents) <= 0)


def _balanced_net(seed: int, n: int, b: float, g: float) -> jnp.ndarray:
    return network.init_random_balanced(jax.random.PRNGKey(seed), n, 1, g=g, gbar=-b).J


@pytest.mark.slow
def test_sign_below_and_above_threshold_and_fixed_point_exponent():
    """relu, I0 = 1, N = 400 (DMFT chaos threshold g_c = sqrt(2) for relu at sigma = 0, every b).

    g = 1 (b = 1): the network settles on a fixed point h*, where the exponent of the Euler map is
    exactly max log|1 + dt mu| / dt over the eigenvalues mu of -1 + J diag(phi'(h*)) (finite-N truth),
    and negative.  g = 2.2 (b = 4): chaos, positive exponent (DMFT ~ +0.1; at N = 400 realisations
    give 0.06-0.11, so 0.02 leaves room for the finite-size spread)."""
    n, i0, dt = 400, 1.0, 0.1
    n_transient, n_steps = 1000, 2000
    J = _balanced_net(10, n, 1.0, 1.0)
    key = jax.random.PRNGKey(11)
    lam_below = lyap.largest_lyapunov(J, i0, dt=dt, n_steps=n_steps, key=key, n_transient=n_transient)
    h0 = jax.random.normal(jax.random.split(key, (1, 3))[0, 0], (n,))
    params = network.NetworkParams(J=J, w_in=jnp.ones((n, 1)), w_out=jnp.ones((1, n)), bias=jnp.zeros(n))
    h_star = network.simulate(
        params,
        h0[:, None],
        jnp.full((n_transient + n_steps, 1, 1), i0),
        jnp.zeros((n_transient + n_steps, n, 1)),
        dt=dt,
        sigma=0.0,
    )[-1, :, 0]
    mu = np.linalg.eigvals(-np.eye(n) + np.asarray(network.stability_matrix(J, h_star), dtype=np.float64))
    exact = np.max(np.log(np.abs(1 + dt * mu))) / dt
    # Residual error after the aligning transient (relaxation time ~1/0.17 << 100): float32 round-off
    # and the finite time, << 0.01.
    assert lam_below == pytest.approx(exact, abs=0.01)
    assert lam_below < -0.05

    lam_above = lyap.sample_largest_lyapunov(
        jax.random.PRNGKey(12),
        n_units=n,
        b=4.0,
        g=2.2,
        i0=i0,
        n_realisations=2,
        duration=200.0,
        transient=100.0,
    )
    assert np.all(lam_above > 0.02)


@pytest.mark.slow
def test_batched_largest_is_a_property_of_the_network():
    """A batch [R, N, N] runs R independent initial states; for the same chaotic network twice the two
    estimates agree (the exponent does not depend on the initial state), while spectrum k = 1 of the
    same network gives the same value too.  Finite-time estimates over T = 400 at N = 200 scatter by
    up to ~0.03 between initial states (seen over several networks), hence the tolerance 0.04."""
    J = _balanced_net(1, 200, 4.0, 2.5)
    kwargs = dict(dt=0.1, n_steps=4000, n_transient=500, key=jax.random.PRNGKey(0))
    batch = lyap.largest_lyapunov(jnp.stack([J, J]), 4.0, **kwargs)
    assert batch.shape == (2,)
    single = lyap.lyapunov_spectrum(J, 4.0, n_exponents=1, **kwargs)
    assert single.shape == (1,)
    assert np.all(batch > 0.02)
    assert batch[0] == pytest.approx(batch[1], abs=0.04)
    assert single[0] == pytest.approx(batch.mean(), abs=0.04)


# ---------------------------------------------------------------- DMFT eigenproblem: closed forms


def test_tangent_modes_constant_potential_gives_bulk_edge_formula():
    """q'(tau) = const (a fixed point): ground state f = const, lambda = -1 + g sqrt(q')."""
    tau = np.linspace(0, 20, 201)
    lam_even, _ = lyap.tangent_mode_exponents(tau, np.full_like(tau, 0.6), g=1.2)
    assert lam_even == pytest.approx(-1 + 1.2 * math.sqrt(0.6), abs=1e-9)


def test_tangent_modes_poschl_teller_closed_form():
    """q'(tau) = q_inf + (s(s+1)/g^2) sech^2(tau): bound states E_n = -g^2 q_inf - (s - n)^2, so with
    s = 2 the ground state (n = 0, even) gives lambda = sqrt(g^2 q_inf + 4) - 1 and the odd state
    (n = 1) sqrt(g^2 q_inf + 1) - 1.  Second-order finite differences, step 0.01: error ~1e-4."""
    g, q_inf, s = 1.5, 0.2, 2.0
    tau = np.linspace(0, 30, 30_001)
    slope = q_inf + s * (s + 1) / g**2 / np.cosh(tau) ** 2
    lam_even, lam_odd = lyap.tangent_mode_exponents(tau, slope, g, step=0.01, tail=20.0)
    assert lam_even == pytest.approx(math.sqrt(g**2 * q_inf + 4) - 1, abs=1e-3)
    assert lam_odd == pytest.approx(math.sqrt(g**2 * q_inf + 1) - 1, abs=1e-3)


def test_slope_correlation_relu_matches_bivariate_normal_and_limits():
    """relu: q' = P(h > 0, h' > 0); rho = 0 -> Phi(x)^2, rho = 1 -> Phi(x); intermediate rho against
    an independent quadrature of the bivariate normal density."""
    mu0, c0 = 0.3, 1.7
    x = mu0 / math.sqrt(c0)
    assert lyap.slope_correlation(mu0, c0, np.array(0.0)) == pytest.approx(special.ndtr(x) ** 2, abs=1e-12)
    assert lyap.slope_correlation(mu0, c0, np.array(c0)) == pytest.approx(special.ndtr(x), abs=1e-12)
    from scipy import integrate

    rho = 0.6

    def density(y: float, z: float) -> float:
        quadratic = (z * z - 2 * rho * z * y + y * y) / (2 * (1 - rho**2))
        return math.exp(-quadratic) / (2 * math.pi * math.sqrt(1 - rho**2))

    reference, _ = integrate.dblquad(density, -x, 8, -x, 8)
    assert lyap.slope_correlation(mu0, c0, np.array(rho * c0)) == pytest.approx(reference, abs=1e-7)


def test_slope_correlation_tanh_limits():
    """tanh: rho = 0 -> E[phi']^2, rho = 1 -> E[phi'^2] vs scipy quad; Gauss–Hermite of order 60 on
    sech^2 (poles at distance ~pi/2) is accurate to ~1e-7, hence the tolerance."""
    from scipy import integrate

    mu0, c0 = 0.2, 0.8

    def moment(power: int) -> float:
        def integrand(z: float) -> float:
            return (1 / np.cosh(mu0 + math.sqrt(c0) * z) ** 2) ** power * np.exp(-z * z / 2)

        return integrate.quad(integrand, -12, 12)[0] / math.sqrt(2 * math.pi)

    assert lyap.slope_correlation(mu0, c0, np.array(0.0), "tanh") == pytest.approx(moment(1) ** 2, abs=1e-6)
    assert lyap.slope_correlation(mu0, c0, np.array(c0), "tanh") == pytest.approx(moment(2), abs=1e-6)


def _relu_fixed_point_exponent(g: float) -> float:
    """Independent closed form for relu, sigma = 0, I0 > 0: the static DMFT fixed point has
    c0 = g^2 E[relu(h)^2], i.e. g^2 H(x) = 1 with x = mu0/sqrt(c0) and
    H(x) = (1 + x^2) Phi(x) + x phi(x) (b and I0 only set the scale), and lambda = -1 + g sqrt(Phi(x))."""

    def excess(x: float) -> float:
        return g**2 * ((1 + x * x) * special.ndtr(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)) - 1

    x = optimize.brentq(excess, -5.0, 10.0)
    return -1 + g * math.sqrt(special.ndtr(x))


@pytest.mark.parametrize(("b", "g"), [(1.0, 0.8), (4.0, 1.2), (2.0, 1.4)])
def test_dmft_exponent_below_threshold_is_the_bulk_edge_formula(b, g):
    """Fixed-point regime: the DMFT ground state is f = const and lambda = -1 + g sqrt(Phi(x))."""
    modes = lyap.dmft_tangent_modes(b, g, 1.0)
    assert modes.lambda_max == pytest.approx(_relu_fixed_point_exponent(g), abs=1e-6)
    state = stationary_dmft(b, g, 0.0, 1.0)
    assert lyap.bulk_edge_exponent(g, state.mu0, state.c0) == pytest.approx(modes.lambda_max, abs=1e-6)
    assert modes.lambda_max == pytest.approx(modes.lambda_continuum, abs=1e-6)
    assert modes.lambda_max < 0


@pytest.mark.slow
def test_dmft_chaotic_state_has_zero_odd_mode_and_positive_exponent():
    """Above g_c = sqrt(2): dc/dtau solves the tangent problem with lambda = 0 (SCS 1988), so the
    lowest odd mode must give lambda ~ 0 to the accuracy of the DMFT c(tau) and of the finite
    differences (~1e-4); the ground state is a bound state above the continuum edge, lambda > 0.
    relu at sigma = 0 is homogeneous, so lambda_max must not depend on b (tolerance 1e-4 from the
    numerical solutions)."""
    modes = lyap.dmft_tangent_modes(4.0, 1.6, 1.0)
    assert abs(modes.lambda_odd) < 1e-4
    assert modes.lambda_max > 0.01
    assert modes.lambda_max > modes.lambda_continuum
    assert lyap.dmft_largest_lyapunov(1.0, 1.6, 1.0) == pytest.approx(modes.lambda_max, abs=1e-4)


@pytest.mark.slow
def test_simulated_exponent_matches_dmft_at_fixed_point():
    """g = 1, b = 2, N = 1000: simulation vs DMFT (-0.175).  Seen: finite-N offset ~0.01 at N = 1000
    and realisation spread ~0.005, so the tolerance is 0.03."""
    simulated = lyap.sample_largest_lyapunov(
        jax.random.PRNGKey(5),
        n_units=1000,
        b=2.0,
        g=1.0,
        i0=1.0,
        n_realisations=2,
        duration=200.0,
        transient=100.0,
    )
    assert np.mean(simulated) == pytest.approx(lyap.dmft_largest_lyapunov(2.0, 1.0, 1.0), abs=0.03)


def test_zero_crossing_interpolates_first_upward_sign_change():
    g = np.array([1.0, 1.2, 1.4, 1.6])
    assert lyap.zero_crossing(g, np.array([-0.3, -0.1, 0.1, 0.2])) == pytest.approx(1.3)
    assert math.isnan(lyap.zero_crossing(g, np.array([-0.3, -0.1, -0.1, -0.2])))


# ---------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(dt=0.0), "dt must be > 0"),
        (dict(n_steps=15), "n_steps must be a positive integer multiple of qr_interval"),
        (dict(qr_interval=0), "qr_interval must be an integer >= 1"),
        (dict(n_exponents=7), r"n_exponents must be an integer in \[1, N = 6\]"),
        (dict(nonlinearity="sigmoid"), "nonlinearity must be one of"),
        (dict(sigma=-1.0), "sigma must be >= 0"),
        (dict(n_transient=-1), "n_transient must be an integer >= 0"),
        (dict(u=jnp.ones(3)), r"u must be a scalar or a path of shape"),
    ],
)
def test_lyapunov_spectrum_rejects_bad_arguments(kwargs, match):
    arguments = dict(u=1.0, dt=0.1, n_steps=20, key=jax.random.PRNGKey(0))
    arguments.update(kwargs)
    u = arguments.pop("u")
    with pytest.raises(ValueError, match=match):
        lyap.lyapunov_spectrum(jnp.zeros((6, 6)), u, **arguments)


def test_other_entry_points_reject_bad_arguments():
    with pytest.raises(ValueError, match="J must be a square matrix"):
        lyap.lyapunov_spectrum(jnp.zeros((3, 4)), 1.0, dt=0.1, n_steps=10, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="J must have shape"):
        lyap.largest_lyapunov(jnp.zeros(3), 1.0, dt=0.1, n_steps=10, key=jax.random.PRNGKey(0))
    common = dict(b=1.0, g=1.0, i0=1.0, duration=10.0, transient=0.0)
    with pytest.raises(ValueError, match="n_units must be an integer >= 2"):
        lyap.sample_largest_lyapunov(jax.random.PRNGKey(0), n_units=1, n_realisations=1, **common)
    with pytest.raises(ValueError, match="n_realisations must be an integer >= 1"):
        lyap.sample_largest_lyapunov(jax.random.PRNGKey(0), n_units=10, n_realisations=0, **common)
    with pytest.raises(ValueError, match="c0 must be >= 0"):
        lyap.slope_correlation(0.0, -1.0, np.array(0.0))
    with pytest.raises(ValueError, match="tau must be increasing from 0"):
        lyap.tangent_mode_exponents(np.array([1.0, 2.0]), np.array([0.5, 0.5]), 1.0)
    with pytest.raises(ValueError, match="g_values and exponents"):
        lyap.zero_crossing(np.array([1.0, 2.0]), np.array([0.1]))


# ---------------------------------------------------------------- review fixes


def test_specialised_euler_loop_matches_network_euler_step():
    """The state/tangent loop of ``lyapunov_spectrum`` against a reference built on ``euler_step``.

    Same keys as ``lyapunov_spectrum`` (state, tangent, noise split from ``key``; noise per step from
    ``fold_in``), float64: the two must agree to round-off (1e-9 on exponents of order 1).
    """
    n, k, dt, sigma, qr_interval, n_steps = 12, 3, 0.1, 0.3, 5, 60
    with jax.enable_x64(True):
        J = _random_matrix(3, n, 1.8)
        u_path = jnp.asarray(0.5 + 0.2 * np.sin(0.3 * np.arange(n_steps)))
        key = jax.random.PRNGKey(7)
        h0 = jnp.asarray(np.random.default_rng(1).standard_normal(n))
        expected = lyap.lyapunov_spectrum(
            J, u_path, dt=dt, n_steps=n_steps, key=key, n_exponents=k, sigma=sigma, qr_interval=qr_interval,
            nonlinearity="tanh", h0=h0,
        )  # fmt: skip
        _, k_tangent, k_noise = jax.random.split(key, 3)
        q, _ = jnp.linalg.qr(jax.random.normal(k_tangent, (n, k), jnp.float64))
        params = network.NetworkParams(J=J, w_in=jnp.ones((n, 1)), w_out=jnp.zeros((1, n)), bias=jnp.zeros(n))
        phi, dphi = network.nonlinearity("tanh"), network.nonlinearity_slope("tanh")
        h, log_growth = h0[:, None], np.zeros(k)
        for step in range(n_steps):
            noise = jax.random.normal(jax.random.fold_in(k_noise, step), (n,), jnp.float64)[:, None]
            q = q + dt * (-q + J @ (dphi(h) * q))
            h = network.euler_step(params, h, u_path[step][None, None], noise, dt=dt, sigma=sigma, phi=phi)
            if (step + 1) % qr_interval == 0:
                q, r = jnp.linalg.qr(q)
                log_growth += np.log(np.abs(np.diagonal(r)))
    reference = np.sort(log_growth / (n_steps * dt))[::-1]
    np.testing.assert_allclose(expected, reference, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_dmft_chaos_threshold_with_noise_is_the_zero_of_the_exponent():
    """sigma > 0: the spectral-radius criterion is only a lower bound; the returned threshold is the root
    of the DMFT exponent (|lambda| there below 1e-3, the bracket ``xtol`` times the slope ~ 0.3)."""
    b, i0, sigma = 4.0, 1.0, 0.5
    lower_bound = chaos_threshold(b, i0, sigma)
    assert lyap.dmft_largest_lyapunov(b, lower_bound, i0, sigma) < -0.01  # the reviewer's -0.048
    threshold = lyap.dmft_chaos_threshold(b, i0, sigma, xtol=1e-3)
    assert threshold > lower_bound + 0.05
    assert abs(lyap.dmft_largest_lyapunov(b, threshold, i0, sigma)) < 1e-3
    # sigma = 0: the fixed-point criterion is exact (relu: sqrt(2) for every b).
    assert lyap.dmft_chaos_threshold(b, i0, 0.0) == pytest.approx(math.sqrt(2.0), abs=1e-9)


def test_failed_dmft_point_is_logged(caplog):
    """A sweep point without a stationary DMFT state gives NaN and a warning naming its parameters."""
    with caplog.at_level("WARNING", logger="tightbalance.theory.lyapunov"):
        values = lyap.dmft_lyapunov_curve(0.0, np.array([3.0]), 1.0)  # b = 0, g = 3: relu activity diverges
    assert np.isnan(values[0])
    assert "dmft_largest_lyapunov(0.0, 3.0, 1.0, 0.0, relu) gave NaN" in caplog.text


def _parse_lyapunov(out, *options: str):
    import argparse

    from tightbalance.commands import lyapunov as command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    return parser.parse_args(["lyapunov", "--out", str(out), *options])


@pytest.mark.parametrize(
    "options,match",
    [
        (("--I0", "nan"), "--I0 must be finite"),
        (("--dt", "5"), r"--dt must lie in \(0, 1\)"),
        (("--dt", "0"), r"--dt must lie in \(0, 1\)"),
        (("--g", "1.0", "inf"), "--g must be finite"),
        (("--sigma", "-0.1"), "--sigma must be >= 0"),
        (("--nonlinearity", "softplus"), "--nonlinearity 'softplus' has no mean-field theory"),
    ],
)
def test_lyapunov_command_rejects_invalid_options(options, match, tmp_path):
    args = _parse_lyapunov(tmp_path / "out", *options)
    with pytest.raises(ValueError, match=match):
        args.func(args)
    assert not (tmp_path / "out").exists()  # rejected before any work


def test_lyapunov_command_help_shows_defaults_for_every_option():
    import argparse

    from tightbalance.commands import lyapunov as command

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    command.register(sub)
    text = sub.choices["lyapunov"].format_help()
    assert "``" not in text
    for action in sub.choices["lyapunov"]._actions:
        assert action.help, action.dest
    assert "(default: 0.1)" in text  # --dt

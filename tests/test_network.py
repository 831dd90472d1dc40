"""Rate network: initialisers, Euler–Maruyama simulation against closed forms (SPEC §2)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tightbalance.network import (
    NONLINEARITIES,
    NetworkParams,
    euler_step,
    init_excitatory_inhibitory,
    init_random_balanced,
    leaky_recurrence,
    nonlinearity,
    nonlinearity_slope,
    readout,
    simulate,
    simulate_streaming,
)


def test_random_balanced_statistics():
    n, g, gbar = 400, 0.5, -2.0
    p = init_random_balanced(jax.random.key(0), n, 3, g=g, gbar=gbar, ws_mean=1.0, ws_std=0.1)
    J = np.asarray(p.J, dtype=float)
    off = J[~np.eye(n, dtype=bool)]
    assert np.all(np.diag(J) == 0)
    # mean gbar/N = -0.005 with SE g/sqrt(N)/sqrt(N(N-1)) ~ 6e-5; std g/sqrt(N) = 0.025
    assert off.mean() == pytest.approx(gbar / n, abs=5 * g / n / math.sqrt(n - 1))
    assert off.std() == pytest.approx(g / math.sqrt(n), rel=0.02)
    assert p.w_in.shape == (n, 3) and p.w_out.shape == (3, n) and np.all(np.asarray(p.bias) == 0)
    assert float(p.w_in.mean()) == pytest.approx(1.0, abs=0.01)


def test_excitatory_inhibitory_block_means():
    n = 400
    p = init_excitatory_inhibitory(jax.random.key(1), n, 1, g=0.0, zero_diagonal=False)
    J = np.asarray(p.J) * (n / 2)
    h = n // 2
    assert J[:h, :h].mean() == pytest.approx(1.0)
    assert J[h:, :h].mean() == pytest.approx(1.0)
    assert J[:h, h:].mean() == pytest.approx(-2.0)
    assert J[h:, h:].mean() == pytest.approx(-1.8)


@pytest.mark.parametrize("name", sorted(NONLINEARITIES))
def test_slopes_are_derivatives(name):
    h = jnp.linspace(-3, 3, 61) + 0.013  # avoid the relu kink at exactly 0
    autodiff = jax.vmap(jax.grad(nonlinearity(name)))(h)
    assert np.allclose(nonlinearity_slope(name)(h), autodiff, atol=1e-6)


def _linear_mean_field_network(n, b, i0):
    """phi = identity, J = -b/N everywhere (g = 0), input b*I0 to every unit."""
    return NetworkParams(
        J=jnp.full((n, n), -b / n), w_in=jnp.full((n, 1), b * i0), w_out=jnp.ones((1, n)), bias=jnp.zeros(n)
    )


def test_linear_network_mean_relaxes_at_rate_one_plus_b_to_its_closed_form():
    """Closed form: m' = -(1+b) m + b I0, so m* = b I0/(1+b); Euler factor 1 - dt(1+b) per step."""
    n, b, i0, dt, steps = 50, 4.0, 1.0, 0.05, 60
    params = _linear_mean_field_network(n, b, i0)
    h0 = jnp.full((n, 1), 2.0)
    trajectory = simulate(
        params,
        h0,
        jnp.ones((steps, 1, 1)),
        jnp.zeros((steps, n, 1)),
        dt=dt,
        sigma=0.0,
        nonlinearity="identity",
    )
    mean = np.asarray(trajectory[:, :, 0].mean(axis=1), dtype=float)
    fixed_point = b * i0 / (1 + b)
    expected = fixed_point + (2.0 - fixed_point) * (1 - dt * (1 + b)) ** np.arange(1, steps + 1)
    assert np.allclose(mean, expected, atol=1e-5)


def test_linear_network_with_noise_stationary_mean_and_variance():
    """With private noise sigma the population mean is an OU process at rate 1 + b."""
    n, b, i0, dt, sigma, batch = 100, 3.0, 0.5, 0.01, 1.0, 200
    params = _linear_mean_field_network(n, b, i0)
    steps = 2000
    _, means = simulate_streaming(
        params,
        jnp.zeros((n, batch)),
        jnp.ones((steps, 1, batch)),
        jax.random.key(3),
        dt=dt,
        sigma=sigma,
        nonlinearity="identity",
        record=lambda h: h.mean(axis=0),
    )
    tail = np.asarray(means[500:], dtype=float)  # relaxed after 5 tau >> 1/(1+b)
    # the population mean is an AR(1) process m' = (1 - dt(1+b)) m + dt b I0 + sigma sqrt(dt/N) xi
    # (private noises averaged, fed back through -b): stationary mean b I0/(1+b) and variance
    # sigma^2 / (N (1+b) (2 - dt(1+b)))  (-> sigma^2/(2N(1+b)) as dt -> 0).
    var_theory = sigma**2 / (n * (1 + b) * (2 - dt * (1 + b)))
    # 200 paths x 1500 steps with correlation time 1/((1+b) dt) = 25 steps: ~12 000 independent
    # samples, so SE(mean) = sqrt(var/12000) = 3e-4 and SE(var) = var sqrt(2/12000) = 1.3%.
    assert tail.mean() == pytest.approx(b * i0 / (1 + b), abs=5 * math.sqrt(var_theory / 12_000))
    assert tail.var() == pytest.approx(var_theory, rel=5 * math.sqrt(2 / 12_000))


def test_simulate_matches_stepwise_euler_and_readout():
    key = jax.random.key(4)
    p = init_random_balanced(key, 12, 2, g=0.8, gbar=-1.0)
    signals = 1 + 0.3 * jax.random.normal(jax.random.key(5), (7, 2, 3))
    noise = jax.random.normal(jax.random.key(6), (7, 12, 3))
    h = jax.random.normal(jax.random.key(7), (12, 3))
    trajectory = simulate(p, h, signals, noise, dt=0.1, sigma=0.5, nonlinearity="tanh")
    for k in range(7):
        h = euler_step(p, h, signals[k], noise[k], dt=0.1, sigma=0.5, phi=jnp.tanh)
        assert np.allclose(trajectory[k], h, atol=1e-6)
    y = readout(p, trajectory, jnp.tanh)
    assert y.shape == (7, 2, 3)
    assert np.allclose(y[-1], p.w_out @ jnp.tanh(h) / 12, atol=1e-6)


def test_streaming_equals_simulate_without_noise():
    # float64: the two loops order the sums differently, and g = 1.2 amplifies float32 rounding
    with jax.enable_x64(True):
        p = init_random_balanced(jax.random.key(8), 20, 1, g=1.2, gbar=-2.0)
        p = jax.tree.map(lambda x: x.astype(jnp.float64), p)
        signals = jnp.ones((30, 1, 2))
        h0 = jax.random.normal(jax.random.key(9), (20, 2), jnp.float64)
        full = simulate(p, h0, signals, jnp.zeros((30, 20, 2)), dt=0.1, sigma=0.0)
        final, recorded = simulate_streaming(p, h0, signals, jax.random.key(0), dt=0.1, sigma=0.0)
    assert np.allclose(full, recorded, rtol=1e-12, atol=1e-12)
    assert np.array_equal(final, recorded[-1])


@pytest.mark.parametrize("name", sorted(NONLINEARITIES))
def test_recurrence_adjoint_equals_autodiff_of_the_euler_loop(name):
    """The hand-written reverse mode of ``leaky_recurrence`` against JAX autodiff of a plain loop.

    In float64 both are exact derivatives of the same computation, so they agree to rounding.
    """

    def reference(J, h0, drive):
        phi = nonlinearity(name)

        def step(h, d):
            h = h + 0.2 * (J @ phi(h) - h) + d
            return h, h

        return jax.lax.scan(step, h0, drive)[1]

    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(11), 5)
        n, batch, steps = 9, 4, 13
        J = 0.8 * jax.random.normal(keys[0], (n, n), jnp.float64) / math.sqrt(n)
        h0 = jax.random.normal(keys[1], (n, batch), jnp.float64)
        drive = 0.3 * jax.random.normal(keys[2], (steps, n, batch), jnp.float64)
        # a loss that weighs every state differently, so each adjoint entry matters
        weights = jax.random.normal(keys[3], (steps, n, batch), jnp.float64)

        def loss(fn):
            return lambda J, h0, drive: jnp.sum(weights * fn(J, h0, drive) ** 2)

        ours = loss(lambda J, h0, d: leaky_recurrence(J, h0, d, 0.2, name))
        states = leaky_recurrence(J, h0, drive, 0.2, name)
        assert np.allclose(states, reference(J, h0, drive), rtol=1e-13, atol=1e-13)
        grads = jax.grad(ours, argnums=(0, 1, 2))(J, h0, drive)
        expected = jax.grad(loss(reference), argnums=(0, 1, 2))(J, h0, drive)
        for got, want in zip(grads, expected, strict=True):
            assert np.allclose(got, want, rtol=1e-11, atol=1e-12)
            assert np.abs(want).max() > 1e-3  # the comparison is not between zeros


def test_unknown_nonlinearity_is_rejected():
    with pytest.raises(ValueError, match="nonlinearity"):
        nonlinearity("sigmoid-ish")

"""Lyapunov exponents of random rate networks: simulation and dynamic mean-field theory (SPEC §6).

Model (SPEC §2, §6; tau = 1)::

    h' = -h + J phi(h) + u(t) + sigma xi(t),     J_ij = -b/N + g Z_ij / sqrt(N),   u = b (I0 + A x(t))

**Simulation** (:func:`lyapunov_spectrum`, :func:`largest_lyapunov`, :func:`sample_largest_lyapunov`).
The state follows the Euler–Maruyama map of :func:`tightbalance.network.euler_step`; ``k`` tangent
vectors ``Q`` follow its linearisation ``Q <- Q + dt (-Q + J diag(phi'(h)) Q)`` and are
re-orthonormalised by a QR decomposition every ``qr_interval`` steps (Benettin et al. 1980; Shimada &
Nagashima 1979).  The exponents are the time averages of ``log |diag R|`` divided by the elapsed time,
so they are the exponents *of the Euler map per step, divided by dt*: for a linear network they are
exactly ``log|1 + dt mu| / dt`` with ``mu`` the eigenvalues of ``-1 + J``, which tend to ``Re mu`` as
``dt -> 0`` (error ``~ dt |mu|^2 / 2``).  Near ``lambda = 0`` this discretisation error is small
(the Euler map's fixed points and their instability threshold coincide with those of the flow).

**Mean-field theory** (:func:`dmft_largest_lyapunov`).  For ``N -> inf`` a small perturbation
``dh_i`` obeys ``(d/dt + 1) dh_i = sum_j J_ij phi'(h_j) dh_j``.  Its random part is a Gaussian field
whose covariance, by the same decoupling that gives the DMFT of SPEC §6, is
``g^2 q'(t, t') chat(t, t')`` with ``chat(t, t') = <dh_i(t) dh_i(t')>`` and
``q'(t, t') = E[phi'(h(t)) phi'(h(t'))]``.  Hence (Sompolinsky, Crisanti & Sommers 1988, SCS)::

    (d/dt + 1)(d/dt' + 1) chat(t, t') = g^2 q'(t, t') chat(t, t').

(The mean coupling ``-b/N`` acts only on the population mode, which it damps at rate ``1 + b nu'``;
it does not enter the largest exponent.)  In the stationary state ``q'`` depends on ``tau = t - t'``
only, through the bivariate Gaussian with means ``mu0``, variances ``c0`` and covariance ``c(tau)``
of the stationary DMFT.  With ``T = (t + t')/2`` one has ``(d/dt + 1)(d/dt' + 1) = (d/dT / 2 + 1)^2
- d^2/dtau^2``, and the growing solutions ``chat = exp(2 lambda T) f(tau)`` satisfy the
Schrödinger-type problem::

    [-d^2/dtau^2 - g^2 q'(tau)] f = E f,      E = -(1 + lambda)^2.

The fastest growth belongs to the ground state: ``lambda_max = sqrt(-E_0) - 1``.  ``q'(tau)`` tends to
a plateau ``q'_inf > 0`` (quenched disorder and nonzero mean), so the continuum starts at
``-g^2 q'_inf``; a chaotic state has a bound ground state below it.

* Fixed point (below the chaos threshold): ``h`` is frozen, ``q' = E[phi'(h)^2]`` for all lags, the
  ground state is ``f = const`` and ``lambda_max = -1 + g sqrt(E[phi'(h)^2])``.  This is the
  right edge of the bulk of the Jacobian ``-1 + J diag(phi'(h))``: the columns of ``g Z / sqrt(N)``
  scaled by ``phi'(h_j)`` give a random matrix whose eigenvalues fill a disc of radius
  ``g sqrt(mean_j phi'(h_j)^2)`` (circular law for a matrix with column variances
  ``g^2 phi'_j^2 / N``), and the rank-one mean part only adds a stable outlier near
  ``-1 - b nu'``.  The fixed point loses stability where the disc reaches 0, ``g^2 E[phi'^2] = 1``.
* Chaos (SCS): differentiating the DMFT equation ``(1 - d^2/dtau^2) c = g^2 q + sigma^2 delta``
  with respect to ``tau`` (Price's theorem, ``dq/dc = q'``) shows that ``f = dc/dtau`` solves the
  problem with ``E = -1``, i.e. ``lambda = 0``.  ``dc/dtau`` is odd with one node, so it is the
  lowest odd state; the ground state lies below it and ``lambda_max > 0``.  :func:`dmft_tangent_modes`
  returns this odd-mode exponent too, as a check (it must vanish) of the accuracy of ``c(tau)``.  This
  holds at ``sigma = 0``; with noise ``dc/dtau`` jumps at ``tau = 0`` and the check does not apply.
* relu at ``sigma = 0``: the DMFT equations are homogeneous of degree one in ``(mu0, sqrt(c))``;
  ``b`` and ``I0`` fix only the scale (through the mean equation), so ``lambda_max`` depends on ``g``
  alone, and the fixed point ``g^2 E[relu(h)^2] = c0`` loses stability at ``x = mu0/sqrt(c0) = 0``,
  ``g_c = sqrt(2)`` for every ``b`` (where a stationary solution exists at all: for small ``b`` the
  chaotic activity diverges at larger ``g``).

The eigenproblem is solved by finite differences on ``tau in [0, L]`` (ground state even:
``f'(0) = 0``; odd state: ``f(0) = 0``) with a reflecting end at ``L`` far in the plateau, where
``q'`` is held at its plateau value: a constant potential then gives exactly the continuum edge, and a
bound state is resolved when ``L`` exceeds its decay length many times.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg, optimize, special

from tightbalance import network

logger = logging.getLogger(__name__)

__all__ = [
    "lyapunov_spectrum",
    "largest_lyapunov",
    "sample_largest_lyapunov",
    "slope_correlation",
    "bulk_edge_exponent",
    "DmftTangentModes",
    "dmft_tangent_modes",
    "tangent_mode_exponents",
    "dmft_largest_lyapunov",
    "dmft_chaos_threshold",
    "LyapunovPoint",
    "lyapunov_sweep",
    "dmft_lyapunov_curve",
    "zero_crossing",
]


# --------------------------------------------------------------------------------------------------
# Simulation: tangent-space integration with QR re-orthonormalisation
# --------------------------------------------------------------------------------------------------


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _check_nonnegative(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _check_nonlinearity(name: str) -> None:
    if name not in network.NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {sorted(network.NONLINEARITIES)}, got {name!r}")


def _input_path(u: float | jax.Array, n_total: int, dtype) -> jax.Array:
    """The common input per step, ``[n_total]``: a constant or a given path."""
    path = jnp.asarray(u, dtype=dtype)
    if path.ndim == 0:
        return jnp.full((n_total,), path, dtype=dtype)
    if path.shape != (n_total,):
        raise ValueError(
            f"u must be a scalar or a path of shape (n_transient + n_steps,) = ({n_total},), "
            f"got shape {tuple(path.shape)}"
        )
    return path


@partial(
    jax.jit,
    static_argnames=("n_transient", "n_blocks", "qr_interval", "dt", "sigma", "phi", "dphi"),
)
def _tangent_log_growth(
    J: jax.Array,
    u_path: jax.Array,
    h0: jax.Array,
    q0: jax.Array,
    noise_key: jax.Array,
    *,
    n_transient: int,
    n_blocks: int,
    qr_interval: int,
    dt: float,
    sigma: float,
    phi: Callable,
    dphi: Callable,
) -> jax.Array:
    """``log |diag R|`` of every QR step ``[n_blocks, k]`` after ``n_transient`` discarded steps.

    The state update ``advance`` is :func:`tightbalance.network.euler_step` specialised to this
    setting (no bias, one common input ``u_t`` in place of ``w_in @ s / S``, noise drawn per step from
    ``fold_in(noise_key, k)``), written out so that ``J`` is read once per step for the state and the
    tangents together; ``tests/test_lyapunov.py`` checks it against ``euler_step``.
    """
    noise_scale = sigma * math.sqrt(dt)

    def advance(h, recurrent, step_input):
        k, u_t = step_input
        h_next = h + dt * (-h + recurrent + u_t)
        if sigma > 0:
            xi = jax.random.normal(jax.random.fold_in(noise_key, k), h.shape, h.dtype)
            h_next = h_next + noise_scale * xi
        return h_next

    def transient_step(h, step_input):
        return advance(h, J @ phi(h), step_input), None

    def tangent_step(carry, step_input):
        h, Q = carry
        # One product J @ [phi(h), phi'(h) Q]: J is read once per step for state and tangents.
        product = J @ jnp.concatenate([phi(h)[:, None], dphi(h)[:, None] * Q], axis=1)
        return (advance(h, product[:, 0], step_input), Q + dt * (product[:, 1:] - Q)), None

    def block(carry, block_input):
        (h, Q), _ = jax.lax.scan(tangent_step, carry, block_input)
        Q, R = jnp.linalg.qr(Q)
        return (h, Q), jnp.log(jnp.abs(jnp.diagonal(R)))

    # Transient: the first (n_transient mod qr_interval) steps move the state alone, the remaining
    # whole blocks also align the tangent frame; their growth is discarded.
    n_state_only = n_transient % qr_interval
    steps = jnp.arange(n_transient + n_blocks * qr_interval)
    h, _ = jax.lax.scan(transient_step, h0, (steps[:n_state_only], u_path[:n_state_only]))
    blocks = (
        steps[n_state_only:].reshape(-1, qr_interval),
        u_path[n_state_only:].reshape(-1, qr_interval),
    )
    n_aligning = n_transient // qr_interval
    (h, q0), _ = jax.lax.scan(block, (h, q0), jax.tree.map(lambda x: x[:n_aligning], blocks))
    blocks = jax.tree.map(lambda x: x[n_aligning:], blocks)
    _, log_growth = jax.lax.scan(block, (h, q0), blocks)
    return log_growth


def _validate_run(dt: float, n_steps: int, n_transient: int, qr_interval: int, sigma: float) -> None:
    _check_positive("dt", dt)
    _check_nonnegative("sigma", sigma)
    if not (isinstance(qr_interval, int) and qr_interval >= 1):
        raise ValueError(f"qr_interval must be an integer >= 1, got {qr_interval!r}")
    if not (isinstance(n_steps, int) and n_steps >= qr_interval and n_steps % qr_interval == 0):
        raise ValueError(
            f"n_steps must be a positive integer multiple of qr_interval = {qr_interval}, got {n_steps!r}"
        )
    if not (isinstance(n_transient, int) and n_transient >= 0):
        raise ValueError(f"n_transient must be an integer >= 0, got {n_transient!r}")


def _prepare_run(
    J: jax.Array,
    u: float | jax.Array,
    key: jax.Array,
    dt: float,
    n_steps: int,
    n_transient: int,
    qr_interval: int,
    sigma: float,
    nonlinearity: str,
) -> tuple[jax.Array, Callable, jax.Array]:
    """Validation and setup shared by :func:`lyapunov_spectrum` and :func:`largest_lyapunov`.

    Returns the input path ``[n_transient + n_steps]``, :func:`_tangent_log_growth` with its static
    arguments bound (called as ``run(J, u_path, h0, q0, noise_key)``) and three keys (state, tangent,
    noise) split from ``key``.
    """
    _check_nonlinearity(nonlinearity)
    _validate_run(dt, n_steps, n_transient, qr_interval, sigma)
    u_path = _input_path(u, n_transient + n_steps, J.dtype)
    run = partial(
        _tangent_log_growth,
        n_transient=n_transient,
        n_blocks=n_steps // qr_interval,
        qr_interval=qr_interval,
        dt=float(dt),
        sigma=float(sigma),
        phi=network.nonlinearity(nonlinearity),
        dphi=network.nonlinearity_slope(nonlinearity),
    )
    return u_path, run, jax.random.split(key, 3)


def lyapunov_spectrum(
    J: jax.Array,
    u: float | jax.Array,
    *,
    dt: float,
    n_steps: int,
    key: jax.Array,
    n_exponents: int | None = None,
    nonlinearity: str = "relu",
    n_transient: int = 0,
    qr_interval: int = 10,
    sigma: float = 0.0,
    h0: jax.Array | None = None,
) -> np.ndarray:
    """The ``k`` largest Lyapunov exponents (units ``1/tau``) of ``h' = -h + J phi(h) + u(t) + sigma xi``.

    Tangent-space integration of the Euler(-Maruyama) map with QR re-orthonormalisation (module
    docstring).  Computed in the dtype of ``J`` (float32, or float64 inside ``jax.enable_x64``).

    Args:
      J: couplings ``[N, N]``.
      u: common input, a constant or a path of shape ``[n_transient + n_steps]`` (one value per step).
      dt: Euler step (units of tau).
      n_steps: steps over which the exponents are averaged (a multiple of ``qr_interval``).
      key: PRNG key for the initial state ``h ~ N(0, 1)``, the initial tangent vectors and the noise.
      n_exponents: ``k`` (default ``N``, the full spectrum).
      nonlinearity: a name in :data:`tightbalance.network.NONLINEARITIES`.
      n_transient: steps discarded first (state, and tangent frame in whole QR blocks).
      qr_interval: steps between QR re-orthonormalisations.
      sigma: private white-noise amplitude (enters the state only).
      h0: initial state ``[N]`` (default random).

    Returns:
      ``[k]`` exponents in descending order (float64 NumPy array).
    """
    J = jnp.asarray(J)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"J must be a square matrix [N, N], got shape {tuple(J.shape)}")
    n_units = J.shape[0]
    n_exponents = n_units if n_exponents is None else n_exponents
    if not (isinstance(n_exponents, int) and 1 <= n_exponents <= n_units):
        raise ValueError(f"n_exponents must be an integer in [1, N = {n_units}], got {n_exponents!r}")
    u_path, run, (k_state, k_tangent, k_noise) = _prepare_run(
        J, u, key, dt, n_steps, n_transient, qr_interval, sigma, nonlinearity
    )
    if h0 is None:
        h0 = jax.random.normal(k_state, (n_units,), J.dtype)
    q0, _ = jnp.linalg.qr(jax.random.normal(k_tangent, (n_units, n_exponents), J.dtype))
    log_growth = run(J, u_path, jnp.asarray(h0, J.dtype), q0, k_noise)
    exponents = np.asarray(log_growth, dtype=np.float64).sum(axis=0) / (n_steps * dt)
    return np.sort(exponents)[::-1]


def largest_lyapunov(
    J: jax.Array,
    u: float | jax.Array,
    *,
    dt: float,
    n_steps: int,
    key: jax.Array,
    nonlinearity: str = "relu",
    n_transient: int = 0,
    qr_interval: int = 10,
    sigma: float = 0.0,
) -> np.ndarray:
    """Largest Lyapunov exponent (``k = 1``) of one network ``J [N, N]`` or a batch ``J [R, N, N]``.

    The batch runs as one vectorised program (independent initial states per realisation); returns a
    scalar array for one network and ``[R]`` for a batch.  Arguments as in :func:`lyapunov_spectrum`.
    """
    J = jnp.asarray(J)
    if J.ndim not in (2, 3) or J.shape[-1] != J.shape[-2]:
        raise ValueError(f"J must have shape [N, N] or [R, N, N], got {tuple(J.shape)}")
    batched = J if J.ndim == 3 else J[None]
    n_real, n_units = batched.shape[0], batched.shape[-1]
    u_path, run, _ = _prepare_run(J, u, key, dt, n_steps, n_transient, qr_interval, sigma, nonlinearity)
    keys = jax.random.split(key, (n_real, 3))
    h0 = jax.vmap(lambda k: jax.random.normal(k, (n_units,), J.dtype))(keys[:, 0])
    q0 = jax.vmap(lambda k: jax.random.normal(k, (n_units, 1), J.dtype))(keys[:, 1])
    q0 = q0 / jnp.linalg.norm(q0, axis=1, keepdims=True)
    log_growth = jax.vmap(run, in_axes=(0, None, 0, 0, 0))(batched, u_path, h0, q0, keys[:, 2])
    exponents = np.asarray(log_growth, dtype=np.float64)[..., 0].sum(axis=1) / (n_steps * dt)
    return exponents if J.ndim == 3 else exponents[0]


def sample_largest_lyapunov(
    key: jax.Array,
    *,
    n_units: int,
    b: float,
    g: float,
    i0: float,
    n_realisations: int,
    duration: float,
    transient: float,
    dt: float = 0.1,
    sigma: float = 0.0,
    nonlinearity: str = "relu",
    zero_diagonal: bool = True,
    qr_interval: int = 10,
) -> np.ndarray:
    """Largest exponent of ``n_realisations`` independent networks of the SPEC §6 ensemble.

    ``J = -b/N + g Z / sqrt(N)`` (:func:`tightbalance.network.init_random_balanced` with
    ``gbar = -b``), constant input ``u = b I0``; ``transient`` and ``duration`` in units of tau
    (rounded to whole QR blocks).  Returns ``[n_realisations]`` exponents (units ``1/tau``).
    """
    if not (isinstance(n_units, int) and n_units >= 2):
        raise ValueError(f"n_units must be an integer >= 2, got {n_units!r}")
    if not (isinstance(n_realisations, int) and n_realisations >= 1):
        raise ValueError(f"n_realisations must be an integer >= 1, got {n_realisations!r}")
    _check_nonnegative("b", b)
    _check_nonnegative("g", g)
    _check_positive("dt", dt)
    _check_positive("duration", duration)
    _check_nonnegative("transient", transient)
    k_coupling, k_run = jax.random.split(key)
    J = jax.vmap(
        lambda k: network.init_random_balanced(k, n_units, 1, g=g, gbar=-b, zero_diagonal=zero_diagonal).J
    )(jax.random.split(k_coupling, n_realisations))
    n_steps = max(1, round(duration / (dt * qr_interval))) * qr_interval
    return largest_lyapunov(
        J,
        b * i0,
        dt=dt,
        n_steps=n_steps,
        key=k_run,
        nonlinearity=nonlinearity,
        n_transient=round(transient / dt),
        qr_interval=qr_interval,
        sigma=sigma,
    )


# --------------------------------------------------------------------------------------------------
# Mean-field theory: the tangent eigenproblem of Sompolinsky, Crisanti & Sommers (1988)
# --------------------------------------------------------------------------------------------------

_HERMITE_ORDER = 60


def _slope_numpy(nonlinearity_name: str, h: np.ndarray) -> np.ndarray:
    """``phi'(h)`` in float64 from the network's own definition."""
    with jax.enable_x64(True):
        return np.asarray(network.nonlinearity_slope(nonlinearity_name)(jnp.asarray(h, jnp.float64)))


def slope_correlation(mu0: float, c0: float, c_lag: np.ndarray, nonlinearity: str = "relu") -> np.ndarray:
    """``q'(tau) = E[phi'(h) phi'(h')]`` for ``h, h'`` jointly Gaussian, means ``mu0``, variances ``c0``,
    covariance ``c_lag`` (SPEC §6 statistics).

    relu: ``phi' = 1[h > 0]``, so ``q'`` is the orthant probability of the bivariate normal with
    correlation ``rho = c/c0`` at ``x = mu0/sqrt(c0)``: ``Phi(x) - 2 T(x, sqrt((1 - rho)/(1 + rho)))``
    with Owen's T.  Other nonlinearities: Gauss–Hermite quadrature of order 60 in both variables.
    ``c0 = 0`` (no fluctuations): ``phi'(mu0)^2``.
    """
    _check_nonlinearity(nonlinearity)
    _check_nonnegative("c0", c0)
    if c0 == 0:  # deterministic h = mu0
        return np.full(np.shape(c_lag), _slope_numpy(nonlinearity, np.asarray(mu0)) ** 2)
    rho = np.clip(np.asarray(c_lag, dtype=np.float64) / c0, -1.0, 1.0)
    if nonlinearity == "relu":
        x = mu0 / math.sqrt(c0)
        return special.ndtr(x) - 2.0 * special.owens_t(x, np.sqrt((1.0 - rho) / (1.0 + rho)))
    nodes, weights = np.polynomial.hermite_e.hermegauss(_HERMITE_ORDER)
    weights = weights / weights.sum()
    s0 = math.sqrt(c0)
    slope_first = _slope_numpy(nonlinearity, mu0 + s0 * nodes)  # [n]
    rho_ = rho[..., None, None]
    h_second = mu0 + s0 * (rho_ * nodes[:, None] + np.sqrt(1.0 - rho_**2) * nodes[None, :])
    slope_second = _slope_numpy(nonlinearity, h_second)  # [..., n, n]
    return np.einsum("i,j,i,...ij->...", weights, weights, slope_first, slope_second)


def bulk_edge_exponent(g: float, mu0: float, c0: float, nonlinearity: str = "relu") -> float:
    """Fixed-point exponent ``-1 + g sqrt(E[phi'(h)^2])``, ``h ~ N(mu0, c0)`` (right edge of the circular
    bulk of the Jacobian ``-1 + J diag(phi'(h))``; module docstring)."""
    return -1.0 + g * math.sqrt(float(slope_correlation(mu0, c0, np.asarray(c0), nonlinearity)))


def tangent_mode_exponents(
    tau: np.ndarray,
    slope_corr: np.ndarray,
    g: float,
    *,
    step: float = 0.02,
    tail: float = 200.0,
) -> tuple[float, float]:
    """Exponents of the lowest even and odd states of ``[-d^2/dtau^2 - g^2 q'(tau)] f = -(1 + lambda)^2 f``.

    Args:
      tau: increasing lags starting at 0 on which ``q'`` is given.
      slope_corr: ``q'(tau)``; held at its last value beyond ``tau[-1]``.
      g: coupling strength.
      step: finite-difference grid step (second-order scheme, cell-centred, error ``O(step^2)``).
      tail: length of plateau added beyond ``tau[-1]`` before the reflecting end (must exceed the
        ground state's decay length ``1/sqrt(E_cont - E_0)`` several times).

    Returns:
      ``(lambda_even, lambda_odd)``: the largest exponent (ground state, ``f'(0) = 0``) and that of
      the lowest odd state (``f(0) = 0``), ``lambda = sqrt(max(-E, 0)) - 1``.
    """
    tau = np.asarray(tau, dtype=np.float64)
    slope_corr = np.asarray(slope_corr, dtype=np.float64)
    if tau.ndim != 1 or tau.shape != slope_corr.shape or tau[0] != 0 or np.any(np.diff(tau) <= 0):
        raise ValueError("tau must be increasing from 0 and slope_corr must have the same shape as tau")
    _check_positive("step", step)
    _check_nonnegative("tail", tail)
    length = tau[-1] + tail
    n_points = max(8, math.ceil(length / step))
    d = length / n_points
    grid = (np.arange(n_points) + 0.5) * d
    potential = -(g**2) * np.interp(grid, tau, slope_corr)
    off_diagonal = np.full(n_points - 1, -1.0 / d**2)
    exponents = []
    for ghost in (1.0, -1.0):  # even: f(-d/2) = f(d/2); odd: f(-d/2) = -f(d/2)
        diagonal = 2.0 / d**2 + potential
        diagonal[0] -= ghost / d**2
        diagonal[-1] -= 1.0 / d**2  # reflecting far end
        energy = linalg.eigh_tridiagonal(
            diagonal, off_diagonal, eigvals_only=True, select="i", select_range=(0, 0)
        )[0]
        exponents.append(math.sqrt(max(-energy, 0.0)) - 1.0)
    return exponents[0], exponents[1]


@dataclass(frozen=True)
class DmftTangentModes:
    """Mean-field Lyapunov exponents of the stationary state (module docstring).

    Attributes:
      lambda_max: largest exponent (ground state).
      lambda_odd: exponent of the lowest odd state; the DMFT predicts 0 in a chaotic state
        (``f = dc/dtau``), so its size measures the error of ``c(tau)``; in a fixed point it is
        ``<= lambda_max`` and carries no meaning.
      lambda_continuum: ``-1 + g sqrt(q'(inf))``, the edge of the continuum; equals ``lambda_max`` at a
        fixed point (the bulk-edge formula).
    """

    lambda_max: float
    lambda_odd: float
    lambda_continuum: float


def dmft_tangent_modes(
    b: float,
    g: float,
    i0: float,
    sigma: float = 0.0,
    nonlinearity: str = "relu",
    *,
    step: float = 0.02,
    tail: float = 200.0,
) -> DmftTangentModes:
    """Lyapunov exponents from the stationary DMFT of :mod:`tightbalance.theory.meanfield` (SPEC §6)."""
    from tightbalance.theory.meanfield import stationary_dmft

    _check_nonnegative("g", g)
    solution = stationary_dmft(b, g, sigma, i0, nonlinearity)
    mu0, c0 = solution.mu0, solution.c0
    # c(tau) on [0, tau_max + tail]: tabulated, then its exponential approach to the plateau.
    tau = np.arange(0.0, solution.tau[-1] + tail + step, step)
    slope_corr = slope_correlation(mu0, c0, solution.autocorrelation(tau), nonlinearity)
    slope_plateau = float(slope_correlation(mu0, c0, np.asarray(solution.c_static), nonlinearity))
    lambda_even, lambda_odd = tangent_mode_exponents(tau, slope_corr, g, step=step, tail=0.0)
    return DmftTangentModes(
        lambda_max=lambda_even,
        lambda_odd=lambda_odd,
        lambda_continuum=-1.0 + g * math.sqrt(slope_plateau),
    )


def dmft_largest_lyapunov(
    b: float, g: float, i0: float, sigma: float = 0.0, nonlinearity: str = "relu"
) -> float:
    """Largest Lyapunov exponent (units ``1/tau``) of the stationary DMFT state (module docstring)."""
    return dmft_tangent_modes(b, g, i0, sigma, nonlinearity).lambda_max


def dmft_chaos_threshold(
    b: float, i0: float, sigma: float = 0.0, nonlinearity: str = "relu", *, xtol: float = 1e-4
) -> float:
    """The ``g`` where the DMFT largest Lyapunov exponent crosses zero (the chaos threshold, SPEC §6).

    ``sigma = 0``: :func:`tightbalance.theory.meanfield.chaos_threshold`, the loss of stability of the
    static fixed point ``g^2 E[phi'^2] = 1``, where ``lambda_max = -1 + g sqrt(E[phi'^2])`` vanishes
    exactly.  ``sigma > 0``: ``q'(tau)`` is not constant, the ground state lies above
    ``-g^2 q'(0)`` and the spectral-radius criterion only gives a lower bound ``g_lo``; the threshold is
    the root of :func:`dmft_largest_lyapunov` in ``g`` (Brent's method to ``xtol``), bracketed by
    stepping up from ``g_lo`` in steps of 0.1.

    Raises:
      ValueError: no stationary DMFT state, or no sign change of the exponent below ``g = 50``.
    """
    from tightbalance.theory.meanfield import chaos_threshold

    lower = chaos_threshold(b, i0, sigma, nonlinearity)
    if sigma == 0.0:
        return lower

    def exponent(g: float) -> float:
        return dmft_largest_lyapunov(b, g, i0, sigma, nonlinearity)

    value = exponent(lower)
    if value >= 0.0:
        return lower
    upper = lower
    while value < 0.0:
        lower, upper = upper, upper + 0.1
        if upper > 50.0:
            raise ValueError(
                f"no zero of the DMFT exponent below g = 50 for b={b!r}, i0={i0!r}, sigma={sigma!r}"
            )
        value = exponent(upper)
    return optimize.brentq(exponent, lower, upper, xtol=xtol)


# --------------------------------------------------------------------------------------------------
# Sweeps and the zero crossing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LyapunovPoint:
    """One ``(b, g)`` point of a sweep: simulated exponents of several networks, the DMFT exponent and
    the DMFT chaos threshold ``g_c(b)`` of :func:`dmft_chaos_threshold` (NaN where the DMFT has no
    stationary solution)."""

    b: float
    g: float
    lambda_sim: np.ndarray
    lambda_dmft: float
    g_threshold: float

    @property
    def lambda_sim_mean(self) -> float:
        return float(np.mean(self.lambda_sim))

    @property
    def lambda_sim_sem(self) -> float:
        """Standard error of the mean over realisations (0 for a single realisation)."""
        n = self.lambda_sim.size
        return float(np.std(self.lambda_sim, ddof=1) / math.sqrt(n)) if n > 1 else 0.0


def _dmft_or_nan(function: Callable[..., float], *args) -> float:
    """``function(*args)``, or NaN (with a logged warning) where the stationary DMFT has no solution
    (it raises ValueError)."""
    try:
        return float(function(*args))
    except ValueError as error:
        logger.warning("%s(%s) gave NaN: %s", function.__name__, ", ".join(map(str, args)), error)
        return math.nan


def lyapunov_sweep(
    key: jax.Array,
    b_values: list[float],
    g_values: list[float],
    *,
    i0: float,
    n_units: int,
    n_realisations: int,
    duration: float,
    transient: float,
    dt: float = 0.1,
    sigma: float = 0.0,
    nonlinearity: str = "relu",
    with_theory: bool = True,
) -> list[LyapunovPoint]:
    """Simulated (:func:`sample_largest_lyapunov`) and DMFT (:func:`dmft_largest_lyapunov`,
    :func:`dmft_chaos_threshold`) values on the grid ``b_values x g_values``;
    independent networks at every point (keys folded from ``key``)."""
    points = []
    for i, b in enumerate(b_values):
        threshold = (
            _dmft_or_nan(dmft_chaos_threshold, b, i0, sigma, nonlinearity) if with_theory else math.nan
        )
        for j, g in enumerate(g_values):
            simulated = sample_largest_lyapunov(
                jax.random.fold_in(key, i * len(g_values) + j),
                n_units=n_units,
                b=b,
                g=g,
                i0=i0,
                n_realisations=n_realisations,
                duration=duration,
                transient=transient,
                dt=dt,
                sigma=sigma,
                nonlinearity=nonlinearity,
            )
            theory = (
                _dmft_or_nan(dmft_largest_lyapunov, b, g, i0, sigma, nonlinearity)
                if with_theory
                else math.nan
            )
            points.append(
                LyapunovPoint(
                    b=float(b), g=float(g), lambda_sim=simulated, lambda_dmft=theory, g_threshold=threshold
                )
            )
    return points


def dmft_lyapunov_curve(
    b: float, g_values: np.ndarray, i0: float, sigma: float = 0.0, nonlinearity: str = "relu"
) -> np.ndarray:
    """:func:`dmft_largest_lyapunov` on a grid of ``g`` (NaN where the DMFT has no stationary state)."""
    return np.array([_dmft_or_nan(dmft_largest_lyapunov, b, g, i0, sigma, nonlinearity) for g in g_values])


def zero_crossing(g_values: np.ndarray, exponents: np.ndarray) -> float:
    """``g`` where ``exponents`` first changes sign from negative to positive (linear interpolation).

    Returns NaN if there is no such change.
    """
    g_values = np.asarray(g_values, dtype=np.float64)
    exponents = np.asarray(exponents, dtype=np.float64)
    if g_values.shape != exponents.shape or g_values.ndim != 1:
        raise ValueError("g_values and exponents must be 1-D arrays of the same length")
    order = np.argsort(g_values)
    g_sorted, lam_sorted = g_values[order], exponents[order]
    crossings = np.flatnonzero((lam_sorted[:-1] < 0) & (lam_sorted[1:] >= 0))
    if crossings.size == 0:
        return math.nan
    k = crossings[0]
    return float(np.interp(0.0, lam_sorted[k : k + 2], g_sorted[k : k + 2]))

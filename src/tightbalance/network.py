"""The rate network (SPEC §2): parameters, initialisers, Euler–Maruyama simulation.

``N`` units with input current ``h`` and rate ``phi(h)``; time in units of the unit
time constant tau = 1.  One Euler–Maruyama step of size ``dt``::

    h <- h + dt * (-h + J phi(h) + bias + W_in s(t) / S) + sigma * sqrt(dt) * xi

Readout ``y(t) = W_out phi(h) / N``.  Arrays follow the layout
``[time, feature, batch]``: states ``h`` are ``[N, B]``, signals ``[T, S, B]``,
noise ``[T, N, B]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp

from tightbalance.signals import standard_normal

__all__ = [
    "NetworkParams",
    "NONLINEARITIES",
    "nonlinearity",
    "nonlinearity_slope",
    "init_random_balanced",
    "init_excitatory_inhibitory",
    "euler_step",
    "readout",
    "leaky_recurrence",
    "simulate",
    "simulate_streaming",
    "relax",
    "stability_matrix",
]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class NetworkParams:
    """Trainable parameters of a rate network (a JAX pytree).

    Attributes:
      J: recurrent couplings ``[N, N]``; ``J[i, j]`` is the weight from unit j to unit i.
      w_in: input weights ``[N, S]``.
      w_out: readout weights ``[S, N]``.
      bias: constant input per unit ``[N]``.
    """

    J: jax.Array
    w_in: jax.Array
    w_out: jax.Array
    bias: jax.Array

    @property
    def n_units(self) -> int:
        return self.J.shape[-1]

    @property
    def n_inputs(self) -> int:
        return self.w_in.shape[-1]


NONLINEARITIES: dict[str, tuple[Callable, Callable]] = {
    "relu": (jax.nn.relu, lambda h: (h > 0).astype(h.dtype)),
    "tanh": (jnp.tanh, lambda h: 1.0 - jnp.tanh(h) ** 2),
    "softplus": (jax.nn.softplus, jax.nn.sigmoid),
    "identity": (lambda h: h, jnp.ones_like),
}


def _lookup(name: str) -> tuple[Callable, Callable]:
    try:
        return NONLINEARITIES[name]
    except KeyError:
        raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got {name!r}") from None


def nonlinearity(name: str) -> Callable:
    """The rate function ``phi`` called ``name``."""
    return _lookup(name)[0]


def nonlinearity_slope(name: str) -> Callable:
    """The derivative ``phi'`` of the rate function called ``name``."""
    return _lookup(name)[1]


def _input_and_readout(key, n_units, n_inputs, ws_mean, ws_std, wr_mean, wr_std):
    k_in, k_out = jax.random.split(key)
    w_in = ws_mean + ws_std * jax.random.normal(k_in, (n_units, n_inputs))
    w_out = wr_mean + wr_std * jax.random.normal(k_out, (n_inputs, n_units))
    return w_in, w_out


def _zero_diagonal(J: jax.Array) -> jax.Array:
    return J * (1.0 - jnp.eye(J.shape[-1], dtype=J.dtype))


def init_random_balanced(
    key: jax.Array,
    n_units: int,
    n_inputs: int,
    *,
    g: float,
    gbar: float,
    ws_mean: float = 1.0,
    ws_std: float = 0.01,
    wr_mean: float = 1.0,
    wr_std: float = 0.2,
    zero_diagonal: bool = True,
) -> NetworkParams:
    """``J = g Z / sqrt(N) + gbar / N`` (Z iid standard normal), diagonal zeroed (SPEC §2)."""
    k_j, k_io = jax.random.split(key)
    J = g * jax.random.normal(k_j, (n_units, n_units)) / math.sqrt(n_units) + gbar / n_units
    if zero_diagonal:
        J = _zero_diagonal(J)
    w_in, w_out = _input_and_readout(k_io, n_units, n_inputs, ws_mean, ws_std, wr_mean, wr_std)
    return NetworkParams(J=J, w_in=w_in, w_out=w_out, bias=jnp.zeros(n_units))


# Block means of the excitatory–inhibitory start (van Vreeswijk & Sompolinsky 1996):
# J_post,pre for post/pre in {E, I}, each divided by N/2.
EI_BLOCK_MEANS = {"EE": 1.0, "IE": 1.0, "EI": -2.0, "II": -1.8}


def init_excitatory_inhibitory(
    key: jax.Array,
    n_units: int,
    n_inputs: int,
    *,
    g: float,
    ws_mean: float = 1.0,
    ws_std: float = 0.01,
    wr_mean: float = 1.0,
    wr_std: float = 0.2,
    zero_diagonal: bool = True,
) -> NetworkParams:
    """Two halves E (first) and I (second) with the block means of ``EI_BLOCK_MEANS``.

    ``J = M + g Z / sqrt(N)`` with ``M`` block-constant, ``M_XY = J_XY / (N/2)``.
    """
    if n_units < 2:
        raise ValueError(f"n_units must be >= 2 for an excitatory-inhibitory start, got {n_units}")
    k_j, k_io = jax.random.split(key)
    n_e = n_units // 2
    is_e = jnp.arange(n_units) < n_e
    post_e, pre_e = is_e[:, None], is_e[None, :]
    means = jnp.where(
        post_e,
        jnp.where(pre_e, EI_BLOCK_MEANS["EE"], EI_BLOCK_MEANS["EI"]),
        jnp.where(pre_e, EI_BLOCK_MEANS["IE"], EI_BLOCK_MEANS["II"]),
    ) / (n_units / 2)
    J = means + g * jax.random.normal(k_j, (n_units, n_units)) / math.sqrt(n_units)
    if zero_diagonal:
        J = _zero_diagonal(J)
    w_in, w_out = _input_and_readout(k_io, n_units, n_inputs, ws_mean, ws_std, wr_mean, wr_std)
    return NetworkParams(J=J, w_in=w_in, w_out=w_out, bias=jnp.zeros(n_units))


def euler_step(
    params: NetworkParams,
    h: jax.Array,
    signal: jax.Array,
    noise: jax.Array,
    *,
    dt: float,
    sigma: float,
    phi: Callable,
) -> jax.Array:
    """One Euler–Maruyama step; ``h [N, B]``, ``signal [S, B]``, ``noise [N, B]`` standard normal."""
    drive = params.J @ phi(h) + params.bias[:, None] + params.w_in @ signal / params.n_inputs
    return h + dt * (drive - h) + (sigma * math.sqrt(dt)) * noise


def readout(params: NetworkParams, h: jax.Array, phi: Callable) -> jax.Array:
    """``y = W_out phi(h) / N``, shape ``[S, B]`` (or ``[T, S, B]`` for a trajectory)."""
    return jnp.einsum("sn,...nb->...sb", params.w_out, phi(h)) / params.n_units


def _recurrence_forward(
    J: jax.Array, h0: jax.Array, drive: jax.Array, dt: float, nonlinearity_name: str = "relu"
) -> jax.Array:
    """The Euler loop of :func:`leaky_recurrence` as a plain scan (layout ``[T, N, B]``).

    Autodiff of this scan is the reference that the hand-written adjoint is tested against.
    """
    phi = _lookup(nonlinearity_name)[0]

    def step(h, d):
        h = h + dt * (J @ phi(h) - h) + d
        return h, h

    return jax.lax.scan(step, h0, drive)[1]


def _scan_batch_major(J_t: jax.Array, h0: jax.Array, drive: jax.Array, dt: float, phi: Callable) -> jax.Array:
    """States ``[T, B, N]`` of ``h <- h + dt (phi(h) J^T - h) + d`` from ``h0 [B, N]``."""

    def step(h, d):
        h = h + dt * (phi(h) @ J_t - h) + d
        return h, h

    return jax.lax.scan(step, h0, drive)[1]


@partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _leaky_recurrence_batch_major(J, h0, drive, dt, nonlinearity_name):
    return _scan_batch_major(J.T, h0, drive, dt, _lookup(nonlinearity_name)[0])


def _leaky_recurrence_fwd(J, h0, drive, dt, nonlinearity_name):
    states = _scan_batch_major(J.T, h0, drive, dt, _lookup(nonlinearity_name)[0])
    return states, (J, h0, states)


def _leaky_recurrence_bwd(dt, nonlinearity_name, residuals, cotangent):
    """Reverse mode of the Euler loop: one ``[B, N] x [N, N]`` product per step.

    With ``h_{k+1} = h_k + dt (J phi(h_k) - h_k) + d_k`` and ``G_k`` the cotangent of the
    recorded state ``h_{k+1}``, the adjoint ``a_k = dL/dh_k`` obeys::

        a_T = G_{T-1},   a_k = (1 - dt) a_{k+1} + dt phi'(h_k) * (J^T a_{k+1}) + G_{k-1}

    (``G_{-1} = 0``), and ``dL/dd_k = a_{k+1}``, ``dL/dJ = dt sum_k a_{k+1} phi(h_k)^T``,
    ``dL/dh_0 = a_0``.  The slopes and the ``dL/dJ`` sum are computed in bulk outside the loop.
    """
    J, h0, states = residuals
    phi, slope = _lookup(nonlinearity_name)
    previous = jnp.concatenate([h0[None], states[:-1]])  # h_k, k = 0 .. T-1
    scaled_slope = dt * slope(previous)
    shifted = jnp.concatenate([jnp.zeros_like(cotangent[:1]), cotangent[:-1]])  # G_{k-1}

    def step(adjoint, inputs):
        slope_k, cotangent_k = inputs
        earlier = (1.0 - dt) * adjoint + slope_k * (adjoint @ J) + cotangent_k
        return earlier, adjoint

    adjoint_h0, adjoint_drive = jax.lax.scan(step, cotangent[-1], (scaled_slope, shifted), reverse=True)
    grad_J = dt * jnp.einsum("kbn,kbm->nm", adjoint_drive, phi(previous))
    return grad_J, adjoint_h0, adjoint_drive


_leaky_recurrence_batch_major.defvjp(_leaky_recurrence_fwd, _leaky_recurrence_bwd)


def leaky_recurrence(
    J: jax.Array, h0: jax.Array, drive: jax.Array, dt: float, nonlinearity_name: str = "relu"
) -> jax.Array:
    """States ``h_1 .. h_T`` (``[T, N, B]``) of ``h_{k+1} = h_k + dt (J phi(h_k) - h_k) + d_k``.

    The Euler–Maruyama loop of SPEC §2 with the feed-forward input and the noise folded into
    the given drive ``d_k [N, B]``.  It is differentiable in ``J``, ``h0`` and ``drive`` by
    a hand-written adjoint (reverse mode only): the loop runs batch-major (``phi(h) J^T`` on
    ``[B, N]`` states) and the backward pass stores nothing but the states, which makes a
    training epoch on CPU about twice as fast as autodiff of the scan
    (``benchmarks/bench_train.py``).
    """
    states = _leaky_recurrence_batch_major(J, h0.T, jnp.swapaxes(drive, -1, -2), dt, nonlinearity_name)
    return jnp.swapaxes(states, -1, -2)


def simulate(
    params: NetworkParams,
    h0: jax.Array,
    signals: jax.Array,
    noise: jax.Array,
    *,
    dt: float,
    sigma: float,
    nonlinearity: str = "relu",
) -> jax.Array:
    """States after each of ``T`` steps, ``[T, N, B]``, for given signals and noise.

    The Euler–Maruyama step of :func:`euler_step`, with the feed-forward drive
    ``dt (W_in s / S + bias) + sigma sqrt(dt) xi`` computed for all steps at once and the
    recurrence run by :func:`leaky_recurrence` (differentiable, reverse mode).

    Args:
      params: network parameters.
      h0: initial state ``[N, B]``.
      signals: inputs ``[T, S, B]``.
      noise: standard normal increments ``[T, N, B]`` (scaled by ``sigma sqrt(dt)`` here).
    """
    feedforward = jnp.einsum("ns,tsb->tnb", params.w_in, signals) / params.n_inputs + params.bias[:, None]
    drive = dt * feedforward + (sigma * math.sqrt(dt)) * noise
    return leaky_recurrence(params.J, h0, drive, dt, nonlinearity)


def simulate_streaming(
    params: NetworkParams,
    h0: jax.Array,
    signals: jax.Array,
    key: jax.Array,
    *,
    dt: float,
    sigma: float,
    nonlinearity: str = "relu",
    record: Callable[[jax.Array], jax.Array] | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Long simulations: noise drawn step by step, only ``record(h)`` kept.

    Memory stays ``O(N B)`` plus the recorded output, so records of ``10^5`` steps
    of thousands of units fit.  ``signals`` is ``[T, S, B]`` (use ``S = 1`` and
    ``w_in = u`` for a common input current).  Returns ``(h_final, recorded)`` with
    ``recorded[k] = record(h after step k)`` (default: the whole state).
    """
    phi = _lookup(nonlinearity)[0]
    record = record if record is not None else (lambda h: h)
    n_steps = signals.shape[0]

    def step(h, inputs):
        k, signal = inputs
        xi = standard_normal(jax.random.fold_in(key, k), h.shape, dtype=h.dtype)
        h = euler_step(params, h, signal, xi, dt=dt, sigma=sigma, phi=phi)
        return h, record(h)

    return jax.lax.scan(step, h0, (jnp.arange(n_steps), signals))


def relax(
    params: NetworkParams,
    key: jax.Array,
    *,
    batch_size: int,
    n_steps: int,
    dt: float,
    sigma: float,
    i_ext: float,
    nonlinearity: str = "relu",
) -> jax.Array:
    """Relax a random state ``h ~ N(0, 1)`` for ``n_steps`` under the constant input ``I_ext``.

    With noise amplitude ``sigma`` (the original code relaxed without noise, ``sigma = 0``;
    SPEC §3).  Returns ``[N, B]``.
    """
    k_state, k_noise = jax.random.split(key)
    h0 = standard_normal(k_state, (params.n_units, batch_size))
    constant = jnp.full((n_steps, params.n_inputs, batch_size), i_ext, dtype=h0.dtype)
    h_final, _ = simulate_streaming(
        params,
        h0,
        constant,
        k_noise,
        dt=dt,
        sigma=sigma,
        nonlinearity=nonlinearity,
        record=lambda h: jnp.zeros((), h.dtype),
    )
    return h_final


def stability_matrix(J: jax.Array, h: jax.Array, nonlinearity: str = "relu") -> jax.Array:
    """``J diag(phi'(h))`` at the state ``h [N]``; the fixed point is stable if all Re(eig) < 1."""
    slope = _lookup(nonlinearity)[1]
    return J * slope(h)[None, :]

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


def simulate(
    params: NetworkParams,
    h0: jax.Array,
    signals: jax.Array,
    noise: jax.Array,
    *,
    dt: float,
    sigma: float,
    nonlinearity: str = "relu",
    unroll: int = 1,
) -> jax.Array:
    """States after each of ``T`` steps, ``[T, N, B]``, for given signals and noise.

    Args:
      params: network parameters.
      h0: initial state ``[N, B]``.
      signals: inputs ``[T, S, B]``.
      noise: standard normal increments ``[T, N, B]`` (scaled by ``sigma sqrt(dt)`` here).
      unroll: loop unrolling of the time scan (larger is faster on CPU for short T).
    """
    phi = _lookup(nonlinearity)[0]

    def step(h, inputs):
        signal, xi = inputs
        h = euler_step(params, h, signal, xi, dt=dt, sigma=sigma, phi=phi)
        return h, h

    _, trajectory = jax.lax.scan(step, h0, (signals, noise), unroll=unroll)
    return trajectory


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

    The noise stays on, as in the original code (SPEC §3).  Returns ``[N, B]``.
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
